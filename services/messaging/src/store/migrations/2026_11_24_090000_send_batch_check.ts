import { sql, type Kysely } from "kysely";

/*
 * The send writer sends its insert and COMMIT together (pipelined), so the
 * insert's own shortfalls must stop the commit inside PostgreSQL: this
 * function raises when the batch numbered fewer rows than it holds (an inbox
 * row is missing) or inserted fewer (the batch holds retries of stored
 * messages). The raised error aborts the transaction, and the COMMIT sent
 * behind it rolls back. Codes KR001 and KR002 are the writer's to read.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION send_batch_check(numbered bigint, inserted bigint, expected int) RETURNS boolean
    LANGUAGE plpgsql AS $$
    BEGIN
      IF numbered < expected THEN
        RAISE EXCEPTION 'inbox rows were missing' USING ERRCODE = 'KR001';
      END IF;
      IF inserted < expected THEN
        RAISE EXCEPTION 'the batch holds retries of stored messages' USING ERRCODE = 'KR002';
      END IF;
      RETURN true;
    END $$`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS send_batch_check(bigint, bigint, int)`.execute(db);
}

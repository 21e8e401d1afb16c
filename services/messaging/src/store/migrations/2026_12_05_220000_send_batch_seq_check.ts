import { sql, type Kysely } from "kysely";

/*
 * The send writer's one-round-trip commit (send-writer.ts) moves each
 * conversation's last number from the value the replica remembers, inside the
 * insert statement; this function raises when fewer conversations had that
 * value than the batch names (another replica wrote, or a batch ahead failed),
 * which aborts the statement and the COMMIT pipelined behind it. Code KR003 is
 * the writer's to read: it redoes the batch in two round trips.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION send_batch_seq_check(moved bigint, expected int) RETURNS boolean
    LANGUAGE plpgsql AS $$
    BEGIN
      IF moved < expected THEN
        RAISE EXCEPTION 'a conversation moved on since this replica numbered it' USING ERRCODE = 'KR003';
      END IF;
      RETURN true;
    END $$`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS send_batch_seq_check(bigint, int)`.execute(db);
}

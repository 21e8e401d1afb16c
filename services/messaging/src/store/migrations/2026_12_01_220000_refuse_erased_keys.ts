import { sql, type Kysely } from "kysely";

/*
 * Crypto-shredding holds at commit, not only in each replica's memory: a
 * replica that has not yet heard of an erasure still holds the destroyed key
 * and may seal with it. Once per insert statement (one per group commit) this
 * trigger refuses rows whose key is erased, raising KR003 with the refused
 * keys as JSON in DETAIL (the keyring reads them). The erasure takes a SHARE
 * lock on message first (keyring.ts), so every insert either committed before
 * the key was destroyed or runs its check after: none slips in between.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  // Loading a key reads every key row of the business (an erased one refuses it).
  await sql`CREATE INDEX IF NOT EXISTS business_key_business_idx ON business_key (business_id)`.execute(db);
  await sql`
    CREATE FUNCTION message_refuse_erased_keys() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      refused text;
    BEGIN
      SELECT json_agg(json_build_object('key_id', k.key_id, 'business_id', k.business_id))::text INTO refused
        FROM business_key k
        WHERE k.erased_at IS NOT NULL AND k.key_id IN (SELECT DISTINCT key_id FROM new_rows);
      IF refused IS NOT NULL THEN
        RAISE EXCEPTION 'messages sealed with an erased business key' USING ERRCODE = 'KR003', DETAIL = refused;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER message_refuse_erased_keys AFTER INSERT ON message
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION message_refuse_erased_keys()`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS message_refuse_erased_keys ON message`.execute(db);
  await sql`DROP FUNCTION IF EXISTS message_refuse_erased_keys()`.execute(db);
  await sql`DROP INDEX IF EXISTS business_key_business_idx`.execute(db);
}

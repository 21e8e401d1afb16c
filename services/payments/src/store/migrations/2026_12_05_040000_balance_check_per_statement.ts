import { sql, type Kysely } from "kysely";

/**
 * Entries balance per statement: one check over all the entries an INSERT
 * wrote (a transition table), grouped by transfer, instead of a deferred
 * per-row trigger that summed each transfer's entries twice. Every writer
 * inserts all entries of a transfer in one statement, so this is at least
 * as strict: a statement whose entries of some transfer do not sum to zero
 * fails, and so the entries of every transfer sum to zero.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION ledger_entries_balanced() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    DECLARE unbalanced uuid;
    BEGIN
      SELECT transfer_id INTO unbalanced FROM added GROUP BY transfer_id HAVING sum(amount_minor) <> 0 LIMIT 1;
      IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transfer % does not balance', unbalanced;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER ledger_entry_balanced_per_statement AFTER INSERT ON ledger_entry
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_balanced()`.execute(db);
}

// any: as above
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS ledger_entry_balanced_per_statement ON ledger_entry`.execute(db);
  await sql`DROP FUNCTION IF EXISTS ledger_entries_balanced()`.execute(db);
  await sql`
    CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transfer_balanced()`.execute(db);
}

import { sql, type Kysely } from "kysely";

/**
 * The double-entry ledger. Invariants the database holds on its own, so a
 * bug in the service cannot break them:
 * - an account flagged non-negative never goes below zero (CHECK);
 * - entries and transfers carry their accounts' currency (composite FKs);
 * - the entries of one transfer sum to zero (deferred constraint trigger);
 * - entries are append-only (trigger).
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("ledger_account")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("owner_kind", "text", (c) => c.notNull().check(sql`owner_kind IN ('business', 'customer', 'system')`))
    .addColumn("owner_id", "text", (c) => c.notNull())
    .addColumn("currency", "char(3)", (c) => c.notNull().check(sql`currency ~ '^[A-Z]{3}$'`))
    .addColumn("balance_minor", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("allow_negative_balance", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("open").check(sql`status IN ('open', 'frozen', 'closed')`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("ledger_account_balance_check", sql`allow_negative_balance OR balance_minor >= 0`)
    .addUniqueConstraint("ledger_account_owner_currency_key", ["owner_kind", "owner_id", "currency"])
    // Target of the composite FKs below: a row can only point at an account in its own currency.
    .addUniqueConstraint("ledger_account_id_currency_key", ["id", "currency"])
    .execute();

  await db.schema
    .createTable("ledger_transfer")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    // principalLabel() of the caller: idempotency keys are unique per caller.
    .addColumn("caller", "text", (c) => c.notNull())
    .addColumn("idempotency_key", "text", (c) => c.notNull())
    .addColumn("from_account_id", "uuid", (c) => c.notNull())
    .addColumn("to_account_id", "uuid", (c) => c.notNull())
    .addColumn("amount_minor", "bigint", (c) => c.notNull().check(sql`amount_minor > 0`))
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("note", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("ledger_transfer_idempotency_key_key", ["caller", "idempotency_key"])
    .addForeignKeyConstraint("ledger_transfer_from_account_fkey", ["from_account_id", "currency"], "ledger_account", ["id", "currency"])
    .addForeignKeyConstraint("ledger_transfer_to_account_fkey", ["to_account_id", "currency"], "ledger_account", ["id", "currency"])
    .addCheckConstraint("ledger_transfer_accounts_check", sql`from_account_id <> to_account_id`)
    .execute();

  await db.schema
    .createTable("ledger_entry")
    .ifNotExists()
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("transfer_id", "uuid", (c) => c.notNull().references("ledger_transfer.id"))
    .addColumn("account_id", "uuid", (c) => c.notNull())
    // Signed: a debit is negative, a credit positive.
    .addColumn("amount_minor", "bigint", (c) => c.notNull().check(sql`amount_minor <> 0`))
    .addColumn("currency", "char(3)", (c) => c.notNull())
    // The account's balance right after this entry (statements without a running sum).
    .addColumn("balance_after_minor", "bigint", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addForeignKeyConstraint("ledger_entry_account_fkey", ["account_id", "currency"], "ledger_account", ["id", "currency"])
    .execute();
  await db.schema.createIndex("ledger_entry_account_idx").ifNotExists().on("ledger_entry").columns(["account_id", "id"]).execute();
  await db.schema.createIndex("ledger_entry_transfer_idx").ifNotExists().on("ledger_entry").column("transfer_id").execute();

  // search_path FROM CURRENT pins the functions to this service's schema.
  await sql`
    CREATE OR REPLACE FUNCTION ledger_transfer_balanced() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
      IF (SELECT sum(amount_minor) FROM ledger_entry WHERE transfer_id = NEW.transfer_id) <> 0 THEN
        RAISE EXCEPTION 'ledger transfer % does not balance', NEW.transfer_id;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transfer_balanced()`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION ledger_entry_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'ledger entries are append-only';
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_refuse_change()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("ledger_entry").ifExists().execute();
  await db.schema.dropTable("ledger_transfer").ifExists().execute();
  await db.schema.dropTable("ledger_account").ifExists().execute();
  await sql`DROP FUNCTION IF EXISTS ledger_transfer_balanced()`.execute(db);
  await sql`DROP FUNCTION IF EXISTS ledger_entry_refuse_change()`.execute(db);
}

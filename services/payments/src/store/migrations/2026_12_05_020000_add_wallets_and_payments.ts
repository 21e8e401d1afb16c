import { sql, type Kysely } from "kysely";

/**
 * Account kinds, pending (two-phase) transfers, the journal's who and why,
 * linked bank accounts and bank operations, payment PINs, collect requests,
 * payment intents and refunds, plans, and idempotency records.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE ledger_account ADD COLUMN IF NOT EXISTS kind text`.execute(db);
  await sql`UPDATE ledger_account SET kind = CASE owner_kind WHEN 'customer' THEN 'customer_wallet' WHEN 'business' THEN 'business_wallet' ELSE 'system' END WHERE kind IS NULL`.execute(db);
  await sql`ALTER TABLE ledger_account ALTER COLUMN kind SET NOT NULL`.execute(db);
  await sql`ALTER TABLE ledger_account ADD CONSTRAINT ledger_account_kind_check CHECK (kind IN ('customer_wallet', 'business_wallet', 'platform_fee_revenue', 'bank_clearing', 'refunds_in_flight', 'system'))`.execute(db);
  // Money reserved by pending transfers out of the account; never negative.
  await sql`ALTER TABLE ledger_account ADD COLUMN IF NOT EXISTS pending_debits_minor bigint NOT NULL DEFAULT 0 CHECK (pending_debits_minor >= 0)`.execute(db);
  await sql`ALTER TABLE ledger_account DROP CONSTRAINT IF EXISTS ledger_account_balance_check`.execute(db);
  await sql`ALTER TABLE ledger_account ADD CONSTRAINT ledger_account_balance_check CHECK (allow_negative_balance OR balance_minor - pending_debits_minor >= 0)`.execute(db);

  // The journal: why (reason, reference) next to who (caller); pending transfers carry a state and a timeout.
  await sql`ALTER TABLE ledger_transfer ADD COLUMN IF NOT EXISTS reason text NOT NULL DEFAULT 'transfer'`.execute(db);
  await sql`ALTER TABLE ledger_transfer ADD COLUMN IF NOT EXISTS reference text NOT NULL DEFAULT ''`.execute(db);
  await sql`ALTER TABLE ledger_transfer ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'posted' CHECK (state IN ('pending', 'posted', 'voided'))`.execute(db);
  await sql`ALTER TABLE ledger_transfer ADD COLUMN IF NOT EXISTS timeout_at timestamptz`.execute(db);
  await sql`ALTER TABLE ledger_transfer ADD COLUMN IF NOT EXISTS resolved_at timestamptz`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS ledger_transfer_pending_idx ON ledger_transfer (timeout_at) WHERE state = 'pending'`.execute(db);
  // Entries take their time when written (under the account's lock), so time order is balance order per account.
  await sql`ALTER TABLE ledger_entry ALTER COLUMN created_at SET DEFAULT clock_timestamp()`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS ledger_entry_account_time_idx ON ledger_entry (account_id, created_at, id)`.execute(db);

  await db.schema
    .createTable("idempotency_record")
    .ifNotExists()
    .addColumn("caller", "text", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("fingerprint", "text", (c) => c.notNull())
    .addColumn("result_id", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("idempotency_record_pkey", ["caller", "scope", "key"])
    .execute();

  await db.schema
    .createTable("bank_account")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("owner_kind", "text", (c) => c.notNull())
    .addColumn("owner_id", "text", (c) => c.notNull())
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("scheme", "text", (c) => c.notNull().check(sql`scheme IN ('iban', 'local')`))
    // AES-256-GCM of the number, the row id as AAD.
    .addColumn("number_sealed", "bytea", (c) => c.notNull())
    // HMAC of the number: finds a second link of the same account without decrypting.
    .addColumn("number_hmac", "text", (c) => c.notNull())
    .addColumn("masked", "text", (c) => c.notNull())
    .addColumn("holder_name", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("bank_account_owner_number_key", ["owner_kind", "owner_id", "currency", "number_hmac"])
    .execute();

  await db.schema
    .createTable("bank_operation")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind IN ('topup', 'payout')`))
    .addColumn("account_id", "uuid", (c) => c.notNull().references("ledger_account.id"))
    .addColumn("bank_account_id", "uuid", (c) => c.notNull().references("bank_account.id"))
    .addColumn("amount_minor", "bigint", (c) => c.notNull().check(sql`amount_minor > 0`))
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull().defaultTo("pending").check(sql`state IN ('pending', 'settled', 'failed')`))
    .addColumn("rail", "text", (c) => c.notNull())
    .addColumn("rail_reference", "text", (c) => c.notNull().defaultTo(""))
    // The payout's pending transfer; the top-up's posted one once settled.
    .addColumn("transfer_id", "uuid")
    .addColumn("failure_reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("submitted_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX IF NOT EXISTS bank_operation_pending_idx ON bank_operation (created_at) WHERE state = 'pending'`.execute(db);

  await db.schema
    .createTable("payment_pin")
    .ifNotExists()
    .addColumn("customer_id", "text", (c) => c.primaryKey())
    .addColumn("hash", "bytea", (c) => c.notNull())
    .addColumn("salt", "bytea", (c) => c.notNull())
    // scrypt's log2(N), so stored hashes keep verifying when the default changes.
    .addColumn("cost", "integer", (c) => c.notNull())
    .addColumn("failed_attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("locked_until", "timestamptz")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("collect_request")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("requester_customer_id", "text", (c) => c.notNull())
    .addColumn("payer_customer_id", "text", (c) => c.notNull())
    .addColumn("amount_minor", "bigint", (c) => c.notNull().check(sql`amount_minor > 0`))
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("note", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("state", "text", (c) => c.notNull().defaultTo("pending").check(sql`state IN ('pending', 'approved', 'declined', 'expired')`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("transfer_id", "uuid")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("business_plan")
    .ifNotExists()
    .addColumn("business_id", "text", (c) => c.primaryKey())
    .addColumn("plan", "text", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("payment_intent")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("order_id", "text", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("amount_minor", "bigint", (c) => c.notNull().check(sql`amount_minor > 0`))
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull().defaultTo("requires_confirmation").check(sql`state IN ('requires_confirmation', 'succeeded', 'failed')`))
    .addColumn("fee_bps", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("fee_minor", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("refunded_minor", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("failure_reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("payment_intent_order_key", ["business_id", "order_id"])
    .addCheckConstraint("payment_intent_refund_check", sql`refunded_minor >= 0 AND refunded_minor <= CASE WHEN state = 'succeeded' THEN amount_minor ELSE 0 END`)
    .execute();

  await db.schema
    .createTable("payment_refund")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("payment_id", "uuid", (c) => c.notNull().references("payment_intent.id"))
    .addColumn("amount_minor", "bigint", (c) => c.notNull().check(sql`amount_minor > 0`))
    .addColumn("fee_returned_minor", "bigint", (c) => c.notNull())
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["payment_refund", "payment_intent", "business_plan", "collect_request", "payment_pin", "bank_operation", "bank_account", "idempotency_record"]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}

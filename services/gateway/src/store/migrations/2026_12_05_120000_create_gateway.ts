import { sql, type Kysely } from "kysely";

// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("partner")
    .ifNotExists()
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("app_secret", "text", (c) => c.notNull())
    .addColumn("verify_token", "text", (c) => c.notNull())
    .addColumn("callback_url", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable("partner_token")
    .ifNotExists()
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("partner_id", "text", (c) => c.notNull().references("partner.id").onDelete("cascade"))
    .addColumn("label", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("scopes", sql`text[]`, (c) => c.notNull())
    .addColumn("expires_at", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex("partner_token_partner_idx").ifNotExists().on("partner_token").column("partner_id").execute();
  await db.schema
    .createTable("partner_business")
    .ifNotExists()
    .addColumn("partner_id", "text", (c) => c.notNull().references("partner.id").onDelete("cascade"))
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("waba_id", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("partner_business_pkey", ["partner_id", "business_id"])
    .execute();
  await db.schema.createIndex("partner_business_business_idx").ifNotExists().on("partner_business").column("business_id").execute();
  await db.schema
    .createTable("business")
    .ifNotExists()
    .addColumn("business_id", "text", (c) => c.primaryKey())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("verified", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("verified_name", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("version", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("business_number")
    .ifNotExists()
    .addColumn("phone_number_id", "text", (c) => c.primaryKey())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("e164", "text", (c) => c.notNull())
    .addColumn("display_name", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("active", "boolean", (c) => c.notNull().defaultTo(true))
    .execute();
  await db.schema.createIndex("business_number_business_idx").ifNotExists().on("business_number").column("business_id").execute();
  await db.schema
    .createTable("customer_contact")
    .ifNotExists()
    .addColumn("customer_id", "text", (c) => c.primaryKey())
    .addColumn("wa_id", "text", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable("webhook_subscription")
    .ifNotExists()
    .addColumn("waba_id", "text", (c) => c.primaryKey())
    .addColumn("partner_id", "text", (c) => c.notNull().references("partner.id").onDelete("cascade"))
    .addColumn("override_callback_uri", "text")
    .addColumn("override_verify_token", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable("webhook_delivery")
    .ifNotExists()
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("partner_id", "text", (c) => c.notNull())
    .addColumn("waba_id", "text", (c) => c.notNull())
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("order_key", "text", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("pending"))
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("locked_until", "timestamptz")
    .addColumn("last_error", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .addUniqueConstraint("webhook_delivery_event_uniq", ["waba_id", "event_id"])
    .execute();
  await sql`CREATE INDEX IF NOT EXISTS webhook_delivery_pending_idx ON webhook_delivery (waba_id, order_key, id) WHERE status = 'pending'`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS webhook_delivery_due_idx ON webhook_delivery (next_attempt_at, id) WHERE status = 'pending'`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["webhook_delivery", "webhook_subscription", "customer_contact", "business_number", "business", "partner_business", "partner_token", "partner"]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}

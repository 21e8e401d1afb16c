import { sql, type Kysely } from "kysely";

// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE campaign DROP CONSTRAINT IF EXISTS campaign_status_check`.execute(db);
  await sql`ALTER TABLE campaign ADD CONSTRAINT campaign_status_check CHECK (status IN ('draft', 'in_review', 'active', 'paused', 'ended'))`.execute(db);
  await db.schema
    .alterTable("campaign")
    .addColumn("goal", "text", (c) => c.notNull().defaultTo("messages").check(sql`goal IN ('messages', 'traffic', 'sales')`))
    .addColumn("lifetime_budget_minor", "bigint", (c) => c.check(sql`lifetime_budget_minor > 0`))
    .addColumn("bid_kind", "text", (c) => c.notNull().defaultTo("cpm").check(sql`bid_kind IN ('cpm', 'cpc')`))
    .addColumn("bid_minor", "bigint", (c) => c.notNull().defaultTo(1).check(sql`bid_minor > 0`))
    .addColumn("creatives", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("targeting", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("frequency_cap", "jsonb", (c) => c.notNull().defaultTo(sql`'{"perDay":0,"perWeek":0}'::jsonb`))
    .addColumn("review", "jsonb", (c) => c.notNull().defaultTo(sql`'{"reasons":[],"reviewer":""}'::jsonb`))
    // Budget leased to serving replicas over the campaign's life (the lifetime budget bounds it).
    .addColumn("lifetime_leased_milli", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex("campaign_status_idx").ifNotExists().on("campaign").column("status").execute();

  // One row per campaign and UTC day: the day's budget, what replicas leased of it, what was spent (thousandths of a minor unit).
  await db.schema
    .createTable("campaign_day")
    .ifNotExists()
    .addColumn("campaign_id", "uuid", (c) => c.notNull())
    .addColumn("day", "date", (c) => c.notNull())
    .addColumn("budget_milli", "bigint", (c) => c.notNull())
    .addColumn("leased_milli", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("spent_milli", "bigint", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("campaign_day_pkey", ["campaign_id", "day"])
    .addCheckConstraint("campaign_day_lease_check", sql`leased_milli <= budget_milli`)
    .execute();

  await db.schema
    .createTable("impression")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("campaign_id", "uuid", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("creative_id", "text", (c) => c.notNull())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("placement", "text", (c) => c.notNull())
    .addColumn("served_at", "timestamptz", (c) => c.notNull())
    .addColumn("cost_milli", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("impression_campaign_served_idx").ifNotExists().on("impression").columns(["campaign_id", "served_at"]).execute();

  await db.schema
    .createTable("click")
    .ifNotExists()
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("impression_id", "uuid", (c) => c.notNull().unique())
    .addColumn("campaign_id", "uuid", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("creative_id", "text", (c) => c.notNull())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("placement", "text", (c) => c.notNull())
    .addColumn("clicked_at", "timestamptz", (c) => c.notNull())
    .addColumn("cost_milli", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("click_campaign_clicked_idx").ifNotExists().on("click").columns(["campaign_id", "clicked_at"]).execute();
  await db.schema.createIndex("click_customer_business_idx").ifNotExists().on("click").columns(["customer_id", "business_id", "clicked_at"]).execute();

  // The spend ledger: append-only; each entry is one spend.recorded event.
  await db.schema
    .createTable("spend_ledger")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("campaign_id", "uuid", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("day", "date", (c) => c.notNull())
    .addColumn("amount_milli", "bigint", (c) => c.notNull().check(sql`amount_milli >= 0`))
    .addColumn("amount_minor", "bigint", (c) => c.notNull())
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("impressions", "integer", (c) => c.notNull())
    .addColumn("clicks", "integer", (c) => c.notNull())
    .addColumn("recorded_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("spend_ledger_campaign_day_idx").ifNotExists().on("spend_ledger").columns(["campaign_id", "day"]).execute();

  // Conversions attributed to a campaign: one per conversation or order.
  await db.schema
    .createTable("conversion")
    .ifNotExists()
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind IN ('conversation', 'order')`))
    .addColumn("ref_id", "text", (c) => c.notNull())
    .addColumn("campaign_id", "uuid", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("click_id", "text", (c) => c.notNull())
    .addColumn("at", "timestamptz", (c) => c.notNull())
    .addColumn("revenue_minor", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("currency", "text", (c) => c.notNull().defaultTo(""))
    .addPrimaryKeyConstraint("conversion_pkey", ["kind", "ref_id"])
    .execute();
  await db.schema.createIndex("conversion_campaign_at_idx").ifNotExists().on("conversion").columns(["campaign_id", "at"]).execute();

  await db.schema
    .createTable("customer_consent")
    .ifNotExists()
    .addColumn("customer_id", "text", (c) => c.primaryKey())
    .addColumn("ad_personalization", "boolean", (c) => c.notNull())
    .addColumn("changed_at", "timestamptz", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("marketing_consent")
    .ifNotExists()
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("opted_in", "boolean", (c) => c.notNull())
    .addColumn("changed_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("marketing_consent_pkey", ["customer_id", "business_id"])
    .execute();

  await db.schema
    .createTable("interaction")
    .ifNotExists()
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("last_messaged_at", "timestamptz")
    .addColumn("last_ordered_at", "timestamptz")
    .addPrimaryKeyConstraint("interaction_pkey", ["customer_id", "business_id"])
    .execute();

  await db.schema
    .createTable("sponsored_send")
    .ifNotExists()
    .addColumn("campaign_id", "uuid", (c) => c.notNull())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("sent_at", "timestamptz", (c) => c.notNull())
    .addColumn("message_id", "text")
    .addColumn("status", "text", (c) => c.notNull().check(sql`status IN ('pending', 'sent', 'delivered', 'read', 'failed')`))
    .addPrimaryKeyConstraint("sponsored_send_pkey", ["campaign_id", "customer_id"])
    .execute();
  await db.schema.createIndex("sponsored_send_customer_idx").ifNotExists().on("sponsored_send").columns(["customer_id", "sent_at"]).execute();
  await db.schema.createIndex("sponsored_send_message_idx").ifNotExists().on("sponsored_send").column("message_id").execute();

  // A customer's one-tap stop; business_id '' stops every business.
  await db.schema
    .createTable("sponsored_stop")
    .ifNotExists()
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("stopped_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("sponsored_stop_pkey", ["customer_id", "business_id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["sponsored_stop", "sponsored_send", "interaction", "marketing_consent", "customer_consent", "conversion", "spend_ledger", "click", "impression", "campaign_day"]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
  await db.schema.alterTable("campaign").dropColumn("goal").dropColumn("lifetime_budget_minor").dropColumn("bid_kind").dropColumn("bid_minor").dropColumn("creatives").dropColumn("targeting").dropColumn("frequency_cap").dropColumn("review").dropColumn("lifetime_leased_milli").execute();
}

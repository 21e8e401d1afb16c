import { sql, type Kysely } from "kysely";

/*
 * Analytics kept as the events arrive: a count per business, number, UTC
 * day and metric ("sent", "failed:131047", "conv:marketing", "frt:3", …),
 * and per conversation the customer message still waiting for an answer
 * (first-response times).
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS analytics_day (
      business_id text NOT NULL,
      phone_number_id text NOT NULL,
      day date NOT NULL,
      metric text NOT NULL,
      value bigint NOT NULL,
      PRIMARY KEY (business_id, day, phone_number_id, metric)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS analytics_awaiting (
      conversation_id text PRIMARY KEY,
      since timestamptz NOT NULL
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS analytics_awaiting`.execute(db);
  await sql`DROP TABLE IF EXISTS analytics_day`.execute(db);
}

import { sql, type Kysely } from "kysely";

/** Partitions of the message table (hash of conversation id); see BENCHMARKS.md "Partitioning". */
const MESSAGE_PARTITIONS = 8;

// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS customer (
      id text PRIMARY KEY,
      e164 text NOT NULL CONSTRAINT customer_e164_key UNIQUE,
      profile_name text NOT NULL DEFAULT '',
      read_receipts boolean NOT NULL DEFAULT true,
      locale text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS business_number (
      phone_number_id text PRIMARY KEY,
      business_id text NOT NULL,
      e164 text NOT NULL,
      display_name text NOT NULL DEFAULT '',
      verified boolean NOT NULL DEFAULT false,
      verified_name text NOT NULL DEFAULT '',
      active boolean NOT NULL DEFAULT true,
      version bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_number_business_idx ON business_number (business_id)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_number_updated_idx ON business_number (updated_at)`.execute(db);
  // One row per participant: the counter behind the per-recipient inbox sequence (the resume cursor).
  await sql`
    CREATE TABLE IF NOT EXISTS inbox (
      participant text PRIMARY KEY,
      last_seq bigint NOT NULL DEFAULT 0
    ) WITH (fillfactor = 50)`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS conversation (
      id uuid PRIMARY KEY,
      business_id text NOT NULL,
      phone_number_id text NOT NULL,
      customer_id text NOT NULL,
      last_seq bigint NOT NULL DEFAULT 0,
      customer_read_seq bigint NOT NULL DEFAULT 0,
      business_read_seq bigint NOT NULL DEFAULT 0,
      last_activity_at timestamptz NOT NULL DEFAULT now(),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT conversation_pair_key UNIQUE (phone_number_id, customer_id)
    ) WITH (fillfactor = 50)`.execute(db);
  // No index on last_seq/last_activity_at: every send updates them, and unindexed
  // columns keep that update HOT (no index writes). Listing sorts a participant's
  // conversations instead (see BENCHMARKS.md).
  await sql`CREATE INDEX IF NOT EXISTS conversation_customer_idx ON conversation (customer_id)`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS business_key (
      key_id serial PRIMARY KEY,
      business_id text NOT NULL,
      wrapped_key bytea,
      created_at timestamptz NOT NULL DEFAULT now(),
      erased_at timestamptz
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX IF NOT EXISTS business_key_active_uniq ON business_key (business_id) WHERE erased_at IS NULL`.execute(db);
  // Bodies are encrypted (key_id names the data key); sender/recipient are participant keys.
  await sql`
    CREATE TABLE IF NOT EXISTS message (
      conversation_id uuid NOT NULL,
      seq bigint NOT NULL,
      id text NOT NULL,
      sender text NOT NULL,
      recipient text NOT NULL,
      rseq bigint NOT NULL,
      client_message_id text NOT NULL DEFAULT '',
      content_type smallint NOT NULL,
      key_id integer NOT NULL,
      body bytea NOT NULL,
      status smallint NOT NULL,
      error_code integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL,
      status_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT message_pkey PRIMARY KEY (conversation_id, seq)
    ) PARTITION BY HASH (conversation_id)`.execute(db);
  for (let i = 0; i < MESSAGE_PARTITIONS; i++) {
    // fillfactor leaves room for HOT status updates (status is not indexed).
    await sql`CREATE TABLE IF NOT EXISTS ${sql.raw(`message_p${i}`)} PARTITION OF message
      FOR VALUES WITH (MODULUS ${sql.raw(String(MESSAGE_PARTITIONS))}, REMAINDER ${sql.raw(String(i))}) WITH (fillfactor = 90)`.execute(db);
  }
  await sql`CREATE UNIQUE INDEX IF NOT EXISTS message_id_key ON message (id, conversation_id)`.execute(db);
  // Event outbox of the hot path: one row per commit holding all its events (StoredEventBatch).
  await sql`
    CREATE TABLE IF NOT EXISTS event_batch (
      id bigserial PRIMARY KEY,
      payload bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS message_inbox_idx ON message (recipient, rseq)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["event_batch", "message", "business_key", "conversation", "inbox", "business_number", "customer"]) {
    await sql`DROP TABLE IF EXISTS ${sql.id(t)}`.execute(db);
  }
}

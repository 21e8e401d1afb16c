import { sql, type Kysely } from "kysely";

/*
 * The policy state that must agree across replicas lives in rows the send
 * path locks anyway, or in one row per business:
 * - conversation: the customer service window (last inbound), a referral's
 *   reply-by instant and the free entry point, and until when each category's
 *   conversation window (billing) is open. The group commit updates them
 *   under the conversation row's lock, so a window opens once whatever the
 *   number of replicas.
 * - messaging_limit / messaging_limit_usage: a business's tier and the unique
 *   customers of its business-initiated conversations in the rolling 24 h,
 *   counted by count_business_initiated() under the business row's lock.
 * - number_quality: per business number and hour, the sent, read, blocked
 *   and reported counts the quality rating is made of.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE conversation
      ADD COLUMN IF NOT EXISTS last_inbound_at timestamptz,
      ADD COLUMN IF NOT EXISTS referral_reply_by timestamptz,
      ADD COLUMN IF NOT EXISTS free_entry_until timestamptz,
      ADD COLUMN IF NOT EXISTS service_window_until timestamptz,
      ADD COLUMN IF NOT EXISTS marketing_window_until timestamptz,
      ADD COLUMN IF NOT EXISTS utility_window_until timestamptz,
      ADD COLUMN IF NOT EXISTS authentication_window_until timestamptz`.execute(db);
  // A replica loads the windows still open at start.
  await sql`CREATE INDEX IF NOT EXISTS conversation_last_inbound_idx ON conversation (last_inbound_at) WHERE last_inbound_at IS NOT NULL`.execute(db);

  await sql`
    CREATE TABLE IF NOT EXISTS messaging_limit (
      business_id text PRIMARY KEY,
      tier smallint NOT NULL DEFAULT 0,
      share_reached_at timestamptz,
      tier_changed_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS messaging_limit_usage (
      business_id text NOT NULL,
      customer_id text NOT NULL,
      counted_at timestamptz NOT NULL,
      PRIMARY KEY (business_id, customer_id)
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS messaging_limit_usage_expiry_idx ON messaging_limit_usage (business_id, counted_at)`.execute(db);

  /*
   * Counts business-initiated sends (b[i], c[i]) at `at`: a customer counted
   * within the window passes; a new one is counted while the business is
   * under its limit, else refused. Businesses are locked in id order (no
   * deadlocks between replicas); one call per batch of sends.
   * limits[t] is tier t's limit (0 = unlimited); a verified business starts
   * at tier 1 (verified[i]).
   */
  await sql`
    CREATE FUNCTION count_business_initiated(b text[], c text[], verified boolean[], at timestamptz, window_ms bigint, share float8, limits int[])
    RETURNS TABLE (ord int, allowed boolean, tier smallint, used int)
    LANGUAGE plpgsql AS $$
    #variable_conflict use_column
    DECLARE
      bid text;
      t smallint;
      lim int;
      n int;
      horizon timestamptz := at - make_interval(secs => window_ms / 1000.0);
      i int;
    BEGIN
      FOR bid IN SELECT DISTINCT x FROM unnest(b) AS x ORDER BY x LOOP
        INSERT INTO messaging_limit AS m (business_id, tier)
          SELECT bid, CASE WHEN bool_or(v) THEN 1 ELSE 0 END FROM unnest(b, verified) AS u(x, v) WHERE x = bid
          ON CONFLICT (business_id) DO NOTHING;
        SELECT m.tier INTO t FROM messaging_limit m WHERE m.business_id = bid FOR UPDATE;
        -- Verification lifts TIER_250 to TIER_2K.
        IF t = 0 AND EXISTS (SELECT 1 FROM unnest(b, verified) AS u(x, v) WHERE x = bid AND v) THEN
          t := 1;
          UPDATE messaging_limit SET tier = 1, tier_changed_at = at, share_reached_at = NULL WHERE business_id = bid;
        END IF;
        DELETE FROM messaging_limit_usage WHERE business_id = bid AND counted_at <= horizon;
        SELECT count(*) INTO n FROM messaging_limit_usage WHERE business_id = bid;
        lim := limits[t + 1];
        FOR i IN SELECT s.o FROM unnest(b) WITH ORDINALITY AS s(x, o) WHERE s.x = bid ORDER BY s.o LOOP
          IF EXISTS (SELECT 1 FROM messaging_limit_usage WHERE business_id = bid AND customer_id = c[i]) THEN
            ord := i; allowed := true; tier := t; used := n; RETURN NEXT;
          ELSIF lim = 0 OR n < lim THEN
            INSERT INTO messaging_limit_usage (business_id, customer_id, counted_at) VALUES (bid, c[i], at);
            n := n + 1;
            ord := i; allowed := true; tier := t; used := n; RETURN NEXT;
          ELSE
            ord := i; allowed := false; tier := t; used := n; RETURN NEXT;
          END IF;
        END LOOP;
        IF lim > 0 AND n >= lim * share THEN
          UPDATE messaging_limit SET share_reached_at = at WHERE business_id = bid;
        END IF;
      END LOOP;
    END $$`.execute(db);

  await sql`
    CREATE TABLE IF NOT EXISTS number_quality (
      phone_number_id text NOT NULL,
      slot_start timestamptz NOT NULL,
      sent bigint NOT NULL DEFAULT 0,
      read bigint NOT NULL DEFAULT 0,
      blocked bigint NOT NULL DEFAULT 0,
      reported bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (phone_number_id, slot_start)
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS number_quality`.execute(db);
  await sql`DROP FUNCTION IF EXISTS count_business_initiated(text[], text[], boolean[], timestamptz, bigint, float8, int[])`.execute(db);
  await sql`DROP TABLE IF EXISTS messaging_limit_usage`.execute(db);
  await sql`DROP TABLE IF EXISTS messaging_limit`.execute(db);
  await sql`DROP INDEX IF EXISTS conversation_last_inbound_idx`.execute(db);
  await sql`
    ALTER TABLE conversation
      DROP COLUMN IF EXISTS last_inbound_at,
      DROP COLUMN IF EXISTS referral_reply_by,
      DROP COLUMN IF EXISTS free_entry_until,
      DROP COLUMN IF EXISTS service_window_until,
      DROP COLUMN IF EXISTS marketing_window_until,
      DROP COLUMN IF EXISTS utility_window_until,
      DROP COLUMN IF EXISTS authentication_window_until`.execute(db);
}

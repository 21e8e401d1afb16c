import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { AdsDatabase } from "../store/database.js";
import { spendRecordedEvent, type SpendEntry } from "../events/outbox.js";
import { noServingMetrics, type ServingMetrics } from "./serving-metrics.js";

/** Campaign-days per settlement transaction: their entries and events are built in one synchronous stretch. */
const CHUNK = 250;

export interface SettlementPorts {
  db: Kysely<AdsDatabase>;
  enqueue(trx: Kysely<AdsDatabase>, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  log: Logger;
  metrics?: ServingMetrics;
}

/**
 * The spend ledger, written from the campaign-day counters: impressions,
 * CPC clicks and sponsored messages add to a campaign_day row as they
 * happen (spent_milli, impressions, clicks, messages), and a settlement
 * records what changed since the last one as one ledger entry and one
 * spend.recorded per campaign-day, under the row's lock — so entries add up
 * to the row exactly, whichever replica settles and however often. Each
 * replica settles the rows it touched every few seconds; a sweep of recent
 * days catches rows a stopped replica left unsettled.
 */
export function createSpendSettlement(ports: SettlementPorts) {
  const { db, log } = ports;
  const metrics = ports.metrics ?? noServingMetrics;
  let dirty = new Map<string, { campaignId: string; day: string }>();
  let running: Promise<void> | undefined;

  async function settleChunk(keys: { campaignId: string; day: string }[]): Promise<number> {
    const at = ports.now();
    return db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ campaign_id: string; day: string; business_id: string; currency: string; spent_milli: string; before_milli: string; impressions: string; clicks: string; messages: string }>`
        WITH due AS (
          SELECT d.campaign_id, d.day, d.recorded_milli, d.recorded_impressions, d.recorded_clicks, d.recorded_messages, c.business_id, c.currency
          FROM campaign_day d
          JOIN unnest(${keys.map((k) => k.campaignId)}::uuid[], ${keys.map((k) => k.day)}::date[]) AS v(campaign_id, day) ON d.campaign_id = v.campaign_id AND d.day = v.day
          JOIN campaign c ON c.id = d.campaign_id
          WHERE d.spent_milli <> d.recorded_milli OR d.impressions <> d.recorded_impressions OR d.clicks <> d.recorded_clicks OR d.messages <> d.recorded_messages
          ORDER BY d.campaign_id, d.day
          FOR UPDATE OF d
        )
        UPDATE campaign_day d SET recorded_milli = d.spent_milli, recorded_impressions = d.impressions, recorded_clicks = d.clicks, recorded_messages = d.messages
        FROM due WHERE d.campaign_id = due.campaign_id AND d.day = due.day
        RETURNING d.campaign_id, to_char(d.day, 'YYYY-MM-DD') AS day, due.business_id, due.currency, d.spent_milli, due.recorded_milli AS before_milli,
          d.impressions - due.recorded_impressions AS impressions, d.clicks - due.recorded_clicks AS clicks, d.messages - due.recorded_messages AS messages`.execute(trx);
      if (rows.length === 0) return 0;
      const t0 = performance.now();
      const entries: (SpendEntry & { amountMilli: number })[] = rows.map((r) => {
        const after = Number(r.spent_milli);
        const before = Number(r.before_milli);
        // Whole minor units crossed since the last entry: the entries add up to the day's spend, rounded down.
        const amountMinor = Math.floor(after / 1000) - Math.floor(before / 1000);
        return { entryId: randomUUID(), campaignId: r.campaign_id, businessId: r.business_id, day: r.day, amountMilli: after - before, amountMinor, currency: r.currency.trim(), impressions: Number(r.impressions), clicks: Number(r.clicks), messages: Number(r.messages), at };
      });
      await sql`
        INSERT INTO spend_ledger (id, campaign_id, business_id, day, amount_milli, amount_minor, currency, impressions, clicks, messages, recorded_at)
        SELECT id, campaign_id, business_id, day, amount_milli, amount_minor, currency, impressions, clicks, messages, ${at}
        FROM unnest(${entries.map((e) => e.entryId)}::uuid[], ${entries.map((e) => e.campaignId)}::uuid[], ${entries.map((e) => e.businessId)}::text[], ${entries.map((e) => e.day)}::date[],
          ${entries.map((e) => e.amountMilli)}::bigint[], ${entries.map((e) => e.amountMinor)}::bigint[], ${entries.map((e) => e.currency)}::text[],
          ${entries.map((e) => e.impressions)}::int[], ${entries.map((e) => e.clicks)}::int[], ${entries.map((e) => e.messages)}::int[])
          AS v(id, campaign_id, business_id, day, amount_milli, amount_minor, currency, impressions, clicks, messages)`.execute(trx);
      const events = entries.map(spendRecordedEvent);
      metrics.held("settle", t0);
      await ports.enqueue(trx, events);
      return entries.length;
    });
  }

  async function settleKeys(keys: { campaignId: string; day: string }[]): Promise<number> {
    keys.sort((a, b) => (a.campaignId === b.campaignId ? (a.day < b.day ? -1 : 1) : a.campaignId < b.campaignId ? -1 : 1));
    let n = 0;
    for (let i = 0; i < keys.length; i += CHUNK) {
      const chunk = keys.slice(i, i + CHUNK);
      try {
        n += await settleChunk(chunk);
      } catch (err) {
        log.warn({ err, campaignDays: chunk.length }, "spend not settled; kept for the next settlement");
        for (const k of chunk) dirty.set(`${k.campaignId}|${k.day}`, k);
      }
    }
    return n;
  }

  function serial(work: () => Promise<unknown>): Promise<void> {
    const run = (running ?? Promise.resolve()).then(work).then(() => undefined);
    running = run.finally(() => {
      if (running === run) running = undefined;
    });
    return run;
  }

  return {
    /** This replica changed the row's counters (impressions written, a click or a message charged). */
    note(campaignId: string, day: string): void {
      dirty.set(`${campaignId}|${day}`, { campaignId, day });
    },

    /** Records what the rows this replica touched gained since their last entry. */
    settle(): Promise<void> {
      return serial(async () => {
        if (dirty.size === 0) return;
        const keys = [...dirty.values()];
        dirty = new Map();
        await settleKeys(keys);
      });
    },

    /** Settles every row of the last `days` days that has unrecorded spend or counts (a stopped replica's leftovers). */
    sweep(days: number): Promise<void> {
      return serial(async () => {
        const since = new Date(ports.now().getTime() - days * 86_400_000).toISOString().slice(0, 10);
        const { rows } = await sql<{ campaign_id: string; day: string }>`
          SELECT campaign_id, to_char(day, 'YYYY-MM-DD') AS day FROM campaign_day
          WHERE day >= ${since}::date AND (spent_milli <> recorded_milli OR impressions <> recorded_impressions OR clicks <> recorded_clicks OR messages <> recorded_messages)`.execute(db);
        if (rows.length > 0) await settleKeys(rows.map((r) => ({ campaignId: r.campaign_id, day: r.day })));
      });
    },
  };
}

export type SpendSettlement = ReturnType<typeof createSpendSettlement>;

import { sql, type Kysely } from "kysely";
import type { AdsDatabase } from "./database.js";
import type { DayCounts } from "../domain/report.js";

type Db = Kysely<AdsDatabase>;

/**
 * Per campaign and UTC day, from the impression, click, spend ledger and
 * conversion tables; days with nothing are absent. Ordered by campaign, day.
 */
export async function dayCounts(db: Db, campaigns: { id: string; businessId: string; currency: string }[], from: Date, toExclusive: Date): Promise<DayCounts[]> {
  if (campaigns.length === 0) return [];
  const ids = campaigns.map((c) => c.id);
  const idList = sql`ANY(${ids}::uuid[])`;
  const fromDay = from.toISOString().slice(0, 10);
  const toDay = new Date(toExclusive.getTime() - 1).toISOString().slice(0, 10);
  const [imps, clicks, spend, conv, messages] = await Promise.all([
    sql<{ campaign_id: string; day: string; n: string; reach: string }>`
      SELECT campaign_id, to_char(served_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n,
             count(DISTINCT customer_id) FILTER (WHERE customer_id <> '') AS reach
      FROM impression WHERE campaign_id = ${idList} AND served_at >= ${from} AND served_at < ${toExclusive} GROUP BY 1, 2`.execute(db),
    sql<{ campaign_id: string; day: string; n: string }>`
      SELECT campaign_id, to_char(clicked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n
      FROM click WHERE campaign_id = ${idList} AND clicked_at >= ${from} AND clicked_at < ${toExclusive} GROUP BY 1, 2`.execute(db),
    sql<{ campaign_id: string; day: string; minor: string }>`
      SELECT campaign_id, to_char(day, 'YYYY-MM-DD') AS day, sum(amount_minor) AS minor
      FROM spend_ledger WHERE campaign_id = ${idList} AND day >= ${fromDay}::date AND day <= ${toDay}::date GROUP BY 1, 2`.execute(db),
    sql<{ campaign_id: string; day: string; kind: string; n: string; revenue: string; currency: string }>`
      SELECT campaign_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, kind, count(*) AS n, sum(revenue_minor) AS revenue, currency
      FROM conversion WHERE campaign_id = ${idList} AND at >= ${from} AND at < ${toExclusive} GROUP BY 1, 2, 3, 6`.execute(db),
    sql<{ campaign_id: string; day: string; status: string; n: string; clicked: string }>`
      SELECT campaign_id, to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, status, count(*) AS n, count(clicked_at) AS clicked
      FROM sponsored_send WHERE campaign_id = ${idList} AND sent_at >= ${from} AND sent_at < ${toExclusive} AND status IN ('sent', 'delivered', 'read') GROUP BY 1, 2, 3`.execute(db),
  ]);
  const byId = new Map(campaigns.map((c) => [c.id, c]));
  const rows = new Map<string, DayCounts>();
  const row = (campaignId: string, day: string): DayCounts => {
    const key = `${campaignId}|${day}`;
    let r = rows.get(key);
    if (!r) {
      r = { campaignId, businessId: byId.get(campaignId)!.businessId, day, impressions: 0, reach: 0, clicks: 0, spendMinor: 0, conversations: 0, orders: 0, revenueMinor: 0, messagesSent: 0, messagesDelivered: 0, messagesRead: 0, messagesClicked: 0 };
      rows.set(key, r);
    }
    return r;
  };
  for (const r of imps.rows) Object.assign(row(r.campaign_id, r.day), { impressions: Number(r.n), reach: Number(r.reach) });
  for (const r of clicks.rows) row(r.campaign_id, r.day).clicks = Number(r.n);
  for (const r of spend.rows) row(r.campaign_id, r.day).spendMinor = Number(r.minor);
  for (const r of conv.rows) {
    const d = row(r.campaign_id, r.day);
    if (r.kind === "conversation") d.conversations += Number(r.n);
    else {
      d.orders += Number(r.n);
      if (r.currency === byId.get(r.campaign_id)!.currency) d.revenueMinor += Number(r.revenue);
    }
  }
  for (const r of messages.rows) {
    const d = row(r.campaign_id, r.day);
    const n = Number(r.n);
    d.messagesSent += n;
    if (r.status !== "sent") d.messagesDelivered += n;
    if (r.status === "read") d.messagesRead += n;
    d.messagesClicked += Number(r.clicked);
  }
  return [...rows.values()].sort((a, b) => (a.campaignId === b.campaignId ? a.day.localeCompare(b.day) : ids.indexOf(a.campaignId) - ids.indexOf(b.campaignId)));
}

/** A business's campaigns in id order, a page at a time (the export walks them). */
export async function campaignPage(db: Db, businessId: string, afterId: string | undefined, limit: number): Promise<{ id: string; businessId: string; currency: string }[]> {
  let q = db.selectFrom("campaign").select(["id", "business_id", "currency"]).where("business_id", "=", businessId);
  if (afterId) q = q.where("id", ">", afterId);
  const rows = await q.orderBy("id").limit(limit).execute();
  return rows.map((r) => ({ id: r.id, businessId: r.business_id, currency: r.currency }));
}

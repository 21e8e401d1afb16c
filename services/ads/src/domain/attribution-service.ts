import type { Kysely } from "kysely";
import type { AdsDatabase } from "../store/database.js";
import { lastTouch } from "./attribution.js";

const DAY_MS = 86_400_000;
/** Clocks of two services disagree a little: a conversion this much before its click still counts. */
const SKEW_MS = 5000;

/** Conversions from messaging's and catalog's events, each counted once (conversion's key is kind + ref). */
export function createAttribution(windowDays: number) {
  const windowMs = windowDays * DAY_MS;
  return {
    windowMs,

    /** A conversation opened from a click-to-chat ad's referral (its click id) within the window. */
    async conversation(trx: Kysely<AdsDatabase>, c: { clickId: string; conversationId: string; businessId: string; atMs: number }): Promise<boolean> {
      if (!c.clickId || !c.conversationId) return false;
      const click = await trx.selectFrom("click").select(["id", "campaign_id", "clicked_at", "business_id"]).where("id", "=", c.clickId).executeTakeFirst();
      if (!click || click.business_id !== c.businessId) return false;
      const touch = lastTouch([{ clickId: click.id, campaignId: click.campaign_id, atMs: click.clicked_at.getTime() - SKEW_MS }], c.atMs, windowMs);
      if (!touch) return false;
      const inserted = await trx
        .insertInto("conversion")
        .values({ kind: "conversation", ref_id: c.conversationId, campaign_id: touch.campaignId, business_id: c.businessId, click_id: touch.clickId, at: new Date(c.atMs) })
        .onConflict((oc) => oc.doNothing())
        .returning("ref_id")
        .executeTakeFirst();
      return inserted !== undefined;
    },

    /** An order credited to the customer's last click on one of the business's ads within the window. */
    async order(trx: Kysely<AdsDatabase>, o: { orderId: string; businessId: string; customerId: string; atMs: number; totalMinor: string; currency: string }): Promise<boolean> {
      if (!o.orderId || !o.customerId) return false;
      const clicks = await trx
        .selectFrom("click")
        .select(["id", "campaign_id", "clicked_at"])
        .where("customer_id", "=", o.customerId)
        .where("business_id", "=", o.businessId)
        .where("clicked_at", ">=", new Date(o.atMs - windowMs))
        .where("clicked_at", "<=", new Date(o.atMs + SKEW_MS))
        .orderBy("clicked_at", "desc")
        .limit(1)
        .execute();
      const touch = lastTouch(
        clicks.map((c) => ({ clickId: c.id, campaignId: c.campaign_id, atMs: Math.min(c.clicked_at.getTime(), o.atMs) })),
        o.atMs,
        windowMs,
      );
      if (!touch) return false;
      const inserted = await trx
        .insertInto("conversion")
        .values({ kind: "order", ref_id: o.orderId, campaign_id: touch.campaignId, business_id: o.businessId, click_id: touch.clickId, at: new Date(o.atMs), revenue_minor: o.totalMinor, currency: o.currency })
        .onConflict((oc) => oc.doNothing())
        .returning("ref_id")
        .executeTakeFirst();
      return inserted !== undefined;
    },
  };
}

export type Attribution = ReturnType<typeof createAttribution>;

import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import { InvalidInput, PolicyRefused } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { AdReferral } from "@kontor/proto/ads/v1/ads_service";
import type { AdsDatabase } from "../store/database.js";
import { findCampaign } from "../store/campaign-store.js";
import { clickRecordedEvent } from "../events/outbox.js";
import { verifyAdToken, type AdTokenClaims } from "./ad-token.js";
import { utcDay } from "./pacing.js";
import type { Creative } from "./campaign.js";

export interface ClickPorts {
  db: Kysely<AdsDatabase>;
  enqueue(trx: Kysely<AdsDatabase>, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  tokenSecret: string;
  chatLinkBaseUrl: string;
  /** The click changed its campaign-day's spend: the settlement records it into the spend ledger. */
  noteSpend(campaignId: string, day: string): void;
}

export interface ClickResult {
  clickId: string;
  counted: boolean;
  url: string;
  referral: AdReferral | undefined;
}

/** A click on an impression older than this is not counted (the ad it belonged to is long gone). */
const CLICK_WINDOW_MS = 24 * 3600 * 1000;
const CLICK_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Where a click leads: click-to-chat opens a chat with the business carrying the referral; display goes to its landing URL. */
export function clickTarget(baseUrl: string, objective: string, businessId: string, creative: Creative, clickId: string, campaignId: string): { url: string; referral: AdReferral | undefined } {
  if (objective !== "click_to_chat") return { url: creative.landingUrl, referral: undefined };
  const url = new URL(`${baseUrl.replace(/\/$/, "")}/chat/${encodeURIComponent(businessId)}`);
  if (creative.prefilledMessage) url.searchParams.set("text", creative.prefilledMessage);
  url.searchParams.set("ctwa_clid", clickId);
  return {
    url: url.toString(),
    referral: {
      sourceId: campaignId,
      sourceType: "ad",
      sourceUrl: creative.landingUrl,
      headline: creative.headline,
      body: creative.text,
      imageUrl: creative.imageUrl,
      creativeId: creative.id,
      ctwaClid: clickId,
    },
  };
}

/** Clicks: counted once per impression, charged (CPC) without passing the daily budget, with click.recorded for messaging. */
export function createClickService(ports: ClickPorts) {
  return {
    /** The token's claims, or INVALID_ARGUMENT naming ad_token. */
    claimsOf(token: string): AdTokenClaims {
      const claims = verifyAdToken(ports.tokenSecret, token);
      if (!claims) throw new InvalidInput("ad_token", "is not a token this service issued");
      return claims;
    },

    async record(claims: AdTokenClaims, givenClickId: string): Promise<ClickResult> {
      if (givenClickId && !CLICK_ID.test(givenClickId)) throw new InvalidInput("click_id", "must be 1-128 letters, digits or . _ : -");
      const now = ports.now();
      if (now.getTime() - claims.servedAtMs > CLICK_WINDOW_MS) throw new PolicyRefused("AD_EXPIRED", "the ad was served more than 24 hours ago");
      const clickId = givenClickId || randomUUID();
      return ports.db.transaction().execute(async (trx) => {
        const row = await findCampaign(trx, claims.campaignId);
        if (!row) throw new InvalidInput("ad_token", "names no campaign");
        const creative = row.creatives.find((c) => c.id === claims.creativeId) ?? row.creatives[0]!;
        const inserted = await trx
          .insertInto("click")
          .values({
            id: clickId,
            impression_id: claims.impressionId,
            campaign_id: claims.campaignId,
            business_id: row.business_id,
            creative_id: claims.creativeId,
            customer_id: claims.customerId,
            placement: claims.placement,
            clicked_at: now,
            cost_milli: 0,
          })
          .onConflict((oc) => oc.doNothing())
          .returning("id")
          .executeTakeFirst();
        if (!inserted) {
          // A retry (same click id) or another click on an impression already clicked: answered, not counted.
          const first = await trx.selectFrom("click").select("id").where("impression_id", "=", claims.impressionId).executeTakeFirst();
          const target = clickTarget(ports.chatLinkBaseUrl, row.objective, row.business_id, creative, first?.id ?? clickId, row.id);
          return { clickId: first?.id ?? clickId, counted: false, charge: undefined, ...target };
        }
        const target = clickTarget(ports.chatLinkBaseUrl, row.objective, row.business_id, creative, clickId, row.id);
        let costMilli = 0;
        let charge: { campaignId: string; day: string } | undefined;
        const day = utcDay(claims.servedAtMs);
        const events: OutboxEvent[] = [];
        if (claims.kind === "cpc") {
          // Charged to the impression's day, and never past that day's budget: a click beyond it is free.
          await trx
            .insertInto("campaign_day")
            .values({ campaign_id: row.id, day, budget_milli: Number(row.daily_budget_minor) * 1000 })
            .onConflict((oc) => oc.columns(["campaign_id", "day"]).doNothing())
            .execute();
          const charged = await sql<{ charged: string }>`
            WITH cur AS (SELECT spent_milli, budget_milli FROM campaign_day WHERE campaign_id = ${row.id} AND day = ${day}::date FOR UPDATE)
            UPDATE campaign_day d SET spent_milli = d.spent_milli + LEAST(${claims.price * 1000}::bigint, GREATEST(0, cur.budget_milli - cur.spent_milli)), clicks = d.clicks + 1
            FROM cur WHERE d.campaign_id = ${row.id} AND d.day = ${day}::date
            RETURNING LEAST(${claims.price * 1000}::bigint, GREATEST(0, cur.budget_milli - cur.spent_milli)) AS charged`.execute(trx);
          costMilli = Number(charged.rows[0]?.charged ?? 0);
          await trx.updateTable("click").set({ cost_milli: costMilli }).where("id", "=", clickId).execute();
          // Into the spend ledger with the campaign-day's next settlement.
          charge = { campaignId: row.id, day };
        }
        events.unshift(
          clickRecordedEvent({
            clickId,
            impressionId: claims.impressionId,
            campaignId: row.id,
            businessId: row.business_id,
            creativeId: creative.id,
            customerId: claims.customerId,
            placement: claims.placement,
            url: target.url,
            referral: target.referral,
            costMinor: Math.floor(costMilli / 1000),
            currency: row.currency,
            at: now,
          }),
        );
        await ports.enqueue(trx, events);
        return { clickId, counted: true, charge, ...target };
      }).then(({ charge, ...result }) => {
        if (charge) ports.noteSpend(charge.campaignId, charge.day);
        return result;
      });
    },
  };
}

export type ClickService = ReturnType<typeof createClickService>;

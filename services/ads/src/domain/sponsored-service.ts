import { sql, type Kysely } from "kysely";
import { PolicyRefused } from "@kontor/service-kit/errors";
import { SponsoredOutcome, type SponsoredResult } from "@kontor/proto/ads/v1/ads_service";
import type { AdsDatabase } from "../store/database.js";
import type { Campaign } from "./campaign.js";
import { sponsoredDecision, type SponsoredDecision } from "./sponsored.js";

const WEEK_MS = 7 * 86_400_000;

/** Sends one marketing template message through messaging; the outcome says whether messaging took it. */
export interface SponsoredSender {
  send(m: { businessId: string; phoneNumberId: string; customerId: string; templateName: string; templateLanguage: string; clientMessageId: string; requestId: string }): Promise<{ messageId: string } | { refused: string }>;
}

const outcomeOf: Record<Exclude<SponsoredDecision, "send">, SponsoredOutcome> = {
  not_opted_in: SponsoredOutcome.SPONSORED_OUTCOME_NOT_OPTED_IN,
  not_following: SponsoredOutcome.SPONSORED_OUTCOME_NOT_FOLLOWING,
  stopped: SponsoredOutcome.SPONSORED_OUTCOME_STOPPED,
  weekly_cap: SponsoredOutcome.SPONSORED_OUTCOME_WEEKLY_CAP,
  already_sent: SponsoredOutcome.SPONSORED_OUTCOME_ALREADY_SENT,
};

/**
 * Sponsored messages: each customer is decided under a per-customer lock
 * (opt-in, stop, weekly cap across businesses, once per campaign) and a
 * pending row reserves the cap before messaging is called, so two
 * concurrent campaigns cannot both take the customer's last slot.
 */
export function createSponsoredService(ports: { db: Kysely<AdsDatabase>; now(): Date; weeklyCap: number; sender: SponsoredSender | undefined }) {
  const { db } = ports;

  async function reserve(campaign: Campaign, customerId: string, now: Date): Promise<SponsoredDecision> {
    return db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`ads-sponsored:${customerId}`}))`.execute(trx);
      const already = await trx.selectFrom("sponsored_send").select("status").where("campaign_id", "=", campaign.id).where("customer_id", "=", customerId).executeTakeFirst();
      const consent = await trx.selectFrom("marketing_consent").select("opted_in").where("customer_id", "=", customerId).where("business_id", "=", campaign.businessId).executeTakeFirst();
      const stop = await trx.selectFrom("sponsored_stop").select("business_id").where("customer_id", "=", customerId).where("business_id", "in", ["", campaign.businessId]).executeTakeFirst();
      const follows = campaign.targeting.followersOnly
        ? await trx.selectFrom("follower").select("following").where("business_id", "=", campaign.businessId).where("customer_id", "=", customerId).executeTakeFirst()
        : undefined;
      const week = await trx
        .selectFrom("sponsored_send")
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("customer_id", "=", customerId)
        .where("sent_at", ">", new Date(now.getTime() - WEEK_MS))
        .where("status", "!=", "failed")
        .executeTakeFirstOrThrow();
      const decision = sponsoredDecision({ optedIn: consent?.opted_in === true, notFollowing: campaign.targeting.followersOnly && follows?.following !== true, stopped: stop !== undefined, alreadySent: already !== undefined, sentThisWeek: Number(week.n), weeklyCap: ports.weeklyCap });
      if (decision === "send") {
        await trx.insertInto("sponsored_send").values({ campaign_id: campaign.id, customer_id: customerId, business_id: campaign.businessId, sent_at: now, message_id: null, status: "pending" }).execute();
      }
      return decision;
    });
  }

  return {
    async send(campaign: Campaign, customerIds: string[], requestId: string): Promise<SponsoredResult[]> {
      if (campaign.objective !== "sponsored_message") throw new PolicyRefused("NOT_SPONSORED_MESSAGE", "the campaign is not a SPONSORED_MESSAGE campaign");
      if (campaign.status !== "active") throw new PolicyRefused("CAMPAIGN_NOT_ACTIVE", `the campaign is ${campaign.status.toUpperCase()}, not ACTIVE`);
      const now = ports.now();
      if (now < campaign.flight.startAt || (campaign.flight.endAt && now >= campaign.flight.endAt)) throw new PolicyRefused("OUTSIDE_FLIGHT", "the campaign's flight does not include now");
      const creative = campaign.creatives[0]!;
      const number = await db.selectFrom("business_number").select("phone_number_id").where("business_id", "=", campaign.businessId).executeTakeFirst();
      const results: SponsoredResult[] = [];
      for (const customerId of [...new Set(customerIds)]) {
        const decision = await reserve(campaign, customerId, now);
        if (decision !== "send") {
          results.push({ customerId, outcome: outcomeOf[decision], messageId: "" });
          continue;
        }
        const sent = !number
          ? { refused: "the business has no phone number known to ads (directory's business events)" }
          : ports.sender
          ? await ports.sender
              .send({ businessId: campaign.businessId, phoneNumberId: number.phone_number_id, customerId, templateName: creative.templateName, templateLanguage: creative.templateLanguage, clientMessageId: `ads:${campaign.id}:${customerId}`, requestId })
              .catch((err: unknown) => ({ refused: (err as Error).message }))
          : { refused: "no messaging connection is configured" };
        if ("messageId" in sent) {
          await db.updateTable("sponsored_send").set({ status: "sent", message_id: sent.messageId }).where("campaign_id", "=", campaign.id).where("customer_id", "=", customerId).execute();
          results.push({ customerId, outcome: SponsoredOutcome.SPONSORED_OUTCOME_SENT, messageId: sent.messageId });
        } else {
          // Refused by messaging: the reservation goes, so the customer's weekly slot is not spent.
          await db.deleteFrom("sponsored_send").where("campaign_id", "=", campaign.id).where("customer_id", "=", customerId).where("status", "=", "pending").execute();
          results.push({ customerId, outcome: SponsoredOutcome.SPONSORED_OUTCOME_REFUSED, messageId: "" });
        }
      }
      return results;
    },

    /** The customer's one-tap stop ("" stops every business). */
    async stop(customerId: string, businessId: string): Promise<void> {
      await db
        .insertInto("sponsored_stop")
        .values({ customer_id: customerId, business_id: businessId, stopped_at: ports.now() })
        .onConflict((oc) => oc.columns(["customer_id", "business_id"]).doNothing())
        .execute();
    },

    /** Delivery and read counts of one campaign's sponsored messages. */
    async stats(campaignId: string): Promise<Record<string, number>> {
      const rows = await db.selectFrom("sponsored_send").select(["status", (eb) => eb.fn.countAll<string>().as("n")]).where("campaign_id", "=", campaignId).groupBy("status").execute();
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    },
  };
}

export type SponsoredService = ReturnType<typeof createSponsoredService>;

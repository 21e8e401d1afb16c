import { sql, type Kysely } from "kysely";
import { PolicyRefused } from "@kontor/service-kit/errors";
import { SponsoredOutcome, type SponsoredResult } from "@kontor/proto/ads/v1/ads_service";
import type { AdsDatabase } from "../store/database.js";
import type { Campaign } from "./campaign.js";
import { sponsoredDecision, type SponsoredDecision } from "./sponsored.js";
import { utcDay } from "./pacing.js";

const WEEK_MS = 7 * 86_400_000;

/** Sends one marketing template message through messaging; the outcome says whether messaging took it. */
export interface SponsoredSender {
  send(m: { businessId: string; phoneNumberId: string; customerId: string; templateName: string; templateLanguage: string; clientMessageId: string; requestId: string }): Promise<{ messageId: string } | { refused: string }>;
}

type Outcome = Exclude<SponsoredDecision, "send"> | "budget_exhausted";

const outcomeOf: Record<Outcome, SponsoredOutcome> = {
  budget_exhausted: SponsoredOutcome.SPONSORED_OUTCOME_BUDGET_EXHAUSTED,
  not_opted_in: SponsoredOutcome.SPONSORED_OUTCOME_NOT_OPTED_IN,
  not_following: SponsoredOutcome.SPONSORED_OUTCOME_NOT_FOLLOWING,
  stopped: SponsoredOutcome.SPONSORED_OUTCOME_STOPPED,
  weekly_cap: SponsoredOutcome.SPONSORED_OUTCOME_WEEKLY_CAP,
  already_sent: SponsoredOutcome.SPONSORED_OUTCOME_ALREADY_SENT,
};

/** Thrown inside the reservation to roll it back: the budget has no room for the message. */
class NoBudget extends Error {}

/**
 * What one message costs, in thousandths of a minor unit: the campaign bids
 * CPM, per thousand messages sent (validation refuses CPC for sponsored messages).
 */
export const messageCostMilli = (campaign: Campaign): number => Number(campaign.bid.amount.amountMinor);

/**
 * Sponsored messages: each customer is decided under a per-customer lock
 * (opt-in, stop, weekly cap across businesses, once per campaign) and a
 * pending row reserves the cap before messaging is called, so two
 * concurrent campaigns cannot both take the customer's last slot. The
 * message's price is reserved from the campaign-day's budget and the
 * lifetime budget in the same transaction (leased_milli, as serving leases
 * it), charged into the campaign-day's spend when messaging takes the
 * message (the settlement writes the ledger entry and spend.recorded), and
 * given back when messaging refuses it.
 */
export function createSponsoredService(ports: {
  db: Kysely<AdsDatabase>;
  now(): Date;
  weeklyCap: number;
  sender: SponsoredSender | undefined;
  /** A campaign-day's spend changed: the settlement records it. */
  noteSpend(campaignId: string, day: string): void;
}) {
  const { db } = ports;

  async function reserve(campaign: Campaign, customerId: string, now: Date, costMilli: number): Promise<SponsoredDecision | "budget_exhausted"> {
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
        const day = utcDay(now.getTime());
        await sql`INSERT INTO campaign_day (campaign_id, day, budget_milli) VALUES (${campaign.id}, ${day}::date, ${Number(campaign.dailyBudget.amountMinor) * 1000}) ON CONFLICT DO NOTHING`.execute(trx);
        const dayRoom = await sql`
          UPDATE campaign_day SET leased_milli = leased_milli + ${costMilli} WHERE campaign_id = ${campaign.id} AND day = ${day}::date AND leased_milli + ${costMilli} <= budget_milli RETURNING 1`.execute(trx);
        const lifetimeRoom = await sql`
          UPDATE campaign SET lifetime_leased_milli = lifetime_leased_milli + ${costMilli}
          WHERE id = ${campaign.id} AND (lifetime_budget_minor IS NULL OR lifetime_leased_milli + ${costMilli} <= lifetime_budget_minor * 1000) RETURNING 1`.execute(trx);
        if (dayRoom.rows.length === 0 || lifetimeRoom.rows.length === 0) throw new NoBudget();
        await trx
          .insertInto("sponsored_send")
          .values({ campaign_id: campaign.id, customer_id: customerId, business_id: campaign.businessId, sent_at: now, message_id: null, status: "pending", cost_milli: costMilli })
          .execute();
      }
      return decision;
    }).catch((err: unknown) => {
      if (err instanceof NoBudget) return "budget_exhausted" as const;
      throw err;
    });
  }

  /** Messaging took the message: it is charged. */
  async function charge(campaign: Campaign, customerId: string, messageId: string, now: Date, costMilli: number): Promise<void> {
    const day = utcDay(now.getTime());
    await db.transaction().execute(async (trx) => {
      await trx.updateTable("sponsored_send").set({ status: "sent", message_id: messageId }).where("campaign_id", "=", campaign.id).where("customer_id", "=", customerId).execute();
      await sql`UPDATE campaign_day SET spent_milli = spent_milli + ${costMilli}, messages = messages + 1 WHERE campaign_id = ${campaign.id} AND day = ${day}::date`.execute(trx);
    });
    ports.noteSpend(campaign.id, day);
  }

  /** Messaging refused it: the reservation (weekly slot and budget) goes back. */
  async function release(campaign: Campaign, customerId: string, now: Date, costMilli: number): Promise<void> {
    const day = utcDay(now.getTime());
    await db.transaction().execute(async (trx) => {
      const gone = await trx.deleteFrom("sponsored_send").where("campaign_id", "=", campaign.id).where("customer_id", "=", customerId).where("status", "=", "pending").returning("cost_milli").executeTakeFirst();
      if (!gone) return;
      await sql`UPDATE campaign_day SET leased_milli = GREATEST(0, leased_milli - ${costMilli}) WHERE campaign_id = ${campaign.id} AND day = ${day}::date`.execute(trx);
      await sql`UPDATE campaign SET lifetime_leased_milli = GREATEST(0, lifetime_leased_milli - ${costMilli}) WHERE id = ${campaign.id}`.execute(trx);
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
      if (campaign.bid.kind !== "cpm") throw new PolicyRefused("BID_KIND_NOT_CPM", "a SPONSORED_MESSAGE campaign is charged per message: its bid must be CPM");
      const costMilli = messageCostMilli(campaign);
      const results: SponsoredResult[] = [];
      for (const customerId of [...new Set(customerIds)]) {
        const decision = await reserve(campaign, customerId, now, costMilli);
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
          await charge(campaign, customerId, sent.messageId, now, costMilli);
          results.push({ customerId, outcome: SponsoredOutcome.SPONSORED_OUTCOME_SENT, messageId: sent.messageId });
        } else {
          // Refused by messaging: the reservation goes, so neither the customer's weekly slot nor the budget is spent.
          await release(campaign, customerId, now, costMilli);
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

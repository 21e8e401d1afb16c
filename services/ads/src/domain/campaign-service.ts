import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { AdsDatabase } from "../store/database.js";
import type { CampaignRow } from "../store/campaign.table.js";
import { findCampaign, insertCampaign, listCampaigns, updateCampaignStatus } from "../store/campaign-store.js";
import { campaignCreatedEvent, campaignUpdatedEvent } from "../events/outbox.js";
import { emptyTargeting, validateNewCampaign, type Campaign, type NewCampaignInput } from "./campaign.js";
import { nextStatus, type CampaignAction } from "./status.js";
import { reviewCampaign, type PolicyRules } from "./review.js";

export interface CampaignPorts {
  db: Kysely<AdsDatabase>;
  enqueue(trx: Kysely<AdsDatabase>, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  policy: PolicyRules;
  /** Currencies the operator ranks ads in (ADS_CURRENCY_RATES). */
  currencies: ReadonlySet<string>;
}

export function campaignRowToCampaign(row: CampaignRow): Campaign {
  return {
    id: row.id,
    businessId: row.business_id,
    name: row.name,
    objective: row.objective,
    goal: row.goal,
    status: row.status,
    dailyBudget: { amountMinor: BigInt(row.daily_budget_minor), currency: row.currency },
    lifetimeBudget: row.lifetime_budget_minor === null ? undefined : { amountMinor: BigInt(row.lifetime_budget_minor), currency: row.currency },
    bid: { kind: row.bid_kind, amount: { amountMinor: BigInt(row.bid_minor), currency: row.currency } },
    creatives: row.creatives,
    targeting: { ...emptyTargeting, ...row.targeting },
    frequencyCap: row.frequency_cap,
    review: { reasons: row.review.reasons ?? [], reviewer: row.review.reviewer ?? "", reviewedAt: row.review.reviewedAt ? new Date(row.review.reviewedAt) : undefined },
    flight: { startAt: row.flight_start_at, endAt: row.flight_end_at ?? undefined },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const MAX_REASONS = 20;

/** Campaign use cases; authorization happens in the rpc layer before these run. */
export function createCampaignService(ports: CampaignPorts) {
  /**
   * Applies one status action under the row's lock, with campaign.updated in
   * the same transaction. `review`, when given, records a review and may
   * keep the campaign where it was (a submit that breaks a rule).
   */
  async function transition(
    id: string,
    action: CampaignAction,
    authorize: (c: Campaign) => void,
    review?: (c: Campaign) => { reasons: string[]; reviewer: string; stay: boolean },
  ): Promise<Campaign> {
    const now = ports.now();
    return ports.db.transaction().execute(async (trx) => {
      const row = await findCampaign(trx, id, true);
      if (!row) throw new NotFound("campaign");
      const current = campaignRowToCampaign(row);
      authorize(current);
      let status = nextStatus(current.status, action);
      let recorded: CampaignRow["review"] | undefined;
      if (review) {
        const r = review(current);
        if (r.stay) status = current.status;
        recorded = { reasons: r.reasons, reviewer: r.reviewer, reviewedAt: now.toISOString() };
      }
      const updated = campaignRowToCampaign(await updateCampaignStatus(trx, id, status, recorded, now));
      await ports.enqueue(trx, [campaignUpdatedEvent(updated, now)]);
      return updated;
    });
  }

  return {
    async createCampaign(input: NewCampaignInput): Promise<Campaign> {
      // One clock reading; created_at is written from it (millisecond precision), so list cursors round-trip exactly.
      const now = ports.now();
      const valid = validateNewCampaign(input, now);
      if (!ports.currencies.has(valid.dailyBudget.currency)) throw new InvalidInput("daily_budget.currency", `is not accepted here (${[...ports.currencies].join(", ")})`);
      return ports.db.transaction().execute(async (trx) => {
        const row = await insertCampaign(trx, {
          id: randomUUID(),
          business_id: valid.businessId,
          name: valid.name,
          objective: valid.objective,
          goal: valid.goal,
          status: valid.status,
          daily_budget_minor: valid.dailyBudget.amountMinor.toString(),
          lifetime_budget_minor: valid.lifetimeBudget ? valid.lifetimeBudget.amountMinor.toString() : null,
          currency: valid.dailyBudget.currency,
          bid_kind: valid.bid.kind,
          bid_minor: valid.bid.amount.amountMinor.toString(),
          creatives: JSON.stringify(valid.creatives),
          targeting: JSON.stringify(valid.targeting),
          frequency_cap: JSON.stringify(valid.frequencyCap),
          review: JSON.stringify({ reasons: [], reviewer: "" }),
          flight_start_at: valid.flight.startAt,
          flight_end_at: valid.flight.endAt ?? null,
          created_at: now,
          updated_at: now,
        });
        const campaign = campaignRowToCampaign(row);
        await ports.enqueue(trx, [campaignCreatedEvent(campaign)]);
        return campaign;
      });
    },

    async getCampaign(id: string): Promise<Campaign> {
      const row = await findCampaign(ports.db, id);
      if (!row) throw new NotFound("campaign");
      return campaignRowToCampaign(row);
    },

    async listCampaigns(businessId: string, limit: number, after?: { createdAt: Date; id: string }): Promise<Campaign[]> {
      return (await listCampaigns(ports.db, businessId, limit, after)).map(campaignRowToCampaign);
    },

    /**
     * The policy rules run on submit: a clean campaign goes IN_REVIEW, one
     * that breaks a rule stays DRAFT with the reasons.
     */
    submit(id: string, authorize: (c: Campaign) => void): Promise<Campaign> {
      return transition(id, "submit", authorize, (c) => {
        const reasons = reviewCampaign(c, ports.policy);
        return { reasons, reviewer: "policy", stay: reasons.length > 0 };
      });
    },

    review(id: string, approve: boolean, reasons: string[], reviewer: string, authorize: (c: Campaign) => void): Promise<Campaign> {
      const clean = reasons.map((r) => r.trim()).filter(Boolean);
      if (!approve && clean.length === 0) throw new InvalidInput("reasons", "a rejection needs at least one reason");
      if (clean.length > MAX_REASONS) throw new InvalidInput("reasons", `at most ${MAX_REASONS} reasons`);
      return transition(id, approve ? "approve" : "reject", authorize, () => ({ reasons: clean, reviewer, stay: false }));
    },

    pause: (id: string, authorize: (c: Campaign) => void) => transition(id, "pause", authorize),
    resume: (id: string, authorize: (c: Campaign) => void) => transition(id, "resume", authorize),
    end: (id: string, authorize: (c: Campaign) => void) => transition(id, "end", authorize),
  };
}

export type CampaignService = ReturnType<typeof createCampaignService>;

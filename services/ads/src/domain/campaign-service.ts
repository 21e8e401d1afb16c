import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { NotFound } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { AdsDatabase } from "../store/database.js";
import type { CampaignRow } from "../store/campaign.table.js";
import { findCampaign, insertCampaign, listCampaigns } from "../store/campaign-store.js";
import { campaignCreatedEvent } from "../events/outbox.js";
import { validateNewCampaign, type Campaign, type NewCampaignInput } from "./campaign.js";

export interface CampaignPorts {
  db: Kysely<AdsDatabase>;
  enqueue(trx: Kysely<AdsDatabase>, events: OutboxEvent[]): Promise<void>;
  now(): Date;
}

export function campaignRowToCampaign(row: CampaignRow): Campaign {
  return {
    id: row.id,
    businessId: row.business_id,
    name: row.name,
    objective: row.objective,
    status: row.status,
    dailyBudget: { amountMinor: BigInt(row.daily_budget_minor), currency: row.currency },
    flight: { startAt: row.flight_start_at, endAt: row.flight_end_at ?? undefined },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Campaign use cases; authorization happens in the rpc layer before these run. */
export function createCampaignService(ports: CampaignPorts) {
  return {
    async createCampaign(input: NewCampaignInput): Promise<Campaign> {
      // One clock reading; created_at is written from it (millisecond precision), so list cursors round-trip exactly.
      const now = ports.now();
      const valid = validateNewCampaign(input, now);
      return ports.db.transaction().execute(async (trx) => {
        const row = await insertCampaign(trx, {
          id: randomUUID(),
          business_id: valid.businessId,
          name: valid.name,
          objective: valid.objective,
          status: valid.status,
          daily_budget_minor: valid.dailyBudget.amountMinor.toString(),
          currency: valid.dailyBudget.currency,
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
  };
}

export type CampaignService = ReturnType<typeof createCampaignService>;

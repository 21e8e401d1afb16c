import { InvalidInput } from "@kontor/service-kit/errors";
import { parseMoney, type MoneyValue } from "@kontor/service-kit/money";

export const campaignObjectives = ["click_to_chat", "sponsored_message", "display"] as const;
export type CampaignObjective = (typeof campaignObjectives)[number];

export const campaignStatuses = ["draft", "active", "paused", "ended"] as const;
export type CampaignStatus = (typeof campaignStatuses)[number];

/** When a campaign may serve; no end means until paused or ended. */
export interface Flight {
  startAt: Date;
  endAt: Date | undefined;
}

export interface Campaign {
  id: string;
  businessId: string;
  name: string;
  objective: CampaignObjective;
  status: CampaignStatus;
  dailyBudget: MoneyValue;
  flight: Flight;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewCampaignInput {
  businessId: string;
  name: string;
  /** Undefined when the caller sent none (or one this version does not know). */
  objective: CampaignObjective | undefined;
  dailyBudget: { amountMinor: string; currency: string } | undefined;
  flight: { startTime: Date | undefined; endTime: Date | undefined } | undefined;
}

export type ValidCampaign = Pick<Campaign, "businessId" | "name" | "objective" | "dailyBudget" | "flight"> & { status: "draft" };

const MAX_NAME = 200;
const INT64_MAX = 2n ** 63n - 1n;

function validTime(d: Date | undefined): d is Date {
  return d instanceof Date && Number.isFinite(d.getTime());
}

/** Checks a new campaign against the clock; each problem names its field. New campaigns are drafts. */
export function validateNewCampaign(input: NewCampaignInput, now: Date): ValidCampaign {
  if (!input.businessId) throw new InvalidInput("business_id", "is required");
  const name = input.name.trim();
  if (!name) throw new InvalidInput("name", "is required");
  if ([...name].length > MAX_NAME) throw new InvalidInput("name", `must be at most ${MAX_NAME} characters`);
  if (!input.objective) throw new InvalidInput("objective", "must be one of CLICK_TO_CHAT, SPONSORED_MESSAGE, DISPLAY");
  const dailyBudget = parseMoney("daily_budget", input.dailyBudget);
  if (dailyBudget.amountMinor === 0n) throw new InvalidInput("daily_budget.amount_minor", "must be positive");
  if (dailyBudget.amountMinor > INT64_MAX) throw new InvalidInput("daily_budget.amount_minor", "is out of range");
  if (!input.flight) throw new InvalidInput("flight", "is required");
  const startAt = input.flight.startTime;
  const endAt = input.flight.endTime;
  if (!validTime(startAt)) throw new InvalidInput("flight.start_time", "is required");
  if (endAt !== undefined) {
    if (!validTime(endAt)) throw new InvalidInput("flight.end_time", "is not a valid time");
    if (endAt <= startAt) throw new InvalidInput("flight.end_time", "must be after flight.start_time");
    if (endAt <= now) throw new InvalidInput("flight.end_time", "must be in the future");
  }
  return { businessId: input.businessId, name, objective: input.objective, dailyBudget, flight: { startAt, endAt }, status: "draft" };
}

import { InvalidInput } from "@kontor/service-kit/errors";
import { parseMoney, type MoneyValue } from "@kontor/service-kit/money";
import { validateTargeting, type Targeting } from "./targeting.js";

/** The campaign's type: where and how it reaches customers. */
export const campaignObjectives = ["click_to_chat", "sponsored_message", "display"] as const;
export type CampaignObjective = (typeof campaignObjectives)[number];

/** What the campaign is optimised towards. */
export const campaignGoals = ["messages", "traffic", "sales"] as const;
export type CampaignGoal = (typeof campaignGoals)[number];

export const campaignStatuses = ["draft", "in_review", "active", "paused", "ended"] as const;
export type CampaignStatus = (typeof campaignStatuses)[number];

export const bidKinds = ["cpm", "cpc"] as const;
export type BidKind = (typeof bidKinds)[number];

/** When a campaign may serve; no end means until paused or ended. */
export interface Flight {
  startAt: Date;
  endAt: Date | undefined;
}

export interface Bid {
  kind: BidKind;
  amount: MoneyValue;
}

export interface Creative {
  id: string;
  headline: string;
  text: string;
  imageUrl: string;
  callToAction: string;
  landingUrl: string;
  prefilledMessage: string;
  templateName: string;
  templateLanguage: string;
}

export interface FrequencyCap {
  /** Impressions per customer per campaign in any 24 hours; 0: no cap. */
  perDay: number;
  /** ... in any 7 days; 0: no cap. */
  perWeek: number;
}

export interface Review {
  reasons: string[];
  reviewedAt: Date | undefined;
  /** "policy" for the automatic rules, else the reviewer's principal label. */
  reviewer: string;
}

export interface Campaign {
  id: string;
  businessId: string;
  name: string;
  objective: CampaignObjective;
  goal: CampaignGoal;
  status: CampaignStatus;
  dailyBudget: MoneyValue;
  lifetimeBudget: MoneyValue | undefined;
  bid: Bid;
  creatives: Creative[];
  targeting: Targeting;
  frequencyCap: FrequencyCap;
  review: Review;
  flight: Flight;
  createdAt: Date;
  updatedAt: Date;
}

export type CreativeInput = Omit<Creative, "id">;

export interface NewCampaignInput {
  businessId: string;
  name: string;
  /** Undefined when the caller sent none (or one this version does not know). */
  objective: CampaignObjective | undefined;
  /** Undefined: derived from the objective. */
  goal?: CampaignGoal | undefined;
  dailyBudget: { amountMinor: string; currency: string } | undefined;
  lifetimeBudget?: { amountMinor: string; currency: string } | undefined;
  /** kind undefined: none sent or unknown. */
  bid?: { kind: BidKind | undefined; amount: { amountMinor: string; currency: string } | undefined } | undefined;
  creatives?: CreativeInput[];
  targeting?: Targeting | undefined;
  frequencyCap?: FrequencyCap | undefined;
  flight: { startTime: Date | undefined; endTime: Date | undefined } | undefined;
}

export type ValidCampaign = Pick<
  Campaign,
  "businessId" | "name" | "objective" | "goal" | "dailyBudget" | "lifetimeBudget" | "bid" | "creatives" | "targeting" | "frequencyCap" | "flight"
> & { status: "draft" };

const MAX_NAME = 200;
const MAX_CREATIVES = 10;
const INT64_MAX = 2n ** 63n - 1n;
/** Budgets and bids are held in thousandths of a minor unit as JS numbers; this keeps them exact. */
const MAX_MONEY_MINOR = 1_000_000_000_000n;
const MAX_CAP = 1000;

const defaultGoal: Record<CampaignObjective, CampaignGoal> = { click_to_chat: "messages", sponsored_message: "messages", display: "traffic" };

export const emptyTargeting: Targeting = {
  countries: [],
  regions: [],
  languages: [],
  minAge: 0,
  maxAge: 0,
  interests: [],
  messagedWithinDays: 0,
  orderedWithinDays: 0,
  placements: [],
  keywords: [],
  followersOnly: false,
};

function validTime(d: Date | undefined): d is Date {
  return d instanceof Date && Number.isFinite(d.getTime());
}

function positiveMoney(field: string, money: { amountMinor: string; currency: string } | undefined): MoneyValue {
  const value = parseMoney(field, money);
  if (value.amountMinor === 0n) throw new InvalidInput(`${field}.amount_minor`, "must be positive");
  if (value.amountMinor > INT64_MAX || value.amountMinor > MAX_MONEY_MINOR) throw new InvalidInput(`${field}.amount_minor`, "is out of range");
  return value;
}

function isHttpsUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" && url.hostname.length > 0;
  } catch {
    return false;
  }
}

function text(field: string, value: string, max: number, required = false): string {
  const v = value.trim();
  if (required && !v) throw new InvalidInput(field, "is required");
  if ([...v].length > max) throw new InvalidInput(field, `must be at most ${max} characters`);
  return v;
}

function validateCreatives(objective: CampaignObjective, creatives: CreativeInput[] | undefined): Creative[] {
  if (!creatives || creatives.length === 0) throw new InvalidInput("creatives", "at least one creative is required");
  if (creatives.length > MAX_CREATIVES) throw new InvalidInput("creatives", `at most ${MAX_CREATIVES} creatives`);
  return creatives.map((c, i) => {
    const f = (name: string) => `creatives[${i}].${name}`;
    const out: Creative = {
      id: `c${i + 1}`,
      headline: text(f("headline"), c.headline, 100, true),
      text: text(f("text"), c.text, 1000),
      imageUrl: text(f("image_url"), c.imageUrl, 2000),
      callToAction: text(f("call_to_action"), c.callToAction, 40),
      landingUrl: text(f("landing_url"), c.landingUrl, 2000),
      prefilledMessage: text(f("prefilled_message"), c.prefilledMessage, 500),
      templateName: text(f("template_name"), c.templateName, 512),
      templateLanguage: text(f("template_language"), c.templateLanguage, 20),
    };
    if (out.imageUrl && !isHttpsUrl(out.imageUrl)) throw new InvalidInput(f("image_url"), "must be an https URL");
    if (out.landingUrl && !isHttpsUrl(out.landingUrl)) throw new InvalidInput(f("landing_url"), "must be an https URL");
    if (objective === "display" && !out.landingUrl) throw new InvalidInput(f("landing_url"), "is required for a DISPLAY campaign");
    if (objective === "sponsored_message") {
      if (!out.templateName) throw new InvalidInput(f("template_name"), "is required for a SPONSORED_MESSAGE campaign");
      if (!out.templateLanguage) throw new InvalidInput(f("template_language"), "is required for a SPONSORED_MESSAGE campaign");
    }
    return out;
  });
}

function validateCap(cap: FrequencyCap | undefined): FrequencyCap {
  const perDay = cap?.perDay ?? 0;
  const perWeek = cap?.perWeek ?? 0;
  if (!Number.isInteger(perDay) || perDay < 0 || perDay > MAX_CAP) throw new InvalidInput("frequency_cap.per_day", `must be 0-${MAX_CAP}`);
  if (!Number.isInteger(perWeek) || perWeek < 0 || perWeek > MAX_CAP) throw new InvalidInput("frequency_cap.per_week", `must be 0-${MAX_CAP}`);
  if (perDay && perWeek && perWeek < perDay) throw new InvalidInput("frequency_cap.per_week", "must be at least per_day");
  return { perDay, perWeek };
}

/** Checks a new campaign against the clock; each problem names its field. New campaigns are drafts. */
export function validateNewCampaign(input: NewCampaignInput, now: Date): ValidCampaign {
  if (!input.businessId) throw new InvalidInput("business_id", "is required");
  const name = input.name.trim();
  if (!name) throw new InvalidInput("name", "is required");
  if ([...name].length > MAX_NAME) throw new InvalidInput("name", `must be at most ${MAX_NAME} characters`);
  if (!input.objective) throw new InvalidInput("objective", "must be one of CLICK_TO_CHAT, SPONSORED_MESSAGE, DISPLAY");
  const dailyBudget = positiveMoney("daily_budget", input.dailyBudget);
  let lifetimeBudget: MoneyValue | undefined;
  if (input.lifetimeBudget) {
    lifetimeBudget = positiveMoney("lifetime_budget", input.lifetimeBudget);
    if (lifetimeBudget.currency !== dailyBudget.currency) throw new InvalidInput("lifetime_budget.currency", "must be the daily budget's currency");
    if (lifetimeBudget.amountMinor < dailyBudget.amountMinor) throw new InvalidInput("lifetime_budget.amount_minor", "must be at least the daily budget");
  }
  if (!input.bid) throw new InvalidInput("bid", "is required");
  if (!input.bid.kind) throw new InvalidInput("bid.kind", "must be CPM or CPC");
  if (input.objective === "sponsored_message" && input.bid.kind !== "cpm") throw new InvalidInput("bid.kind", "a SPONSORED_MESSAGE campaign bids CPM: each message sent costs a thousandth of the bid");
  const bidAmount = positiveMoney("bid.amount", input.bid.amount);
  if (bidAmount.currency !== dailyBudget.currency) throw new InvalidInput("bid.amount.currency", "must be the daily budget's currency");
  // One click (CPC) or one impression (CPM: a thousandth of the bid) must fit in a day's budget, or the campaign could never serve.
  const perUnit = input.bid.kind === "cpc" ? bidAmount.amountMinor : bidAmount.amountMinor / 1000n;
  if (perUnit > dailyBudget.amountMinor) throw new InvalidInput("bid.amount.amount_minor", "must not exceed the daily budget per click (CPC) or per impression (CPM)");
  if (!input.flight) throw new InvalidInput("flight", "is required");
  const startAt = input.flight.startTime;
  const endAt = input.flight.endTime;
  if (!validTime(startAt)) throw new InvalidInput("flight.start_time", "is required");
  if (endAt !== undefined) {
    if (!validTime(endAt)) throw new InvalidInput("flight.end_time", "is not a valid time");
    if (endAt <= startAt) throw new InvalidInput("flight.end_time", "must be after flight.start_time");
    if (endAt <= now) throw new InvalidInput("flight.end_time", "must be in the future");
  }
  const creatives = validateCreatives(input.objective, input.creatives);
  const targeting = validateTargeting(input.targeting ?? emptyTargeting);
  const frequencyCap = validateCap(input.frequencyCap);
  return {
    businessId: input.businessId,
    name,
    objective: input.objective,
    goal: input.goal ?? defaultGoal[input.objective],
    dailyBudget,
    lifetimeBudget,
    bid: { kind: input.bid.kind, amount: bidAmount },
    creatives,
    targeting,
    frequencyCap,
    flight: { startAt, endAt },
    status: "draft",
  };
}

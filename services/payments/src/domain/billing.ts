import { InvalidInput } from "@kontor/service-kit/errors";

/** Prices of messaging per kind and category, in minor units of one currency, with per-country overrides. */
export interface RateCard {
  currency: string;
  message: Record<string, number>;
  conversation: Record<string, number>;
  countries: Record<string, { message?: Record<string, number>; conversation?: Record<string, number> }>;
}

export function parseRateCard(json: string): RateCard {
  const raw = JSON.parse(json) as Partial<RateCard>;
  if (typeof raw.currency !== "string" || !/^[A-Z]{3}$/.test(raw.currency)) throw new Error("BILLING_RATES needs a currency");
  return { currency: raw.currency, message: raw.message ?? {}, conversation: raw.conversation ?? {}, countries: raw.countries ?? {} };
}

/** The unit price of one billable message or conversation; unknown categories are free. */
export function unitPrice(card: RateCard, kind: "message" | "conversation", category: string, country: string): bigint {
  const override = card.countries[country]?.[kind]?.[category];
  const price = override ?? card[kind][category] ?? 0;
  return BigInt(Math.max(0, Math.trunc(price)));
}

/** "YYYY-MM" of an instant, UTC. */
export function periodOf(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/** The month before the one an instant falls in. */
export function previousPeriod(at: Date): string {
  return periodOf(new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1)));
}

/** A period that has ended by `now`; anything else names the field. */
export function validateClosedPeriod(period: string, now: Date): string {
  if (!/^[0-9]{4}-(0[1-9]|1[0-2])$/.test(period)) throw new InvalidInput("period", "must be a month as YYYY-MM");
  if (period >= periodOf(now)) throw new InvalidInput("period", "must be a month that has ended");
  return period;
}

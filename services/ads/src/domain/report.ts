import { InvalidInput } from "@kontor/service-kit/errors";

/** One campaign's counts for one UTC day. */
export interface DayCounts {
  campaignId: string;
  businessId: string;
  day: string;
  impressions: number;
  reach: number;
  clicks: number;
  spendMinor: number;
  conversations: number;
  orders: number;
  /** In the campaign's currency (orders in another currency count as orders, not revenue). */
  revenueMinor: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesRead: number;
  messagesClicked: number;
}

export interface ReportRow extends DayCounts {
  currency: string;
  ctr: number;
  /** Undefined without conversations. */
  costPerConversationMinor: number | undefined;
  /** Revenue per unit of spend; 0 without spend. */
  roas: number;
}

export function reportRow(c: DayCounts, currency: string): ReportRow {
  return {
    ...c,
    currency,
    ctr: c.impressions > 0 ? c.clicks / c.impressions : 0,
    costPerConversationMinor: c.conversations > 0 ? Math.round(c.spendMinor / c.conversations) : undefined,
    roas: c.spendMinor > 0 ? c.revenueMinor / c.spendMinor : 0,
  };
}

const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

function parseDay(field: string, value: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new InvalidInput(field, "must be a day as YYYY-MM-DD");
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== value) throw new InvalidInput(field, "is not a calendar day");
  return ms;
}

/** An inclusive range of UTC days, as [from, to + 1 day) instants. */
export function parseDayRange(fromDay: string, toDay: string): { from: Date; toExclusive: Date } {
  const from = parseDay("from_day", fromDay);
  const to = parseDay("to_day", toDay);
  if (to < from) throw new InvalidInput("to_day", "must not be before from_day");
  if ((to - from) / DAY_MS + 1 > MAX_DAYS) throw new InvalidInput("to_day", `a report covers at most ${MAX_DAYS} days`);
  return { from: new Date(from), toExclusive: new Date(to + DAY_MS) };
}

/**
 * Analytics (business tools): the messaging events folded into counts per
 * business, number, UTC day and metric. Pure: the consumer decodes the
 * events and the store adds the deltas. First-response times go into a
 * histogram of fixed buckets per day, so medians and p90s of any range come
 * from sums of counts.
 */

/** What one event says, already decoded. `at` is epoch ms. */
export type AnalyticsEvent =
  /** `broadcast`: the message was sent by a broadcast (its biz_opaque_callback_data says which), for the broadcast's funnel. */
  | { kind: "status"; eventId: string; businessId: string; phoneNumberId: string; conversationId: string; status: "sent" | "delivered" | "read" | "failed"; errorCode: number; fromBusiness: boolean; at: number; messageId?: string; broadcast?: boolean }
  /** `buttonReplyTo`: the message whose reply button the customer tapped (its reply context), if this is such a tap. */
  | { kind: "received"; eventId: string; businessId: string; phoneNumberId: string; conversationId: string; at: number; buttonReplyTo?: string }
  | { kind: "opened"; eventId: string; businessId: string; phoneNumberId: string; category: string; at: number }
  | { kind: "billed"; eventId: string; businessId: string; phoneNumberId: string; templateName: string; at: number; messageId?: string };

/** Template message id → template name, for the per-template counts of later statuses and button taps. */
export type TemplateMessages = Map<string, string>;

/** The template messages an event batch needs to know: those its statuses and button taps name. */
export function templateLookups(events: readonly AnalyticsEvent[]): string[] {
  const ids = new Set<string>();
  for (const e of events) {
    if (e.kind === "status" && e.fromBusiness && (e.status === "delivered" || e.status === "read") && e.messageId) ids.add(e.messageId);
    else if (e.kind === "received" && e.buttonReplyTo) ids.add(e.buttonReplyTo);
  }
  return [...ids];
}

/** Upper bounds of the first-response buckets, in seconds; the last one is open. */
export const RESPONSE_BUCKETS_S = [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400] as const;

export function responseBucket(seconds: number): number {
  const i = RESPONSE_BUCKETS_S.findIndex((b) => seconds <= b);
  return i < 0 ? RESPONSE_BUCKETS_S.length : i;
}

export const dayOf = (at: number): string => new Date(at).toISOString().slice(0, 10);

export interface Delta {
  businessId: string;
  phoneNumberId: string;
  day: string;
  metric: string;
  value: number;
}

/** When a conversation's customer wrote and nobody has answered yet (the consumer's store keeps it between batches). */
export type Awaiting = Map<string, number>;

/**
 * Folds events (in stream order) into deltas; `awaiting` is read and
 * updated for first-response times: a customer message starts the clock if
 * none runs, the business's next SENT stops it. `templates` (the template
 * messages the batch names, see templateLookups) learns each template send
 * (message.billed names the template) and attributes deliveries, reads and
 * button taps to it; a status or tap of a message it does not hold is not
 * a template's.
 */
export function fold(events: readonly AnalyticsEvent[], awaiting: Awaiting, templates: TemplateMessages = new Map()): Delta[] {
  const sums = new Map<string, Delta>();
  const add = (e: { businessId: string; phoneNumberId: string; at: number }, metric: string, value = 1) => {
    const day = dayOf(e.at);
    const key = `${e.businessId}\u0000${e.phoneNumberId}\u0000${day}\u0000${metric}`;
    const d = sums.get(key);
    if (d) d.value += value;
    else sums.set(key, { businessId: e.businessId, phoneNumberId: e.phoneNumberId, day, metric, value });
  };
  for (const e of events) {
    switch (e.kind) {
      case "status":
        if (!e.fromBusiness) break;
        add(e, e.status);
        if (e.status === "failed") add(e, `failed:${e.errorCode}`);
        if ((e.status === "delivered" || e.status === "read") && e.messageId) {
          const template = templates.get(e.messageId);
          if (template !== undefined) add(e, `tpl_${e.status}:${template}`);
        }
        if (e.status === "sent") {
          const since = awaiting.get(e.conversationId);
          if (since !== undefined) {
            awaiting.delete(e.conversationId);
            if (e.at >= since) add(e, `frt:${responseBucket((e.at - since) / 1000)}`);
          }
        }
        break;
      case "received":
        add(e, "inbound");
        if (e.buttonReplyTo) {
          const template = templates.get(e.buttonReplyTo);
          if (template !== undefined) add(e, `tpl_clicked:${template}`);
        }
        if (!awaiting.has(e.conversationId)) awaiting.set(e.conversationId, e.at);
        break;
      case "opened":
        add(e, `conv:${e.category}`);
        break;
      case "billed":
        if (!e.templateName) break;
        add(e, `tpl:${e.templateName}`);
        if (e.messageId) templates.set(e.messageId, e.templateName);
        break;
    }
  }
  return [...sums.values()];
}

/** The q-quantile (0–1) of a histogram of first-response buckets, as the bucket's upper bound in seconds (the open one: its lower bound). */
export function quantileOf(histogram: readonly number[], q: number): number {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return RESPONSE_BUCKETS_S[i] ?? RESPONSE_BUCKETS_S[RESPONSE_BUCKETS_S.length - 1]!;
  }
  return RESPONSE_BUCKETS_S[RESPONSE_BUCKETS_S.length - 1]!;
}

export interface AnalyticsPointValue {
  startDate: string;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
  inbound: number;
  failedByCode: Record<string, number>;
  conversationsByCategory: Record<string, number>;
  firstResponses: number;
  firstResponseMedianS: number;
  firstResponseP90S: number;
  templateSent: Record<string, number>;
  templateDelivered: Record<string, number>;
  templateRead: Record<string, number>;
  templateClicked: Record<string, number>;
}

/** The counts of one period (its first day) by metric, summed over its days and numbers. */
export interface PeriodCounts {
  start: string;
  counts: Readonly<Record<string, number>>;
}

/**
 * The counts of one period as two columns, the metric names (each once)
 * and their counts in the same order: what GetAnalytics reads. Periods
 * whose names are the same may share one names array.
 */
export interface PeriodColumns {
  start: string;
  metrics: readonly string[];
  values: readonly number[];
}

/** A period's columns as counts by metric (pointOf's input). */
export function countsOf(period: PeriodColumns): PeriodCounts {
  const counts: Record<string, number> = Object.create(null);
  period.metrics.forEach((metric, i) => (counts[metric] = (counts[metric] ?? 0) + period.values[i]!));
  return { start: period.start, counts };
}

/** The five counts of a point that are metrics of their own. */
export type CountName = "sent" | "delivered" | "read" | "failed" | "inbound";
/** The maps of a point, each filled by one metric family ("failed:131047" → failedByCode["131047"]). */
export type MapName = "failedByCode" | "conversationsByCategory" | "templateSent" | "templateDelivered" | "templateRead" | "templateClicked";

/** Where a metric's count goes in its period's point. */
export type MetricSlot = { to: CountName } | { to: MapName; key: string } | { to: "frt"; bucket: number };

/** The slot of a metric ("sent", "conv:marketing", "frt:3", …); undefined: a metric points do not show. */
export function metricSlot(metric: string): MetricSlot | undefined {
  const colon = metric.indexOf(":");
  if (colon < 0) return metric === "sent" || metric === "delivered" || metric === "read" || metric === "failed" || metric === "inbound" ? { to: metric } : undefined;
  const arg = metric.slice(colon + 1);
  const to = BY_NAME.get(metric.slice(0, colon));
  if (to === undefined) return undefined;
  return to === "frt" ? { to, bucket: Number(arg) } : { to, key: arg };
}

/** A histogram of first-response buckets, filled by addToHistogram. */
export const emptyHistogram = (): number[] => new Array(RESPONSE_BUCKETS_S.length + 1).fill(0);

export function addToHistogram(histogram: number[], bucket: number, value: number): void {
  histogram[bucket] = (histogram[bucket] ?? 0) + value;
}

/** A point's first-response numbers from its histogram. */
export function firstResponsesOf(histogram: readonly number[]): { firstResponses: number; firstResponseMedianS: number; firstResponseP90S: number } {
  return { firstResponses: histogram.reduce((a, b) => a + b, 0), firstResponseMedianS: quantileOf(histogram, 0.5), firstResponseP90S: quantileOf(histogram, 0.9) };
}

/**
 * One period's counts as a point (what GetAnalytics answers). The service
 * writes the answer's bytes straight from the periods' columns (wire.ts
 * analyticsPeriodsBytes, by the same slots); this is its reference.
 */
export function pointOf(period: PeriodCounts): AnalyticsPointValue {
  const p: AnalyticsPointValue = {
    startDate: period.start,
    sent: 0,
    delivered: 0,
    read: 0,
    failed: 0,
    inbound: 0,
    // Without a prototype, so a key such as "constructor" or "__proto__" (a template's name) is a key like any other.
    failedByCode: Object.create(null),
    conversationsByCategory: Object.create(null),
    firstResponses: 0,
    firstResponseMedianS: 0,
    firstResponseP90S: 0,
    templateSent: Object.create(null),
    templateDelivered: Object.create(null),
    templateRead: Object.create(null),
    templateClicked: Object.create(null),
  };
  const histogram = emptyHistogram();
  for (const metric in period.counts) {
    const value = period.counts[metric]!;
    const slot = metricSlot(metric);
    if (slot === undefined) continue;
    if (slot.to === "frt") addToHistogram(histogram, slot.bucket, value);
    else if ("key" in slot) p[slot.to][slot.key] = (p[slot.to][slot.key] ?? 0) + value;
    else p[slot.to] += value;
  }
  return Object.assign(p, firstResponsesOf(histogram));
}

/** The point's map each metric family ("failed:131047") adds to. */
const BY_NAME = new Map<string, MapName | "frt">([
  ["failed", "failedByCode"],
  ["conv", "conversationsByCategory"],
  ["tpl", "templateSent"],
  ["tpl_delivered", "templateDelivered"],
  ["tpl_read", "templateRead"],
  ["tpl_clicked", "templateClicked"],
  ["frt", "frt"],
]);

/** Rows (day, metric, value) summed into points per day or per month (what store/analytics-read.ts sums in SQL). */
export function points(rows: readonly { day: string; metric: string; value: number }[], granularity: "day" | "month"): AnalyticsPointValue[] {
  const byPeriod = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const start = granularity === "day" ? r.day : `${r.day.slice(0, 7)}-01`;
    let counts = byPeriod.get(start);
    if (!counts) byPeriod.set(start, (counts = {}));
    counts[r.metric] = (counts[r.metric] ?? 0) + r.value;
  }
  return [...byPeriod].sort(([a], [b]) => (a < b ? -1 : 1)).map(([start, counts]) => pointOf({ start, counts }));
}

import type { AnalyticsPoint } from "@kontor/proto/messaging/v1/tools_service";
import { GraphError, invalidParameter } from "./graph-error.js";

/** One field of `?fields=` with its dotted modifiers: `analytics.start(1).end(2)` → analytics, {start: "1", end: "2"}. */
export interface FieldSpec {
  name: string;
  modifiers: Map<string, string>;
}

/** Splits at `sep` outside parentheses, brackets and braces. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth = Math.max(0, depth - 1);
    else if (c === sep && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.map((x) => x.trim()).filter(Boolean);
}

/** `?fields=` with Graph's field expansion (cloud-api.md §0): commas and dots inside parentheses are arguments. */
export function parseFields(fields: string): FieldSpec[] {
  return splitTop(fields, ",").map((f) => {
    const [name = "", ...mods] = splitTop(f, ".");
    const modifiers = new Map<string, string>();
    for (const m of mods) {
      const match = /^([A-Za-z_]+)\((.*)\)$/s.exec(m);
      if (!match) throw invalidParameter(`fields`, `has a modifier that is not name(value): ${name}.${m.slice(0, 40)}`);
      modifiers.set(match[1]!, match[2]!);
    }
    return { name: name.split(/[{(]/)[0]!, modifiers };
  });
}

/** A list argument: `["a","b"]`, `[1,2]` or `a,b`. */
export function listArg(raw: string): string[] {
  const t = raw.trim();
  if (t.startsWith("[")) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v)) return v.map((x) => String(x));
    } catch {
      // a list without quotes: [a, b]
      return t.slice(1, -1).split(",").map((x) => x.trim().replace(/^["']|["']$/g, "")).filter(Boolean);
    }
  }
  return t.split(",").map((x) => x.trim()).filter(Boolean);
}

/** Unix seconds (an integer ≥ 0), as analytics take start and end. */
export function unixArg(raw: string | undefined, param: string): number {
  if (raw === undefined || raw.trim() === "") throw new GraphError(131008, `Parameter ${param} is required.`);
  const t = raw.trim();
  if (!/^\d{1,12}$/.test(t)) throw invalidParameter(param, "must be a UNIX timestamp in seconds");
  return Number(t);
}

const DAY_S = 86_400;
export const dayOf = (unixS: number) => new Date(unixS * 1000).toISOString().slice(0, 10);
const unixOf = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

/** The UTC days a [start, end) range of unix seconds touches, first and last ("YYYY-MM-DD"). */
export function dayRange(startS: number, endS: number, param: string): { first: string; last: string } {
  if (endS <= startS) throw invalidParameter(param, "must be after start");
  return { first: dayOf(startS), last: dayOf(endS - 1) };
}

export type Granularity = "DAY" | "MONTH";

/** Every period from the first day to the last, each as its first day and its [start, end) in unix seconds. */
export function periods(first: string, last: string, granularity: Granularity): { startDate: string; start: number; end: number }[] {
  const out: { startDate: string; start: number; end: number }[] = [];
  if (granularity === "DAY") {
    for (let t = unixOf(first); t <= unixOf(last); t += DAY_S) out.push({ startDate: dayOf(t), start: t, end: t + DAY_S });
    return out;
  }
  const d = new Date(`${first.slice(0, 7)}-01T00:00:00Z`);
  while (d.toISOString().slice(0, 7) <= last.slice(0, 7)) {
    const start = d.getTime() / 1000;
    d.setUTCMonth(d.getUTCMonth() + 1);
    out.push({ startDate: dayOf(start), start, end: d.getTime() / 1000 });
  }
  return out;
}

/** What `analytics.start(…).end(…).granularity(…).phone_numbers(…)` asks for (cloud-api.md §10.5). */
export interface AnalyticsQuery {
  start: number;
  end: number;
  first: string;
  last: string;
  granularity: Granularity;
  /** As given (display numbers, digits); undefined: every number of the WABA. */
  phoneNumbers: string[] | undefined;
}

const ANALYTICS_MODIFIERS = new Set(["start", "end", "granularity", "phone_numbers"]);

export function analyticsQueryOf(modifiers: Map<string, string>): AnalyticsQuery {
  for (const k of modifiers.keys()) if (!ANALYTICS_MODIFIERS.has(k)) throw invalidParameter(`analytics.${k}`, "is not supported: Kontor's analytics filter by start, end, granularity and phone_numbers");
  const start = unixArg(modifiers.get("start"), "analytics.start");
  const end = unixArg(modifiers.get("end"), "analytics.end");
  const { first, last } = dayRange(start, end, "analytics.end");
  const g = (modifiers.get("granularity") ?? "").trim().toUpperCase();
  if (!g) throw new GraphError(131008, "Parameter analytics.granularity is required.");
  if (g === "HALF_HOUR") throw invalidParameter("analytics.granularity", "HALF_HOUR is not supported: Kontor counts per UTC day; use DAY or MONTH");
  if (g !== "DAY" && g !== "MONTH") throw invalidParameter("analytics.granularity", "must be DAY or MONTH");
  const raw = modifiers.get("phone_numbers");
  return { start, end, first, last, granularity: g, phoneNumbers: raw === undefined ? undefined : listArg(raw) };
}

/** The analytics field's data points: every period of the query, messages sent and delivered summed over the numbers' answers. */
export function analyticsDataPoints(q: AnalyticsQuery, answers: AnalyticsPoint[][]): { start: number; end: number; sent: number; delivered: number }[] {
  const sums = new Map<string, { sent: number; delivered: number }>();
  for (const points of answers) {
    for (const p of points) {
      const s = sums.get(p.startDate) ?? { sent: 0, delivered: 0 };
      s.sent += Number(p.sent);
      s.delivered += Number(p.delivered);
      sums.set(p.startDate, s);
    }
  }
  // The first and last periods are cut to the range asked, as the Cloud API's are.
  return periods(q.first, q.last, q.granularity).map((p) => ({
    start: Math.max(p.start, q.start),
    end: Math.min(p.end, q.end),
    ...(sums.get(p.startDate) ?? { sent: 0, delivered: 0 }),
  }));
}

/** template_analytics (cloud-api.md §10.5): the metric types Kontor counts. */
export const TEMPLATE_METRICS = ["SENT", "DELIVERED", "READ", "CLICKED"] as const;
export type TemplateMetric = (typeof TEMPLATE_METRICS)[number];

export interface TemplateAnalyticsQuery {
  start: number;
  end: number;
  first: string;
  last: string;
  templateIds: string[];
  metrics: Set<TemplateMetric>;
}

/** The query string of GET /{waba-id}/template_analytics, checked parameter by parameter. */
export function templateAnalyticsQueryOf(q: Record<string, unknown>): TemplateAnalyticsQuery {
  const str = (k: string): string | undefined => (q[k] === undefined ? undefined : Array.isArray(q[k]) ? JSON.stringify(q[k]) : String(q[k]));
  const start = unixArg(str("start"), "start");
  const end = unixArg(str("end"), "end");
  const { first, last } = dayRange(start, end, "end");
  const granularity = (str("granularity") ?? "").toUpperCase();
  if (!granularity) throw new GraphError(131008, "Parameter granularity is required.");
  if (granularity !== "DAILY") throw invalidParameter("granularity", "must be DAILY");
  const idsRaw = q.template_ids;
  const templateIds = Array.isArray(idsRaw) ? idsRaw.map(String) : idsRaw === undefined ? [] : listArg(String(idsRaw));
  if (templateIds.length === 0) throw new GraphError(131008, "Parameter template_ids is required.");
  if (templateIds.length > 10) throw invalidParameter("template_ids", "must name at most 10 templates");
  for (const id of templateIds) if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw invalidParameter("template_ids", `has an id that is not valid: ${id.slice(0, 64)}`);
  const metricsRaw = q.metric_types;
  const named = Array.isArray(metricsRaw) ? metricsRaw.map(String) : metricsRaw === undefined ? [...TEMPLATE_METRICS] : listArg(String(metricsRaw));
  const metrics = new Set<TemplateMetric>();
  for (const m of named.map((x) => x.toUpperCase())) {
    if (m === "COST") throw invalidParameter("metric_types", "COST is not supported: Kontor does not price template messages");
    if (!(TEMPLATE_METRICS as readonly string[]).includes(m)) throw invalidParameter("metric_types", `must be among ${TEMPLATE_METRICS.join(", ")}`);
    metrics.add(m as TemplateMetric);
  }
  const product = str("product_type");
  if (product !== undefined && product.toUpperCase() !== "CLOUD_API") throw invalidParameter("product_type", "must be CLOUD_API");
  const tz = str("use_waba_timezone");
  if (tz !== undefined && tz !== "true" && tz !== "false") throw invalidParameter("use_waba_timezone", "must be true or false");
  return { start, end, first, last, templateIds, metrics };
}

/** One data point per template and day, with the metrics asked for (counts per template name, every language). */
export function templateDataPoints(q: TemplateAnalyticsQuery, templates: { id: string; name: string }[], points: AnalyticsPoint[]): Record<string, unknown>[] {
  const byDay = new Map(points.map((p) => [p.startDate, p]));
  const out: Record<string, unknown>[] = [];
  for (const t of templates) {
    for (const period of periods(q.first, q.last, "DAY")) {
      const p = byDay.get(period.startDate);
      const point: Record<string, unknown> = { template_id: t.id, start: Math.max(period.start, q.start), end: Math.min(period.end, q.end) };
      if (q.metrics.has("SENT")) point.sent = Number(p?.templateSent[t.name] ?? 0);
      if (q.metrics.has("DELIVERED")) point.delivered = Number(p?.templateDelivered[t.name] ?? 0);
      if (q.metrics.has("READ")) point.read = Number(p?.templateRead[t.name] ?? 0);
      if (q.metrics.has("CLICKED")) {
        const clicks = Number(p?.templateClicked[t.name] ?? 0);
        point.clicked = clicks > 0 ? [{ type: "quick_reply_button", count: clicks }] : [];
      }
      out.push(point);
    }
  }
  return out;
}

import { describe, expect, it } from "vitest";
import { fold, metricSlot, pointOf, points, quantileOf, responseBucket, RESPONSE_BUCKETS_S, templateLookups, type AnalyticsEvent } from "./analytics.js";

const T = Date.UTC(2026, 11, 5, 10, 0, 0);
const base = { businessId: "b1", phoneNumberId: "n1" };
const status = (s: "sent" | "delivered" | "read" | "failed", at: number, over: Partial<AnalyticsEvent> = {}): AnalyticsEvent =>
  ({ kind: "status", eventId: `${s}${at}`, ...base, conversationId: "c1", status: s, errorCode: s === "failed" ? 131026 : 0, fromBusiness: true, at, ...over }) as AnalyticsEvent;
const received = (at: number, conversationId = "c1"): AnalyticsEvent => ({ kind: "received", eventId: `r${at}${conversationId}`, ...base, conversationId, at });

describe("fold", () => {
  it("when template messages are sent, delivered, read and tapped, then each counts for its template, in this batch or from the ones learnt before; other messages for none", () => {
    const billed = (messageId: string, templateName: string): AnalyticsEvent => ({ kind: "billed", eventId: `b${messageId}`, ...base, templateName, at: T, messageId });
    const tap = (replyTo: string, at: number): AnalyticsEvent => ({ kind: "received", eventId: `t${at}`, ...base, conversationId: "c1", at, buttonReplyTo: replyTo });
    const templates = new Map([["wamid.old", "welcome"]]);
    const batch = [billed("wamid.m1", "shipped"), status("delivered", T + 1, { messageId: "wamid.m1" }), status("read", T + 2, { messageId: "wamid.m1" }), status("read", T + 3, { messageId: "wamid.old" }), status("read", T + 4, { messageId: "wamid.free" }), tap("wamid.m1", T + 5), tap("wamid.free", T + 6)];
    expect(templateLookups(batch).sort()).toEqual(["wamid.free", "wamid.m1", "wamid.old"]);
    const byMetric = Object.fromEntries(fold(batch, new Map(), templates).map((d) => [d.metric, d.value]));
    expect(byMetric).toMatchObject({ "tpl:shipped": 1, "tpl_delivered:shipped": 1, "tpl_read:shipped": 1, "tpl_read:welcome": 1, "tpl_clicked:shipped": 1, read: 3, inbound: 2 });
    expect(Object.keys(byMetric).filter((m) => m.startsWith("tpl")).sort()).toEqual(["tpl:shipped", "tpl_clicked:shipped", "tpl_delivered:shipped", "tpl_read:shipped", "tpl_read:welcome"]);
    expect(points(Object.entries(byMetric).map(([metric, value]) => ({ day: "2026-12-05", metric, value })), "day")[0]).toMatchObject({ templateRead: { shipped: 1, welcome: 1 }, templateClicked: { shipped: 1 }, templateDelivered: { shipped: 1 } });
  });

  it("when business messages move through their statuses, then each status counts per day; customers' own statuses do not", () => {
    const deltas = fold([status("sent", T), status("delivered", T + 1), status("read", T + 2), status("failed", T + 3), status("sent", T, { fromBusiness: false })], new Map());
    const byMetric = Object.fromEntries(deltas.map((d) => [d.metric, d.value]));
    expect(byMetric).toEqual({ sent: 1, delivered: 1, read: 1, failed: 1, "failed:131026": 1 });
    expect(new Set(deltas.map((d) => d.day))).toEqual(new Set(["2026-12-05"]));
  });

  it("when a customer writes twice and the business answers after 40 s, then one first response lands in the 60 s bucket and the clock stops", () => {
    const awaiting = new Map<string, number>();
    const deltas = fold([received(T), received(T + 10_000), status("sent", T + 40_000), status("sent", T + 90_000)], awaiting);
    expect(deltas.find((d) => d.metric.startsWith("frt:"))).toMatchObject({ metric: `frt:${responseBucket(40)}`, value: 1 });
    expect(RESPONSE_BUCKETS_S[responseBucket(40)]).toBe(60);
    expect(awaiting.size).toBe(0);
    expect(deltas.find((d) => d.metric === "inbound")?.value).toBe(2);
  });

  it("when the customer's message came in an earlier batch, then the awaiting map carries the clock across", () => {
    const awaiting = new Map<string, number>();
    fold([received(T)], awaiting);
    const deltas = fold([status("sent", T + 4_000)], awaiting);
    expect(deltas.find((d) => d.metric.startsWith("frt:"))?.metric).toBe("frt:0");
  });

  it("when events fall on two UTC days, then each counts on its own", () => {
    const deltas = fold([status("sent", Date.UTC(2026, 11, 5, 23, 59, 59, 999)), status("sent", Date.UTC(2026, 11, 6))], new Map());
    expect(deltas.map((d) => d.day).sort()).toEqual(["2026-12-05", "2026-12-06"]);
  });
});

describe("points and quantiles", () => {
  it("when metrics are named, then each has its slot in a point: a count, a map's key (all after the first colon), a first-response bucket, or none", () => {
    expect(["sent", "inbound", "failed:131047", "conv:marketing", "tpl:a:b", "tpl_clicked:order_update", "frt:3", "frt:x", "other", "other:x", "constructor:x", "tpl"].map(metricSlot)).toEqual([
      { to: "sent" },
      { to: "inbound" },
      { to: "failedByCode", key: "131047" },
      { to: "conversationsByCategory", key: "marketing" },
      { to: "templateSent", key: "a:b" },
      { to: "templateClicked", key: "order_update" },
      { to: "frt", bucket: 3 },
      { to: "frt", bucket: NaN },
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("when templates are named like Object's own properties, then they count like any other name", () => {
    const p = pointOf({ start: "2026-12-05", counts: { "tpl:constructor": 2, "tpl:__proto__": 3, "tpl_read:tostring": 1, "tpl:welcome": 4 } });
    expect(Object.entries(p.templateSent)).toEqual([
      ["constructor", 2],
      ["__proto__", 3],
      ["welcome", 4],
    ]);
    expect(Object.entries(p.templateRead)).toEqual([["tostring", 1]]);
  });

  it("when a histogram holds 10 answers, then the median and p90 are the bounds of the buckets holding the 5th and 9th", () => {
    const h = new Array(RESPONSE_BUCKETS_S.length + 1).fill(0);
    h[0] = 4; // ≤ 5 s
    h[2] = 4; // ≤ 30 s
    h[5] = 2; // ≤ 300 s
    expect(quantileOf(h, 0.5)).toBe(30);
    expect(quantileOf(h, 0.9)).toBe(300);
    expect(quantileOf(new Array(14).fill(0), 0.5)).toBe(0);
  });

  it("when rows of several days are asked by month, then they sum into one point per month with its maps", () => {
    const rows = [
      { day: "2026-11-30", metric: "sent", value: 3 },
      { day: "2026-12-01", metric: "sent", value: 2 },
      { day: "2026-12-02", metric: "failed:131047", value: 1 },
      { day: "2026-12-02", metric: "conv:marketing", value: 5 },
      { day: "2026-12-03", metric: "tpl:order_update", value: 7 },
      { day: "2026-12-03", metric: "frt:1", value: 1 },
    ];
    const months = points(rows, "month");
    expect(months.map((p) => [p.startDate, p.sent])).toEqual([
      ["2026-11-01", 3],
      ["2026-12-01", 2],
    ]);
    expect(months[1]).toMatchObject({ failedByCode: { "131047": 1 }, conversationsByCategory: { marketing: 5 }, templateSent: { order_update: 7 }, firstResponses: 1, firstResponseMedianS: 15 });
    expect(points(rows, "day")).toHaveLength(4);
  });
});

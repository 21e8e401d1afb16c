import { describe, expect, it } from "vitest";
import { GraphError } from "./graph-error.js";
import { analyticsQueryOf, listArg, parseFields, periods, templateAnalyticsQueryOf } from "./analytics-mapping.js";
import { selectFields } from "./template-mapping.js";

const graphCode = (f: () => unknown): [number, string] => {
  try {
    f();
  } catch (err) {
    if (err instanceof GraphError) return [err.code, err.details];
    throw err;
  }
  throw new Error("expected a Graph error");
};

describe("parseFields", () => {
  it("when modifiers hold lists with commas and dots, then they stay one field with its modifiers", () => {
    const fields = parseFields('id,analytics.start(1680503760).end(1680564980).granularity(DAY).phone_numbers(["16505550111","1.5"]),name');
    expect(fields.map((f) => f.name)).toEqual(["id", "analytics", "name"]);
    expect(Object.fromEntries(fields[1]!.modifiers)).toEqual({ start: "1680503760", end: "1680564980", granularity: "DAY", phone_numbers: '["16505550111","1.5"]' });
    expect(listArg('["16505550111","1.5"]')).toEqual(["16505550111", "1.5"]);
    expect(listArg("[a, b]")).toEqual(["a", "b"]);
    expect(selectFields({ id: "1", name: "x", analytics: {}, currency: "USD" }, 'analytics.phone_numbers(["1","2"]),name')).toEqual({ id: "1", name: "x", analytics: {} });
  });
});

describe("periods", () => {
  it("when a range crosses months, then MONTH periods start on the 1st and DAY periods cover every day", () => {
    expect(periods("2026-01-30", "2026-03-02", "MONTH").map((p) => p.startDate)).toEqual(["2026-01-01", "2026-02-01", "2026-03-01"]);
    expect(periods("2026-02-27", "2026-03-01", "DAY").map((p) => p.startDate)).toEqual(["2026-02-27", "2026-02-28", "2026-03-01"]);
  });
});

describe("analyticsQueryOf and templateAnalyticsQueryOf", () => {
  it("when a granularity, modifier or metric is not supported, then 100 naming the parameter; a missing one is 131008", () => {
    const m = (o: Record<string, string>) => new Map(Object.entries(o));
    expect(graphCode(() => analyticsQueryOf(m({ start: "1", end: "2", granularity: "HALF_HOUR" })))).toEqual([100, expect.stringMatching(/^Parameter analytics\.granularity /)]);
    expect(graphCode(() => analyticsQueryOf(m({ start: "1", end: "2", granularity: "DAY", product_types: "[0]" })))[1]).toMatch(/analytics\.product_types/);
    expect(graphCode(() => analyticsQueryOf(m({ start: "1", granularity: "DAY" })))).toEqual([131008, expect.stringMatching(/analytics\.end/)]);
    expect(analyticsQueryOf(m({ start: "86400", end: "259200", granularity: "day" }))).toMatchObject({ first: "1970-01-02", last: "1970-01-03", granularity: "DAY", phoneNumbers: undefined });
    const base = { start: "86400", end: "172800", granularity: "DAILY", template_ids: "[\"7\"]" };
    expect(templateAnalyticsQueryOf(base)).toMatchObject({ templateIds: ["7"], metrics: new Set(["SENT", "DELIVERED", "READ", "CLICKED"]) });
    expect(graphCode(() => templateAnalyticsQueryOf({ ...base, metric_types: "SENT,COST" }))[1]).toMatch(/^Parameter metric_types/);
    expect(graphCode(() => templateAnalyticsQueryOf({ ...base, granularity: "MONTHLY" }))[1]).toMatch(/^Parameter granularity/);
    expect(graphCode(() => templateAnalyticsQueryOf({ ...base, template_ids: undefined as unknown as string }))[0]).toBe(131008);
  });
});

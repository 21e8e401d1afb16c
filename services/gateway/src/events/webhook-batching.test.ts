import { describe, expect, it } from "vitest";
import { mergeNotifications, webhookBytes } from "../domain/webhook-payload.js";
import { createBatcher } from "./batcher.js";
import { chunksByKey } from "./webhook-deliverer.js";

const note = (id: string, text: string) =>
  webhookBytes({ object: "whatsapp_business_account", entry: [{ id: "1", changes: [{ field: "messages", value: { statuses: [{ id, status: "sent", text }] } }] }] });

describe("mergeNotifications", () => {
  it("when several notifications are merged, then their entries keep their order and exact bytes in one envelope", () => {
    const a = note("wamid.a", "ñ");
    const b = note("wamid.b", "x");
    const merged = mergeNotifications([a, b]);
    const parsed = JSON.parse(merged) as { object: string; entry: { changes: { value: { statuses: { id: string }[] } }[] }[] };
    expect(parsed.object).toBe("whatsapp_business_account");
    expect(parsed.entry.map((e) => e.changes[0]!.value.statuses[0]!.id)).toEqual(["wamid.a", "wamid.b"]);
    expect(merged).toContain("\\u00f1");
    expect(mergeNotifications([a])).toBe(a);
  });

  it("when a body is not in the usual byte layout, then it is parsed and its entries still merged", () => {
    const odd = JSON.stringify({ entry: [{ id: "2", changes: [] }], object: "whatsapp_business_account" });
    const merged = JSON.parse(mergeNotifications([note("wamid.a", "a"), odd, '{"object":"whatsapp_business_account","entry":[]}'])) as { entry: { id: string }[] };
    expect(merged.entry.map((e) => e.id)).toEqual(["1", "2"]);
  });
});

describe("chunksByKey", () => {
  const rows = (keys: string) => [...keys].map((k, i) => ({ orderKey: k, i }));
  it("when keys fit, then POSTs hold whole keys, at most max rows each, in queue order within a key", () => {
    const { posts, later } = chunksByKey(rows("aabcab"), 3);
    expect(later).toEqual([]);
    expect(posts.every((p) => p.length <= 3)).toBe(true);
    expect(posts.flat().filter((r) => r.orderKey === "a").map((r) => r.i)).toEqual([0, 1, 4]);
    for (const k of "abc") expect(posts.filter((p) => p.some((r) => r.orderKey === k))).toHaveLength(1);
  });

  it("when one key has more than max rows, then one POST takes its first max and the rest wait", () => {
    const { posts, later } = chunksByKey(rows("aaaaab"), 2);
    expect(posts).toEqual([[{ orderKey: "a", i: 0 }, { orderKey: "a", i: 1 }], [{ orderKey: "b", i: 5 }]]);
    expect(later.map((r) => r.i)).toEqual([2, 3, 4]);
  });
});

describe("createBatcher", () => {
  it("when items arrive together, then they are flushed in batches of at most max, in order, each getting its own result", async () => {
    const seen: number[][] = [];
    const b = createBatcher<number, string>({ max: 3, lingerMs: 5, flush: async (items) => (seen.push(items), items.map((i) => `r${i}`)) });
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => b.add(i)));
    expect(results).toEqual(["r1", "r2", "r3", "r4", "r5"]);
    expect(seen.flat()).toEqual([1, 2, 3, 4, 5]);
    expect(seen.every((s) => s.length <= 3)).toBe(true);
  });

  it("when a flush fails, then its items fail and later ones still go through", async () => {
    let fail = true;
    const b = createBatcher<number, number>({ max: 10, lingerMs: 1, flush: async (items) => { if (fail) throw new Error("down"); return items; } });
    await expect(b.add(1)).rejects.toThrow("down");
    fail = false;
    await expect(b.add(2)).resolves.toBe(2);
  });
});

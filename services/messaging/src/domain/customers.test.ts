import { describe, expect, it } from "vitest";
import { createCustomerCache, type CustomerLookup } from "./customers.js";
import type { Customer } from "./message.js";

/** The customer rows a test "stores", read through the cache's lookup port; counts reads. */
function rows(list: Customer[]): CustomerLookup & { reads: number } {
  const lookup = {
    reads: 0,
    async findCustomers(by: { ids: string[] } | { e164s: string[] }) {
      lookup.reads++;
      return list.filter((c) => ("ids" in by ? by.ids.includes(c.id) : by.e164s.includes(c.e164)));
    },
  };
  return lookup;
}

const customer = (id: string, e164: string): Customer => ({ id, e164, profileName: "", readReceipts: true, locale: "", createdAt: new Date(0) });

describe("the customer cache", () => {
  it("when a customer was read once, then later lookups by id and by number read nothing", async () => {
    const store = rows([customer("c1", "+15550000001")]);
    const cache = createCustomerCache(store);
    expect((await cache.byId("c1"))?.e164).toBe("+15550000001");
    expect((await cache.byE164("+15550000001"))?.id).toBe("c1");
    expect(cache.cached("c1")?.id).toBe("c1");
    expect(store.reads).toBe(1);
  });

  it("when it is full, then the least recently used customer is dropped with its number, and the others stay", async () => {
    const store = rows([customer("c1", "+15550000001"), customer("c2", "+15550000002"), customer("c3", "+15550000003")]);
    const cache = createCustomerCache(store, 2);
    await cache.byId("c1");
    await cache.byId("c2");
    await cache.byId("c1"); // c2 is now the least recently used
    await cache.byId("c3");
    expect(cache.cached("c2")).toBeUndefined();
    expect(cache.cached("c1")?.id).toBe("c1");
    const reads = store.reads;
    // c2's number went with it: found by a read, not a stale index entry.
    expect((await cache.byE164("+15550000002"))?.id).toBe("c2");
    expect(store.reads).toBe(reads + 1);
  });

  it("when a customer's number changes, then the old number no longer finds it", async () => {
    const list = [customer("c1", "+15550000001")];
    const store = rows(list);
    const cache = createCustomerCache(store);
    await cache.byId("c1");
    cache.remember({ id: "c1", e164: "+15550000009", readReceipts: true, profileName: "" });
    list[0] = customer("c1", "+15550000009");
    expect(await cache.byE164("+15550000001")).toBeUndefined();
    expect((await cache.byE164("+15550000009"))?.id).toBe("c1");
  });

  it("when a number moves to another customer and the first is evicted, then the number still finds the new owner", async () => {
    const store = rows([customer("c1", "+15550000001"), customer("c2", "+15550000002")]);
    const cache = createCustomerCache(store, 2);
    await cache.byId("c1");
    cache.remember({ id: "c2", e164: "+15550000001", readReceipts: true, profileName: "" });
    cache.remember({ id: "c3", e164: "+15550000003", readReceipts: true, profileName: "" }); // evicts c1
    expect(cache.cached("c1")).toBeUndefined();
    const reads = store.reads;
    expect((await cache.byE164("+15550000001"))?.id).toBe("c2");
    expect(store.reads).toBe(reads);
  });

  it("when a customer is erased, then it is not found by id or number, even by a read that raced the erasure", async () => {
    const store = rows([customer("c1", "+15550000001")]);
    const cache = createCustomerCache(store);
    await cache.byId("c1");
    cache.forgetErased("c1");
    expect(cache.cached("c1")).toBeUndefined();
    // The store still answers with the row (a read that began before the erasure committed).
    expect(await cache.byId("c1")).toBeUndefined();
    expect(await cache.byE164("+15550000001")).toBeUndefined();
    cache.remember({ id: "c1", e164: "+15550000001", readReceipts: true, profileName: "" });
    expect(cache.cached("c1")).toBeUndefined();
  });

  it("when many sends miss at once, then their customers are read together, each once, and unknown ones are not found", async () => {
    const list = Array.from({ length: 2500 }, (_, i) => customer(`c${i}`, `+1555${String(i).padStart(7, "0")}`));
    const store = rows(list);
    const cache = createCustomerCache(store);
    const ids = [...list.map((c) => c.id), "c0", "c1", "nobody"];
    const found = await Promise.all(ids.map((id) => cache.byId(id)));
    expect(found.slice(0, 2500).map((c) => c?.id)).toEqual(list.map((c) => c.id));
    expect(found.at(-1)).toBeUndefined();
    // 2,501 distinct ids in one turn: three statements of at most 1,000.
    expect(store.reads).toBe(3);
    expect((await cache.byE164("+15550000007"))?.id).toBe("c7");
    expect(store.reads).toBe(3);
  });
});

import { LRUCache } from "lru-cache";
import type { Customer } from "./message.js";

/** What routing needs of a customer. */
export interface CustomerInfo {
  id: string;
  e164: string;
  profileName: string;
  readReceipts: boolean;
}

export interface CustomerLookup {
  /** Customers by ids or by numbers (one read for many; erased ones are not found). */
  findCustomers(by: { ids: string[] } | { e164s: string[] }): Promise<Customer[]>;
}

/** Misses read together: one statement for up to this many customers. */
const READ_BATCH = 1000;

/** Customers cached per replica; beyond this the least recently used are dropped (and re-read on use). */
const CUSTOMER_CACHE_MAX = 500_000;

/** Customers by id and number, in memory so a send reads no customer row after the first. */
export function createCustomerCache(store: CustomerLookup, max = CUSTOMER_CACHE_MAX) {
  const customersByE164 = new Map<string, string>();
  /** Customers erased while this replica ran: a read that raced the erasure does not bring one back. */
  const erased = new Set<string>();
  const customers = new LRUCache<string, CustomerInfo>({
    max,
    // An entry evicted or replaced takes its number's entry along, unless the number has moved on.
    dispose: (old, id) => {
      if (customersByE164.get(old.e164) === id) customersByE164.delete(old.e164);
    },
  });

  function remember(c: CustomerInfo): void {
    if (erased.has(c.id)) return;
    customers.set(c.id, c);
    customersByE164.set(c.e164, c.id);
  }

  /**
   * Misses are read in batches: the lookups started in one turn of the event loop share one
   * statement, and lookups of a customer already being read wait for that read. After a restart
   * every send misses; one read per send would queue thousands on the pool.
   */
  function batcher(kind: "ids" | "e164s") {
    const inFlight = new Map<string, Promise<CustomerInfo | undefined>>();
    let waiting: { key: string; resolve: (c: CustomerInfo | undefined) => void; reject: (e: unknown) => void }[] = [];
    const flush = () => {
      const batch = waiting;
      waiting = [];
      for (let i = 0; i < batch.length; i += READ_BATCH) void read(batch.slice(i, i + READ_BATCH));
    };
    const read = async (part: typeof waiting) => {
      const keys = part.map((w) => w.key);
      try {
        const found = new Map<string, CustomerInfo>();
        for (const row of await store.findCustomers(kind === "ids" ? { ids: keys } : { e164s: keys })) {
          if (erased.has(row.id)) continue;
          const info = { id: row.id, e164: row.e164, profileName: row.profileName, readReceipts: row.readReceipts };
          remember(info);
          found.set(kind === "ids" ? row.id : row.e164, info);
        }
        for (const w of part) w.resolve(found.get(w.key));
      } catch (err) {
        for (const w of part) w.reject(err);
      } finally {
        for (const k of keys) inFlight.delete(k);
      }
    };
    return (key: string): Promise<CustomerInfo | undefined> => {
      const pending = inFlight.get(key);
      if (pending) return pending;
      const p = new Promise<CustomerInfo | undefined>((resolve, reject) => {
        if (waiting.length === 0) setImmediate(flush);
        waiting.push({ key, resolve, reject });
      });
      inFlight.set(key, p);
      return p;
    };
  }
  const loadById = batcher("ids");
  const loadByE164 = batcher("e164s");

  return {
    remember,
    /** The cached entry only (the send path tries this before awaiting a read). */
    cached(id: string): CustomerInfo | undefined {
      return customers.get(id);
    },
    async byId(id: string): Promise<CustomerInfo | undefined> {
      return customers.get(id) ?? loadById(id);
    },
    async byE164(e164: string): Promise<CustomerInfo | undefined> {
      const id = customersByE164.get(e164);
      if (id) return customers.get(id);
      return loadByE164(e164);
    },
    /**
     * An erased customer (here or on another replica, events/customer-erasure.ts):
     * dropped with its number and not found from now on. Idempotent.
     */
    forgetErased(id: string): void {
      erased.add(id);
      customers.delete(id);
    },
  };
}

export type CustomerCache = ReturnType<typeof createCustomerCache>;

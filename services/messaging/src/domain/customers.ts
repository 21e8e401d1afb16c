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
  findCustomer(by: { id: string } | { e164: string }): Promise<Customer | undefined>;
}

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

  async function load(by: { id: string } | { e164: string }): Promise<CustomerInfo | undefined> {
    const row = await store.findCustomer(by);
    if (!row || erased.has(row.id)) return undefined;
    const info = { id: row.id, e164: row.e164, profileName: row.profileName, readReceipts: row.readReceipts };
    remember(info);
    return info;
  }

  return {
    remember,
    /** The cached entry only (the send path tries this before awaiting a read). */
    cached(id: string): CustomerInfo | undefined {
      return customers.get(id);
    },
    async byId(id: string): Promise<CustomerInfo | undefined> {
      return customers.get(id) ?? load({ id });
    },
    async byE164(e164: string): Promise<CustomerInfo | undefined> {
      const id = customersByE164.get(e164);
      if (id) return customers.get(id);
      return load({ e164 });
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

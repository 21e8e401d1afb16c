import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { customerErasedEvent } from "../events/customer-erasure.js";
import type { ConsentCache } from "./consent-cache.js";
import { requireConsentId } from "./consent-service.js";
import type { CustomerCache } from "./customers.js";

/** One customer's erasure as audited: who asked, why, how many message bodies it removed, when. */
export interface CustomerErasure {
  customerId: string;
  /** The principal that asked ("customer:<id>", "staff:<id>"). */
  erasedBy: string;
  /** Empty when the customer asked without one. */
  reason: string;
  erasedMessages: number;
  at: Date;
}

/** The erasing transaction: every write below and the event commit together. */
export interface ErasureTransaction {
  /** Locks the customer's row; undefined when there is none, else when it was erased (null while it is not). */
  lockCustomer(customerId: string): Promise<{ erasedAt: Date | null } | undefined>;
  /** Empties the bodies of every message of the customer's conversations, both directions; how many it emptied now. */
  eraseBodies(customerId: string): Promise<number>;
  /** Deletes the customer's marketing consent, privacy settings and blocks, and the words of its reports. */
  deleteCustomerData(customerId: string): Promise<void>;
  /** Clears the profile and the number and marks the row erased; the id stays for its conversations. */
  anonymize(customerId: string, at: Date): Promise<void>;
  record(erasure: CustomerErasure): Promise<void>;
  enqueue(events: OutboxEvent[]): Promise<void>;
}

export interface ErasurePorts {
  store: {
    erasureTransaction<T>(work: (tx: ErasureTransaction) => Promise<T>): Promise<T>;
    /** The same as the transaction's, on its own: bodies a replica committed before it heard of the erasure. */
    eraseBodies(customerId: string): Promise<number>;
  };
  customers: Pick<CustomerCache, "forgetErased">;
  consent: Pick<ConsentCache, "evictCustomer">;
  now: () => Date;
}

const MAX_REASON = 1000;

/**
 * A customer's erasure (rule 9): its message bodies, consent, privacy
 * settings, blocks and profile go in one transaction with the audit row and
 * kontor.messaging.customer.erased.v1; the row keeps only the id. Erasing
 * again changes nothing and emits nothing.
 */
export function createErasureService(ports: ErasurePorts) {
  const { store, customers, consent } = ports;

  /** This replica stops knowing the customer; idempotent (the erasure event runs it on every replica). */
  async function forget(customerId: string): Promise<number> {
    customers.forgetErased(customerId);
    consent.evictCustomer(customerId);
    return store.eraseBodies(customerId);
  }

  return {
    forget,

    async erase(req: { customerId: string; reason: string; erasedBy: string }): Promise<{ erasedMessages: number; erasedAt: Date }> {
      requireConsentId(req.customerId, "customer_id");
      const reason = req.reason.trim();
      if (reason.length > MAX_REASON) throw new InvalidInput("reason", `must be at most ${MAX_REASON} characters`);
      const result = await store.erasureTransaction(async (tx) => {
        const row = await tx.lockCustomer(req.customerId);
        if (!row) throw new NotFound("customer");
        // Already erased: bodies committed since by a replica that had not heard yet go too; nothing else changes.
        if (row.erasedAt) return { erasedMessages: await tx.eraseBodies(req.customerId), erasedAt: row.erasedAt };
        const at = ports.now();
        const erasedMessages = await tx.eraseBodies(req.customerId);
        await tx.deleteCustomerData(req.customerId);
        await tx.anonymize(req.customerId, at);
        await tx.record({ customerId: req.customerId, erasedBy: req.erasedBy, reason, erasedMessages, at });
        await tx.enqueue([customerErasedEvent(req.customerId, at)]);
        return { erasedMessages, erasedAt: at };
      });
      customers.forgetErased(req.customerId);
      consent.evictCustomer(req.customerId);
      return result;
    },
  };
}

export type ErasureService = ReturnType<typeof createErasureService>;

import { describe, expect, it } from "vitest";
import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { createErasureService, type CustomerErasure, type ErasureTransaction } from "./erasure-service.js";

/** A store of one customer row in memory: each transaction's writes are kept only when it commits. */
function fakes(row: { erasedAt: Date | null } | undefined, bodies = 3) {
  const state = { row, bodies, consentDeleted: false, anonymizedAt: undefined as Date | undefined, audit: [] as CustomerErasure[], events: [] as OutboxEvent[] };
  const forgotten: string[] = [];
  const evicted: string[] = [];
  const emptyBodies = () => {
    const n = state.bodies;
    state.bodies = 0;
    return Promise.resolve(n);
  };
  const tx: ErasureTransaction = {
    lockCustomer: async () => state.row,
    eraseBodies: emptyBodies,
    deleteCustomerData: async () => {
      state.consentDeleted = true;
    },
    anonymize: async (_id, at) => {
      state.anonymizedAt = at;
      state.row = { erasedAt: at };
    },
    record: async (e) => {
      state.audit.push(e);
    },
    enqueue: async (events) => {
      state.events.push(...events);
    },
  };
  const service = createErasureService({
    store: { erasureTransaction: (work) => work(tx), eraseBodies: emptyBodies },
    customers: { forgetErased: (id) => void forgotten.push(id) },
    consent: { evictCustomer: (id) => void evicted.push(id) },
    now: () => new Date(1000),
  });
  return { state, service, forgotten, evicted };
}

describe("erasing a customer", () => {
  it("when the customer exists, then bodies, consent and profile go with one audit row and one event, and this replica forgets it", async () => {
    const f = fakes({ erasedAt: null });
    const r = await f.service.erase({ customerId: "ana", reason: " DSR-1 ", erasedBy: "staff:op1" });
    expect(r).toEqual({ erasedMessages: 3, erasedAt: new Date(1000) });
    expect(f.state.consentDeleted).toBe(true);
    expect(f.state.anonymizedAt).toEqual(new Date(1000));
    expect(f.state.audit).toEqual([{ customerId: "ana", erasedBy: "staff:op1", reason: "DSR-1", erasedMessages: 3, at: new Date(1000) }]);
    expect(f.state.events.map((e) => e.eventId)).toEqual(["ana:erased"]);
    expect([f.forgotten, f.evicted]).toEqual([["ana"], ["ana"]]);
  });

  it("when it was erased before, then only bodies stored since go: no audit row, no event, the first erasure's time", async () => {
    const f = fakes({ erasedAt: new Date(500) }, 1);
    const r = await f.service.erase({ customerId: "ana", reason: "", erasedBy: "customer:ana" });
    expect(r).toEqual({ erasedMessages: 1, erasedAt: new Date(500) });
    expect([f.state.audit, f.state.events, f.state.consentDeleted]).toEqual([[], [], false]);
  });

  it("when the customer is unknown or the input is bad, then NOT_FOUND or INVALID_ARGUMENT and nothing is forgotten", async () => {
    await expect(fakes(undefined).service.erase({ customerId: "ana", reason: "", erasedBy: "customer:ana" })).rejects.toThrow(NotFound);
    await expect(fakes({ erasedAt: null }).service.erase({ customerId: "a b", reason: "", erasedBy: "staff:op1" })).rejects.toThrow(InvalidInput);
    const f = fakes({ erasedAt: null });
    await expect(f.service.erase({ customerId: "ana", reason: "x".repeat(1001), erasedBy: "staff:op1" })).rejects.toThrow(InvalidInput);
    expect([f.forgotten, f.state.events]).toEqual([[], []]);
  });

  it("when another replica's event arrives, then forget drops the customer from both caches and empties bodies stored since", async () => {
    const f = fakes({ erasedAt: new Date(500) }, 2);
    expect(await f.service.forget("ana")).toBe(2);
    expect(await f.service.forget("ana")).toBe(0);
    expect([f.forgotten, f.evicted]).toEqual([["ana", "ana"], ["ana", "ana"]]);
  });
});

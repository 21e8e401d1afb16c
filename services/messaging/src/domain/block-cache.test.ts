import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { NotFound } from "@kontor/service-kit/errors";
import { createBlockCache, undeliverable, type BlockChange } from "./block-cache.js";
import { blockChange, NOT_BLOCKED } from "./block-service.js";

const change = (blocked: boolean, at: number, customerId = "ana", businessId = "biz_1"): BlockChange => ({ customerId, businessId, blocked, at });

/** Every order of the given changes. */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe("the block cache", () => {
  it("when a customer blocks a business, then only that pair is blocked", () => {
    const cache = createBlockCache();
    expect(cache.isBlocked("ana", "biz_1")).toBe(false);
    expect(cache.apply(change(true, 1000))).toBe(true);
    expect(cache.isBlocked("ana", "biz_1")).toBe(true);
    expect(cache.isBlocked("bob", "biz_1")).toBe(false);
    expect(cache.isBlocked("ana", "biz_2")).toBe(false);
    expect(cache.size()).toBe(1);
  });

  it("when a change is not later than the one applied, then it changes nothing", () => {
    const cache = createBlockCache();
    cache.apply(change(true, 2000));
    expect(cache.apply(change(false, 1000))).toBe(false);
    expect(cache.isBlocked("ana", "biz_1")).toBe(true);
    expect(cache.apply(change(false, 2000))).toBe(false);
    expect(cache.isBlocked("ana", "biz_1")).toBe(true);
    expect(cache.apply(change(false, 2001))).toBe(true);
    expect(cache.isBlocked("ana", "biz_1")).toBe(false);
    expect(cache.size()).toBe(0);
  });

  it("when an unblock was applied, then an older block delivered late does not bring the block back", () => {
    const cache = createBlockCache();
    cache.load([change(false, 5000)]);
    expect(cache.apply(change(true, 4000))).toBe(false);
    expect(cache.isBlocked("ana", "biz_1")).toBe(false);
  });

  it("when the same changes arrive in any order and some twice, then every order ends in the latest state", () => {
    const history = [change(true, 1000), change(false, 2000), change(true, 3000), change(false, 4000)];
    for (const order of permutations(history)) {
      const cache = createBlockCache();
      for (const c of [...order, order[0]!, order[2]!]) cache.apply(c);
      expect(cache.isBlocked("ana", "biz_1"), JSON.stringify(order)).toBe(false);
      expect(cache.size()).toBe(0);
    }
    for (const order of permutations(history.slice(0, 3))) {
      const cache = createBlockCache();
      for (const c of [...order, ...order]) cache.apply(c);
      expect(cache.isBlocked("ana", "biz_1"), JSON.stringify(order)).toBe(true);
      expect(cache.size()).toBe(1);
    }
  });

  it("when the load at start holds the stored state, then the stream's replay of older changes leaves it as stored", () => {
    const cache = createBlockCache();
    cache.load([change(true, 3000), change(false, 3000, "bob"), change(true, 1000, "ana", "biz_2")]);
    for (const c of [change(true, 1000), change(false, 2000), change(true, 1000, "bob"), change(true, 2000, "bob"), change(true, 1000, "ana", "biz_2")]) cache.apply(c);
    expect(cache.isBlocked("ana", "biz_1")).toBe(true);
    expect(cache.isBlocked("bob", "biz_1")).toBe(false);
    expect(cache.isBlocked("ana", "biz_2")).toBe(true);
    expect(cache.size()).toBe(2);
  });
});

describe("blockChange", () => {
  it("when the pair is already so, then no change; a first unblock is none either", () => {
    expect(blockChange("ana", "biz_1", NOT_BLOCKED, false, 1000)).toBeUndefined();
    expect(blockChange("ana", "biz_1", { blocked: true, at: 500 }, true, 1000)).toBeUndefined();
    expect(blockChange("ana", "biz_1", { blocked: false, at: 500 }, false, 1000)).toBeUndefined();
    expect(blockChange("ana", "biz_1", NOT_BLOCKED, true, 1000)).toEqual(change(true, 1000));
  });

  it("when this replica's clock is behind the pair's last change, then the change is just after it", () => {
    expect(blockChange("ana", "biz_1", { blocked: true, at: 5000 }, false, 1000)).toEqual(change(false, 5001));
    expect(blockChange("ana", "biz_1", { blocked: true, at: 5000 }, false, 5000)).toEqual(change(false, 5001));
    expect(blockChange("ana", "biz_1", { blocked: true, at: 5000 }, false, 6000)).toEqual(change(false, 6000));
  });
});

describe("undeliverable", () => {
  it("is the send path's unknown-recipient answer (NOT_FOUND, RECIPIENT_NOT_FOUND, 131026), without a stack trace", () => {
    const err = undeliverable();
    const unknown = new NotFound("recipient", "RECIPIENT_NOT_FOUND", 131026);
    expect(err).toBeInstanceOf(NotFound);
    expect([err.grpcCode, err.reason, err.cloudApiCode, err.message, err.field, err.metadata]).toEqual([unknown.grpcCode, unknown.reason, unknown.cloudApiCode, unknown.message, unknown.field, unknown.metadata]);
    expect(err.grpcCode).toBe(status.NOT_FOUND);
    expect(err.stack?.split("\n")).toHaveLength(1);
  });
});

describe("business-side blocks (block_users)", () => {
  it("when changes arrive late, twice or out of order, then the latest by time wins per number and customer", () => {
    const cache = createBlockCache();
    const k = { phoneNumberId: "pn1", customerId: "c1", businessId: "b1" };
    expect(cache.applyUser({ ...k, blocked: true, at: 10 })).toBe(true);
    expect(cache.blocksUser("pn1", "c1")).toBe(true);
    expect(cache.blocksUser("pn2", "c1")).toBe(false);
    expect(cache.isBlocked("c1", "b1")).toBe(false);
    expect(cache.applyUser({ ...k, blocked: false, at: 20 })).toBe(true);
    expect(cache.applyUser({ ...k, blocked: true, at: 10 })).toBe(false);
    expect(cache.blocksUser("pn1", "c1")).toBe(false);
    cache.loadUsers([{ ...k, customerId: "c2", blocked: true, at: 5 }]);
    expect(cache.usersBlocked()).toBe(1);
  });
});

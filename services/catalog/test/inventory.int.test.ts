import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { OrderState, type CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { OrderStatusChanged } from "@kontor/proto/catalog/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { errorDetail, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildProductInput, bulkUpsert, call, clientAt } from "./factories.js";

let env: TestEnv;
const BIZ = "biz_stock";
/** These tests start and stop whole replicas; on a busy shared host that takes a while. */
const SLOW = 180_000;
let owner: string;

beforeAll(async () => {
  env = await createTestEnv();
  owner = await env.token({ kind: "business", businessId: BIZ });
});

afterAll(async () => {
  await env?.cleanup();
});

async function started(extra: Record<string, string>): Promise<{ app: CatalogApp; client: CatalogServiceClient }> {
  const app = await createCatalog(loadConfig(env.env(extra)));
  const { port } = await app.start();
  return { app, client: clientAt(port) };
}

async function stockOf(app: CatalogApp, productId: string): Promise<{ inventory: string; reserved: string }> {
  const { rows } = await app.runtime.database.pool.query("SELECT inventory::text, reserved::text FROM product WHERE id = $1", [productId]);
  return rows[0];
}

async function cancelledEvents(orderIds: string[]): Promise<string[]> {
  const all = await streamMessages(env, "catalog", subjects.orderCancelled);
  return all.map((m) => OrderStatusChanged.decode(m.data)).filter((e) => orderIds.includes(e.orderId)).map((e) => `${e.orderId}:${e.reason}`);
}

describe("checkout races for the last units", () => {
  it("when 40 customers check out 1 unit each of a SKU with 7 left, all at once, then exactly 7 orders are placed and the rest are OUT_OF_STOCK", async () => {
    const { app, client } = await started({ SWEEP_INTERVAL_MS: "0" });
    try {
      const catalogId = (await call(client, "createCatalog", { businessId: BIZ, name: "Race" }, owner)).catalog!.id;
      const [row] = (await bulkUpsert(client, catalogId, [buildProductInput({ retailerId: "LAST", inventory: "7" })], owner)).results;
      const customers = await Promise.all(Array.from({ length: 40 }, (_, i) => env.token({ kind: "customer", customerId: `c_race_${i}` })));
      for (const token of customers) await call(client, "addCartItem", { catalogId, productRetailerId: "LAST", quantity: 1 }, token);
      const outcomes = await Promise.allSettled(customers.map((token) => call(client, "checkout", { businessId: BIZ }, token)));
      const placed = outcomes.filter((o) => o.status === "fulfilled");
      const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected").map((o) => o.reason as ServiceError);
      expect(placed).toHaveLength(7);
      expect(refused.map((e) => [e.code, errorDetail(e)?.reason])).toEqual(Array.from({ length: 33 }, () => [status.FAILED_PRECONDITION, "OUT_OF_STOCK"]));
      expect(await stockOf(app, row!.productId)).toEqual({ inventory: "7", reserved: "7" });
    } finally {
      client.close();
      await app.stop();
    }
  }, SLOW);
});

describe("two replicas race for the last units", () => {
  it("when 60 customers on two replicas order 1 unit each of a SKU with 13 left, half by cart checkout and half by chat order, then exactly 13 orders are placed and the rest are OUT_OF_STOCK", async () => {
    const a = await started({ SWEEP_INTERVAL_MS: "0", CONSUME_PAYMENTS: "false" });
    const b = await started({ SWEEP_INTERVAL_MS: "0", CONSUME_PAYMENTS: "false" });
    try {
      const catalogId = (await call(a.client, "createCatalog", { businessId: BIZ, name: "Two replicas" }, owner)).catalog!.id;
      const [row] = (await bulkUpsert(a.client, catalogId, [buildProductInput({ retailerId: "LAST13", inventory: "13" })], owner)).results;
      const customers = await Promise.all(Array.from({ length: 60 }, (_, i) => env.token({ kind: "customer", customerId: `c_two_${i}` })));
      const carts = customers.filter((_, i) => i % 2 === 0);
      await Promise.all(carts.map((token) => call(b.client, "addCartItem", { catalogId, productRetailerId: "LAST13", quantity: 1 }, token)));
      const outcomes = await Promise.allSettled(
        customers.map((token, i) =>
          i % 2 === 0
            ? call(i % 4 === 0 ? a.client : b.client, "checkout", { businessId: BIZ }, token)
            : call(i % 4 === 1 ? a.client : b.client, "createChatOrder", { catalogId, items: [{ productRetailerId: "LAST13", quantity: 1, itemPrice: undefined }] }, token),
        ),
      );
      const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected").map((o) => o.reason as ServiceError);
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(13);
      expect(refused.map((e) => [e.code, errorDetail(e)?.reason])).toEqual(Array.from({ length: 47 }, () => [status.FAILED_PRECONDITION, "OUT_OF_STOCK"]));
      expect(await stockOf(a.app, row!.productId)).toEqual({ inventory: "13", reserved: "13" });
      const { rows } = await a.app.runtime.database.pool.query("SELECT coalesce(sum(quantity), 0)::text AS held FROM reservation WHERE product_id = $1", [row!.productId]);
      expect(rows[0].held).toBe("13");
    } finally {
      a.client.close();
      b.client.close();
      await a.app.stop();
      await b.app.stop();
    }
  }, SLOW);
});

describe("group commit of new orders", () => {
  it("when orders arrive together, then they share commits, each is decided alone in arrival order: an order short on one product takes nothing of the others, a wrong price refuses only its order", async () => {
    const { app, client } = await started({ SWEEP_INTERVAL_MS: "0" });
    try {
      const catalogId = (await call(client, "createCatalog", { businessId: BIZ, name: "Batch" }, owner)).catalog!.id;
      const rows = (await bulkUpsert(client, catalogId, [buildProductInput({ retailerId: "A3", inventory: "3" }), buildProductInput({ retailerId: "B10", inventory: "10", price: { amountMinor: "500", currency: "EUR" } })], owner)).results;
      const catalog = await app.services.catalog.getCatalog(catalogId);
      const shopper = "c_batch_cart";
      await call(client, "addCartItem", { catalogId, productRetailerId: "B10", quantity: 2 }, await env.token({ kind: "customer", customerId: shopper }));
      const item = (retailerId: string, quantity = 1, itemPrice?: { amountMinor: string; currency: string }) => ({ retailerId, quantity, itemPrice });
      // Every call is queued in the same turn of the event loop, before any batch starts: they go in one batch, decided in call order.
      const outcomes = await Promise.allSettled([
        ...Array.from({ length: 6 }, (_, i) => app.services.orders.createChatOrder(`c_batch_${i}`, catalog, "", [item("A3"), item("B10")])),
        app.services.orders.createChatOrder("c_batch_6", catalog, "", [item("B10", 1, { amountMinor: "499", currency: "EUR" })]),
        app.services.orders.checkout(shopper, BIZ, { note: "", deliveryAddress: null, expectedTotal: { amountMinor: 1000n, currency: "EUR" } }),
        app.services.orders.checkout("c_batch_nobody", BIZ, { note: "", deliveryAddress: null }),
        ...Array.from({ length: 3 }, (_, i) => app.services.orders.createChatOrder(`c_batch_${7 + i}`, catalog, "", [item("B10")])),
      ]);
      const reasons = outcomes.map((o) => (o.status === "fulfilled" ? "placed" : ((o.reason as { reason?: string }).reason ?? String(o.reason))));
      expect(reasons).toEqual(["placed", "placed", "placed", "OUT_OF_STOCK", "OUT_OF_STOCK", "OUT_OF_STOCK", "PRICE_CHANGED", "placed", "CART_EMPTY", "placed", "placed", "placed"]);
      expect(await stockOf(app, rows[0]!.productId)).toEqual({ inventory: "3", reserved: "3" });
      // B10: three with A3, two from the cart, three alone.
      expect(await stockOf(app, rows[1]!.productId)).toEqual({ inventory: "10", reserved: "8" });
      const placed = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value.id] : []));
      const { rows: commits } = await app.runtime.database.pool.query("SELECT count(DISTINCT created_at)::int AS n FROM customer_order WHERE id = ANY($1)", [placed]);
      expect(commits[0].n).toBe(1);
      const { rows: held } = await app.runtime.database.pool.query("SELECT count(*)::int AS n FROM reservation WHERE order_id = ANY($1)", [placed]);
      expect(held[0].n).toBe(3 * 2 + 1 + 3);
      expect((await call(client, "getCart", { businessId: BIZ }, await env.token({ kind: "customer", customerId: shopper }))).cart!.items).toEqual([]);
    } finally {
      client.close();
      await app.stop();
    }
  }, SLOW);
});

describe("reservation expiry", () => {
  it("when an unpaid order's reservation runs out while no replica runs, then a restarted replica cancels it, returns the stock and publishes order.cancelled once", async () => {
    // First life: reservations last 1 ms and this replica never sweeps.
    const first = await started({ SWEEP_INTERVAL_MS: "0", RESERVATION_TTL_MS: "1" });
    const catalogId = (await call(first.client, "createCatalog", { businessId: BIZ, name: "Expiry" }, owner)).catalog!.id;
    const [row] = (await bulkUpsert(first.client, catalogId, [buildProductInput({ retailerId: "EXP", inventory: "5" })], owner)).results;
    const customer = await env.token({ kind: "customer", customerId: "c_expiry" });
    const order = (await call(first.client, "createChatOrder", { catalogId, items: [{ productRetailerId: "EXP", quantity: 2, itemPrice: undefined }] }, customer)).order!;
    expect(await stockOf(first.app, row!.productId)).toEqual({ inventory: "5", reserved: "2" });
    first.client.close();
    await first.app.stop();

    // Second life: the sweeper finds the expired order in the table.
    const second = await started({ SWEEP_INTERVAL_MS: "20", RESERVATION_TTL_MS: "1" });
    try {
      await waitFor(async () => (await call(second.client, "getOrder", { orderId: order.id }, owner)).order!.state === OrderState.ORDER_STATE_CANCELLED);
      expect(await stockOf(second.app, row!.productId)).toEqual({ inventory: "5", reserved: "0" });
      await outboxDrained(second.app.runtime.database.pool);
      expect(await cancelledEvents([order.id])).toEqual([`${order.id}:expired`]);
    } finally {
      second.client.close();
      await second.app.stop();
    }
  }, SLOW);

  it("when two replicas sweep the same expired orders, then each order is cancelled exactly once and its stock returns once", async () => {
    const maker = await started({ SWEEP_INTERVAL_MS: "0", RESERVATION_TTL_MS: "1" });
    const catalogId = (await call(maker.client, "createCatalog", { businessId: BIZ, name: "Replicas" }, owner)).catalog!.id;
    const [row] = (await bulkUpsert(maker.client, catalogId, [buildProductInput({ retailerId: "REP", inventory: "500" })], owner)).results;
    const orderIds: string[] = [];
    for (let i = 0; i < 150; i += 25) {
      const customers = await Promise.all(Array.from({ length: 25 }, (_, k) => env.token({ kind: "customer", customerId: `c_rep_${i + k}` })));
      const placed = await Promise.all(customers.map((customer) => call(maker.client, "createChatOrder", { catalogId, items: [{ productRetailerId: "REP", quantity: 2, itemPrice: undefined }] }, customer)));
      orderIds.push(...placed.map((p) => p.order!.id));
    }
    maker.client.close();
    await maker.app.stop();
    const a = await started({ SWEEP_INTERVAL_MS: "5", RESERVATION_TTL_MS: "1" });
    const b = await started({ SWEEP_INTERVAL_MS: "5", RESERVATION_TTL_MS: "1" });
    try {
      await waitFor(async () => (await stockOf(a.app, row!.productId)).reserved === "0");
      const { rows } = await a.app.runtime.database.pool.query("SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders FROM order_change WHERE to_state = 'CANCELLED' AND order_id = ANY($1)", [orderIds]);
      expect(rows[0]).toEqual({ n: 150, orders: 150 });
      expect(await stockOf(a.app, row!.productId)).toEqual({ inventory: "500", reserved: "0" });
      await outboxDrained(a.app.runtime.database.pool);
      await outboxDrained(b.app.runtime.database.pool);
      expect((await cancelledEvents(orderIds)).length).toBe(150);
    } finally {
      a.client.close();
      b.client.close();
      await a.app.stop();
      await b.app.stop();
    }
  }, SLOW);

  it("when another replica's sweep holds some expired orders, then a sweep takes the others without waiting for it, and the held ones are cancelled once after it ends", async () => {
    const { app, client } = await started({ SWEEP_INTERVAL_MS: "0", RESERVATION_TTL_MS: "1" });
    const pool = app.runtime.database.pool;
    const other = await pool.connect();
    try {
      const catalogId = (await call(client, "createCatalog", { businessId: BIZ, name: "Held" }, owner)).catalog!.id;
      const [row] = (await bulkUpsert(client, catalogId, [buildProductInput({ retailerId: "HELD", inventory: "10" })], owner)).results;
      const orderIds: string[] = [];
      for (let i = 0; i < 5; i++) {
        const customer = await env.token({ kind: "customer", customerId: `c_held_${i}` });
        orderIds.push((await call(client, "createChatOrder", { catalogId, items: [{ productRetailerId: "HELD", quantity: 1, itemPrice: undefined }] }, customer)).order!.id);
      }
      const held = orderIds.slice(0, 2);
      // Another replica in the middle of its sweep: it holds two of the due orders' row locks.
      await other.query("BEGIN");
      await other.query("SELECT id FROM customer_order WHERE id = ANY($1) FOR UPDATE", [held]);
      // This sweep must neither wait for those locks nor take those orders (FOR UPDATE SKIP LOCKED).
      expect(await app.services.orders.expireDue()).toBe(3);
      expect(await stockOf(app, row!.productId)).toEqual({ inventory: "10", reserved: "2" });
      await other.query("ROLLBACK");
      expect(await app.services.orders.expireDue()).toBe(2);
      expect(await app.services.orders.expireDue()).toBe(0);
      expect(await stockOf(app, row!.productId)).toEqual({ inventory: "10", reserved: "0" });
      const { rows } = await pool.query("SELECT order_id, count(*)::int AS n FROM order_change WHERE to_state = 'CANCELLED' AND order_id = ANY($1) GROUP BY order_id", [orderIds]);
      expect(rows.map((r) => r.n)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await other.query("ROLLBACK").catch(() => undefined);
      other.release();
      client.close();
      await app.stop();
    }
  }, SLOW);
});

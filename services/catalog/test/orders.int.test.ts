import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { OrderState, type CatalogServiceClient, type Order } from "@kontor/proto/catalog/v1/catalog_service";
import { OrderPlaced, OrderStatusChanged } from "@kontor/proto/catalog/v1/events";
import { PaymentFailed, PaymentRefunded, PaymentSucceeded } from "@kontor/proto/payments/v1/events";
import { headers } from "nats";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";
import { newEventId } from "@kontor/service-kit/outbox";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { paymentHandler } from "../src/events/consumers.js";
import { buildProductInput, bulkUpsert, call, clientAt, refusal } from "./factories.js";

let env: TestEnv;
let app: CatalogApp;
let client: CatalogServiceClient;
let owner: string;
let alice: string;
let bob: string;
let catalogId: string;
let metricsPort: number;
const BIZ = "biz_orders";

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env({ SWEEP_INTERVAL_MS: "0" })));
  const started = await app.start();
  metricsPort = started.metricsPort;
  client = clientAt(started.port);
  owner = await env.token({ kind: "business", businessId: BIZ });
  alice = await env.token({ kind: "customer", customerId: "c_alice" });
  bob = await env.token({ kind: "customer", customerId: "c_bob" });
  catalogId = (await call(client, "createCatalog", { businessId: BIZ, name: "Shop" }, owner)).catalog!.id;
  await bulkUpsert(
    client,
    catalogId,
    [
      buildProductInput({ retailerId: "TEA", name: "Tea", price: { amountMinor: "450", currency: "EUR" }, inventory: "100" }),
      buildProductInput({ retailerId: "POT", name: "Teapot", price: { amountMinor: "3000", currency: "EUR" }, salePrice: { amountMinor: "2500", currency: "EUR" }, inventory: "100" }),
      buildProductInput({ retailerId: "YEN", name: "Matcha", price: { amountMinor: "1000", currency: "JPY" } }),
      buildProductInput({ retailerId: "DINAR", name: "Dates", price: { amountMinor: "19999", currency: "BHD" } }),
      // 2^53 + 1 and a price whose 99 units pass int64.
      buildProductInput({ retailerId: "HUGE", name: "Island", price: { amountMinor: "9007199254740993", currency: "EUR" } }),
      buildProductInput({ retailerId: "OVER", name: "Planet", price: { amountMinor: "4611686018427387904", currency: "EUR" } }),
      buildProductInput({ retailerId: "GONE", name: "Gone", price: { amountMinor: "100", currency: "EUR" }, inventory: "10" }),
      buildProductInput({ retailerId: "MATRIX", name: "Matrix", price: { amountMinor: "700", currency: "EUR" }, inventory: "1000" }),
      buildProductInput({ retailerId: "FX", name: "Moving currency", price: { amountMinor: "800", currency: "EUR" } }),
    ],
    owner,
  );
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

async function product(retailerId: string) {
  const res = await call(client, "getProductMessage", { catalogId, productRetailerId: retailerId }, owner).catch(() => undefined);
  if (res) return res.product!;
  const all = await call(client, "listProducts", { businessId: BIZ, catalogId, page: { pageSize: 100, pageToken: "" } }, owner);
  return all.products.find((p) => p.retailerId === retailerId)!;
}

async function chatOrder(token: string, items: [string, number][]): Promise<Order> {
  return (await call(client, "createChatOrder", { catalogId, items: items.map(([id, q]) => ({ productRetailerId: id, quantity: q, itemPrice: undefined })) }, token)).order!;
}

/** Publishes a payments outcome as payments does (its own messages, prefixed subject, event id as Nats-Msg-Id unless `msgId` says otherwise). */
async function publishPayment(outcome: "succeeded" | "failed" | "refunded" | "partially_refunded", orderId: string, eventId = newEventId(), msgId = eventId, paid?: { amountMinor: string; currency: string }): Promise<void> {
  const nc = await env.nats();
  const h = headers();
  h.set("Nats-Msg-Id", msgId);
  const meta = { eventId, occurredAt: new Date(), businessId: BIZ };
  // By default the customer paid exactly the order's total.
  const amount = paid ?? (await call(client, "getOrder", { orderId }, owner)).order!.total!;
  const data =
    outcome === "succeeded"
      ? PaymentSucceeded.encode(PaymentSucceeded.fromPartial({ meta, paymentId: `pay_${eventId}`, orderId, amount })).finish()
      : outcome === "failed"
        ? PaymentFailed.encode(PaymentFailed.fromPartial({ meta, paymentId: `pay_${eventId}`, orderId, amount, reason: "INSUFFICIENT_FUNDS" })).finish()
        : PaymentRefunded.encode(PaymentRefunded.fromPartial({ meta, paymentId: `pay_${eventId}`, orderId, amount, fullyRefunded: outcome === "refunded" })).finish();
  const subject = outcome === "partially_refunded" ? "refunded" : outcome;
  await nc.jetstream().publish(`${env.natsPrefix}kontor.payments.payment.${subject}.v1`, data, { headers: h });
}

async function stateOf(orderId: string): Promise<OrderState> {
  return (await call(client, "getOrder", { orderId }, owner)).order!.state;
}

async function statusEvents(orderId: string): Promise<[string, OrderState, OrderState][]> {
  await outboxDrained(app.runtime.database.pool);
  const all = await streamMessages(env, "catalog");
  return all
    .filter((m) => m.subject.startsWith("kontor.catalog.order.") && m.subject !== subjects.orderPlaced)
    .map((m) => ({ subject: m.subject, e: OrderStatusChanged.decode(m.data) }))
    .filter((x) => x.e.orderId === orderId)
    .map((x) => [x.subject, x.e.previousState, x.e.state]);
}

describe("carts", () => {
  it("when a customer adds, sets and removes items, then the cart holds today's prices and one currency; a second currency is refused", async () => {
    let cart = (await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 2 }, alice)).cart!;
    cart = (await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, alice)).cart!;
    cart = (await call(client, "addCartItem", { catalogId, productRetailerId: "POT", quantity: 1 }, alice)).cart!;
    expect(cart.items.map((i) => [i.productRetailerId, i.quantity, i.unitPrice!.amountMinor, i.lineTotal!.amountMinor])).toEqual([
      ["TEA", 3, "450", "1350"],
      ["POT", 1, "2500", "2500"],
    ]);
    expect(cart.subtotal).toEqual({ amountMinor: "3850", currency: "EUR" });

    const mixed = await refusal(client, "addCartItem", { catalogId, productRetailerId: "YEN", quantity: 1 }, alice);
    expect({ code: mixed.code, reason: mixed.reason, field: mixed.field }).toEqual({ code: status.FAILED_PRECONDITION, reason: "CURRENCY_MISMATCH", field: "product_retailer_id" });

    cart = (await call(client, "setCartItemQuantity", { catalogId, productRetailerId: "TEA", quantity: 1 }, alice)).cart!;
    cart = (await call(client, "removeCartItem", { catalogId, productRetailerId: "POT" }, alice)).cart!;
    expect(cart.items.map((i) => [i.productRetailerId, i.quantity])).toEqual([["TEA", 1]]);
    expect((await refusal(client, "setCartItemQuantity", { catalogId, productRetailerId: "TEA", quantity: 100 }, alice)).field).toBe("quantity");
    // Emptied, the cart takes another currency.
    await call(client, "removeCartItem", { catalogId, productRetailerId: "TEA" }, alice);
    cart = (await call(client, "addCartItem", { catalogId, productRetailerId: "YEN", quantity: 1 }, alice)).cart!;
    expect(cart.subtotal).toEqual({ amountMinor: "1000", currency: "JPY" });
    await call(client, "removeCartItem", { catalogId, productRetailerId: "YEN" }, alice);
  });

  it("when another customer or a business reads or changes a customer's cart, then PERMISSION_DENIED", async () => {
    await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, bob);
    expect((await refusal(client, "getCart", { customerId: "c_bob", businessId: BIZ }, alice)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "addCartItem", { customerId: "c_bob", catalogId, productRetailerId: "TEA", quantity: 1 }, alice)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "checkout", { customerId: "c_bob", businessId: BIZ }, alice)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "getCart", { customerId: "c_bob", businessId: BIZ }, owner)).code).toBe(status.PERMISSION_DENIED);
    const own = await call(client, "getCart", { businessId: BIZ }, bob);
    expect(own.cart!.items.map((i) => i.quantity)).toEqual([1]);
    await call(client, "removeCartItem", { catalogId, productRetailerId: "TEA" }, bob);
  });
});

describe("cart changes at once", () => {
  it("when a customer's cart gets eight additions at the same moment, then none is lost: the quantity is the sum", async () => {
    const carol = await env.token({ kind: "customer", customerId: "c_carol" });
    await Promise.all(Array.from({ length: 8 }, () => call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, carol)));
    const cart = (await call(client, "getCart", { businessId: BIZ }, carol)).cart!;
    expect(cart.items.map((i) => [i.productRetailerId, i.quantity])).toEqual([["TEA", 8]]);
    await call(client, "removeCartItem", { catalogId, productRetailerId: "TEA" }, carol);
  });

  it("when a customer removes through another catalog of the business a product the cart does not hold, then the cart keeps its catalog and takes more of it", async () => {
    const fay = await env.token({ kind: "customer", customerId: "c_fay" });
    const second = (await call(client, "createCatalog", { businessId: BIZ, name: "Second" }, owner)).catalog!.id;
    await bulkUpsert(client, second, [buildProductInput({ retailerId: "ELSEWHERE", price: { amountMinor: "100", currency: "EUR" } })], owner);
    await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, fay);
    const after = (await call(client, "removeCartItem", { catalogId: second, productRetailerId: "ELSEWHERE" }, fay)).cart!;
    expect([after.catalogId, after.items.map((i) => i.productRetailerId)]).toEqual([catalogId, ["TEA"]]);
    const more = (await call(client, "addCartItem", { catalogId, productRetailerId: "POT", quantity: 1 }, fay)).cart!;
    expect(more.items.map((i) => i.productRetailerId)).toEqual(["TEA", "POT"]);
    const other = await refusal(client, "addCartItem", { catalogId: second, productRetailerId: "ELSEWHERE", quantity: 1 }, fay);
    expect({ code: other.code, reason: other.reason }).toEqual({ code: status.FAILED_PRECONDITION, reason: "CATALOG_MISMATCH" });
    await call(client, "removeCartItem", { catalogId, productRetailerId: "TEA" }, fay);
    await call(client, "removeCartItem", { catalogId, productRetailerId: "POT" }, fay);
  });

  it("when the business moves a product in the cart to another currency, then the cart neither sums nor orders it (CURRENCY_MISMATCH at checkout, nothing ordered) until it is removed", async () => {
    const dave = await env.token({ kind: "customer", customerId: "c_dave" });
    await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, dave);
    await call(client, "addCartItem", { catalogId, productRetailerId: "FX", quantity: 2 }, dave);
    const fx = await product("FX");
    await call(client, "updateProduct", { productId: fx.id, product: buildProductInput({ price: { amountMinor: "900", currency: "USD" } }), updateMask: ["price"] }, owner);
    const cart = (await call(client, "getCart", { businessId: BIZ }, dave)).cart!;
    expect(cart.items.map((i) => [i.productRetailerId, i.purchasable])).toEqual([
      ["TEA", true],
      ["FX", false],
    ]);
    expect(cart.subtotal).toEqual({ amountMinor: "450", currency: "EUR" });
    const mixed = await refusal(client, "checkout", { businessId: BIZ }, dave);
    expect({ code: mixed.code, reason: mixed.reason, field: mixed.field }).toEqual({ code: status.FAILED_PRECONDITION, reason: "CURRENCY_MISMATCH", field: "items[1]" });
    expect((await call(client, "listOrders", { page: { pageSize: 10, pageToken: "" } }, dave)).orders).toEqual([]);
    // Adding it again is refused as well; once it is gone, the cart checks out in its currency.
    expect((await refusal(client, "addCartItem", { catalogId, productRetailerId: "FX", quantity: 1 }, dave)).reason).toBe("CURRENCY_MISMATCH");
    await call(client, "removeCartItem", { catalogId, productRetailerId: "FX" }, dave);
    const order = (await call(client, "checkout", { businessId: BIZ, expectedTotal: { amountMinor: "450", currency: "EUR" } }, dave)).order!;
    expect(order.total).toEqual({ amountMinor: "450", currency: "EUR" });
    await call(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_CANCELLED }, dave);
    await call(client, "updateProduct", { productId: fx.id, product: buildProductInput({ price: { amountMinor: "800", currency: "EUR" } }), updateMask: ["price"] }, owner);
  });
});

describe("Checkout", () => {
  it("when the cart is checked out, then the order snapshots today's prices, the cart empties, stock is held and order.placed is published", async () => {
    await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 2 }, alice);
    await call(client, "addCartItem", { catalogId, productRetailerId: "POT", quantity: 1 }, alice);
    const address = { name: "Alice", line1: "1 Main St", line2: "", city: "Lisbon", region: "", postalCode: "1000", country: "PT", phone: "" };
    const order = (await call(client, "checkout", { businessId: BIZ, note: "Gift wrap", deliveryAddress: address, expectedTotal: { amountMinor: "3400", currency: "EUR" } }, alice)).order!;
    expect(order.state).toBe(OrderState.ORDER_STATE_PENDING_PAYMENT);
    expect(order.items.map((i) => [i.productRetailerId, i.quantity, i.unitPrice!.amountMinor, i.lineTotal!.amountMinor])).toEqual([
      ["TEA", 2, "450", "900"],
      ["POT", 1, "2500", "2500"],
    ]);
    expect(order.total).toEqual({ amountMinor: "3400", currency: "EUR" });
    expect(order.deliveryAddress).toEqual(address);
    expect((await call(client, "getCart", { businessId: BIZ }, alice)).cart!.items).toEqual([]);
    expect((await product("TEA")).available).toBe("98");

    // The price at purchase stays when the product's price changes.
    const tea = await product("TEA");
    await call(client, "updateProduct", { productId: tea.id, product: buildProductInput({ price: { amountMinor: "999", currency: "EUR" } }), updateMask: ["price"] }, owner);
    expect((await call(client, "getOrder", { orderId: order.id }, alice)).order!.items[0]!.unitPrice!.amountMinor).toBe("450");
    await call(client, "updateProduct", { productId: tea.id, product: buildProductInput({ price: { amountMinor: "450", currency: "EUR" } }), updateMask: ["price"] }, owner);

    await outboxDrained(app.runtime.database.pool);
    const placed = (await streamMessages(env, "catalog", subjects.orderPlaced)).map((m) => OrderPlaced.decode(m.data)).filter((e) => e.order?.id === order.id);
    expect(placed.map((e) => [e.meta?.businessId, e.order?.customerId, e.order?.total?.amountMinor])).toEqual([[BIZ, "c_alice", "3400"]]);
  });

  it("when today's total differs from the one the customer was shown, then PRICES_CHANGED and nothing is ordered or held", async () => {
    await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, bob);
    const held = (await product("TEA")).available;
    const err = await refusal(client, "checkout", { businessId: BIZ, expectedTotal: { amountMinor: "400", currency: "EUR" } }, bob);
    expect({ code: err.code, reason: err.reason, field: err.field }).toEqual({ code: status.FAILED_PRECONDITION, reason: "PRICES_CHANGED", field: "expected_total" });
    expect((await product("TEA")).available).toBe(held);
    expect((await call(client, "getCart", { businessId: BIZ }, bob)).cart!.items).toHaveLength(1);
    await call(client, "removeCartItem", { catalogId, productRetailerId: "TEA" }, bob);
  });
});

describe("CreateChatOrder", () => {
  it("when the customer's chat order names catalog items, then the same kind of order is created; a changed price, a mixed currency or an unknown product orders nothing", async () => {
    const order = (await call(client, "createChatOrder", { catalogId, text: "for Friday", items: [{ productRetailerId: "POT", quantity: 2, itemPrice: { amountMinor: "2500", currency: "EUR" } }] }, alice)).order!;
    expect([order.source, order.note, order.total!.amountMinor]).toEqual(["chat", "for Friday", "5000"]);
    const changed = await refusal(client, "createChatOrder", { catalogId, items: [{ productRetailerId: "POT", quantity: 1, itemPrice: { amountMinor: "3000", currency: "EUR" } }] }, alice);
    expect({ reason: changed.reason, field: changed.field }).toEqual({ reason: "PRICE_CHANGED", field: "items[0].item_price" });
    const mixed = await refusal(client, "createChatOrder", { catalogId, items: [{ productRetailerId: "TEA", quantity: 1, itemPrice: undefined }, { productRetailerId: "YEN", quantity: 1, itemPrice: undefined }] }, alice);
    expect({ code: mixed.code, reason: mixed.reason, field: mixed.field }).toEqual({ code: status.FAILED_PRECONDITION, reason: "CURRENCY_MISMATCH", field: "items[1]" });
    const unknown = await refusal(client, "createChatOrder", { catalogId, items: [{ productRetailerId: "NOPE", quantity: 1, itemPrice: undefined }] }, alice);
    expect(unknown.field).toBe("items[0].product_retailer_id");
  });

  it("when prices are near 2^53 or in currencies with 0, 2 and 3 decimals, then totals are exact; a total past int64 is refused", async () => {
    const huge = await chatOrder(alice, [["HUGE", 3]]);
    expect(huge.total).toEqual({ amountMinor: "27021597764222979", currency: "EUR" });
    expect((await chatOrder(alice, [["YEN", 7]])).total).toEqual({ amountMinor: "7000", currency: "JPY" });
    expect((await chatOrder(alice, [["DINAR", 3]])).total).toEqual({ amountMinor: "59997", currency: "BHD" });
    const over = await refusal(client, "createChatOrder", { catalogId, items: [{ productRetailerId: "OVER", quantity: 2, itemPrice: undefined }] }, alice);
    expect({ code: over.code, reason: over.reason }).toEqual({ code: status.FAILED_PRECONDITION, reason: "TOTAL_TOO_LARGE" });
  });
});

describe("order state machine", () => {
  it("when an order goes PENDING_PAYMENT → PAID (payment) → SHIPPED (tracking) → DELIVERED → REFUNDED (payment), then each change is an order.<state> event and the stock leaves on payment", async () => {
    const order = await chatOrder(alice, [["GONE", 2]]);
    expect((await product("GONE"))).toMatchObject({ inventory: "10", available: "8" });
    await publishPayment("succeeded", order.id);
    await waitFor(async () => (await stateOf(order.id)) === OrderState.ORDER_STATE_PAID);
    expect((await product("GONE"))).toMatchObject({ inventory: "8", available: "8" });
    const tracking = { carrier: "DHL", number: "JD0001", url: "https://track.example.com/JD0001" };
    const shipped = (await call(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_SHIPPED, tracking }, owner)).order!;
    expect(shipped.tracking).toEqual(tracking);
    await call(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_DELIVERED }, owner);
    // A partial refund leaves the order as it is; the refund that completes it makes it REFUNDED.
    await publishPayment("partially_refunded", order.id);
    // A later event on the same consumer: once it is applied, the partial refund was handled.
    const marker = await chatOrder(alice, [["TEA", 1]]);
    await publishPayment("failed", marker.id);
    await waitFor(async () => (await stateOf(marker.id)) === OrderState.ORDER_STATE_CANCELLED);
    expect(await stateOf(order.id)).toBe(OrderState.ORDER_STATE_DELIVERED);
    await publishPayment("refunded", order.id);
    await waitFor(async () => (await stateOf(order.id)) === OrderState.ORDER_STATE_REFUNDED);
    const S = OrderState;
    expect(await statusEvents(order.id)).toEqual([
      [subjects.orderPaid, S.ORDER_STATE_PENDING_PAYMENT, S.ORDER_STATE_PAID],
      [subjects.orderShipped, S.ORDER_STATE_PAID, S.ORDER_STATE_SHIPPED],
      [subjects.orderDelivered, S.ORDER_STATE_SHIPPED, S.ORDER_STATE_DELIVERED],
      [subjects.orderRefunded, S.ORDER_STATE_DELIVERED, S.ORDER_STATE_REFUNDED],
    ]);
  });

  it("when the customer cancels an unpaid order, then the held stock returns; when a business cancels a paid order, then it is restocked and can be refunded", async () => {
    const unpaid = await chatOrder(alice, [["GONE", 1]]);
    const before = await product("GONE");
    await call(client, "updateOrderStatus", { orderId: unpaid.id, state: OrderState.ORDER_STATE_CANCELLED }, alice);
    expect((await product("GONE")).available).toBe(String(BigInt(before.available!) + 1n));
    const paid = await chatOrder(alice, [["GONE", 3]]);
    await publishPayment("succeeded", paid.id);
    await waitFor(async () => (await stateOf(paid.id)) === OrderState.ORDER_STATE_PAID);
    const afterPay = await product("GONE");
    await call(client, "updateOrderStatus", { orderId: paid.id, state: OrderState.ORDER_STATE_CANCELLED, note: "out of paper" }, owner);
    expect((await product("GONE")).inventory).toBe(String(BigInt(afterPay.inventory!) + 3n));
    await publishPayment("refunded", paid.id);
    await waitFor(async () => (await stateOf(paid.id)) === OrderState.ORDER_STATE_REFUNDED);
    const S = OrderState;
    expect(await statusEvents(unpaid.id)).toEqual([[subjects.orderCancelled, S.ORDER_STATE_PENDING_PAYMENT, S.ORDER_STATE_CANCELLED]]);
    expect((await statusEvents(paid.id)).map((e) => e[0])).toEqual([subjects.orderPaid, subjects.orderCancelled, subjects.orderRefunded]);
  });

  it("when a payment fails, then the unpaid order is cancelled and its stock returns", async () => {
    const order = await chatOrder(alice, [["GONE", 1]]);
    const held = await product("GONE");
    await publishPayment("failed", order.id);
    await waitFor(async () => (await stateOf(order.id)) === OrderState.ORDER_STATE_CANCELLED);
    expect((await product("GONE")).available).toBe(String(BigInt(held.available!) + 1n));
  });

  it("when a transition is illegal, then FAILED_PRECONDITION names both states and nothing changes; a customer cannot ship or cancel a paid order", async () => {
    const order = await chatOrder(alice, [["TEA", 1]]);
    const ship = await refusal(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_SHIPPED }, owner);
    expect({ code: ship.code, reason: ship.reason }).toEqual({ code: status.FAILED_PRECONDITION, reason: "ILLEGAL_TRANSITION" });
    expect(ship.details).toContain("PENDING_PAYMENT");
    expect(ship.details).toContain("SHIPPED");
    expect((await refusal(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_PAID }, owner)).field).toBe("state");
    expect((await refusal(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_SHIPPED }, alice)).field).toBe("state");
    await publishPayment("succeeded", order.id);
    await waitFor(async () => (await stateOf(order.id)) === OrderState.ORDER_STATE_PAID);
    const cancel = await refusal(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_CANCELLED }, alice);
    expect({ code: cancel.code, reason: cancel.reason }).toEqual({ code: status.FAILED_PRECONDITION, reason: "ILLEGAL_TRANSITION" });
    await call(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_SHIPPED }, owner);
    await call(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_DELIVERED }, owner);
    const back = await refusal(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_CANCELLED }, owner);
    expect(back.details).toBe("an order in DELIVERED cannot become CANCELLED");
    expect(await stateOf(order.id)).toBe(OrderState.ORDER_STATE_DELIVERED);
  });

  it("when the same payment event is delivered twice (a new message id, the same event id), then the order moves once, one order.paid is published and the stock leaves once", async () => {
    const order = await chatOrder(alice, [["GONE", 1]]);
    const eventId = newEventId();
    await publishPayment("succeeded", order.id, eventId, `${eventId}-a`);
    await waitFor(async () => (await stateOf(order.id)) === OrderState.ORDER_STATE_PAID);
    const afterFirst = await product("GONE");
    await publishPayment("succeeded", order.id, eventId, `${eventId}-b`);
    // A later event behind the duplicate on the same consumer: once it is applied, the duplicate was handled.
    const marker = await chatOrder(alice, [["TEA", 1]]);
    await publishPayment("failed", marker.id);
    await waitFor(async () => (await stateOf(marker.id)) === OrderState.ORDER_STATE_CANCELLED);
    expect((await product("GONE")).inventory).toBe(afterFirst.inventory);
    expect((await statusEvents(order.id)).map((e) => e[0])).toEqual([subjects.orderPaid]);
    const { rows } = await app.runtime.database.pool.query("SELECT count(*)::int AS n FROM order_change WHERE order_id = $1 AND to_state = 'PAID'", [order.id]);
    expect(rows[0].n).toBe(1);
  });

  it("when a payment succeeds for another amount or currency than the order's total, then the order stays unpaid with its stock held, the mismatch is recorded and counted once, and an exact payment still pays it", async () => {
    const order = await chatOrder(alice, [["TEA", 2]]);
    expect(order.total).toEqual({ amountMinor: "900", currency: "EUR" });
    const held = (await product("TEA")).available;
    const short = newEventId();
    await publishPayment("succeeded", order.id, short, short, { amountMinor: "899", currency: "EUR" });
    await publishPayment("succeeded", order.id, short, `${short}-again`, { amountMinor: "899", currency: "EUR" });
    const otherCurrency = newEventId();
    await publishPayment("succeeded", order.id, otherCurrency, otherCurrency, { amountMinor: "900", currency: "USD" });
    const pool = app.runtime.database.pool;
    await waitFor(async () => (await pool.query("SELECT 1 FROM payment_mismatch WHERE event_id = $1", [otherCurrency])).rowCount === 1);
    expect(await stateOf(order.id)).toBe(OrderState.ORDER_STATE_PENDING_PAYMENT);
    expect((await product("TEA")).available).toBe(held);
    const { rows } = await pool.query("SELECT event_id, paid_minor::text, paid_currency, total_minor::text, currency FROM payment_mismatch WHERE order_id = $1 ORDER BY at, event_id", [order.id]);
    expect(rows.map((r) => r.event_id).sort()).toEqual([short, otherCurrency].sort());
    expect(rows.find((r) => r.event_id === short)).toMatchObject({ paid_minor: "899", paid_currency: "EUR", total_minor: "900", currency: "EUR" });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/kontor_catalog_payment_mismatches_total\{[^}]*\} 2\b/);
    await publishPayment("succeeded", order.id);
    await waitFor(async () => (await stateOf(order.id)) === OrderState.ORDER_STATE_PAID);
    expect((await statusEvents(order.id)).map((e) => e[0])).toEqual([subjects.orderPaid]);
  });

  it("when the handler sees an event id it has handled, then it reports a duplicate and does no work, even for a move the state machine would allow", async () => {
    const handle = paymentHandler(app.runtime.db, app.services.orders, app.log);
    const order = await chatOrder(alice, [["TEA", 1]]);
    const eventId = newEventId();
    expect(await handle({ outcome: "failed", eventId, orderId: "00000000-0000-4000-8000-000000000000", fullyRefunded: false, paymentId: "pay_x", amount: undefined })).toBe("ack");
    // The same event id now names a real order: a second delivery must not touch it.
    expect(await handle({ outcome: "failed", eventId, orderId: order.id, fullyRefunded: false, paymentId: "pay_x", amount: undefined })).toBe("duplicate");
    expect(await stateOf(order.id)).toBe(OrderState.ORDER_STATE_PENDING_PAYMENT);
  });
});

describe("money near 2^53", () => {
  it("when a cart holds a price of 2^53 + 1 minor units, then the cart, the order, its order.placed event and the payment check are exact: 2^53 (equal as a float) does not pay it, 2^53 + 1 does", async () => {
    const erin = await env.token({ kind: "customer", customerId: "c_erin" });
    const cart = (await call(client, "addCartItem", { catalogId, productRetailerId: "HUGE", quantity: 1 }, erin)).cart!;
    expect(cart.subtotal).toEqual({ amountMinor: "9007199254740993", currency: "EUR" });
    const order = (await call(client, "checkout", { businessId: BIZ, expectedTotal: { amountMinor: "9007199254740993", currency: "EUR" } }, erin)).order!;
    expect([order.items[0]!.unitPrice!.amountMinor, order.total!.amountMinor]).toEqual(["9007199254740993", "9007199254740993"]);
    await outboxDrained(app.runtime.database.pool);
    const placed = (await streamMessages(env, "catalog", subjects.orderPlaced)).map((m) => OrderPlaced.decode(m.data)).find((e) => e.order?.id === order.id)!;
    expect(placed.order!.total).toEqual({ amountMinor: "9007199254740993", currency: "EUR" });
    const { rows } = await app.runtime.database.pool.query("SELECT total_minor::text AS t FROM customer_order WHERE id = $1", [order.id]);
    expect(rows[0].t).toBe("9007199254740993");

    const short = newEventId();
    await publishPayment("succeeded", order.id, short, short, { amountMinor: "9007199254740992", currency: "EUR" });
    await waitFor(async () => (await app.runtime.database.pool.query("SELECT 1 FROM payment_mismatch WHERE event_id = $1", [short])).rowCount === 1);
    expect(await stateOf(order.id)).toBe(OrderState.ORDER_STATE_PENDING_PAYMENT);
    await publishPayment("succeeded", order.id, newEventId(), undefined, { amountMinor: "9007199254740993", currency: "EUR" });
    await waitFor(async () => (await stateOf(order.id)) === OrderState.ORDER_STATE_PAID);
  });

  it("when searching by price near 2^53, then the bounds are exact to the unit", async () => {
    const find = async (min: string, max: string) => (await call(client, "searchProducts", { catalogId, minPriceMinor: min, maxPriceMinor: max, page: { pageSize: 50, pageToken: "" } }, alice)).products.map((p) => p.retailerId);
    expect(await find("9007199254740993", "9007199254740993")).toEqual(["HUGE"]);
    expect(await find("9007199254740994", "9007199254740999")).toEqual([]);
    expect(await find("9007199254740990", "9007199254740992")).toEqual([]);
  });
});

describe("every transition", () => {
  type From = "PENDING_PAYMENT" | "PAID" | "SHIPPED" | "DELIVERED" | "CANCELLED_UNPAID" | "CANCELLED_PAID" | "REFUNDED";
  type Move = "business:SHIPPED" | "business:DELIVERED" | "business:CANCELLED" | "customer:CANCELLED" | "payment.succeeded" | "payment.failed" | "payment.refunded";
  const FROM: From[] = ["PENDING_PAYMENT", "PAID", "SHIPPED", "DELIVERED", "CANCELLED_UNPAID", "CANCELLED_PAID", "REFUNDED"];
  const MOVES: Move[] = ["business:SHIPPED", "business:DELIVERED", "business:CANCELLED", "customer:CANCELLED", "payment.succeeded", "payment.failed", "payment.refunded"];
  // The state machine as the issue and README state it, written out here rather than read from the code.
  const LEGAL: Record<string, string> = {
    "PENDING_PAYMENT business:CANCELLED": "CANCELLED",
    "PENDING_PAYMENT customer:CANCELLED": "CANCELLED",
    "PENDING_PAYMENT payment.succeeded": "PAID",
    "PENDING_PAYMENT payment.failed": "CANCELLED",
    "PAID business:SHIPPED": "SHIPPED",
    "PAID business:CANCELLED": "CANCELLED",
    "PAID payment.refunded": "REFUNDED",
    "SHIPPED business:DELIVERED": "DELIVERED",
    "SHIPPED payment.refunded": "REFUNDED",
    "DELIVERED payment.refunded": "REFUNDED",
    "CANCELLED_PAID payment.refunded": "REFUNDED",
  };
  /** The moves that bring a new order into each state. */
  const PATH: Record<From, Move[]> = {
    PENDING_PAYMENT: [],
    PAID: ["payment.succeeded"],
    SHIPPED: ["payment.succeeded", "business:SHIPPED"],
    DELIVERED: ["payment.succeeded", "business:SHIPPED", "business:DELIVERED"],
    CANCELLED_UNPAID: ["customer:CANCELLED"],
    CANCELLED_PAID: ["payment.succeeded", "business:CANCELLED"],
    REFUNDED: ["payment.succeeded", "payment.refunded"],
  };
  const stateName = (f: From) => f.replace(/_(UN)?PAID$/, "");
  const S = OrderState as unknown as Record<string, OrderState>;
  const pbState = (name: string) => S[`ORDER_STATE_${name}`]!;
  const subjectOf: Record<string, string> = { PAID: subjects.orderPaid, SHIPPED: subjects.orderShipped, DELIVERED: subjects.orderDelivered, CANCELLED: subjects.orderCancelled, REFUNDED: subjects.orderRefunded };

  /** Applies a move; RPC moves answer at once, event moves are waited for when they are legal. */
  async function apply(orderId: string, move: Move, legalTo: string | undefined): Promise<void> {
    if (move.startsWith("payment.")) {
      await publishPayment(move === "payment.succeeded" ? "succeeded" : move === "payment.failed" ? "failed" : "refunded", orderId);
      if (legalTo) await waitFor(async () => (await stateOf(orderId)) === pbState(legalTo));
      return;
    }
    const [actor, to] = move.split(":") as ["business" | "customer", string];
    await call(client, "updateOrderStatus", { orderId, state: pbState(to) }, actor === "business" ? owner : alice);
  }
  const stock = async () => {
    const p = await product("MATRIX");
    return { inventory: BigInt(p.inventory!), available: BigInt(p.available!) };
  };
  /** What each legal move does to the stock of the 2 units the order holds. */
  const STOCK: Record<string, { inventory: bigint; available: bigint }> = {
    "PENDING_PAYMENT>PAID": { inventory: -2n, available: 0n },
    "PENDING_PAYMENT>CANCELLED": { inventory: 0n, available: 2n },
    "PAID>CANCELLED": { inventory: 2n, available: 2n },
  };

  it("when each of the seven moves is tried on an order in each state, then exactly the legal ones move it (with their stock effect and one order.<state> event); an illegal RPC is FAILED_PRECONDITION naming both states, an illegal payment event changes nothing (a success is recorded to be refunded)", async () => {
    const expectedEvents = new Map<string, [string, OrderState, OrderState][]>();
    const eventsOf = (from: From, path: Move[], orderId: string) => {
      let state = "PENDING_PAYMENT";
      const list: [string, OrderState, OrderState][] = [];
      for (const m of path) {
        const key = `${state === "CANCELLED" && from === "CANCELLED_PAID" && m === "payment.refunded" ? "CANCELLED_PAID" : state} ${m}`;
        const to = LEGAL[key];
        if (!to) continue;
        list.push([subjectOf[to]!, pbState(state), pbState(to)]);
        state = to;
      }
      expectedEvents.set(orderId, list);
    };
    // One order per legal move (it moves), one per state for the illegal ones (nothing may move it).
    const cases: { from: From; moves: Move[]; order: Order }[] = [];
    for (const from of FROM) {
      for (const move of MOVES) if (LEGAL[`${from} ${move}`]) cases.push({ from, moves: [move], order: await chatOrder(alice, [["MATRIX", 2]]) });
      cases.push({ from, moves: MOVES.filter((m) => !LEGAL[`${from} ${m}`]), order: await chatOrder(alice, [["MATRIX", 2]]) });
    }
    for (const c of cases) {
      eventsOf(c.from, PATH[c.from], c.order.id);
      let state = "PENDING_PAYMENT";
      for (const step of PATH[c.from]) {
        const to = LEGAL[`${state === "CANCELLED" ? "CANCELLED_PAID" : state} ${step}`]!;
        await apply(c.order.id, step, to);
        state = to;
      }
      expect(await stateOf(c.order.id)).toBe(pbState(stateName(c.from)));
    }

    const illegalEvents: { orderId: string; move: Move }[] = [];
    for (const c of cases) {
      const from = stateName(c.from);
      for (const move of c.moves) {
        const to = LEGAL[`${c.from} ${move}`];
        if (to) {
          const before = await stock();
          await apply(c.order.id, move, to);
          expect(await stateOf(c.order.id)).toBe(pbState(to));
          const after = await stock();
          expect({ move: `${c.from} ${move}`, inventory: after.inventory - before.inventory, available: after.available - before.available }).toEqual({
            move: `${c.from} ${move}`,
            ...(STOCK[`${from}>${to}`] ?? { inventory: 0n, available: 0n }),
          });
          eventsOf(c.from, [...PATH[c.from], move], c.order.id);
        } else if (move.startsWith("payment.")) {
          illegalEvents.push({ orderId: c.order.id, move });
        } else {
          const [actor, target] = move.split(":") as [string, string];
          const err = await refusal(client, "updateOrderStatus", { orderId: c.order.id, state: pbState(target) }, actor === "business" ? owner : alice);
          expect({ move: `${c.from} ${move}`, code: err.code, reason: err.reason, details: err.details }).toEqual({
            move: `${c.from} ${move}`,
            code: status.FAILED_PRECONDITION,
            reason: "ILLEGAL_TRANSITION",
            details: `an order in ${from} cannot become ${target}`,
          });
          expect(await stateOf(c.order.id)).toBe(pbState(from));
          eventsOf(c.from, PATH[c.from], c.order.id);
        }
      }
    }

    // Illegal payment outcomes: none may move an order or touch the stock.
    const held = await stock();
    for (const x of illegalEvents) await publishPayment(x.move === "payment.succeeded" ? "succeeded" : x.move === "payment.failed" ? "failed" : "refunded", x.orderId);
    // A later event on the same consumer: once it is applied, every event before it was handled.
    const marker = await chatOrder(alice, [["TEA", 1]]);
    await publishPayment("failed", marker.id);
    await waitFor(async () => (await stateOf(marker.id)) === OrderState.ORDER_STATE_CANCELLED);
    expect(await stock()).toEqual(held);
    // A success that cannot pay its order (expired, cancelled, paid already) is money to give back: it is recorded.
    const succeededIllegally = illegalEvents.filter((x) => x.move === "payment.succeeded").map((x) => x.orderId);
    const { rows: kept } = await app.runtime.database.pool.query("SELECT order_id, reason, order_state FROM payment_mismatch WHERE order_id = ANY($1) ORDER BY order_id", [succeededIllegally]);
    const fromOf = new Map(cases.map((c) => [c.order.id, stateName(c.from)]));
    expect(kept).toEqual([...succeededIllegally].sort().map((id) => ({ order_id: id, reason: "ORDER_NOT_PAYABLE", order_state: fromOf.get(id) })));
    for (const c of cases) {
      const last = expectedEvents.get(c.order.id)!;
      const want = last.length > 0 ? last[last.length - 1]![2] : OrderState.ORDER_STATE_PENDING_PAYMENT;
      expect({ order: `${c.from} ${c.moves.join(",")}`, state: await stateOf(c.order.id) }).toEqual({ order: `${c.from} ${c.moves.join(",")}`, state: want });
      expect({ order: `${c.from} ${c.moves.join(",")}`, events: await statusEvents(c.order.id) }).toEqual({ order: `${c.from} ${c.moves.join(",")}`, events: last });
    }
  }, 300_000);
});

describe("order access", () => {
  it("when another business or customer reads or changes an order, then PERMISSION_DENIED; each lists only its own", async () => {
    const order = await chatOrder(alice, [["TEA", 1]]);
    const rival = await env.token({ kind: "business", businessId: "biz_rival" });
    expect((await refusal(client, "getOrder", { orderId: order.id }, rival)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "getOrder", { orderId: order.id }, bob)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_CANCELLED }, bob)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "updateOrderStatus", { orderId: order.id, state: OrderState.ORDER_STATE_CANCELLED }, rival)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "listOrders", { businessId: BIZ }, rival)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "listOrders", { customerId: "c_alice" }, bob)).code).toBe(status.PERMISSION_DENIED);
    const bobs = await call(client, "listOrders", { page: { pageSize: 100, pageToken: "" } }, bob);
    expect(bobs.orders.every((o) => o.customerId === "c_bob")).toBe(true);
    const alices = await call(client, "listOrders", { customerId: "c_alice", page: { pageSize: 100, pageToken: "" } }, alice);
    expect(alices.orders.map((o) => o.id)).toContain(order.id);
    const shop = await call(client, "listOrders", { businessId: BIZ, states: [OrderState.ORDER_STATE_PENDING_PAYMENT], page: { pageSize: 100, pageToken: "" } }, owner);
    expect(shop.orders.map((o) => o.id)).toContain(order.id);
    expect(shop.orders.every((o) => o.state === OrderState.ORDER_STATE_PENDING_PAYMENT)).toBe(true);
  });
});

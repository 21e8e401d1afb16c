import { describe, expect, it } from "vitest";
import { OrderPlaced, OrderRejected, OrderStatusChanged } from "@kontor/proto/catalog/v1/events";
import { decodeOrderEvent } from "../events/order-notifications.js";
import { formatMoney, notificationText, orderReference, rejectionText, statusText, type OrderChange, type RejectedItem } from "./order-notifications.js";

const change = (over: Partial<OrderChange>): OrderChange => ({ eventId: "e", orderId: "3f2a9c1b-0000-4000-8000-000000000001", businessId: "b", customerId: "c", state: "paid", tracking: undefined, total: undefined, reason: "", ...over });

describe("order notification texts", () => {
  it("when amounts have 0, 2 or 3 decimals or pass 2^53, then they are exact decimals (no floats)", () => {
    expect(formatMoney("1250", "EUR")).toBe("12.50 EUR");
    expect(formatMoney("5", "EUR")).toBe("0.05 EUR");
    expect(formatMoney("500", "JPY")).toBe("500 JPY");
    expect(formatMoney("1234", "BHD")).toBe("1.234 BHD");
    expect(formatMoney("9007199254740993", "EUR")).toBe("90071992547409.93 EUR");
    expect(formatMoney("0", "EUR")).toBe("0.00 EUR");
  });

  it("when an order changes, then the text names the reference and the change, with tracking when shipped and the reason when cancelled", () => {
    expect(orderReference("3f2a9c1b-0000-4000-8000-000000000001")).toBe("#3F2A9C1B");
    expect(notificationText(change({ state: "placed", total: { amountMinor: "1999", currency: "USD" } }))).toBe("Your order #3F2A9C1B has been received (total 19.99 USD).");
    expect(notificationText(change({ state: "shipped", tracking: { carrier: "DHL", number: "123", url: "https://t.example/123" } }))).toBe("Your order #3F2A9C1B has shipped. Tracking: DHL 123, https://t.example/123");
    expect(notificationText(change({ state: "shipped", tracking: { carrier: "", number: "", url: "" } }))).toBe("Your order #3F2A9C1B has shipped.");
    expect(statusText(change({ state: "cancelled", reason: "payment_failed" }))).toBe("was cancelled: the payment failed");
    expect(notificationText(change({ state: "cancelled", reason: "changed my mind" }))).toBe("Your order #3F2A9C1B was cancelled.");
  });

  it("when an order event names no order, customer or business, then it is poison; another order subject is skipped", () => {
    const ok = OrderStatusChanged.encode(OrderStatusChanged.fromPartial({ meta: { eventId: "o1:paid", businessId: "b" }, orderId: "o1", customerId: "c" })).finish();
    expect(decodeOrderEvent(ok, "p.kontor.catalog.order.paid.v1")).toMatchObject({ orderId: "o1", state: "paid", businessId: "b", customerId: "c" });
    const noCustomer = OrderStatusChanged.encode(OrderStatusChanged.fromPartial({ meta: { eventId: "o1:paid", businessId: "b" }, orderId: "o1" })).finish();
    expect(decodeOrderEvent(noCustomer, "kontor.catalog.order.paid.v1")).toBeUndefined();
    const placed = OrderPlaced.encode(OrderPlaced.fromPartial({ meta: { eventId: "o2:placed", businessId: "b" }, order: { id: "o2", customerId: "c", total: { amountMinor: "100", currency: "EUR" } } })).finish();
    expect(decodeOrderEvent(placed, "kontor.catalog.order.placed.v1")).toMatchObject({ orderId: "o2", state: "placed", total: { amountMinor: "100", currency: "EUR" } });
    expect(decodeOrderEvent(ok, "kontor.catalog.order.updated.v1")).toBe("skip");
  });

  it("when an order message was refused, then the reply says why, naming each product by name (else retailer id) with what is left", () => {
    const item = (over: Partial<RejectedItem>): RejectedItem => ({ retailerId: "MUG-1", name: "Blue mug", quantity: 3, available: undefined, price: undefined, maxQuantity: 0, ...over });
    expect(rejectionText({ reason: "OUT_OF_STOCK", items: [item({ available: "2" })] })).toBe("Sorry, we could not take your order: Blue mug is out of stock (2 left).");
    expect(rejectionText({ reason: "OUT_OF_STOCK", items: [item({ available: "0" }), item({ name: "", retailerId: "CUP-9", available: "1" })] })).toBe("Sorry, we could not take your order: Blue mug is out of stock and CUP-9 is out of stock (1 left).");
    expect(rejectionText({ reason: "PRODUCT_UNAVAILABLE", items: [item({})] })).toBe("Sorry, we could not take your order: Blue mug is no longer available.");
    expect(rejectionText({ reason: "PRODUCT_NOT_IN_CATALOG", items: [item({ name: "", retailerId: "NOPE" })] })).toBe("Sorry, we could not take your order: NOPE is not in this shop's catalog.");
    expect(rejectionText({ reason: "PRICE_CHANGED", items: [item({ price: { amountMinor: "1250", currency: "EUR" } })] })).toBe("Sorry, we could not take your order: the price of Blue mug is now 12.50 EUR.");
    expect(rejectionText({ reason: "CURRENCY_MISMATCH", items: [item({ price: { amountMinor: "500", currency: "JPY" } })] })).toBe("Sorry, we could not take your order: Blue mug is priced in JPY.");
    expect(rejectionText({ reason: "TOO_MANY_UNITS", items: [item({ quantity: 150, maxQuantity: 99 })] })).toBe("Sorry, we could not take your order: we take at most 99 of Blue mug per order.");
    expect(rejectionText({ reason: "CATALOG_NOT_FOUND", items: [item({})] })).toBe("Sorry, we could not take your order: it comes from a catalog that is not this shop's.");
    expect(rejectionText({ reason: "SOMETHING_NEW", items: [] })).toBe("Sorry, we could not take your order: it could not be read; please send it again from the catalog.");
    const many = Array.from({ length: 12 }, (_, i) => item({ name: `P${i}` }));
    expect(rejectionText({ reason: "PRODUCT_UNAVAILABLE", items: many })).toBe(`Sorry, we could not take your order: ${Array.from({ length: 10 }, (_, i) => `P${i} is no longer available`).join(", ")} and 2 more.`);
  });

  it("when catalog's order.rejected arrives, then it decodes with its message, number and items; without its message it is poison", () => {
    const e = OrderRejected.fromPartial({ meta: { eventId: "wamid.x:rejected", businessId: "b" }, messageId: "wamid.x", customerId: "c", phoneNumberId: "pn", reason: "OUT_OF_STOCK", items: [{ retailerId: "MUG", name: "Mug", quantity: 3, available: "2" }] });
    expect(decodeOrderEvent(OrderRejected.encode(e).finish(), "p.kontor.catalog.order.rejected.v1")).toMatchObject({ state: "rejected", messageId: "wamid.x", businessId: "b", customerId: "c", phoneNumberId: "pn", reason: "OUT_OF_STOCK", items: [{ retailerId: "MUG", name: "Mug", quantity: 3, available: "2" }] });
    expect(decodeOrderEvent(OrderRejected.encode({ ...e, messageId: "" }).finish(), "kontor.catalog.order.rejected.v1")).toBeUndefined();
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { OrderPlaced, OrderRejected, OrderStatusChanged } from "@kontor/proto/catalog/v1/events";
import { OrderState } from "@kontor/proto/catalog/v1/catalog_service";
import type { Message } from "@kontor/proto/messaging/v1/message";
import type { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { TemplateCategory as C, TemplateComponentType as T, TemplateHeaderFormat as H, TemplateParameterFormat as P } from "@kontor/proto/messaging/v1/template";
import { TemplateServiceClient } from "@kontor/proto/messaging/v1/template_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { ORDER_NOTIFICATIONS_CONSUMER } from "../src/events/order-notifications.js";
import { customer, number, registerBusiness, registerCustomer, sendReq, startWithBusiness, text, uid } from "./factories.js";

/*
 * Catalog's order events → a message from the business to the customer,
 * with every policy rule on: text inside the customer service window, the
 * business's approved UTILITY template `order_update` outside it, nothing
 * without one or to a customer who blocked the business; once per order and
 * state whatever is redelivered.
 */
let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let templates: TemplateServiceClient;
let metricsPort: number;
let onboarding: string;

beforeAll(async () => {
  env = await createTestEnv();
  const started = await startWithBusiness(env, uid("biz_"), uid("pn_"), { THROUGHPUT_PER_SECOND: "100000", PAIR_BURST_MAX: "1000" });
  ({ app, client, metricsPort } = started);
  templates = clientFor(TemplateServiceClient, started.port);
  onboarding = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  client?.close();
  templates?.close();
  await app?.stop();
  await env?.cleanup();
});

/** A business with its own number, and a customer of it (who wrote first when `wrote`). */
async function shop(wrote: boolean) {
  const businessId = uid("biz_");
  const pn = uid("pn_");
  await registerBusiness(env, app, businessId, pn);
  const customerId = uid("cust");
  await registerCustomer(client, onboarding, customerId);
  const customerToken = await env.token({ kind: "customer", customerId });
  if (wrote) await unaryCall(client.sendMessage.bind(client), sendReq(customer(customerId), number(pn), text("I'd like to order")), { token: customerToken });
  return { businessId, pn, customerId, customerToken, bizToken: await env.token({ kind: "business", businessId }) };
}
type Shop = Awaited<ReturnType<typeof shop>>;

async function publish(subject: string, payload: Uint8Array, msgId: string = randomUUID()) {
  const nc = await env.nats();
  await nc.jetstream().publish(`${env.natsPrefix}${subject}`, payload, { msgID: msgId });
}

const money = (amountMinor: string, currency = "EUR") => ({ amountMinor, currency });

/** catalog's order.placed, as its outbox writes it (event id `<order id>:placed`). */
function placed(s: Shop, orderId: string) {
  const eventId = `${orderId}:placed`;
  const payload = OrderPlaced.encode(
    OrderPlaced.fromPartial({
      meta: { eventId, occurredAt: new Date(), businessId: s.businessId },
      order: { id: orderId, businessId: s.businessId, customerId: s.customerId, catalogId: randomUUID(), state: OrderState.ORDER_STATE_PENDING_PAYMENT, total: money("1250"), subtotal: money("1250"), source: "chat" },
    }),
  ).finish();
  return { subject: "kontor.catalog.order.placed.v1", payload, eventId };
}

const STATES = { paid: OrderState.ORDER_STATE_PAID, shipped: OrderState.ORDER_STATE_SHIPPED, delivered: OrderState.ORDER_STATE_DELIVERED, cancelled: OrderState.ORDER_STATE_CANCELLED, refunded: OrderState.ORDER_STATE_REFUNDED } as const;

/** catalog's order.<state>, as its outbox writes it (event id `<order id>:<state>`). */
function changed(s: Shop, orderId: string, state: keyof typeof STATES, over: { tracking?: { carrier: string; number: string; url: string }; reason?: string } = {}) {
  const eventId = `${orderId}:${state}`;
  const payload = OrderStatusChanged.encode(
    OrderStatusChanged.fromPartial({ meta: { eventId, occurredAt: new Date(), businessId: s.businessId }, orderId, customerId: s.customerId, state: STATES[state], tracking: over.tracking, total: money("1250"), reason: over.reason ?? "" }),
  ).finish();
  return { subject: `kontor.catalog.order.${state}.v1`, payload, eventId };
}

/** The customer's order message (as a text: the reply needs only its id), and catalog's order.rejected of it as its outbox writes it. */
async function rejected(s: Shop, items: { retailerId: string; name: string; quantity: number; available?: string }[]) {
  const sent = await unaryCall(client.sendMessage.bind(client), sendReq(customer(s.customerId), number(s.pn), text("order")), { token: s.customerToken });
  const messageId = sent.result!.messageId;
  const eventId = `${messageId}:rejected`;
  const payload = OrderRejected.encode(
    OrderRejected.fromPartial({ meta: { eventId, occurredAt: new Date(), businessId: s.businessId }, messageId, customerId: s.customerId, catalogId: randomUUID(), phoneNumberId: s.pn, reason: "OUT_OF_STOCK", items }),
  ).finish();
  return { subject: "kontor.catalog.order.rejected.v1", payload, eventId, messageId };
}

/** The business's messages to the customer, oldest first, as the business reads them. */
async function toCustomer(s: Shop): Promise<Message[]> {
  const conv = (await app.runtime.database.pool.query<{ id: string }>("SELECT id FROM conversation WHERE phone_number_id = $1 AND customer_id = $2", [s.pn, s.customerId])).rows[0];
  if (!conv) return [];
  const res = await unaryCall(client.listMessages.bind(client), { participant: number(s.pn), conversationId: conv.id, page: { pageSize: 100, pageToken: "" }, newestFirst: false }, { token: s.bizToken });
  return res.messages.filter((m) => m.sender?.kind?.$case === "phoneNumberId");
}

const bodyOf = (m: Message) => {
  const k = m.content?.kind;
  if (k?.$case === "text") return k.value.body;
  if (k?.$case === "template") return `template:${k.value.name}:${k.value.components.flatMap((c) => c.parameters.map((p) => p.text)).join("|")}`;
  return k?.$case ?? "";
};

async function notificationOf(orderId: string, state: string) {
  return (
    await app.runtime.database.pool.query<{ outcome: string; via: string; reason: string; message_id: string }>("SELECT outcome, via, reason, message_id FROM order_notification WHERE order_id = $1 AND state = $2", [orderId, state])
  ).rows[0];
}

/** Waits until the consumer has handled the event (its record is written in the same transaction). */
async function handled(orderId: string, state: string) {
  await waitFor(async () => (await notificationOf(orderId, state)) !== undefined, 20_000);
  return (await notificationOf(orderId, state))!;
}

/** The value of one sample on /metrics (0 when absent), matched by name and a label subset. */
async function sample(name: string, labels: Record<string, string>): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  for (const line of body.split("\n")) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** The business's order_update template (UTILITY, approved at once by the automatic review). */
async function orderUpdateTemplate(s: Shop) {
  const res = await unaryCall(
    templates.createTemplate.bind(templates),
    {
      businessId: s.businessId,
      name: "order_update",
      language: "en_US",
      category: C.TEMPLATE_CATEGORY_UTILITY,
      parameterFormat: P.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED,
      components: [
        {
          type: T.TEMPLATE_COMPONENT_TYPE_BODY,
          format: H.TEMPLATE_HEADER_FORMAT_UNSPECIFIED,
          text: "Update on your order {{1}}: it {{2}}.",
          example: { headerText: [], headerTextNamedParams: [], bodyText: [{ values: ["#A1B2C3D4", "has shipped"] }], bodyTextNamedParams: [], headerHandle: [] },
          buttons: [],
        },
      ],
    },
    { token: s.bizToken },
  );
  expect(res.template?.status).toBe(2); // APPROVED
}

describe("order notifications", () => {
  it("when an order is placed, paid, shipped, delivered, cancelled and refunded inside the window, then the customer gets one automated text per change, with the reference, total and tracking", async () => {
    const s = await shop(true);
    const orderId = randomUUID();
    const ref = `#${orderId.replace(/-/g, "").slice(0, 8).toUpperCase()}`;
    const events = [
      placed(s, orderId),
      changed(s, orderId, "paid"),
      changed(s, orderId, "shipped", { tracking: { carrier: "DHL", number: "JJD0099", url: "https://track.example/JJD0099" } }),
      changed(s, orderId, "delivered"),
    ];
    for (const e of events) await publish(e.subject, e.payload, e.eventId);
    await handled(orderId, "delivered");
    // A second order of the same customer, cancelled unpaid by the sweeper, and a third refunded.
    const other = randomUUID();
    const third = randomUUID();
    await publish(changed(s, other, "cancelled", { reason: "expired" }).subject, changed(s, other, "cancelled", { reason: "expired" }).payload);
    await publish(changed(s, third, "refunded").subject, changed(s, third, "refunded").payload);
    await handled(other, "cancelled");
    await handled(third, "refunded");

    const messages = await toCustomer(s);
    expect(messages.map(bodyOf)).toEqual([
      `Your order ${ref} has been received (total 12.50 EUR).`,
      `Your order ${ref} is paid.`,
      `Your order ${ref} has shipped. Tracking: DHL JJD0099, https://track.example/JJD0099`,
      `Your order ${ref} has been delivered.`,
      `Your order #${other.replace(/-/g, "").slice(0, 8).toUpperCase()} was cancelled: it was not paid in time.`,
      `Your order #${third.replace(/-/g, "").slice(0, 8).toUpperCase()} was refunded.`,
    ]);
    // Marked as automated, each recorded with its message.
    expect(messages.every((m) => m.bizOpaqueCallbackData.startsWith("auto:order:"))).toBe(true);
    expect(messages.map((m) => m.clientMessageId)).toEqual([`order:${orderId}:placed`, `order:${orderId}:paid`, `order:${orderId}:shipped`, `order:${orderId}:delivered`, `order:${other}:cancelled`, `order:${third}:refunded`]);
    expect(await notificationOf(orderId, "shipped")).toEqual({ outcome: "sent", via: "text", reason: "", message_id: messages[2]!.id });
  });

  it("when an order event is redelivered, or the consumer crashed after sending and before its commit, then no second message is sent", async () => {
    const s = await shop(true);
    const orderId = randomUUID();
    const e = changed(s, orderId, "shipped", { tracking: { carrier: "UPS", number: "1Z999", url: "" } });
    await publish(e.subject, e.payload, e.eventId);
    const first = await handled(orderId, "shipped");
    expect(first.outcome).toBe("sent");

    // The same event again under another NATS message id (the stream's duplicate window does not drop it): processed_events does.
    await publish(e.subject, e.payload, randomUUID());
    // A crash between the send and the consumer's commit: the event was never marked handled, the message was stored.
    await app.runtime.database.pool.query("DELETE FROM processed_events WHERE consumer = $1 AND event_id = $2", [ORDER_NOTIFICATIONS_CONSUMER, e.eventId]);
    await app.runtime.database.pool.query("DELETE FROM order_notification WHERE order_id = $1", [orderId]);
    await publish(e.subject, e.payload, randomUUID());
    const again = await handled(orderId, "shipped");
    // A later event of the same customer, as a barrier: the consumer handles events in order.
    const barrier = changed(s, orderId, "delivered");
    await publish(barrier.subject, barrier.payload, barrier.eventId);
    await handled(orderId, "delivered");

    expect(again).toEqual(first);
    expect((await toCustomer(s)).map(bodyOf)).toEqual([`Your order #${orderId.replace(/-/g, "").slice(0, 8).toUpperCase()} has shipped. Tracking: UPS 1Z999`, `Your order #${orderId.replace(/-/g, "").slice(0, 8).toUpperCase()} has been delivered.`]);
  });

  it("when the customer service window is closed and the business has no order_update template, then nothing is sent and the reason is recorded and counted", async () => {
    const s = await shop(false);
    const before = await sample("kontor_messaging_order_notifications_total", { outcome: "not_sent", detail: "outside_window_no_template", state: "paid" });
    const orderId = randomUUID();
    const e = changed(s, orderId, "paid");
    await publish(e.subject, e.payload, e.eventId);
    expect(await handled(orderId, "paid")).toMatchObject({ outcome: "not_sent", reason: "outside_window_no_template", message_id: "" });
    expect(await toCustomer(s)).toEqual([]);
    expect(await sample("kontor_messaging_order_notifications_total", { outcome: "not_sent", detail: "outside_window_no_template", state: "paid" })).toBe(before + 1);
  });

  it("when the customer service window is closed and the business has an approved order_update template, then the template goes with the reference and the status", async () => {
    // The customer never wrote (an order from the business's shop, not from the chat): the number is the business's own.
    const s = await shop(false);
    await orderUpdateTemplate(s);
    const orderId = randomUUID();
    const e = changed(s, orderId, "shipped", { tracking: { carrier: "DHL", number: "42", url: "" } });
    await publish(e.subject, e.payload, e.eventId);
    const n = await handled(orderId, "shipped");
    const ref = `#${orderId.replace(/-/g, "").slice(0, 8).toUpperCase()}`;
    expect(n).toMatchObject({ outcome: "sent", via: "template" });
    const messages = await toCustomer(s);
    expect(messages.map(bodyOf)).toEqual([`template:order_update:${ref}|has shipped. Tracking: DHL 42`]);
    const rendered = messages[0]!.content?.kind?.$case === "template" ? messages[0]!.content.kind.value.rendered : undefined;
    expect(rendered?.body).toBe(`Update on your order ${ref}: it has shipped. Tracking: DHL 42.`);
  });

  it("when the customer blocked the business, then the customer gets nothing", async () => {
    const s = await shop(true);
    await unaryCall(client.setBusinessBlocked.bind(client), { customerId: s.customerId, businessId: s.businessId, blocked: true }, { token: s.customerToken });
    await waitFor(() => app.blocks.isBlocked(s.customerId, s.businessId), 10_000);
    const orderId = randomUUID();
    const e = changed(s, orderId, "shipped");
    await publish(e.subject, e.payload, e.eventId);
    expect(await handled(orderId, "shipped")).toMatchObject({ outcome: "not_sent", reason: "blocked" });
    expect(await toCustomer(s)).toEqual([]);
  });

  it("when catalog refused the customer's order message, then one reply quotes it and says why, however often the event arrives; counted as rejected", async () => {
    const s = await shop(true);
    const before = await sample("kontor_messaging_order_notifications_total", { outcome: "sent", detail: "text", state: "rejected" });
    const e = await rejected(s, [{ retailerId: "MUG", name: "Clay mug", quantity: 6, available: "2" }]);
    await publish(e.subject, e.payload, e.eventId);
    const first = await handled(e.messageId, "rejected");
    // Delivered again under a new NATS id; a later event as a barrier (the consumer handles events in order).
    await publish(e.subject, e.payload, randomUUID());
    const barrier = changed(s, randomUUID(), "paid");
    await publish(barrier.subject, barrier.payload, barrier.eventId);
    await waitFor(async () => (await toCustomer(s)).length === 2, 20_000);
    const [reply, paid] = await toCustomer(s);
    expect(first).toEqual({ outcome: "sent", via: "text", reason: "", message_id: reply!.id });
    expect(bodyOf(reply!)).toBe("Sorry, we could not take your order: Clay mug is out of stock (2 left).");
    expect(reply!.context?.messageId).toBe(e.messageId);
    expect([reply!.clientMessageId, reply!.bizOpaqueCallbackData]).toEqual([`order-rejected:${e.messageId}`, "auto:order:rejected"]);
    expect(bodyOf(paid!)).toMatch(/is paid\.$/);
    expect(await sample("kontor_messaging_order_notifications_total", { outcome: "sent", detail: "text", state: "rejected" })).toBe(before + 1);
  });

  it("when a customer who blocked the business has an order message refused, then it gets nothing", async () => {
    const s = await shop(true);
    const e = await rejected(s, [{ retailerId: "NOPE", name: "", quantity: 1 }]);
    await unaryCall(client.setBusinessBlocked.bind(client), { customerId: s.customerId, businessId: s.businessId, blocked: true }, { token: s.customerToken });
    await waitFor(() => app.blocks.isBlocked(s.customerId, s.businessId), 10_000);
    await publish(e.subject, e.payload, e.eventId);
    expect(await handled(e.messageId, "rejected")).toMatchObject({ outcome: "not_sent", reason: "blocked" });
    expect(await toCustomer(s)).toEqual([]);
  });
});

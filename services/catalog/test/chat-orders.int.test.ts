import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes, randomUUID } from "node:crypto";
import { OrderState, type CatalogServiceClient, type Order } from "@kontor/proto/catalog/v1/catalog_service";
import { BusinessRegistered } from "@kontor/proto/directory/v1/events";
import { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import type { Content, Message } from "@kontor/proto/messaging/v1/message";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { domainStream } from "@kontor/service-kit/nats";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { streamMessages } from "@kontor/testkit/events";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { createMessaging, type MessagingApp } from "@kontor/messaging/app";
import { loadConfig as loadMessagingConfig } from "@kontor/messaging/config";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { CHAT_ORDERS_CONSUMER } from "../src/events/chat-orders.js";
import { consumed } from "../src/events/subjects.js";
import { buildProductInput, bulkUpsert, call, clientAt } from "./factories.js";

/*
 * The customer's order in the chat, end to end with both services in this
 * process over the real PostgreSQL and NATS: the customer sends a Cloud API
 * `order` message through messaging, catalog makes the order from
 * messaging's message.received (no call on the send path), and messaging
 * tells the customer it was received (catalog's order.placed), or, when
 * catalog refuses it, why (catalog's order.rejected), as a reply to it.
 */
let env: TestEnv;
let messaging: MessagingApp;
let chat: MessagingServiceClient;
let app: CatalogApp;
let client: CatalogServiceClient;
let onboarding: string;
const SLOW = 120_000;

beforeAll(async () => {
  env = await createTestEnv();
  messaging = await createMessaging(loadMessagingConfig(env.env({ MESSAGE_MASTER_KEY: randomBytes(32).toString("base64"), INBOX_SWEEP_MS: "300" })));
  chat = clientFor(MessagingServiceClient, (await messaging.start()).port);
  app = await createCatalog(loadConfig(env.env({ SWEEP_INTERVAL_MS: "0" })));
  client = clientAt((await app.start()).port);
  onboarding = await env.token({ kind: "service", service: "onboarding" });
}, SLOW);

afterAll(async () => {
  chat?.close();
  client?.close();
  await app?.stop();
  await messaging?.stop();
  await env?.cleanup();
});

let n = 0;
const uid = (p: string) => `${p}${++n}${randomBytes(3).toString("hex")}`;

/** A business known to messaging (directory's event), with a catalog of two products, and a customer of messaging. */
async function shop() {
  const businessId = uid("biz_");
  const pn = uid("pn_");
  const nc = await env.nats();
  const eventId = randomUUID();
  const business = BusinessSnapshot.fromPartial({ businessId, displayName: businessId, category: "retail", country: "DE", phoneNumbers: [{ phoneNumberId: pn, e164: `+4915${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}` }], updatedAt: new Date(), version: "1" });
  await nc.jetstream().publish(`${env.natsPrefix}kontor.directory.business.registered.v1`, BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId }, business }).finish(), { msgID: eventId });
  await waitFor(() => messaging.directory.get(pn), 10_000);
  const owner = await env.token({ kind: "business", businessId });
  const catalogId = (await call(client, "createCatalog", { businessId, name: "Mugs" }, owner)).catalog!.id;
  await bulkUpsert(client, catalogId, [buildProductInput({ retailerId: "MUG", inventory: "5", price: { amountMinor: "1250", currency: "EUR" } }), buildProductInput({ retailerId: "CUP", price: { amountMinor: "300", currency: "EUR" } })], owner);
  const customerId = uid("cust");
  await unaryCall(chat.upsertCustomer.bind(chat), { customerId, e164: `+4916${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`, profileName: "Ana", settings: undefined }, { token: onboarding });
  return { businessId, pn, catalogId, owner, customerId, customerToken: await env.token({ kind: "customer", customerId }) };
}
type Shop = Awaited<ReturnType<typeof shop>>;

const orderContent = (catalogId: string, items: { id: string; quantity: number; price?: string }[], text = "for the office"): Content => ({
  kind: { $case: "order", value: { catalogId, text, items: items.map((i) => ({ productRetailerId: i.id, quantity: i.quantity, itemPrice: i.price ? { amountMinor: i.price, currency: "EUR" } : undefined })) } },
});

/** The customer sends an order message to the business's number through messaging; its message id. */
async function sendOrder(s: Shop, content: Content): Promise<string> {
  const res = await unaryCall(
    chat.sendMessage.bind(chat),
    { sender: { kind: { $case: "customerId", value: s.customerId } }, recipient: { kind: { $case: "phoneNumberId", value: s.pn } }, to: "", clientMessageId: uid("cm"), content, context: undefined, bizOpaqueCallbackData: "", referral: undefined },
    { token: s.customerToken },
  );
  return res.result!.messageId;
}

async function ordersOf(s: Shop): Promise<Order[]> {
  return (await call(client, "listOrders", { businessId: s.businessId, states: [], page: undefined }, s.owner)).orders;
}

/** Waits until catalog's consumer has acknowledged every message.received published so far (a barrier for "nothing more happens"). */
async function chatOrdersCaughtUp(): Promise<void> {
  const jsm = await (await env.nats()).jetstreamManager();
  const stream = domainStream(env.natsPrefix, "messaging").name;
  await waitFor(async () => {
    const info = await jsm.consumers.info(stream, CHAT_ORDERS_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }, 20_000);
}

/** The messages of the business number to the customer, as the customer's conversation holds them. */
async function toCustomer(s: Shop): Promise<Message[]> {
  const conv = (await messaging.runtime.database.pool.query<{ id: string }>("SELECT id FROM conversation WHERE phone_number_id = $1 AND customer_id = $2", [s.pn, s.customerId])).rows[0];
  if (!conv) return [];
  const res = await unaryCall(chat.listMessages.bind(chat), { participant: { kind: { $case: "customerId", value: s.customerId } }, conversationId: conv.id, page: { pageSize: 100, pageToken: "" }, newestFirst: false }, { token: s.customerToken });
  return res.messages.filter((m) => m.sender?.kind?.$case === "phoneNumberId");
}

describe("the customer's order in the chat", () => {
  it(
    "when a customer sends an order message through messaging, then catalog makes that order (items, prices, note, stock held) and messaging tells the customer it was received",
    async () => {
      const s = await shop();
      const messageId = await sendOrder(s, orderContent(s.catalogId, [{ id: "MUG", quantity: 2, price: "1250" }, { id: "CUP", quantity: 1 }]));
      await waitFor(async () => (await ordersOf(s)).length === 1, 30_000);
      const [order] = await ordersOf(s);
      expect(order).toMatchObject({ customerId: s.customerId, catalogId: s.catalogId, state: OrderState.ORDER_STATE_PENDING_PAYMENT, source: "chat", note: "for the office", total: { amountMinor: "2800", currency: "EUR" } });
      expect(order!.items.map((i) => [i.productRetailerId, i.quantity, i.unitPrice?.amountMinor])).toEqual([
        ["MUG", 2, "1250"],
        ["CUP", 1, "300"],
      ]);
      const { rows } = await app.runtime.database.pool.query("SELECT source_message_id FROM customer_order WHERE id = $1", [order!.id]);
      expect(rows[0].source_message_id).toBe(messageId);
      // order.placed → messaging's notification, inside the window the order message opened.
      await waitFor(async () => (await toCustomer(s)).length === 1, 30_000);
      const [note] = await toCustomer(s);
      expect(note!.content?.kind).toEqual({ $case: "text", value: { body: `Your order #${order!.id.replace(/-/g, "").slice(0, 8).toUpperCase()} has been received (total 28.00 EUR).`, previewUrl: false } });
    },
    SLOW,
  );

  it(
    "when messaging's message.received of an order is delivered again, twice at once, then there is still one order",
    async () => {
      const s = await shop();
      const messageId = await sendOrder(s, orderContent(s.catalogId, [{ id: "MUG", quantity: 1 }]));
      await waitFor(async () => (await ordersOf(s)).length === 1, 30_000);
      // The stored event, published again under new NATS message ids (the stream's duplicate window would drop the same id).
      const received = (await streamMessages(env, "messaging", consumed.messageReceived)).find((m) => Buffer.from(m.data).includes(Buffer.from(messageId)));
      expect(received).toBeDefined();
      const js = (await env.nats()).jetstream();
      const subject = `${env.natsPrefix}${received!.subject}`;
      await Promise.all([js.publish(subject, received!.data, { msgID: randomUUID() }), js.publish(subject, received!.data, { msgID: randomUUID() })]);
      await chatOrdersCaughtUp();
      expect((await ordersOf(s)).length).toBe(1);
      const { rows } = await app.runtime.database.pool.query("SELECT reserved::text FROM product WHERE catalog_id = $1 AND retailer_id = 'MUG'", [s.catalogId]);
      expect(rows[0].reserved).toBe("1");
    },
    SLOW,
  );

  it(
    "when the order message names another business's catalog, more than the stock or a product not in the catalog, then no order is made",
    async () => {
      const s = await shop();
      const other = await shop();
      await sendOrder(s, orderContent(other.catalogId, [{ id: "MUG", quantity: 1 }]));
      await sendOrder(s, orderContent(s.catalogId, [{ id: "MUG", quantity: 6 }]));
      await sendOrder(s, orderContent(s.catalogId, [{ id: "NOPE", quantity: 1 }]));
      // A good one last, as a barrier: once it is made and the consumer has nothing pending, the others were decided.
      await sendOrder(s, orderContent(s.catalogId, [{ id: "CUP", quantity: 3 }]));
      await waitFor(async () => (await ordersOf(s)).length > 0, 30_000);
      await chatOrdersCaughtUp();
      expect((await ordersOf(s)).map((o) => o.items.map((i) => [i.productRetailerId, i.quantity]))).toEqual([[["CUP", 3]]]);
      expect(await ordersOf(other)).toEqual([]);
    },
    SLOW,
  );

  it(
    "when an order message asks for more than the stock or names a product not in the catalog, then the customer gets one reply to each saying which product and why; the events delivered again, after a restock too, change nothing",
    async () => {
      const s = await shop();
      const tooMany = await sendOrder(s, orderContent(s.catalogId, [{ id: "MUG", quantity: 6 }, { id: "CUP", quantity: 1 }]));
      const unknown = await sendOrder(s, orderContent(s.catalogId, [{ id: "CUP", quantity: 1 }, { id: "NOPE", quantity: 2 }]));
      await waitFor(async () => (await toCustomer(s)).length === 2, 30_000);
      // Each reply quotes its order message (the two may be decided in one batch, so in either order).
      const replies = (await toCustomer(s)).map((m) => [m.context?.messageId, m.content?.kind?.$case === "text" ? m.content.kind.value.body : m.content?.kind?.$case]);
      expect(replies.sort((a, b) => (a[0] === tooMany ? -1 : b[0] === tooMany ? 1 : 0))).toEqual([
        [tooMany, "Sorry, we could not take your order: Clay mug is out of stock (5 left)."],
        [unknown, "Sorry, we could not take your order: NOPE is not in this shop's catalog."],
      ]);
      const rejected = (await streamMessages(env, "catalog", "kontor.catalog.order.rejected.v1")).filter((m) => [tooMany, unknown].some((id) => Buffer.from(m.data).includes(Buffer.from(id))));
      expect(rejected).toHaveLength(2);

      // The stock comes back; both message.received events delivered again (new NATS ids) stay refused and say nothing more.
      const { rows } = await app.runtime.database.pool.query<{ id: string }>("SELECT id FROM product WHERE catalog_id = $1 AND retailer_id = 'MUG'", [s.catalogId]);
      await call(client, "updateProduct", { productId: rows[0]!.id, product: buildProductInput({ inventory: "50" }), updateMask: ["inventory"] }, s.owner);
      const received = (await streamMessages(env, "messaging", consumed.messageReceived)).filter((m) => [tooMany, unknown].some((id) => Buffer.from(m.data).includes(Buffer.from(id))));
      expect(received).toHaveLength(2);
      const js = (await env.nats()).jetstream();
      for (const r of received) await js.publish(`${env.natsPrefix}${r.subject}`, r.data, { msgID: randomUUID() });
      await chatOrdersCaughtUp();
      expect(await ordersOf(s)).toEqual([]);
      // A good order last, as a barrier: messaging takes catalog's order events in stream order, so once its note is there, anything the redeliveries made would be too.
      await sendOrder(s, orderContent(s.catalogId, [{ id: "CUP", quantity: 1 }]));
      await waitFor(async () => (await toCustomer(s)).length >= 3, 30_000);
      expect(await ordersOf(s)).toHaveLength(1);
      const all = await toCustomer(s);
      expect(all).toHaveLength(3);
      expect(all[2]!.content?.kind?.$case === "text" && all[2]!.content.kind.value.body).toMatch(/^Your order #[0-9A-F]{8} has been received/);
      expect((await streamMessages(env, "catalog", "kontor.catalog.order.rejected.v1")).filter((m) => [tooMany, unknown].some((id) => Buffer.from(m.data).includes(Buffer.from(id))))).toHaveLength(2);
    },
    SLOW,
  );
});

import { Counter } from "prom-client";
import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { CatalogDatabase } from "./store/database.js";
import { createCatalogService } from "./domain/catalog-service.js";
import { createOrderService } from "./domain/order-service.js";
import { createCartService } from "./domain/cart-service.js";
import { createCommerceSettingsService } from "./domain/commerce-settings.js";
import { createCommerceSettingsStore } from "./store/commerce-settings-store.js";
import { createSweeper } from "./domain/sweeper.js";
import { decodePaymentEvent, paymentHandler, PAYMENTS_CONSUMER } from "./events/consumers.js";
import { CHAT_ORDERS_CONSUMER, chatOrderHandler, chatOrderRejections, decodeChatOrder } from "./events/chat-orders.js";
import { consumed } from "./events/subjects.js";
import { registerCatalogServer } from "./rpc/catalog-server.js";
import { catalogAccess } from "./rpc/access.js";
import { bounds } from "./rpc/bounds.js";

/** Composition root: build everything from config; start() returns the bound port. */
export async function createCatalog(config: Config, overrides: Partial<Pick<RuntimeOptions, "log" | "afterPublish">> = {}) {
  const rt = await createRuntime<CatalogDatabase>({ name: "catalog", domain: "catalog", config, migrations, access: catalogAccess, bounds, ...overrides });
  const catalog = createCatalogService({ db: rt.db, pool: rt.database.pool, enqueue: rt.enqueue, searchRankCap: config.SEARCH_RANK_CAP });
  const orders = createOrderService({ db: rt.db, schema: rt.schema, enqueue: rt.enqueue, reservationTtlMs: config.RESERVATION_TTL_MS, batch: { max: config.ORDER_BATCH_MAX, inFlight: config.ORDER_BATCH_IN_FLIGHT } });
  const carts = createCartService({ db: rt.db, pool: rt.database.pool, orders });
  const settings = createCommerceSettingsService({ store: createCommerceSettingsStore(rt.db), now: () => new Date() });
  registerCatalogServer(rt.grpc, { catalog, carts, orders, settings }, config.MAX_PAGE_SIZE);

  if (config.CONSUME_PAYMENTS) {
    const mismatches = new Counter({ name: "kontor_catalog_payment_mismatches_total", help: "Payment successes that did not pay their order (another amount or currency, or an order no longer unpaid); each is in payment_mismatch", registers: [rt.metrics.registry] });
    rt.consume({ domain: "payments", subject: consumed.payments, durable: PAYMENTS_CONSUMER, decode: decodePaymentEvent, handle: paymentHandler(rt.db, orders, rt.log, mismatches) });
  }
  if (config.CONSUME_CHAT_ORDERS) {
    // The customer's order message in the chat (messaging's message.received) makes the same order as a checkout.
    const chatOrders = new Counter({ name: "kontor_catalog_chat_orders_total", help: "Customers' order messages by outcome: placed, refused (out of stock, a product not in the catalog, a price changed), foreign_catalog (not the business's)", labelNames: ["outcome"] as const, registers: [rt.metrics.registry] });
    // A final refusal is recorded and emitted as order.rejected (messaging tells the customer why), once per message.
    const handle = chatOrderHandler({ getCatalog: (id) => catalog.getCatalog(id), createChatOrder: orders.createChatOrder, ...chatOrderRejections(rt.db, rt.enqueue), count: (outcome) => chatOrders.inc({ outcome }), log: rt.log });
    rt.consume({ domain: "messaging", subject: consumed.messageReceived, durable: CHAT_ORDERS_CONSUMER, decode: decodeChatOrder, handle, inFlight: 16 });
  }
  const sweeper = createSweeper({ intervalMs: config.SWEEP_INTERVAL_MS, sweep: () => orders.expireDue(), log: rt.log });
  rt.onStart(async () => sweeper.start());
  rt.onStop(() => sweeper.stop());

  return {
    log: rt.log,
    runtime: rt,
    services: { catalog, carts, orders },
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type CatalogApp = Awaited<ReturnType<typeof createCatalog>>;

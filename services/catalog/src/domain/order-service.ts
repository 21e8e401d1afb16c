import type { Kysely } from "kysely";
import { ConcurrentUpdate, InvalidInput, NotFound } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { CatalogDatabase } from "../store/database.js";
import { confirmReservations, findOrder, listOrders, lockExpiredOrders, orderLines, recordChange, recordPaymentMismatch, releaseReservations, restock, setOrderState } from "../store/order-store.js";
import { orderStatusEvent } from "../events/outbox.js";
import type { Catalog } from "./catalog.js";
import { checkTransition, MAX_LINES, paysExactly, MAX_QUANTITY, type Actor, type Address, type Order, type OrderState, type Tracking } from "./order.js";
import { createOrderBatcher, NOTE_LIMIT, type ChatItem } from "./order-batcher.js";
import { orderFromRows } from "./order-rows.js";

type Db = Kysely<CatalogDatabase>;

export interface OrderPorts {
  db: Db;
  /** The service's schema (the order batcher writes the outbox row itself). */
  schema: string;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
  /** How long an unpaid order holds its stock. */
  reservationTtlMs: number;
  /** Group commit of new orders: orders per transaction at most, and transactions in flight at once. */
  batch?: { max: number; inFlight: number };
  now?: () => Date;
}

/** Orders and their state machine; authorization happens in the rpc layer before these run. */
export function createOrderService(ports: OrderPorts) {
  const db = ports.db;
  const batcher = createOrderBatcher({ db, schema: ports.schema, reservationTtlMs: ports.reservationTtlMs, maxBatch: ports.batch?.max ?? 128, inFlight: ports.batch?.inFlight ?? 2, now: ports.now });

  async function load(trx: Db, id: string, lock = false): Promise<Order | undefined> {
    const row = isUuid(id) ? await findOrder(trx, id, lock) : undefined;
    if (!row) return undefined;
    return orderFromRows(row, await orderLines(trx, [row.id]));
  }

  /** Moves a locked order; the stock follows the state; the change and its event commit together. */
  async function move(trx: Db, order: Order, to: OrderState, actor: Actor, extra: { tracking?: Tracking | null; reason?: string } = {}): Promise<Order> {
    checkTransition(order, to, actor);
    const from = order.state;
    if (to === "PAID") await confirmReservations(trx, order.id);
    if (to === "CANCELLED" && from === "PENDING_PAYMENT") await releaseReservations(trx, order.id);
    if (to === "CANCELLED" && from === "PAID") await restock(trx, order.id);
    const row = await setOrderState(trx, order.id, from, {
      state: to,
      tracking: extra.tracking === undefined || (extra.tracking === null && to !== "SHIPPED") ? undefined : extra.tracking,
      paid: to === "PAID",
      clearReservation: from === "PENDING_PAYMENT",
    });
    // Callers hold the order's row lock; this guard keeps a move single even if one did not.
    if (!row) throw new ConcurrentUpdate("the order changed meanwhile, retry");
    await recordChange(trx, { order_id: order.id, from_state: from, to_state: to, actor, reason: extra.reason ?? "" });
    const moved = orderFromRows(row, order.lines.map((l, i) => ({ order_id: order.id, line: i + 1, product_id: l.productId, retailer_id: l.retailerId, name: l.name, quantity: l.quantity, unit_price_minor: l.unitPriceMinor.toString(), line_total_minor: l.lineTotalMinor.toString() })));
    await ports.enqueue(trx, [orderStatusEvent(moved, from, extra.reason ?? "")]);
    return moved;
  }

  return {
    /**
     * The order a customer sent in the chat: a catalog and retailer ids with
     * quantities (and the prices it saw). With the order message's id, one
     * message makes one order: placing it again answers that order.
     */
    async createChatOrder(customerId: string, catalog: Catalog, text: string, items: ChatItem[], options: { messageId?: string } = {}): Promise<Order> {
      if (items.length === 0) throw new InvalidInput("items", "must name at least one product");
      if (items.length > MAX_LINES) throw new InvalidInput("items", `an order holds at most ${MAX_LINES} products`);
      if (text.length > NOTE_LIMIT) throw new InvalidInput("note", `must be at most ${NOTE_LIMIT} characters`);
      const seen = new Set<string>();
      items.forEach((it, i) => {
        if (!it.retailerId.trim()) throw new InvalidInput(`items[${i}].product_retailer_id`, "is required");
        if (seen.has(it.retailerId)) throw new InvalidInput(`items[${i}].product_retailer_id`, "appears twice");
        seen.add(it.retailerId);
        if (!Number.isInteger(it.quantity) || it.quantity < 1 || it.quantity > MAX_QUANTITY) throw new InvalidInput(`items[${i}].quantity`, `must be between 1 and ${MAX_QUANTITY}`);
      });
      return batcher.place({ kind: "chat", customerId, catalog, text, items, messageId: options.messageId });
    },

    /**
     * The cart becomes an order at today's prices, with its stock held; the
     * cart empties in the same transaction. With expectedTotal, a different
     * total today orders nothing (PRICES_CHANGED).
     */
    checkout(customerId: string, businessId: string, options: { note: string; deliveryAddress: Address | null; expectedTotal?: { amountMinor: bigint; currency: string } }): Promise<Order> {
      if (options.note.length > NOTE_LIMIT) throw new InvalidInput("note", `must be at most ${NOTE_LIMIT} characters`);
      return batcher.place({ kind: "cart", customerId, businessId, note: options.note, deliveryAddress: options.deliveryAddress, expectedTotal: options.expectedTotal });
    },

    async getOrder(id: string): Promise<Order> {
      const order = await load(db, id);
      if (!order) throw new NotFound("order");
      return order;
    },

    async listOrders(by: { businessId: string } | { customerId: string }, states: OrderState[], limit: number, after: { createdAt: Date; id: string } | undefined): Promise<Order[]> {
      const rows = await listOrders(db, by, states, limit, after);
      const lines = await orderLines(db, rows.map((r) => r.id));
      return rows.map((r) => orderFromRows(r, lines.filter((l) => l.order_id === r.id)));
    },

    /** A business or customer moves an order; the order is re-read under its lock. */
    async updateStatus(orderId: string, to: OrderState, actor: Actor, extra: { tracking: Tracking | null; note: string }): Promise<Order> {
      return db.transaction().execute(async (trx) => {
        const order = await load(trx, orderId, true);
        if (!order) throw new NotFound("order");
        return move(trx, order, to, actor, { tracking: extra.tracking, reason: extra.note });
      });
    },

    /**
     * Payments' outcome for an order, inside the consumer's transaction (the
     * kit's once()). A move the state machine does not allow (a payment for
     * an order that expired) changes nothing; the caller logs it.
     */
    async applyPayment(
      trx: Db,
      orderId: string,
      outcome: "succeeded" | "failed" | "refunded",
      payment: { eventId: string; paymentId: string; amount: { amountMinor: bigint; currency: string } | undefined },
    ): Promise<{ applied: boolean; state?: OrderState; mismatch?: { reason: string; paid: string; total: string } }> {
      const order = await load(trx, orderId, true);
      if (!order) return { applied: false };
      const to: OrderState = outcome === "succeeded" ? "PAID" : outcome === "refunded" ? "REFUNDED" : "CANCELLED";
      const paid = payment.amount;
      // Money taken that does not pay the order is kept for someone to refund or settle.
      const mismatch = async (reason: "AMOUNT" | "ORDER_NOT_PAYABLE") => {
        await recordPaymentMismatch(trx, {
          event_id: payment.eventId,
          order_id: order.id,
          payment_id: payment.paymentId,
          paid_minor: paid ? paid.amountMinor.toString() : null,
          paid_currency: paid?.currency ?? "",
          total_minor: order.totalMinor.toString(),
          currency: order.currency,
          reason,
          order_state: order.state,
        });
        return { applied: false, state: order.state, mismatch: { reason, paid: paid ? `${paid.amountMinor} ${paid.currency}` : "none", total: `${order.totalMinor} ${order.currency}` } };
      };
      if (outcome === "failed" && order.state !== "PENDING_PAYMENT") return { applied: false, state: order.state };
      try {
        checkTransition(order, to, "payments");
      } catch {
        // A success for an order that expired, was cancelled or is paid already: the order stays as it is.
        if (outcome === "succeeded") return mismatch("ORDER_NOT_PAYABLE");
        return { applied: false, state: order.state };
      }
      if (outcome === "succeeded" && !paysExactly(order, paid)) return mismatch("AMOUNT");
      await move(trx, order, to, "payments", { reason: outcome === "failed" ? "payment_failed" : "" });
      return { applied: true, state: to };
    },

    /**
     * One sweep: cancels up to `limit` unpaid orders whose reservation ran
     * out and returns their stock. FOR UPDATE SKIP LOCKED: replicas sweeping
     * at once take different orders, and an order a payment is moving is left for the next sweep.
     */
    async expireDue(limit = 100): Promise<number> {
      return db.transaction().execute(async (trx) => {
        const ids = await lockExpiredOrders(trx, limit);
        for (const id of ids) {
          const order = await load(trx, id);
          if (order) await move(trx, order, "CANCELLED", "sweeper", { reason: "expired" });
        }
        return ids.length;
      });
    },
  };
}

export type OrderService = ReturnType<typeof createOrderService>;

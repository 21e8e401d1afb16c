import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { ConcurrentUpdate, InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { CatalogDatabase } from "../store/database.js";
import type { OrderLineRow, OrderRow } from "../store/commerce.table.js";
import {
  confirmReservations,
  findOrder,
  insertLines,
  insertOrder,
  listOrders,
  lockExpiredOrders,
  orderLines,
  recordChange,
  releaseReservations,
  reserveStock,
  restock,
  setOrderState,
} from "../store/order-store.js";
import { findByRetailerIds } from "../store/product-store.js";
import { orderPlacedEvent, orderStatusEvent } from "../events/outbox.js";
import { productRowToProduct, type Catalog } from "./catalog.js";
import { checkTransition, MAX_LINES, MAX_QUANTITY, priceLines, type Actor, type Address, type Order, type OrderLine, type OrderState, type Tracking } from "./order.js";
import { effectivePriceMinor, purchasable, type Product } from "./product.js";

type Db = Kysely<CatalogDatabase>;

export interface OrderPorts {
  db: Db;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
  /** How long an unpaid order holds its stock. */
  reservationTtlMs: number;
  now?: () => Date;
}

export function orderFromRows(row: OrderRow, lines: OrderLineRow[]): Order {
  return {
    id: row.id,
    businessId: row.business_id,
    customerId: row.customer_id,
    catalogId: row.catalog_id,
    state: row.state as OrderState,
    currency: row.currency.trim(),
    lines: lines.map((l) => ({
      productId: l.product_id,
      retailerId: l.retailer_id,
      name: l.name,
      quantity: l.quantity,
      unitPriceMinor: BigInt(l.unit_price_minor),
      lineTotalMinor: BigInt(l.line_total_minor),
    })),
    subtotalMinor: BigInt(row.subtotal_minor),
    totalMinor: BigInt(row.total_minor),
    note: row.note,
    deliveryAddress: (row.delivery_address as Address | null) ?? null,
    tracking: (row.tracking as Tracking | null) ?? null,
    source: row.source as "cart" | "chat",
    reservedUntil: row.reserved_until,
    paidAt: row.paid_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** One priced line to order: a product at today's price. */
export interface LineToOrder {
  product: Product;
  quantity: number;
  /** Where the line came from in the request, for errors ("items[2]"). */
  field: string;
}

export interface PlaceOrder {
  businessId: string;
  customerId: string;
  catalogId: string;
  currency: string;
  lines: LineToOrder[];
  note: string;
  deliveryAddress: Address | null;
  source: "cart" | "chat";
}

const NOTE_LIMIT = 1024;

/** Orders and their state machine; authorization happens in the rpc layer before these run. */
export function createOrderService(ports: OrderPorts) {
  const db = ports.db;
  const now = ports.now ?? (() => new Date());

  async function load(trx: Db, id: string, lock = false): Promise<Order | undefined> {
    const row = isUuid(id) ? await findOrder(trx, id, lock) : undefined;
    if (!row) return undefined;
    return orderFromRows(row, await orderLines(trx, [row.id]));
  }

  /**
   * Writes the order, its lines and its placed event, then holds the stock,
   * last, so each product row stays locked only until the commit right after.
   * A short product undoes everything: FAILED_PRECONDITION OUT_OF_STOCK.
   */
  async function place(trx: Db, p: PlaceOrder): Promise<Order> {
    if (p.lines.length === 0) throw new PolicyRefused("CART_EMPTY", "there is nothing to order");
    if (p.lines.length > MAX_LINES) throw new InvalidInput("items", `an order holds at most ${MAX_LINES} products`);
    if (p.note.length > NOTE_LIMIT) throw new InvalidInput("note", `must be at most ${NOTE_LIMIT} characters`);
    const at = now();
    for (const l of p.lines) {
      if (!purchasable(l.product)) throw new PolicyRefused("PRODUCT_UNAVAILABLE", `${l.product.retailerId} cannot be ordered now`, 0, l.field);
      if (l.product.price.currency !== p.currency) throw new PolicyRefused("CURRENCY_MISMATCH", `${l.product.retailerId} is priced in ${l.product.price.currency}, the order in ${p.currency}`, 0, l.field);
    }
    const { lines, totalMinor } = priceLines(
      p.lines.map((l) => ({ productId: l.product.id, retailerId: l.product.retailerId, name: l.product.name, quantity: l.quantity, unitPriceMinor: effectivePriceMinor(l.product, at) })),
    );
    const id = randomUUID();
    const row = await insertOrder(
      trx,
      {
        id,
        business_id: p.businessId,
        customer_id: p.customerId,
        catalog_id: p.catalogId,
        currency: p.currency,
        subtotal_minor: totalMinor.toString(),
        total_minor: totalMinor.toString(),
        note: p.note,
        delivery_address: p.deliveryAddress,
        source: p.source,
      },
      ports.reservationTtlMs,
    );
    const lineRows: OrderLineRow[] = lines.map((l: OrderLine, i) => ({
      order_id: id,
      line: i + 1,
      product_id: l.productId,
      retailer_id: l.retailerId,
      name: l.name,
      quantity: l.quantity,
      unit_price_minor: l.unitPriceMinor.toString(),
      line_total_minor: l.lineTotalMinor.toString(),
    }));
    await insertLines(trx, lineRows);
    await recordChange(trx, { order_id: id, from_state: null, to_state: "PENDING_PAYMENT", actor: "customer", reason: p.source });
    const order = orderFromRows(row, lineRows);
    await ports.enqueue(trx, [orderPlacedEvent(order)]);
    // Product order, so two orders sharing products lock them in the same order (no deadlock).
    const byProduct = [...p.lines].sort((a, b) => (a.product.id < b.product.id ? -1 : 1));
    for (const l of byProduct) {
      if (!(await reserveStock(trx, id, l.product.id, l.quantity))) {
        throw new PolicyRefused("OUT_OF_STOCK", `${l.product.retailerId} has fewer than ${l.quantity} units left`, 0, l.field);
      }
    }
    return order;
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
    place,

    /** The order a customer sent in the chat: a catalog and retailer ids with quantities (and the prices it saw). */
    async createChatOrder(customerId: string, catalog: Catalog, text: string, items: { retailerId: string; quantity: number; itemPrice?: { amountMinor: string; currency: string } }[]): Promise<Order> {
      if (items.length === 0) throw new InvalidInput("items", "must name at least one product");
      if (items.length > MAX_LINES) throw new InvalidInput("items", `an order holds at most ${MAX_LINES} products`);
      const seen = new Set<string>();
      items.forEach((it, i) => {
        if (!it.retailerId.trim()) throw new InvalidInput(`items[${i}].product_retailer_id`, "is required");
        if (seen.has(it.retailerId)) throw new InvalidInput(`items[${i}].product_retailer_id`, "appears twice");
        seen.add(it.retailerId);
        if (!Number.isInteger(it.quantity) || it.quantity < 1 || it.quantity > MAX_QUANTITY) throw new InvalidInput(`items[${i}].quantity`, `must be between 1 and ${MAX_QUANTITY}`);
      });
      return db.transaction().execute(async (trx) => {
        const rows = await findByRetailerIds(trx, catalog.id, items.map((i) => i.retailerId));
        const byRetailer = new Map(rows.map((r) => [r.retailer_id, productRowToProduct(r)]));
        const at = now();
        const lines: LineToOrder[] = items.map((it, i) => {
          const product = byRetailer.get(it.retailerId);
          if (!product || product.archived || !product.visible) throw new PolicyRefused("PRODUCT_NOT_IN_CATALOG", `product ${it.retailerId.slice(0, 100)} is not in the catalog`, 131009, `items[${i}].product_retailer_id`);
          if (it.itemPrice) {
            const sameCurrency = it.itemPrice.currency === product.price.currency;
            let seenMinor: bigint | undefined;
            try {
              seenMinor = BigInt(it.itemPrice.amountMinor);
            } catch {
              throw new InvalidInput(`items[${i}].item_price.amount_minor`, "must be an integer");
            }
            if (!sameCurrency) throw new PolicyRefused("CURRENCY_MISMATCH", `${product.retailerId} is priced in ${product.price.currency}`, 0, `items[${i}].item_price.currency`);
            if (seenMinor !== effectivePriceMinor(product, at)) throw new PolicyRefused("PRICE_CHANGED", `the price of ${product.retailerId} has changed`, 0, `items[${i}].item_price`);
          }
          return { product, quantity: it.quantity, field: `items[${i}]` };
        });
        const currency = lines[0]!.product.price.currency;
        return place(trx, { businessId: catalog.businessId, customerId, catalogId: catalog.id, currency, lines, note: text, deliveryAddress: null, source: "chat" });
      });
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
    async applyPayment(trx: Db, orderId: string, outcome: "succeeded" | "failed" | "refunded"): Promise<{ applied: boolean; state?: OrderState }> {
      const order = await load(trx, orderId, true);
      if (!order) return { applied: false };
      const to: OrderState = outcome === "succeeded" ? "PAID" : outcome === "refunded" ? "REFUNDED" : "CANCELLED";
      if (outcome === "failed" && order.state !== "PENDING_PAYMENT") return { applied: false, state: order.state };
      try {
        checkTransition(order, to, "payments");
      } catch {
        return { applied: false, state: order.state };
      }
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

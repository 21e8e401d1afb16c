import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { InvalidInput, KontorError, PolicyRefused } from "@kontor/service-kit/errors";
import { encodeOutboxBatch, outboxChannel, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { CatalogDatabase } from "../store/database.js";
import type { CartRow, OrderLineRow } from "../store/commerce.table.js";
import { itemsOfCarts, lockCarts, lockProducts, orderLines, ordersOfMessages, productIdsByRetailer, writeOrders, type NewOrder } from "../store/order-store.js";
import { orderPlacedEvent } from "../events/outbox.js";
import { productRowToProduct, type Catalog } from "./catalog.js";
import { MAX_LINES, priceLines, type Address, type Order, type RefusedItem } from "./order.js";
import { orderFromRows } from "./order-rows.js";
import { effectivePriceMinor, purchasable, type Product } from "./product.js";

type Db = Kysely<CatalogDatabase>;

export const NOTE_LIMIT = 1024;

export interface ChatItem {
  retailerId: string;
  quantity: number;
  /** The price the customer saw, when the chat order carried one. */
  itemPrice?: { amountMinor: string; currency: string };
}

/** An item a refusal is about: what a chat order's rejection tells the customer. */
/**
 * A refusal of a new order that names every item it is about (all the
 * unknown products, all the short ones, …); its message and field are the
 * first item's, as for any refusal.
 */
export class OrderRefused extends PolicyRefused {
  constructor(
    reason: string,
    message: string,
    cloudApiCode: number,
    field: string,
    readonly items: RefusedItem[],
  ) {
    super(reason, message, cloudApiCode, field);
  }
}

const known = (p: Product | undefined) => (p && !p.archived && p.visible ? p.name : "");

/** What places an order: a customer's cart, or the Cloud API order message from the chat. */
export type OrderRequest =
  | { kind: "cart"; customerId: string; businessId: string; note: string; deliveryAddress: Address | null; expectedTotal?: { amountMinor: bigint; currency: string } }
  | { kind: "chat"; customerId: string; catalog: Catalog; text: string; items: ChatItem[]; messageId?: string };

interface Waiting {
  request: OrderRequest;
  resolve(order: Order): void;
  reject(err: unknown): void;
}

interface Line {
  product: Product;
  quantity: number;
  /** Where the line came from in the request, for errors ("items[2]"). */
  field: string;
}

export interface BatcherPorts {
  db: Db;
  /** The service's schema: its outbox table and the relay's NOTIFY channel. */
  schema: string;
  reservationTtlMs: number;
  /** Orders in one transaction at most. */
  maxBatch: number;
  /** Batch transactions in flight at once. */
  inFlight: number;
  now?: () => Date;
}

const cartKey = (customerId: string, businessId: string) => `${customerId}\u0000${businessId}`;
const productKey = (catalogId: string, retailerId: string) => `${catalogId}\u0000${retailerId}`;

/**
 * Group commit of new orders. Checkouts and chat orders that arrive while
 * a batch transaction is in flight wait and go together in the next one:
 * the carts are locked in one statement, the products in another (both in
 * id order, so batches on other replicas never deadlock with this one),
 * every order is decided in memory against the locked stock in arrival
 * order, and the winners are written with one multi-row statement per
 * table plus one reservation UPDATE guarded by what is left, and one
 * commit. A refused order (out of stock, prices changed, …) writes
 * nothing and does not disturb the others. A product row is locked once
 * per batch instead of once per order, so a hot SKU sells a batch per
 * commit. When a batch's transaction itself fails (a lost connection, a
 * deadlock with another writer), its orders are retried one transaction
 * each, so one cannot take the others down.
 */
export function createOrderBatcher(ports: BatcherPorts) {
  const queue: Waiting[] = [];
  let running = 0;
  const now = ports.now ?? (() => new Date());

  /** Turns one request into priced lines under the batch's locks; throws the refusal. */
  function linesOf(w: Waiting, carts: Map<string, CartRow>, items: Map<string, { product_id: string; quantity: number }[]>, products: Map<string, Product>, byRetailer: Map<string, string>, at: Date) {
    const r = w.request;
    if (r.kind === "cart") {
      const cart = carts.get(cartKey(r.customerId, r.businessId));
      const held = cart ? (items.get(cart.id) ?? []) : [];
      if (!cart || held.length === 0) throw new PolicyRefused("CART_EMPTY", "the cart is empty");
      const lines: Line[] = held.map((i, n) => {
        const product = products.get(i.product_id);
        if (!product) throw new PolicyRefused("PRODUCT_UNAVAILABLE", "a product of the cart cannot be ordered now", 0, `items[${n}]`);
        return { product, quantity: i.quantity, field: `items[${n}]` };
      });
      const currency = cart.currency?.trim() || lines[0]!.product.price.currency;
      return { businessId: r.businessId, catalogId: cart.catalog_id, cartId: cart.id, currency, lines, note: r.note, deliveryAddress: r.deliveryAddress, source: "cart" as const };
    }
    const found = r.items.map((it) => {
      const id = byRetailer.get(productKey(r.catalog.id, it.retailerId));
      return id === undefined ? undefined : products.get(id);
    });
    // Every refusal names all the items it is about (the customer is told which), its message the first one's.
    const missing = r.items.flatMap((it, i) => (found[i] && !found[i].archived && found[i].visible ? [] : [i]));
    if (missing.length > 0) {
      const i = missing[0]!;
      throw new OrderRefused("PRODUCT_NOT_IN_CATALOG", `product ${r.items[i]!.retailerId.slice(0, 100)} is not in the catalog`, 131009, `items[${i}].product_retailer_id`, missing.map((m) => ({ retailerId: r.items[m]!.retailerId, name: "", quantity: r.items[m]!.quantity })));
    }
    const seen = r.items.map((it, i) => {
      if (!it.itemPrice) return undefined;
      try {
        return BigInt(it.itemPrice.amountMinor);
      } catch {
        throw new InvalidInput(`items[${i}].item_price.amount_minor`, "must be an integer");
      }
    });
    const today = (p: Product) => ({ amountMinor: effectivePriceMinor(p, at), currency: p.price.currency });
    const asRefused = (ids: number[]) => ids.map((i) => ({ retailerId: r.items[i]!.retailerId, name: found[i]!.name, quantity: r.items[i]!.quantity, price: today(found[i]!) }));
    const otherCurrency = r.items.flatMap((it, i) => (it.itemPrice && it.itemPrice.currency !== found[i]!.price.currency ? [i] : []));
    if (otherCurrency.length > 0) {
      const i = otherCurrency[0]!;
      throw new OrderRefused("CURRENCY_MISMATCH", `${found[i]!.retailerId} is priced in ${found[i]!.price.currency}`, 0, `items[${i}].item_price.currency`, asRefused(otherCurrency));
    }
    const changed = r.items.flatMap((_, i) => (seen[i] !== undefined && seen[i] !== effectivePriceMinor(found[i]!, at) ? [i] : []));
    if (changed.length > 0) {
      const i = changed[0]!;
      throw new OrderRefused("PRICE_CHANGED", `the price of ${found[i]!.retailerId} has changed`, 0, `items[${i}].item_price`, asRefused(changed));
    }
    const lines: Line[] = r.items.map((it, i) => ({ product: found[i]!, quantity: it.quantity, field: `items[${i}]` }));
    return { businessId: r.catalog.businessId, catalogId: r.catalog.id, cartId: undefined, currency: lines[0]!.product.price.currency, lines, note: r.text, deliveryAddress: null, source: "chat" as const };
  }

  async function commit(all: Waiting[]): Promise<{ w: Waiting; order?: Order; error?: KontorError }[]> {
    return ports.db.transaction().execute(async (trx) => {
      const at = now();
      // An order message already made into an order (a redelivered event): its order, nothing new.
      const messageIds = all.flatMap((w) => (w.request.kind === "chat" && w.request.messageId ? [w.request.messageId] : []));
      const made = await ordersOfMessages(trx, messageIds);
      const settled: { w: Waiting; order?: Order; error?: KontorError }[] = [];
      let batch = all;
      if (made.length > 0) {
        const lines = await orderLines(trx, made.map((o) => o.id));
        const byMessage = new Map(made.map((o) => [o.source_message_id!, orderFromRows(o, lines.filter((l) => l.order_id === o.id))]));
        batch = [];
        for (const w of all) {
          const order = w.request.kind === "chat" && w.request.messageId ? byMessage.get(w.request.messageId) : undefined;
          if (order) settled.push({ w, order });
          else batch.push(w);
        }
      }
      const cartRequests = batch.flatMap((w) => (w.request.kind === "cart" ? [w.request] : []));
      const cartRows = await lockCarts(trx, cartRequests.map((r) => ({ customerId: r.customerId, businessId: r.businessId })));
      const carts = new Map(cartRows.map((c) => [cartKey(c.customer_id, c.business_id), c]));
      const items = new Map<string, { product_id: string; quantity: number }[]>();
      for (const i of await itemsOfCarts(trx, cartRows.map((c) => c.id))) {
        const list = items.get(i.cart_id) ?? [];
        list.push(i);
        items.set(i.cart_id, list);
      }
      const wanted = batch.flatMap((w) => (w.request.kind === "chat" ? w.request.items.map((it) => ({ catalogId: (w.request as { catalog: Catalog }).catalog.id, retailerId: it.retailerId })) : []));
      const byRetailer = new Map((await productIdsByRetailer(trx, wanted)).map((p) => [productKey(p.catalog_id, p.retailer_id), p.id]));
      const ids = new Set<string>([...byRetailer.values()]);
      for (const list of items.values()) for (const i of list) ids.add(i.product_id);
      const locked = await lockProducts(trx, [...ids]);
      const products = new Map(locked.rows.map((row) => [row.id, productRowToProduct(row)]));

      // Decide every order in arrival order against what the locked rows have left.
      const left = new Map<string, bigint>();
      const winners: { w: Waiting; order: NewOrder; lines: OrderLineRow[]; cartId?: string; byLine: Line[] }[] = [];
      for (const w of batch) {
        try {
          const p = linesOf(w, carts, items, products, byRetailer, at);
          if (p.lines.length > MAX_LINES) throw new InvalidInput("items", `an order holds at most ${MAX_LINES} products`);
          if (p.note.length > NOTE_LIMIT) throw new InvalidInput("note", `must be at most ${NOTE_LIMIT} characters`);
          const item = (l: Line) => ({ retailerId: l.product.retailerId, name: known(l.product), quantity: l.quantity });
          const unavailable = p.lines.filter((l) => !purchasable(l.product));
          if (unavailable.length > 0) throw new OrderRefused("PRODUCT_UNAVAILABLE", `${unavailable[0]!.product.retailerId} cannot be ordered now`, 0, unavailable[0]!.field, unavailable.map(item));
          const mixed = p.lines.filter((l) => l.product.price.currency !== p.currency);
          if (mixed.length > 0) {
            const l = mixed[0]!;
            throw new OrderRefused("CURRENCY_MISMATCH", `${l.product.retailerId} is priced in ${l.product.price.currency}, the order in ${p.currency}`, 0, l.field, mixed.map((m) => ({ ...item(m), price: { amountMinor: effectivePriceMinor(m.product, at), currency: m.product.price.currency } })));
          }
          const { lines, totalMinor } = priceLines(p.lines.map((l) => ({ productId: l.product.id, retailerId: l.product.retailerId, name: l.product.name, quantity: l.quantity, unitPriceMinor: effectivePriceMinor(l.product, at) })));
          const expected = w.request.kind === "cart" ? w.request.expectedTotal : undefined;
          if (expected && (expected.currency !== p.currency || expected.amountMinor !== totalMinor)) {
            throw new PolicyRefused("PRICES_CHANGED", `the total is now ${totalMinor} ${p.currency} (minor units)`, 0, "expected_total");
          }
          const short: { l: Line; has: bigint }[] = [];
          for (const l of p.lines) {
            if (l.product.inventory === null) continue;
            const has = left.get(l.product.id) ?? l.product.inventory - l.product.reserved;
            if (has < BigInt(l.quantity)) short.push({ l, has: has < 0n ? 0n : has });
          }
          if (short.length > 0) {
            const { l } = short[0]!;
            throw new OrderRefused("OUT_OF_STOCK", `${l.product.retailerId} has fewer than ${l.quantity} units left`, 0, l.field, short.map((x) => ({ ...item(x.l), available: x.has })));
          }
          for (const l of p.lines) if (l.product.inventory !== null) left.set(l.product.id, (left.get(l.product.id) ?? l.product.inventory - l.product.reserved) - BigInt(l.quantity));
          const id = randomUUID();
          winners.push({
            w,
            cartId: p.cartId,
            byLine: p.lines,
            order: {
              id,
              business_id: p.businessId,
              customer_id: w.request.customerId,
              catalog_id: p.catalogId,
              currency: p.currency,
              subtotal_minor: totalMinor.toString(),
              total_minor: totalMinor.toString(),
              note: p.note,
              delivery_address: p.deliveryAddress,
              source: p.source,
              source_message_id: (w.request.kind === "chat" && w.request.messageId) || null,
            },
            lines: lines.map((l, i) => ({ order_id: id, line: i + 1, product_id: l.productId, retailer_id: l.retailerId, name: l.name, quantity: l.quantity, unit_price_minor: l.unitPriceMinor.toString(), line_total_minor: l.lineTotalMinor.toString() })),
          });
        } catch (err) {
          if (!(err instanceof KontorError)) throw err;
          settled.push({ w, error: err });
        }
      }
      if (winners.length === 0) return settled;

      // The transaction's clock (every order needs a product, so the lock read it): the rows and their events carry the same times.
      const createdAt = locked.now!;
      const reservedUntil = new Date(createdAt.getTime() + ports.reservationTtlMs);
      const perProduct = new Map<string, bigint>();
      const reservations: { order_id: string; product_id: string; quantity: string }[] = [];
      for (const x of winners) {
        for (const l of x.byLine) {
          perProduct.set(l.product.id, (perProduct.get(l.product.id) ?? 0n) + BigInt(l.quantity));
          reservations.push({ order_id: x.order.id, product_id: l.product.id, quantity: String(l.quantity) });
        }
      }
      const events: OutboxEvent[] = [];
      const placed: { w: Waiting; order: Order }[] = [];
      for (const x of winners) {
        const row = { ...x.order, delivery_address: x.order.delivery_address as unknown, state: "PENDING_PAYMENT", tracking: null, reserved_until: reservedUntil, paid_at: null, created_at: createdAt, updated_at: createdAt };
        const order = orderFromRows(row, x.lines);
        events.push(orderPlacedEvent(order));
        placed.push({ w: x.w, order });
      }
      const took = await writeOrders(trx, {
        orders: winners.map((x) => ({ ...x.order, created_at: createdAt, reserved_until: reservedUntil })),
        lines: winners.flatMap((x) => x.lines),
        perProduct: [...perProduct].map(([productId, quantity]) => ({ productId, quantity })),
        reservations,
        cartIds: winners.flatMap((x) => (x.cartId ? [x.cartId] : [])),
        outbox: { schema: ports.schema, payload: encodeOutboxBatch(events), channel: outboxChannel(ports.schema) },
      });
      // Decided under the rows' locks: a short product here is a bug, and the whole batch is undone.
      if (took !== perProduct.size) throw new Error(`reservation took ${took} of ${perProduct.size} products`);
      settled.push(...placed);
      return settled;
    });
  }

  /** The next batch: up to maxBatch waiting orders, one per cart (a second checkout of a cart waits for the next batch). */
  function take(): Waiting[] {
    const batch: Waiting[] = [];
    const later: Waiting[] = [];
    const seen = new Set<string>();
    while (queue.length > 0 && batch.length < ports.maxBatch) {
      const w = queue.shift()!;
      if (w.request.kind === "cart") {
        const key = cartKey(w.request.customerId, w.request.businessId);
        if (seen.has(key)) {
          later.push(w);
          continue;
        }
        seen.add(key);
      }
      batch.push(w);
    }
    queue.unshift(...later);
    return batch;
  }

  async function drain(): Promise<void> {
    running++;
    try {
      while (queue.length > 0) {
        const batch = take();
        try {
          for (const s of await commit(batch)) (s.order ? s.w.resolve(s.order) : s.w.reject(s.error));
        } catch {
          for (const one of batch) {
            try {
              const [s] = await commit([one]);
              (s!.order ? one.resolve(s!.order) : one.reject(s!.error));
            } catch (err) {
              one.reject(err);
            }
          }
        }
      }
    } finally {
      running--;
    }
  }

  /**
   * A batch starts one turn of the event loop after the order that asked
   * for it: every order queued in the same turn (a burst of calls, a
   * stream's chunk) joins it, decided in the order it was queued, instead
   * of the first ones going alone in batches that then race each other.
   */
  let scheduled = false;
  function start(): void {
    scheduled = false;
    while (queue.length > 0 && running < ports.inFlight) {
      const before = queue.length;
      void drain();
      // drain() took its first batch synchronously; stop when nothing was left for another.
      if (queue.length === before) break;
    }
  }

  /** Chat orders by message id while they wait or commit: the same message placed again shares the first's outcome. */
  const placing = new Map<string, Promise<Order>>();

  function enqueue(request: OrderRequest): Promise<Order> {
    return new Promise<Order>((resolve, reject) => {
      queue.push({ request, resolve, reject });
      if (running < ports.inFlight && !scheduled) {
        scheduled = true;
        setImmediate(start);
      }
    });
  }

  return {
    /**
     * Places one order with whatever else is waiting; a refusal rejects with
     * its reason. A chat order with a message id is placed once: again, it
     * answers the order already made from that message.
     */
    place(request: OrderRequest): Promise<Order> {
      const messageId = request.kind === "chat" ? request.messageId : undefined;
      if (!messageId) return enqueue(request);
      const pending = placing.get(messageId);
      if (pending) return pending;
      const p = enqueue(request).finally(() => placing.delete(messageId));
      placing.set(messageId, p);
      return p;
    },
  };
}

export type OrderBatcher = ReturnType<typeof createOrderBatcher>;

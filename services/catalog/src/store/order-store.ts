import { sql, type Kysely } from "kysely";
import type { CatalogDatabase } from "./database.js";
import type { CartRow, OrderLineRow, OrderRow } from "./commerce.table.js";
import type { ProductRow } from "./product.table.js";

type Db = Kysely<CatalogDatabase>;

export async function findCart(db: Db, customerId: string, businessId: string, lock = false): Promise<CartRow | undefined> {
  let q = db.selectFrom("cart").selectAll().where("customer_id", "=", customerId).where("business_id", "=", businessId);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** The customer's cart with the business, created when missing, locked for the caller's transaction. */
export async function lockOrCreateCart(db: Db, row: { id: string; customer_id: string; business_id: string; catalog_id: string }): Promise<CartRow> {
  // DO UPDATE (not DO NOTHING) returns the existing row and holds its lock, in one statement.
  return db
    .insertInto("cart")
    .values(row)
    .onConflict((oc) => oc.constraint("cart_customer_key").doUpdateSet({ updated_at: sql<Date>`now()` }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function cartItems(db: Db, cartId: string): Promise<{ product_id: string; quantity: number }[]> {
  return db.selectFrom("cart_item").select(["product_id", "quantity"]).where("cart_id", "=", cartId).orderBy("added_at").orderBy("product_id").execute();
}

export interface NewOrder {
  id: string;
  business_id: string;
  customer_id: string;
  catalog_id: string;
  currency: string;
  subtotal_minor: string;
  total_minor: string;
  note: string;
  delivery_address: unknown;
  source: string;
}

export async function insertLines(db: Db, lines: OrderLineRow[]): Promise<void> {
  if (lines.length > 0) await db.insertInto("order_line").values(lines).execute();
}

export async function findOrder(db: Db, id: string, lock = false): Promise<OrderRow | undefined> {
  let q = db.selectFrom("customer_order").selectAll().where("id", "=", id);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function orderLines(db: Db, orderIds: string[]): Promise<OrderLineRow[]> {
  if (orderIds.length === 0) return [];
  return db.selectFrom("order_line").selectAll().where("order_id", "in", orderIds).orderBy("order_id").orderBy("line").execute();
}

export async function listOrders(
  db: Db,
  by: { businessId: string } | { customerId: string },
  states: string[],
  limit: number,
  after: { createdAt: Date; id: string } | undefined,
): Promise<OrderRow[]> {
  let q = db.selectFrom("customer_order").selectAll();
  q = "businessId" in by ? q.where("business_id", "=", by.businessId) : q.where("customer_id", "=", by.customerId);
  if (states.length > 0) q = q.where("state", "in", states);
  if (after) q = q.where((eb) => eb.or([eb("created_at", "<", after.createdAt), eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)])]));
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
}

/** Moves an order from `from`; undefined when it is no longer in `from` (another writer moved it first). */
export async function setOrderState(
  db: Db,
  id: string,
  from: string,
  values: { state: string; tracking?: unknown; paid?: boolean; clearReservation?: boolean },
): Promise<OrderRow | undefined> {
  return db
    .updateTable("customer_order")
    .set({
      state: values.state,
      updated_at: sql<Date>`now()`,
      ...(values.tracking !== undefined ? { tracking: values.tracking === null ? null : JSON.stringify(values.tracking) } : {}),
      ...(values.paid ? { paid_at: sql<Date>`now()` } : {}),
      ...(values.clearReservation ? { reserved_until: null } : {}),
    })
    .where("id", "=", id)
    .where("state", "=", from)
    .returningAll()
    .executeTakeFirst();
}

export async function recordChange(db: Db, change: { order_id: string; from_state: string | null; to_state: string; actor: string; reason: string }): Promise<void> {
  await db.insertInto("order_change").values(change).execute();
}

/** Payment confirmed: the held units leave the stock for good. */
export async function confirmReservations(db: Db, orderId: string): Promise<void> {
  await sql`
    WITH r AS (DELETE FROM reservation WHERE order_id = ${orderId} RETURNING product_id, quantity)
    UPDATE product p SET reserved = p.reserved - r.quantity, inventory = CASE WHEN p.inventory IS NULL THEN NULL ELSE p.inventory - r.quantity END
    FROM r WHERE p.id = r.product_id`.execute(db);
}

/** An unpaid order ends: the held units return. */
export async function releaseReservations(db: Db, orderId: string): Promise<void> {
  await sql`
    WITH r AS (DELETE FROM reservation WHERE order_id = ${orderId} RETURNING product_id, quantity)
    UPDATE product p SET reserved = p.reserved - r.quantity FROM r WHERE p.id = r.product_id`.execute(db);
}

/** A paid order is cancelled before shipping: its units go back on hand. */
export async function restock(db: Db, orderId: string): Promise<void> {
  await sql`
    UPDATE product p SET inventory = p.inventory + l.quantity
    FROM (SELECT product_id, sum(quantity)::bigint AS quantity FROM order_line WHERE order_id = ${orderId} GROUP BY product_id) l
    WHERE p.id = l.product_id AND p.inventory IS NOT NULL`.execute(db);
}

/** Unpaid orders whose reservation has run out (database clock), locked; rows another replica holds are skipped. */
export async function lockExpiredOrders(db: Db, limit: number): Promise<string[]> {
  const r = await sql<{ id: string }>`
    SELECT id FROM customer_order
    WHERE state = 'PENDING_PAYMENT' AND reserved_until <= now()
    ORDER BY reserved_until
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`.execute(db);
  return r.rows.map((x) => x.id);
}

// ---- group commit: one statement per step for a whole batch of orders ----

/** The carts of these customers with these businesses, locked in id order (a fixed order: two batches never deadlock). */
export async function lockCarts(db: Db, keys: { customerId: string; businessId: string }[]): Promise<CartRow[]> {
  if (keys.length === 0) return [];
  const r = await sql<CartRow>`
    SELECT c.* FROM cart c
    JOIN unnest(${keys.map((k) => k.customerId)}::text[], ${keys.map((k) => k.businessId)}::text[]) AS k(customer_id, business_id)
      ON c.customer_id = k.customer_id AND c.business_id = k.business_id
    ORDER BY c.id
    FOR UPDATE OF c`.execute(db);
  return r.rows;
}

export async function itemsOfCarts(db: Db, cartIds: string[]): Promise<{ cart_id: string; product_id: string; quantity: number }[]> {
  if (cartIds.length === 0) return [];
  return db.selectFrom("cart_item").select(["cart_id", "product_id", "quantity"]).where("cart_id", "in", cartIds).orderBy("cart_id").orderBy("added_at").orderBy("product_id").execute();
}

/** Product ids by (catalog, retailer id); retailer ids never change, so this needs no lock. */
export async function productIdsByRetailer(db: Db, keys: { catalogId: string; retailerId: string }[]): Promise<{ id: string; catalog_id: string; retailer_id: string }[]> {
  if (keys.length === 0) return [];
  const r = await sql<{ id: string; catalog_id: string; retailer_id: string }>`
    SELECT p.id, p.catalog_id, p.retailer_id FROM product p
    JOIN unnest(${keys.map((k) => k.catalogId)}::uuid[], ${keys.map((k) => k.retailerId)}::text[]) AS k(catalog_id, retailer_id)
      ON p.catalog_id = k.catalog_id AND p.retailer_id = k.retailer_id`.execute(db);
  return r.rows;
}

/**
 * Products locked in id order: what the batch reads (price, stock) cannot
 * change before its commit, and two batches (or replicas) lock shared
 * products in the same order.
 */
export async function lockProducts(db: Db, ids: string[]): Promise<ProductRow[]> {
  if (ids.length === 0) return [];
  const r = await sql<ProductRow>`SELECT * FROM product WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR UPDATE`.execute(db);
  return r.rows;
}

/** PENDING_PAYMENT orders whose reservations last ttlMs by the database's clock, in one statement. */
export async function insertOrders(db: Db, orders: NewOrder[], ttlMs: number): Promise<OrderRow[]> {
  if (orders.length === 0) return [];
  return db
    .insertInto("customer_order")
    .values(
      orders.map((order) => ({
        ...order,
        delivery_address: order.delivery_address === null ? null : JSON.stringify(order.delivery_address),
        state: "PENDING_PAYMENT",
        reserved_until: sql<Date>`now() + ${ttlMs} * interval '1 millisecond'`,
      })),
    )
    .returningAll()
    .execute();
}

export async function recordChanges(db: Db, changes: { order_id: string; from_state: string | null; to_state: string; actor: string; reason: string }[]): Promise<void> {
  if (changes.length > 0) await db.insertInto("order_change").values(changes).execute();
}

/**
 * Holds the batch's units: one UPDATE for every product (quantities summed
 * per product) guarded by what is left, and one INSERT of the reservations.
 * Returns how many products took their units; the caller decided under the
 * rows' locks, so anything short of all means the decision was wrong.
 */
export async function reserveMany(db: Db, perProduct: { productId: string; quantity: bigint }[], reservations: { order_id: string; product_id: string; quantity: string }[]): Promise<number> {
  if (perProduct.length === 0) return 0;
  const r = await sql<{ id: string }>`
    UPDATE product p SET reserved = p.reserved + v.quantity
    FROM unnest(${perProduct.map((x) => x.productId)}::uuid[], ${perProduct.map((x) => x.quantity.toString())}::bigint[]) AS v(id, quantity)
    WHERE p.id = v.id AND p.archived_at IS NULL AND (p.inventory IS NULL OR p.inventory - p.reserved >= v.quantity)
    RETURNING p.id`.execute(db);
  if (reservations.length > 0) await db.insertInto("reservation").values(reservations).execute();
  return r.rows.length;
}

export async function emptyCarts(db: Db, cartIds: string[]): Promise<void> {
  if (cartIds.length === 0) return;
  await db.deleteFrom("cart_item").where("cart_id", "in", cartIds).execute();
  await db.updateTable("cart").set({ currency: null, updated_at: sql<Date>`now()` }).where("id", "in", cartIds).execute();
}

/** Records a payment that did not match its order's total; a redelivery of the same event adds nothing. */
export async function recordPaymentMismatch(db: Db, row: { event_id: string; order_id: string; payment_id: string; paid_minor: string | null; paid_currency: string; total_minor: string; currency: string }): Promise<void> {
  await db.insertInto("payment_mismatch").values(row).onConflict((oc) => oc.column("event_id").doNothing()).execute();
}

/**
 * Sets one item's quantity (0 removes it) and the cart's currency and
 * catalog in one statement (one round trip instead of two).
 */
export async function setCartItemAndTouch(db: Db, cartId: string, productId: string, quantity: number, values: { currency: string | null; catalog_id?: string }): Promise<CartRow> {
  const item =
    quantity <= 0
      ? sql`DELETE FROM cart_item WHERE cart_id = ${cartId} AND product_id = ${productId}`
      : sql`INSERT INTO cart_item (cart_id, product_id, quantity) VALUES (${cartId}, ${productId}, ${quantity})
          ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity`;
  const r = await sql<CartRow>`
    WITH item AS (${item})
    UPDATE cart SET currency = ${values.currency}, catalog_id = coalesce(${values.catalog_id ?? null}::uuid, catalog_id), updated_at = now()
    WHERE id = ${cartId}
    RETURNING *`.execute(db);
  return r.rows[0]!;
}

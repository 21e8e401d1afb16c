import { sql, type Kysely } from "kysely";
import { OUTBOX_TABLE } from "@kontor/service-kit/outbox";
import type { CatalogDatabase } from "./database.js";
import type { CartRow, OrderLineRow, OrderRow } from "./commerce.table.js";
import type { ProductRow } from "./product.table.js";

type Db = Kysely<CatalogDatabase>;

export async function findCart(db: Db, customerId: string, businessId: string, lock = false): Promise<CartRow | undefined> {
  let q = db.selectFrom("cart").selectAll().where("customer_id", "=", customerId).where("business_id", "=", businessId);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** What a cart change reads, in one statement and without locks: the cart (if any), and each product in it or named by the change. */
export interface CartRead {
  cart: CartRow | undefined;
  /** The products of the cart's items (with their quantity, in the order they were added) and the named product (quantity null unless in the cart). */
  products: (ProductRow & { in_cart: number | null; is_target: boolean })[];
}

/** A pool that runs named (prepared) statements: a cart change's two statements are planned once per connection, not once per call. */
export interface PreparedPool {
  query<R>(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

const READ_CART = `
  WITH c AS (SELECT * FROM cart WHERE customer_id = $1 AND business_id = $2),
  i AS (SELECT ci.product_id, ci.quantity, ci.added_at FROM cart_item ci JOIN c ON ci.cart_id = c.id)
  SELECT p.*, i.quantity AS in_cart, (p.catalog_id = $3::uuid AND p.retailer_id = $4) AS is_target,
    c.id AS c_id, c.catalog_id AS c_catalog_id, c.currency AS c_currency, c.created_at AS c_created_at, c.updated_at AS c_updated_at, c.version AS c_version
  FROM (SELECT product_id AS id FROM i UNION SELECT id FROM product WHERE catalog_id = $3::uuid AND retailer_id = $4) x
  JOIN product p ON p.id = x.id
  LEFT JOIN i ON i.product_id = p.id
  LEFT JOIN c ON true
  ORDER BY i.added_at NULLS LAST, p.id`;

export async function readCartFor(pool: PreparedPool, customerId: string, businessId: string, catalogId: string, retailerId: string): Promise<CartRead> {
  const r = await pool.query<ProductRow & { in_cart: number | null; is_target: boolean; c_id: string | null; c_catalog_id: string; c_currency: string | null; c_created_at: Date; c_updated_at: Date; c_version: string }>({
    name: "catalog_cart_read",
    text: READ_CART,
    values: [customerId, businessId, catalogId, retailerId],
  });
  const first = r.rows[0];
  const cart: CartRow | undefined =
    first?.c_id != null
      ? { id: first.c_id, business_id: businessId, customer_id: customerId, catalog_id: first.c_catalog_id, currency: first.c_currency, created_at: first.c_created_at, updated_at: first.c_updated_at, version: first.c_version }
      : undefined;
  const products = r.rows.map(({ c_id, c_catalog_id, c_currency, c_created_at, c_updated_at, c_version, ...p }) => p);
  return { cart, products };
}

const CART_UPDATE = `UPDATE cart SET currency = $4, catalog_id = $5::uuid, updated_at = now(), version = version + 1 WHERE id = $1::uuid AND version = $6::bigint RETURNING *`;
const CART_INSERT = `INSERT INTO cart (id, customer_id, business_id, catalog_id, currency) VALUES ($1::uuid, $6, $7, $5::uuid, $4) ON CONFLICT ON CONSTRAINT cart_customer_key DO NOTHING RETURNING *`;
const ITEM_SET = `INSERT INTO cart_item (cart_id, product_id, quantity) SELECT id, $2::uuid, $3::int FROM cart_row ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity`;
// $3 (the quantity, 0 here) is named so every variant takes the same parameters.
const ITEM_DELETE = `DELETE FROM cart_item WHERE cart_id IN (SELECT id FROM cart_row) AND product_id = $2::uuid AND $3::int = 0`;

/**
 * Writes one item's quantity (0 removes it) and the cart's currency and
 * catalog in one statement, only over the cart version the change read (a
 * new cart only if there is none): undefined when the cart changed
 * meanwhile, and nothing was written.
 */
export async function writeCartItem(
  pool: PreparedPool,
  w: { cart: { id: string; version: string } | { newId: string; customerId: string; businessId: string }; productId: string; quantity: number; currency: string | null; catalogId: string },
): Promise<CartRow | undefined> {
  const c = w.cart;
  const update = "version" in c;
  const set = w.quantity > 0;
  const values = "version" in c ? [c.id, w.productId, w.quantity, w.currency, w.catalogId, c.version] : [c.newId, w.productId, w.quantity, w.currency, w.catalogId, c.customerId, c.businessId];
  const r = await pool.query<CartRow>({
    name: `catalog_cart_${update ? "update" : "insert"}_${set ? "set" : "delete"}`,
    text: `WITH cart_row AS (${update ? CART_UPDATE : CART_INSERT}), item AS (${set ? ITEM_SET : ITEM_DELETE}) SELECT * FROM cart_row`,
    values,
  });
  return r.rows[0];
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
  /** The chat's order message it was made from (unique), or null. */
  source_message_id: string | null;
}

export async function insertLines(db: Db, lines: OrderLineRow[]): Promise<void> {
  if (lines.length > 0) await db.insertInto("order_line").values(lines).execute();
}

export async function findOrder(db: Db, id: string, lock = false): Promise<OrderRow | undefined> {
  let q = db.selectFrom("customer_order").selectAll().where("id", "=", id);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** Orders made from these order messages of the chat. */
export async function ordersOfMessages(db: Db, messageIds: string[]): Promise<OrderRow[]> {
  if (messageIds.length === 0) return [];
  return db.selectFrom("customer_order").selectAll().where("source_message_id", "in", messageIds).execute();
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
export async function lockProducts(db: Db, ids: string[]): Promise<{ rows: ProductRow[]; now: Date | undefined }> {
  if (ids.length === 0) return { rows: [], now: undefined };
  // now(): the transaction's clock, for the timestamps the batch writes. NO KEY UPDATE
  // (what the reservation UPDATE takes anyway) excludes other writers but not the
  // foreign-key checks of cart changes (KEY SHARE), which FOR UPDATE would block.
  const r = await sql<ProductRow & { txn_now: Date }>`SELECT *, now() AS txn_now FROM product WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR NO KEY UPDATE`.execute(db);
  return { rows: r.rows, now: r.rows[0]?.txn_now };
}


/** Records a payment that did not match its order's total; a redelivery of the same event adds nothing. */
export async function recordPaymentMismatch(
  db: Db,
  row: { event_id: string; order_id: string; payment_id: string; paid_minor: string | null; paid_currency: string; total_minor: string; currency: string; reason: "AMOUNT" | "ORDER_NOT_PAYABLE"; order_state: string },
): Promise<void> {
  await db.insertInto("payment_mismatch").values(row).onConflict((oc) => oc.column("event_id").doNothing()).execute();
}

/** The rows a batch of new orders writes, in one statement (see writeOrders). */
export interface OrderBatchWrite {
  /** The orders with every column set (timestamps from the transaction's clock). */
  orders: (NewOrder & { created_at: Date; reserved_until: Date })[];
  lines: OrderLineRow[];
  /** Units per product, summed over the batch. */
  perProduct: { productId: string; quantity: bigint }[];
  reservations: { order_id: string; product_id: string; quantity: string }[];
  /** Carts that became orders: emptied. */
  cartIds: string[];
  /** The outbox row (encodeOutboxBatch) and the relay's NOTIFY channel. */
  outbox: { schema: string; payload: Buffer; channel: string };
}

/**
 * Writes a whole batch of new orders in one statement: orders, lines, the
 * change log, the reservation UPDATE (guarded by what is left), the
 * reservation rows, the emptied carts and the outbox row with its NOTIFY.
 * One round trip instead of nine: on a busy host every round trip waits
 * for the scheduler, and the batch holds its product locks meanwhile.
 * Returns how many products took their units.
 */
export async function writeOrders(db: Db, w: OrderBatchWrite): Promise<number> {
  const orders = w.orders.map((o) => ({ ...o, delivery_address: o.delivery_address ?? null, created_at: o.created_at.toISOString(), reserved_until: o.reserved_until.toISOString() }));
  const r = await sql<{ took: number }>`
    WITH o AS (
      INSERT INTO customer_order (id, business_id, customer_id, catalog_id, state, currency, subtotal_minor, total_minor, note, delivery_address, source, source_message_id, reserved_until, created_at, updated_at)
      SELECT x.id, x.business_id, x.customer_id, x.catalog_id, 'PENDING_PAYMENT', x.currency, x.subtotal_minor, x.total_minor, x.note, x.delivery_address, x.source, x.source_message_id, x.reserved_until, x.created_at, x.created_at
      FROM jsonb_to_recordset(${JSON.stringify(orders)}::jsonb) AS x(id uuid, business_id text, customer_id text, catalog_id uuid, currency text, subtotal_minor bigint, total_minor bigint, note text, delivery_address jsonb, source text, source_message_id text, reserved_until timestamptz, created_at timestamptz)
      RETURNING id
    ), l AS (
      INSERT INTO order_line (order_id, line, product_id, retailer_id, name, quantity, unit_price_minor, line_total_minor)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(w.lines)}::jsonb) AS x(order_id uuid, line integer, product_id uuid, retailer_id text, name text, quantity integer, unit_price_minor bigint, line_total_minor bigint)
    ), c AS (
      INSERT INTO order_change (order_id, from_state, to_state, actor, reason, at)
      SELECT x.id, NULL, 'PENDING_PAYMENT', 'customer', x.source, x.created_at
      FROM jsonb_to_recordset(${JSON.stringify(orders)}::jsonb) AS x(id uuid, source text, created_at timestamptz)
    ), p AS (
      UPDATE product p SET reserved = p.reserved + v.quantity
      FROM unnest(${w.perProduct.map((x) => x.productId)}::uuid[], ${w.perProduct.map((x) => x.quantity.toString())}::bigint[]) AS v(id, quantity)
      WHERE p.id = v.id AND p.archived_at IS NULL AND (p.inventory IS NULL OR p.inventory - p.reserved >= v.quantity)
      RETURNING p.id
    ), r AS (
      INSERT INTO reservation (order_id, product_id, quantity)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(w.reservations)}::jsonb) AS x(order_id uuid, product_id uuid, quantity bigint)
    ), ci AS (
      DELETE FROM cart_item WHERE cart_id = ANY(${w.cartIds}::uuid[])
    ), ca AS (
      UPDATE cart SET currency = NULL, updated_at = now(), version = version + 1 WHERE id = ANY(${w.cartIds}::uuid[])
    ), ob AS (
      INSERT INTO ${sql.id(w.outbox.schema, OUTBOX_TABLE)} (payload) VALUES (${w.outbox.payload})
    )
    SELECT (SELECT count(*) FROM p)::int AS took, pg_notify(${w.outbox.channel}, '')`.execute(db);
  return r.rows[0]!.took;
}

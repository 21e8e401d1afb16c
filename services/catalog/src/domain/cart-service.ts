import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { ConcurrentUpdate, InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { CatalogDatabase } from "../store/database.js";
import type { CartRow } from "../store/commerce.table.js";
import { cartItems, findCart, readCartFor, writeCartItem, type PreparedPool } from "../store/order-store.js";
import { findProductsByIds } from "../store/product-store.js";
import { productRowToProduct, type Catalog } from "./catalog.js";
import type { Cart, CartItem } from "./cart.js";
import { MAX_QUANTITY } from "./order.js";
import type { OrderService } from "./order-service.js";
import { effectivePriceMinor, purchasable, type Product } from "./product.js";

type Db = Kysely<CatalogDatabase>;

export interface CartPorts {
  db: Db;
  /** The same database's pool, for the cart change's prepared statements. */
  pool: PreparedPool;
  orders: OrderService;
  now?: () => Date;
}

/** Carts: one per customer and business, one currency each; prices are always today's. */
export function createCartService(ports: CartPorts) {
  const db = ports.db;
  const now = ports.now ?? (() => new Date());

  async function view(trx: Db, cart: CartRow, known: { items?: { product_id: string; quantity: number }[]; products?: Product[] } = {}): Promise<Cart> {
    const items = known.items ?? (await cartItems(trx, cart.id));
    const products = new Map((known.products ?? []).map((p) => [p.id, p]));
    const missing = items.filter((i) => !products.has(i.product_id)).map((i) => i.product_id);
    for (const r of await findProductsByIds(trx, missing)) products.set(r.id, productRowToProduct(r));
    const at = now();
    const currency = cart.currency?.trim() ?? "";
    let subtotal = 0n;
    const out: CartItem[] = [];
    for (const i of items) {
      const p = products.get(i.product_id)!;
      const unit = effectivePriceMinor(p, at);
      // A product whose business moved it to another currency since it was added cannot be ordered in this cart (nor summed with it).
      const ok = purchasable(p) && (currency === "" || p.price.currency === currency);
      if (ok) subtotal += unit * BigInt(i.quantity);
      out.push({ productId: p.id, retailerId: p.retailerId, name: p.name, quantity: i.quantity, unitPriceMinor: unit, lineTotalMinor: unit * BigInt(i.quantity), purchasable: ok });
    }
    return { id: cart.id, businessId: cart.business_id, customerId: cart.customer_id, catalogId: cart.catalog_id, currency, items: out, subtotalMinor: subtotal, updatedAt: cart.updated_at };
  }

  /** A cart change reads again and retries this often when another write to the cart came between its read and its write. */
  const ATTEMPTS = 10;

  /**
   * Changes one item's quantity; `next` gets the current quantity. Two round
   * trips: one read (cart, its items' products, the named product), one
   * write that applies only over the cart version read (its own commit).
   */
  async function change(customerId: string, catalog: Catalog, retailerId: string, next: (current: number) => number): Promise<Cart> {
    if (!retailerId.trim()) throw new InvalidInput("product_retailer_id", "is required");
    for (let attempt = 1; ; attempt++) {
      const read = await readCartFor(ports.pool, customerId, catalog.businessId, catalog.id, retailerId);
      const target = read.products.find((p) => p.is_target);
      const product = target ? productRowToProduct(target) : undefined;
      if (!product || product.archived || !product.visible) throw new NotFound("product");
      const cart = read.cart;
      const items = read.products.filter((p) => p.in_cart !== null).map((p) => ({ product_id: p.id, quantity: p.in_cart! }));
      const current = items.find((i) => i.product_id === product.id)?.quantity ?? 0;
      const quantity = next(current);
      if (quantity > MAX_QUANTITY) throw new InvalidInput("quantity", `a cart holds at most ${MAX_QUANTITY} units of one product`);
      const others = items.filter((i) => i.product_id !== product.id);
      if (quantity > 0) {
        if (!purchasable(product)) throw new PolicyRefused("PRODUCT_UNAVAILABLE", `${product.retailerId} cannot be ordered now`, 0, "product_retailer_id");
        const cartCurrency = others.length > 0 ? cart?.currency?.trim() : undefined;
        if (cartCurrency && cartCurrency !== product.price.currency)
          throw new PolicyRefused("CURRENCY_MISMATCH", `the cart is in ${cartCurrency}; ${product.retailerId} is priced in ${product.price.currency}`, 0, "product_retailer_id");
        if (others.length > 0 && cart!.catalog_id !== catalog.id) throw new PolicyRefused("CATALOG_MISMATCH", "the cart holds products of another catalog", 0, "catalog_id");
      }
      const after = quantity > 0 ? items.map((i) => (i.product_id === product.id ? { ...i, quantity } : i)) : others;
      if (quantity > 0 && current === 0) after.push({ product_id: product.id, quantity });
      const written = await writeCartItem(ports.pool, {
        cart: cart ? { id: cart.id, version: cart.version } : { newId: randomUUID(), customerId, businessId: catalog.businessId },
        productId: product.id,
        quantity,
        // Removing an item keeps the cart's currency (the removed product may have moved to another one).
        currency: after.length === 0 ? null : quantity > 0 ? product.price.currency : (cart?.currency?.trim() ?? null),
        // Only an addition moves the cart to this catalog (checked above when other items stay).
        catalogId: quantity > 0 || !cart ? catalog.id : cart.catalog_id,
      });
      if (written) return view(db, written, { items: after, products: read.products.map(productRowToProduct) });
      if (attempt >= ATTEMPTS) throw new ConcurrentUpdate("the cart changed meanwhile, retry");
    }
  }

  const quantityOf = (field: string, q: number, min: number) => {
    if (!Number.isInteger(q) || q < min || q > MAX_QUANTITY) throw new InvalidInput(field, `must be between ${min} and ${MAX_QUANTITY}`);
    return q;
  };

  return {
    async getCart(customerId: string, businessId: string): Promise<Cart | undefined> {
      const cart = await findCart(db, customerId, businessId);
      return cart ? view(db, cart) : undefined;
    },

    add(customerId: string, catalog: Catalog, retailerId: string, quantity: number): Promise<Cart> {
      quantityOf("quantity", quantity, 1);
      return change(customerId, catalog, retailerId, (current) => current + quantity);
    },

    setQuantity(customerId: string, catalog: Catalog, retailerId: string, quantity: number): Promise<Cart> {
      quantityOf("quantity", quantity, 0);
      return change(customerId, catalog, retailerId, () => quantity);
    },

    remove(customerId: string, catalog: Catalog, retailerId: string): Promise<Cart> {
      return change(customerId, catalog, retailerId, () => 0);
    },

    /** Checkout goes through the orders' group commit (OrderService.checkout). */
    checkout: ports.orders.checkout,
  };
}

export type CartService = ReturnType<typeof createCartService>;

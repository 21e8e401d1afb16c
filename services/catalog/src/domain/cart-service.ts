import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { CatalogDatabase } from "../store/database.js";
import type { CartRow } from "../store/commerce.table.js";
import { cartItems, emptyCart, findCart, lockOrCreateCart, setCartItem, touchCart } from "../store/order-store.js";
import { findByRetailerIds, findProductsByIds } from "../store/product-store.js";
import { productRowToProduct, type Catalog } from "./catalog.js";
import type { Cart, CartItem } from "./cart.js";
import { MAX_QUANTITY, type Address, type Order } from "./order.js";
import type { OrderService } from "./order-service.js";
import { effectivePriceMinor, purchasable, type Product } from "./product.js";

type Db = Kysely<CatalogDatabase>;

export interface CartPorts {
  db: Db;
  orders: OrderService;
  now?: () => Date;
}

/** Carts: one per customer and business, one currency each; prices are always today's. */
export function createCartService(ports: CartPorts) {
  const db = ports.db;
  const now = ports.now ?? (() => new Date());

  async function view(trx: Db, cart: CartRow): Promise<{ cart: Cart; products: Map<string, Product>; quantities: Map<string, number> }> {
    const items = await cartItems(trx, cart.id);
    const products = new Map((await findProductsByIds(trx, items.map((i) => i.product_id))).map((r) => [r.id, productRowToProduct(r)]));
    const at = now();
    let subtotal = 0n;
    const out: CartItem[] = [];
    for (const i of items) {
      const p = products.get(i.product_id)!;
      const unit = effectivePriceMinor(p, at);
      const ok = purchasable(p);
      if (ok) subtotal += unit * BigInt(i.quantity);
      out.push({ productId: p.id, retailerId: p.retailerId, name: p.name, quantity: i.quantity, unitPriceMinor: unit, lineTotalMinor: unit * BigInt(i.quantity), purchasable: ok });
    }
    return {
      cart: { id: cart.id, businessId: cart.business_id, customerId: cart.customer_id, catalogId: cart.catalog_id, currency: cart.currency?.trim() ?? "", items: out, subtotalMinor: subtotal, updatedAt: cart.updated_at },
      products,
      quantities: new Map(items.map((i) => [i.product_id, i.quantity])),
    };
  }

  async function productIn(trx: Db, catalog: Catalog, retailerId: string): Promise<Product> {
    if (!retailerId.trim()) throw new InvalidInput("product_retailer_id", "is required");
    const [row] = await findByRetailerIds(trx, catalog.id, [retailerId]);
    const p = row ? productRowToProduct(row) : undefined;
    if (!p || p.archived || !p.visible) throw new NotFound("product");
    return p;
  }

  /** Changes one item's quantity in a locked cart; `next` gets the current quantity. */
  async function change(customerId: string, catalog: Catalog, retailerId: string, next: (current: number) => number): Promise<Cart> {
    return db.transaction().execute(async (trx) => {
      const product = await productIn(trx, catalog, retailerId);
      const cart = await lockOrCreateCart(trx, { id: randomUUID(), customer_id: customerId, business_id: catalog.businessId, catalog_id: catalog.id });
      const current = (await cartItems(trx, cart.id)).find((i) => i.product_id === product.id)?.quantity ?? 0;
      const quantity = next(current);
      if (quantity > MAX_QUANTITY) throw new InvalidInput("quantity", `a cart holds at most ${MAX_QUANTITY} units of one product`);
      const items = await cartItems(trx, cart.id);
      const others = items.filter((i) => i.product_id !== product.id);
      if (quantity > 0) {
        if (!purchasable(product)) throw new PolicyRefused("PRODUCT_UNAVAILABLE", `${product.retailerId} cannot be ordered now`, 0, "product_retailer_id");
        const cartCurrency = others.length > 0 ? cart.currency?.trim() : undefined;
        if (cartCurrency && cartCurrency !== product.price.currency)
          throw new PolicyRefused("CURRENCY_MISMATCH", `the cart is in ${cartCurrency}; ${product.retailerId} is priced in ${product.price.currency}`, 0, "product_retailer_id");
        if (others.length > 0 && cart.catalog_id !== catalog.id) throw new PolicyRefused("CATALOG_MISMATCH", "the cart holds products of another catalog", 0, "catalog_id");
      }
      await setCartItem(trx, cart.id, product.id, quantity);
      const remaining = others.length + (quantity > 0 ? 1 : 0);
      const updated = await touchCart(trx, cart.id, remaining === 0 ? { currency: null } : { currency: product.price.currency, catalog_id: catalog.id });
      return (await view(trx, updated)).cart;
    });
  }

  const quantityOf = (field: string, q: number, min: number) => {
    if (!Number.isInteger(q) || q < min || q > MAX_QUANTITY) throw new InvalidInput(field, `must be between ${min} and ${MAX_QUANTITY}`);
    return q;
  };

  return {
    async getCart(customerId: string, businessId: string): Promise<Cart | undefined> {
      const cart = await findCart(db, customerId, businessId);
      return cart ? (await view(db, cart)).cart : undefined;
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

    /**
     * The cart becomes an order at today's prices, with its stock held; the
     * cart empties in the same transaction. With expectedTotal, a different
     * total today orders nothing (PRICES_CHANGED).
     */
    async checkout(customerId: string, businessId: string, options: { note: string; deliveryAddress: Address | null; expectedTotal?: { amountMinor: bigint; currency: string } }): Promise<Order> {
      return db.transaction().execute(async (trx) => {
        const cart = await findCart(trx, customerId, businessId, true);
        if (!cart) throw new PolicyRefused("CART_EMPTY", "the cart is empty");
        const { cart: seen, products, quantities } = await view(trx, cart);
        if (seen.items.length === 0) throw new PolicyRefused("CART_EMPTY", "the cart is empty");
        const lines = seen.items.map((i, n) => ({ product: products.get(i.productId)!, quantity: quantities.get(i.productId)!, field: `items[${n}]` }));
        const currency = seen.currency || lines[0]!.product.price.currency;
        const order = await ports.orders.place(trx, { businessId, customerId, catalogId: cart.catalog_id, currency, lines, note: options.note, deliveryAddress: options.deliveryAddress, source: "cart" });
        const expected = options.expectedTotal;
        if (expected && (expected.currency !== order.currency || expected.amountMinor !== order.totalMinor)) {
          throw new PolicyRefused("PRICES_CHANGED", `the total is now ${order.totalMinor} ${order.currency} (minor units)`, 0, "expected_total");
        }
        await emptyCart(trx, cart.id);
        return order;
      });
    },
  };
}

export type CartService = ReturnType<typeof createCartService>;

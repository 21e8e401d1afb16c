import { InvalidInput, PolicyRefused } from "@kontor/service-kit/errors";
import { INT64_MAX } from "./product.js";

export const ORDER_STATES = ["PENDING_PAYMENT", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "REFUNDED"] as const;
export type OrderState = (typeof ORDER_STATES)[number];

/**
 * The order state machine. PENDING_PAYMENT → PAID → SHIPPED → DELIVERED;
 * CANCELLED before shipping; REFUNDED once money was taken (a paid order
 * that was cancelled, shipped or delivered). Nothing leaves REFUNDED.
 */
export const TRANSITIONS: Readonly<Record<OrderState, readonly OrderState[]>> = {
  PENDING_PAYMENT: ["PAID", "CANCELLED"],
  PAID: ["SHIPPED", "CANCELLED", "REFUNDED"],
  SHIPPED: ["DELIVERED", "REFUNDED"],
  DELIVERED: ["REFUNDED"],
  CANCELLED: ["REFUNDED"],
  REFUNDED: [],
};

/** Who moves an order: its business, its customer, payments (through events), the expiry sweeper. */
export type Actor = "business" | "customer" | "payments" | "sweeper";

/** The states each actor may move an order into. */
const ACTOR_TARGETS: Readonly<Record<Actor, readonly OrderState[]>> = {
  business: ["SHIPPED", "DELIVERED", "CANCELLED"],
  customer: ["CANCELLED"],
  payments: ["PAID", "CANCELLED", "REFUNDED"],
  sweeper: ["CANCELLED"],
};

export function canTransition(from: OrderState, to: OrderState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Checks a move; an illegal one is FAILED_PRECONDITION naming both states.
 * A customer cancels only an unpaid order; a cancelled order is refunded
 * only if it was paid.
 */
export function checkTransition(order: Pick<Order, "state" | "paidAt">, to: OrderState, actor: Actor): void {
  if (!ACTOR_TARGETS[actor].includes(to)) throw new InvalidInput("state", `${actor === "business" ? "a business" : `the ${actor}`} cannot set ${to}`);
  const illegal = () => new PolicyRefused("ILLEGAL_TRANSITION", `an order in ${order.state} cannot become ${to}`, 0, "state");
  if (!canTransition(order.state, to)) throw illegal();
  if (actor === "customer" && order.state !== "PENDING_PAYMENT") throw illegal();
  if (order.state === "CANCELLED" && to === "REFUNDED" && !order.paidAt) throw illegal();
}

export interface Address {
  name: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  country: string;
  phone: string;
}

export interface Tracking {
  carrier: string;
  number: string;
  url: string;
}

export interface OrderLine {
  productId: string;
  retailerId: string;
  name: string;
  quantity: number;
  unitPriceMinor: bigint;
  lineTotalMinor: bigint;
}

export interface Order {
  id: string;
  businessId: string;
  customerId: string;
  catalogId: string;
  state: OrderState;
  currency: string;
  lines: OrderLine[];
  subtotalMinor: bigint;
  totalMinor: bigint;
  note: string;
  deliveryAddress: Address | null;
  tracking: Tracking | null;
  source: "cart" | "chat";
  reservedUntil: Date | null;
  paidAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A payment settles an order only when it is exactly its total, in its currency. */
export function paysExactly(order: Pick<Order, "totalMinor" | "currency">, paid: { amountMinor: bigint; currency: string } | undefined): boolean {
  return paid !== undefined && paid.currency === order.currency && paid.amountMinor === order.totalMinor;
}

/** Units of one product in one cart or order line at most (the Cloud API cart's limit). */
export const MAX_QUANTITY = 99;
/** Distinct products in one order at most. */
export const MAX_LINES = 100;

/** Line totals and the order total in minor units; anything past int64 is refused, never rounded. */
export function priceLines(items: { productId: string; retailerId: string; name: string; quantity: number; unitPriceMinor: bigint }[]): { lines: OrderLine[]; totalMinor: bigint } {
  let total = 0n;
  const lines = items.map((i) => {
    const lineTotalMinor = i.unitPriceMinor * BigInt(i.quantity);
    total += lineTotalMinor;
    return { ...i, lineTotalMinor };
  });
  if (total > INT64_MAX) throw new PolicyRefused("TOTAL_TOO_LARGE", "the order total is larger than an int64 amount", 0, "items");
  return { lines, totalMinor: total };
}

const ADDRESS_LIMIT = 200;

/** Checks a delivery address (all fields optional but bounded; country is ISO 3166-1 alpha-2). */
export function validateAddress(a: Address | undefined): Address | null {
  if (!a) return null;
  for (const [k, v] of Object.entries(a)) if (typeof v === "string" && v.length > ADDRESS_LIMIT) throw new InvalidInput(`delivery_address.${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, `must be at most ${ADDRESS_LIMIT} characters`);
  if (a.country && !/^[A-Z]{2}$/.test(a.country)) throw new InvalidInput("delivery_address.country", "must be an ISO 3166-1 alpha-2 code such as DE");
  if (Object.values(a).every((v) => !v)) return null;
  return a;
}

export function validateTracking(t: Tracking | undefined): Tracking | null {
  if (!t || (!t.carrier && !t.number && !t.url)) return null;
  if (t.carrier.length > 100) throw new InvalidInput("tracking.carrier", "must be at most 100 characters");
  if (t.number.length > 100) throw new InvalidInput("tracking.number", "must be at most 100 characters");
  if (t.url) {
    let ok = false;
    try {
      const u = new URL(t.url);
      ok = u.protocol === "https:" || u.protocol === "http:";
    } catch {
      ok = false;
    }
    if (!ok || t.url.length > 2048) throw new InvalidInput("tracking.url", "must be an http(s) URL");
  }
  return t;
}

/** An item a refusal of a new order is about (what the customer is told, and order.rejected carries). */
export interface RefusedItem {
  retailerId: string;
  /** The product's name, when the catalog sells it (visible, not archived). */
  name: string;
  quantity: number;
  /** Units left (OUT_OF_STOCK). */
  available?: bigint;
  /** Today's price (PRICE_CHANGED, CURRENCY_MISMATCH). */
  price?: { amountMinor: bigint; currency: string };
}

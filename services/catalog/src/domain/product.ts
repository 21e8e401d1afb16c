import { InvalidInput } from "@kontor/service-kit/errors";
import { parseMoney, type MoneyValue } from "@kontor/service-kit/money";

/** The proto's Availability numbers. */
export const Availability = { IN_STOCK: 1, OUT_OF_STOCK: 2, PREORDER: 3, DISCONTINUED: 4 } as const;
const AVAILABILITIES = new Set<number>(Object.values(Availability));

/** The largest int64, the most any amount or count may be. */
export const INT64_MAX = 2n ** 63n - 1n;

export interface Product {
  id: string;
  businessId: string;
  catalogId: string;
  retailerId: string;
  name: string;
  description: string;
  price: MoneyValue;
  imageUrls: string[];
  /** In the price's currency. */
  salePriceMinor: bigint | null;
  saleStartsAt: Date | null;
  saleEndsAt: Date | null;
  availability: number;
  /** Units on hand; null when not counted. */
  inventory: bigint | null;
  /** Units held by unpaid orders. */
  reserved: bigint;
  categories: string[];
  collections: string[];
  itemGroupId: string;
  size: string;
  color: string;
  visible: boolean;
  archived: boolean;
  createdAt: Date;
  updatedAt: Date;
  version: bigint;
}

type MoneyIn = { amountMinor: string; currency: string } | undefined;

/** A product as a business writes it (the proto's ProductInput, decoded). */
export interface ProductInput {
  retailerId: string;
  name: string;
  description: string;
  price: MoneyIn;
  imageUrls: string[];
  salePrice: MoneyIn;
  saleStartsAt: Date | undefined;
  saleEndsAt: Date | undefined;
  /** 0: in stock. */
  availability: number;
  inventory: string | undefined;
  categories: string[];
  collections: string[];
  itemGroupId: string;
  size: string;
  color: string;
  visible: boolean | undefined;
}

/** The fields of a product a business sets, checked. */
export interface ValidProduct {
  retailerId: string;
  name: string;
  description: string;
  price: MoneyValue;
  imageUrls: string[];
  salePriceMinor: bigint | null;
  saleStartsAt: Date | null;
  saleEndsAt: Date | null;
  availability: number;
  inventory: bigint | null;
  categories: string[];
  collections: string[];
  itemGroupId: string;
  size: string;
  color: string;
  visible: boolean;
}

/** Backwards-compatible shape of the original CreateProduct fields. */
export interface NewProductInput {
  businessId: string;
  retailerId: string;
  name: string;
  description: string;
  price: MoneyIn;
  imageUrl: string;
}

const MAX_NAME = 200;
const MAX_DESCRIPTION = 5000;
const MAX_ID = 128;
const MAX_RETAILER_ID = 100;
const MAX_IMAGE_URL = 2048;
const MAX_IMAGES = 10;
const MAX_TAGS = 20;
const MAX_TAG = 100;
const MAX_SHORT = 100;

export const emptyProductInput = (): ProductInput => ({
  retailerId: "",
  name: "",
  description: "",
  price: undefined,
  imageUrls: [],
  salePrice: undefined,
  saleStartsAt: undefined,
  saleEndsAt: undefined,
  availability: 0,
  inventory: undefined,
  categories: [],
  collections: [],
  itemGroupId: "",
  size: "",
  color: "",
  visible: undefined,
});

function checkUrl(field: string, value: string): void {
  if (value.length > MAX_IMAGE_URL) throw new InvalidInput(field, `must be at most ${MAX_IMAGE_URL} characters`);
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) throw new InvalidInput(field, "must be an http(s) URL");
}

function checkMoneyRange(field: string, amount: bigint): void {
  if (amount > INT64_MAX) throw new InvalidInput(field, "is too large");
}

function tags(field: string, values: string[]): string[] {
  if (values.length > MAX_TAGS) throw new InvalidInput(field, `must hold at most ${MAX_TAGS} entries`);
  const out: string[] = [];
  for (const [i, raw] of values.entries()) {
    const v = raw.trim();
    if (!v) throw new InvalidInput(`${field}[${i}]`, "must not be empty");
    if (v.length > MAX_TAG) throw new InvalidInput(`${field}[${i}]`, `must be at most ${MAX_TAG} characters`);
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

function short(field: string, value: string): string {
  const v = value.trim();
  if (v.length > MAX_SHORT) throw new InvalidInput(field, `must be at most ${MAX_SHORT} characters`);
  return v;
}

/** Checks a product; each problem names its field (prefixed with `prefix`, e.g. "product."). */
export function validateProduct(input: ProductInput, prefix = ""): ValidProduct {
  const f = (name: string) => `${prefix}${name}`;
  const retailerId = input.retailerId.trim();
  if (!retailerId) throw new InvalidInput(f("retailer_id"), "is required");
  if (retailerId.length > MAX_RETAILER_ID) throw new InvalidInput(f("retailer_id"), `must be at most ${MAX_RETAILER_ID} characters`);
  const name = input.name.trim();
  if (!name) throw new InvalidInput(f("name"), "is required");
  if (name.length > MAX_NAME) throw new InvalidInput(f("name"), `must be at most ${MAX_NAME} characters`);
  if (input.description.length > MAX_DESCRIPTION) throw new InvalidInput(f("description"), `must be at most ${MAX_DESCRIPTION} characters`);
  const price = parseMoney(f("price"), input.price);
  checkMoneyRange(f("price.amount_minor"), price.amountMinor);
  if (input.imageUrls.length > MAX_IMAGES) throw new InvalidInput(f("image_urls"), `must hold at most ${MAX_IMAGES} URLs`);
  input.imageUrls.forEach((u, i) => checkUrl(f(`image_urls[${i}]`), u));
  let salePriceMinor: bigint | null = null;
  if (input.salePrice) {
    const sale = parseMoney(f("sale_price"), input.salePrice);
    if (sale.currency !== price.currency) throw new InvalidInput(f("sale_price.currency"), "must be the price's currency");
    if (sale.amountMinor > price.amountMinor) throw new InvalidInput(f("sale_price.amount_minor"), "must not be more than the price");
    salePriceMinor = sale.amountMinor;
  }
  const saleStartsAt = input.saleStartsAt ?? null;
  const saleEndsAt = input.saleEndsAt ?? null;
  if ((saleStartsAt || saleEndsAt) && salePriceMinor === null) throw new InvalidInput(f("sale_price"), "is required with a sale window");
  if (saleStartsAt && saleEndsAt && saleEndsAt.getTime() <= saleStartsAt.getTime()) throw new InvalidInput(f("sale_ends_at"), "must be after sale_starts_at");
  const availability = input.availability === 0 ? Availability.IN_STOCK : input.availability;
  if (!AVAILABILITIES.has(availability)) throw new InvalidInput(f("availability"), "is not a known availability");
  let inventory: bigint | null = null;
  if (input.inventory !== undefined) {
    try {
      inventory = BigInt(input.inventory);
    } catch {
      throw new InvalidInput(f("inventory"), "must be an integer");
    }
    if (inventory < 0n) throw new InvalidInput(f("inventory"), "must not be negative");
    if (inventory > INT64_MAX) throw new InvalidInput(f("inventory"), "is too large");
  }
  return {
    retailerId,
    name,
    description: input.description,
    price,
    imageUrls: input.imageUrls,
    salePriceMinor,
    saleStartsAt,
    saleEndsAt,
    availability,
    inventory,
    categories: tags(f("categories"), input.categories),
    collections: tags(f("collections"), input.collections),
    itemGroupId: short(f("item_group_id"), input.itemGroupId),
    size: short(f("size"), input.size),
    color: short(f("color"), input.color),
    visible: input.visible ?? true,
  };
}

/** The original CreateProduct check (business id, one image URL). */
export function validateNewProduct(input: NewProductInput): ValidProduct & { businessId: string; imageUrl: string } {
  if (!input.businessId) throw new InvalidInput("business_id", "is required");
  if (input.businessId.length > MAX_ID) throw new InvalidInput("business_id", `must be at most ${MAX_ID} characters`);
  if (input.imageUrl) checkUrl("image_url", input.imageUrl);
  const valid = validateProduct({ ...emptyProductInput(), retailerId: input.retailerId, name: input.name, description: input.description, price: input.price, imageUrls: input.imageUrl ? [input.imageUrl] : [] });
  return { ...valid, businessId: input.businessId, imageUrl: input.imageUrl };
}

/** The ProductInput fields an update mask may name (retailer_id identifies the product and does not change). */
const MASKABLE: Record<string, (keyof ProductInput)[]> = {
  name: ["name"],
  description: ["description"],
  price: ["price"],
  image_urls: ["imageUrls"],
  sale_price: ["salePrice"],
  sale_starts_at: ["saleStartsAt"],
  sale_ends_at: ["saleEndsAt"],
  availability: ["availability"],
  inventory: ["inventory"],
  categories: ["categories"],
  collections: ["collections"],
  item_group_id: ["itemGroupId"],
  size: ["size"],
  color: ["color"],
  visible: ["visible"],
};

/** A product's current fields as input, so a mask can replace some of them. */
export function productToInput(p: Product): ProductInput {
  return {
    retailerId: p.retailerId,
    name: p.name,
    description: p.description,
    price: { amountMinor: p.price.amountMinor.toString(), currency: p.price.currency },
    imageUrls: p.imageUrls,
    salePrice: p.salePriceMinor === null ? undefined : { amountMinor: p.salePriceMinor.toString(), currency: p.price.currency },
    saleStartsAt: p.saleStartsAt ?? undefined,
    saleEndsAt: p.saleEndsAt ?? undefined,
    availability: p.availability,
    inventory: p.inventory === null ? undefined : p.inventory.toString(),
    categories: p.categories,
    collections: p.collections,
    itemGroupId: p.itemGroupId,
    size: p.size,
    color: p.color,
    visible: p.visible,
  };
}

/** Replaces the masked fields of `current` with those of `update`, then checks the whole product. */
export function applyUpdateMask(current: Product, update: ProductInput, mask: string[]): ValidProduct {
  if (mask.length === 0) throw new InvalidInput("update_mask", "must name at least one field");
  const merged = productToInput(current);
  const target = merged as unknown as Record<string, unknown>;
  const source = update as unknown as Record<string, unknown>;
  for (const path of mask) {
    const keys = MASKABLE[path];
    if (!keys) throw new InvalidInput("update_mask", `cannot update ${path.slice(0, 64)}`);
    for (const k of keys) target[k] = source[k];
  }
  // A sale window without a sale price is cleared with it.
  if (mask.includes("sale_price") && !update.salePrice) {
    if (!mask.includes("sale_starts_at")) merged.saleStartsAt = undefined;
    if (!mask.includes("sale_ends_at")) merged.saleEndsAt = undefined;
  }
  return validateProduct(merged, "product.");
}

/** The price a buyer pays at `now`: the sale price inside its window, else the price. */
export function effectivePriceMinor(p: Pick<Product, "price" | "salePriceMinor" | "saleStartsAt" | "saleEndsAt">, now: Date): bigint {
  if (p.salePriceMinor === null) return p.price.amountMinor;
  if (p.saleStartsAt && now.getTime() < p.saleStartsAt.getTime()) return p.price.amountMinor;
  if (p.saleEndsAt && now.getTime() >= p.saleEndsAt.getTime()) return p.price.amountMinor;
  return p.salePriceMinor;
}

/** Units a checkout may still take; null when stock is not counted. */
export function availableUnits(p: Pick<Product, "inventory" | "reserved">): bigint | null {
  return p.inventory === null ? null : p.inventory - p.reserved;
}

/** Can a customer buy it now (not archived, not out of stock or discontinued, visible)? */
export function purchasable(p: Pick<Product, "archived" | "availability" | "visible">): boolean {
  return !p.archived && p.visible && (p.availability === Availability.IN_STOCK || p.availability === Availability.PREORDER);
}

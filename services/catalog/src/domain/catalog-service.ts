import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import { InvalidInput, KontorError, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { CatalogDatabase } from "../store/database.js";
import {
  addWords,
  archiveProduct,
  defaultCatalog,
  findByRetailerIds,
  findCatalog,
  findProduct,
  findProductForUpdate,
  insertCatalog,
  insertProduct,
  listCatalogs,
  listProducts,
  updateProduct,
  upsertProducts,
  type ProductValues,
} from "../store/product-store.js";
import { searchProducts, wordAlternatives, type RankedRow } from "../store/search-store.js";
import type { PreparedPool } from "../store/order-store.js";
import type { ProductRow } from "../store/product.table.js";
import { catalogRowToCatalog, productRowToProduct, type Catalog } from "./catalog.js";
import { productArchivedEvent, productCreatedEvent, productUpsertedEvent } from "../events/outbox.js";
import { applyUpdateMask, validateNewProduct, validateProduct, type Product, type ProductInput, type ValidProduct } from "./product.js";
import { normalizeWords, searchText } from "./text.js";

export interface CatalogPorts {
  db: Kysely<CatalogDatabase>;
  /** The same database's pool, for prepared statements (text search). */
  pool: PreparedPool;
  enqueue(trx: Kysely<CatalogDatabase>, events: OutboxEvent[]): Promise<void>;
  /** The service's clock (sale windows, event times). */
  now?: () => Date;
  /** Matches a text-only query ranks at most. */
  searchRankCap?: number;
}

/** The columns a checked product writes. */
function valuesOf(v: ValidProduct): ProductValues {
  return {
    retailer_id: v.retailerId,
    name: v.name,
    description: v.description,
    price_minor: v.price.amountMinor.toString(),
    currency: v.price.currency,
    image_url: v.imageUrls[0] ?? "",
    image_urls: v.imageUrls,
    sale_price_minor: v.salePriceMinor === null ? null : v.salePriceMinor.toString(),
    sale_starts_at: v.saleStartsAt,
    sale_ends_at: v.saleEndsAt,
    availability: v.availability,
    inventory: v.inventory === null ? null : v.inventory.toString(),
    categories: v.categories,
    collections: v.collections,
    item_group_id: v.itemGroupId,
    size: v.size,
    color: v.color,
    visible: v.visible,
    search_text: searchText(v.name, v.description),
  };
}

/** The words a product adds to its catalog's dictionary: numbers and one-letter words are never typo targets. */
function wordsOf(v: ValidProduct): string[] {
  return [...new Set([...normalizeWords(v.name), ...normalizeWords(v.description)])].filter((w) => w.length > 1 && !/^\d+$/.test(w));
}

/** Rows one upsert statement writes; bigger calls are cut into these. */
export const UPSERT_CHUNK = 500;
/** Rows one BulkUpsertProducts call may carry. */
export const MAX_BULK_ROWS = 10_000;

export interface RowResult {
  index: number;
  retailerId: string;
  outcome: "created" | "updated" | "failed";
  productId: string;
  error?: KontorError;
}

export interface SearchInput {
  query: string;
  categories: string[];
  minPriceMinor: bigint | undefined;
  maxPriceMinor: bigint | undefined;
  availability: number[];
}

/** Text search: rank and id of the last row, and (text alone) the seq bound of the first page; browse: time and id. */
export type SearchCursor = { r: number; id: string; s?: string } | { t: string; id: string };

/** Words of a query that count; more are ignored. */
const MAX_QUERY_WORDS = 8;

export interface ProductMessageInput {
  productRetailerId: string;
  sections: { title: string; productRetailerIds: string[] }[];
}

export type ProductMessage = { kind: "single"; product: Product } | { kind: "multi"; sections: { title: string; products: Product[] }[] };

/** Catalog use cases; authorization happens in the rpc layer before these run. */
/** Catalogs a replica keeps in memory at most (each is a few hundred bytes). */
const CATALOG_CACHE = 10_000;

export function createCatalogService(ports: CatalogPorts) {
  const now = ports.now ?? (() => new Date());
  const db = ports.db;
  const catalogs = new Map<string, Catalog>();

  async function catalogOrDefault(businessId: string, catalogId: string): Promise<Catalog> {
    if (!catalogId) return catalogRowToCatalog(await defaultCatalog(db, businessId, randomUUID()));
    const c = await getCatalog(catalogId, "catalog_id");
    if (c.businessId !== businessId) throw new NotFound("catalog");
    return c;
  }

  async function getCatalog(id: string, field = "catalog_id"): Promise<Catalog> {
    if (!id) throw new InvalidInput(field, "is required");
    const known = catalogs.get(id);
    if (known) return known;
    const row = isUuid(id) ? await findCatalog(db, id) : undefined;
    if (!row) throw new NotFound("catalog");
    // Catalog rows never change once written (no RPC updates or deletes one), so any replica may keep them.
    if (catalogs.size >= CATALOG_CACHE) catalogs.clear();
    const c = catalogRowToCatalog(row);
    catalogs.set(id, c);
    return c;
  }

  async function getProduct(id: string): Promise<Product> {
    const row = isUuid(id) ? await findProduct(db, id) : undefined;
    if (!row) throw new NotFound("product");
    return productRowToProduct(row);
  }

  /** Writes one chunk: one statement, or row by row (savepoints) when the statement fails, so one bad row fails alone. */
  async function writeChunk(catalog: Catalog, rows: { index: number; valid: ValidProduct }[]): Promise<RowResult[]> {
    const at = now();
    const toRow = (v: ValidProduct) => ({ id: randomUUID(), business_id: catalog.businessId, catalog_id: catalog.id, created_at: at, ...valuesOf(v) });
    const record = (trx: Kysely<CatalogDatabase>, written: (ProductRow & { inserted: boolean })[]) =>
      ports.enqueue(trx, written.map((r) => productUpsertedEvent(productRowToProduct(r), at)));
    try {
      return await db.transaction().execute(async (trx) => {
        const written = await upsertProducts(trx, rows.map((r) => toRow(r.valid)));
        await addWords(trx, catalog.id, [...new Set(rows.flatMap((r) => wordsOf(r.valid)))]);
        await record(trx, written);
        const byRetailer = new Map(written.map((w) => [w.retailer_id, w]));
        return rows.map((r) => {
          const w = byRetailer.get(r.valid.retailerId)!;
          return { index: r.index, retailerId: r.valid.retailerId, outcome: w.inserted ? "created" : "updated", productId: w.id } as RowResult;
        });
      });
    } catch (err) {
      if (rows.length === 1) return [failure(rows[0]!.index, rows[0]!.valid.retailerId, err)];
    }
    return db.transaction().execute(async (trx) => {
      const out: RowResult[] = [];
      for (const r of rows) {
        await sql`SAVEPOINT bulk_row`.execute(trx);
        try {
          const [w] = await upsertProducts(trx, [toRow(r.valid)]);
          await addWords(trx, catalog.id, wordsOf(r.valid));
          await record(trx, [w!]);
          await sql`RELEASE SAVEPOINT bulk_row`.execute(trx);
          out.push({ index: r.index, retailerId: r.valid.retailerId, outcome: w!.inserted ? "created" : "updated", productId: w!.id });
        } catch (err) {
          await sql`ROLLBACK TO SAVEPOINT bulk_row`.execute(trx);
          out.push(failure(r.index, r.valid.retailerId, err));
        }
      }
      return out;
    });
  }

  function failure(index: number, retailerId: string, err: unknown): RowResult {
    const known = err instanceof KontorError ? err : fromDb(err);
    return { index, retailerId, outcome: "failed", productId: "", error: known };
  }

  function fromDb(err: unknown): KontorError {
    const code = (err as { code?: string; constraint?: string }).code;
    const constraint = (err as { constraint?: string }).constraint;
    if (constraint === "product_stock_check") return new PolicyRefused("INVENTORY_BELOW_RESERVED", "inventory is below the units reserved by unpaid orders", 0, "inventory");
    if (code?.startsWith("22") || code === "23514") return new InvalidInput("product", "value rejected");
    return new PolicyRefused("ROW_NOT_WRITTEN", "the row could not be written");
  }

  async function upsertMany(catalog: Catalog, inputs: { index: number; input: ProductInput }[]): Promise<RowResult[]> {
    const results: RowResult[] = [];
    const seen = new Set<string>();
    let pending: { index: number; valid: ValidProduct }[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      results.push(...(await writeChunk(catalog, pending)));
      pending = [];
    };
    for (const { index, input } of inputs) {
      let valid: ValidProduct;
      try {
        valid = validateProduct(input);
      } catch (err) {
        results.push(failure(index, input.retailerId.trim().slice(0, 100), err));
        continue;
      }
      if (seen.has(valid.retailerId)) {
        results.push({ index, retailerId: valid.retailerId, outcome: "failed", productId: "", error: new InvalidInput("retailer_id", "appears twice in one call", "DUPLICATE_ROW") });
        continue;
      }
      seen.add(valid.retailerId);
      pending.push({ index, valid });
      if (pending.length >= UPSERT_CHUNK) await flush();
    }
    await flush();
    return results.sort((a, b) => a.index - b.index);
  }

  return {
    getCatalog,
    getProduct,

    async createCatalog(businessId: string, name: string): Promise<Catalog> {
      const trimmed = name.trim();
      if (!trimmed) throw new InvalidInput("name", "is required");
      if (trimmed.length > 200) throw new InvalidInput("name", "must be at most 200 characters");
      // The first catalog of a business is its default.
      return db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(hashtext(${`catalog:${businessId}`}))`.execute(trx);
        const existing = await listCatalogs(trx, businessId);
        return catalogRowToCatalog(await insertCatalog(trx, { id: randomUUID(), business_id: businessId, name: trimmed, is_default: existing.length === 0 }));
      });
    },

    async listCatalogs(businessId: string): Promise<Catalog[]> {
      return (await listCatalogs(db, businessId)).map(catalogRowToCatalog);
    },

    /** The original single-product create, with the full product fields; the default catalog when none is named. */
    async createProduct(businessId: string, catalogId: string, input: ProductInput): Promise<Product> {
      validateNewProduct({ businessId, retailerId: input.retailerId, name: input.name, description: input.description, price: input.price, imageUrl: input.imageUrls[0] ?? "" });
      const valid = validateProduct(input);
      const catalog = await catalogOrDefault(businessId, catalogId);
      const at = now();
      return db.transaction().execute(async (trx) => {
        const row = await insertProduct(trx, {
          id: randomUUID(),
          business_id: businessId,
          catalog_id: catalog.id,
          // Millisecond clock: page cursors carry ms, so rows must not differ below that.
          created_at: new Date(),
          ...valuesOf(valid),
        });
        await addWords(trx, catalog.id, wordsOf(valid));
        const product = productRowToProduct(row);
        await ports.enqueue(trx, [productCreatedEvent(product), productUpsertedEvent(product, at)]);
        return product;
      });
    },

    async updateProduct(product: Product, update: ProductInput, mask: string[]): Promise<Product> {
      if (product.archived) throw new PolicyRefused("PRODUCT_ARCHIVED", "an archived product cannot change");
      return db.transaction().execute(async (trx) => {
        const locked = await findProductForUpdate(trx, product.id);
        if (!locked || locked.archived_at) throw new PolicyRefused("PRODUCT_ARCHIVED", "an archived product cannot change");
        const current = productRowToProduct(locked);
        const valid = applyUpdateMask(current, update, mask);
        if (valid.inventory !== null && valid.inventory < current.reserved)
          throw new PolicyRefused("INVENTORY_BELOW_RESERVED", `inventory cannot go below the ${current.reserved} units reserved by unpaid orders`, 0, "product.inventory");
        const row = await updateProduct(trx, product.id, valuesOf(valid));
        await addWords(trx, row.catalog_id, wordsOf(valid));
        const updated = productRowToProduct(row);
        await ports.enqueue(trx, [productUpsertedEvent(updated, now())]);
        return updated;
      });
    },

    async archiveProduct(product: Product): Promise<Product> {
      if (product.archived) return product;
      return db.transaction().execute(async (trx) => {
        const row = await archiveProduct(trx, product.id);
        const archived = productRowToProduct(row);
        await ports.enqueue(trx, [productArchivedEvent(archived, now())]);
        return archived;
      });
    },

    /** Creates or updates products by retailer id; each row has its own result, a bad row fails alone. */
    async bulkUpsert(catalog: Catalog, inputs: { index: number; input: ProductInput }[]): Promise<RowResult[]> {
      if (inputs.length > MAX_BULK_ROWS) throw new InvalidInput("products", `a call carries at most ${MAX_BULK_ROWS} products`);
      return upsertMany(catalog, inputs);
    },

    /** Hidden and archived products are listed only with includeHidden (their owner); archived never. */
    async listProducts(businessId: string, limit: number, after: { createdAt: Date; id: string } | undefined, options: { includeHidden: boolean; catalogId?: string }): Promise<Product[]> {
      const rows = await listProducts(db, businessId, limit, after, options);
      return rows.map(productRowToProduct);
    },

    async searchProducts(catalog: Catalog, input: SearchInput, options: { includeHidden: boolean; limit: number; cursor: SearchCursor | undefined }): Promise<{ product: Product; cursor: SearchCursor }[]> {
      if (input.minPriceMinor !== undefined && input.maxPriceMinor !== undefined && input.minPriceMinor > input.maxPriceMinor) throw new InvalidInput("max_price_minor", "must not be below min_price_minor");
      let tsquery: string | undefined;
      if (input.query.trim()) {
        const words = [...new Set(normalizeWords(input.query))].slice(0, MAX_QUERY_WORDS);
        if (words.length === 0) return [];
        const alts = await wordAlternatives(ports.pool, catalog.id, words);
        tsquery = alts
          .map((a) => {
            const terms = [a.w.length >= 3 ? `${a.w}:*` : a.w, ...(a.exact ? [] : a.alts)];
            return `(${terms.join(" | ")})`;
          })
          .join(" & ");
      }
      const c = options.cursor;
      if (c && ("r" in c) !== (tsquery !== undefined)) throw new InvalidInput("page.page_token", "is not a token for this query");
      const after = c === undefined ? undefined : "r" in c ? { rank: c.r, id: c.id, seq: c.s } : { createdAt: new Date(c.t), id: c.id };
      const rows: RankedRow[] = await searchProducts(db, ports.pool, {
        catalogId: catalog.id,
        tsquery,
        categories: input.categories,
        minPriceMinor: input.minPriceMinor,
        maxPriceMinor: input.maxPriceMinor,
        availability: input.availability,
        includeHidden: options.includeHidden,
        now: now(),
        limit: options.limit,
        rankCap: ports.searchRankCap ?? 200,
        after,
      });
      const cursorOf = (r: RankedRow): SearchCursor =>
        tsquery === undefined ? { t: r.created_at.toISOString(), id: r.id } : r.seq_bound !== undefined ? { r: Number(r.rank), id: r.id, s: r.seq_bound } : { r: Number(r.rank), id: r.id };
      return rows.map((r) => ({ product: productRowToProduct(r), cursor: cursorOf(r) }));
    },

    /** Checks a single- or multi-product message against the catalog: every product exists, is visible and not archived. */
    async productMessage(catalog: Catalog, input: ProductMessageInput): Promise<ProductMessage> {
      const single = input.productRetailerId.trim();
      if (single && input.sections.length > 0) throw new InvalidInput("sections", "must be empty for a single-product message");
      if (!single && input.sections.length === 0) throw new InvalidInput("product_retailer_id", "or sections is required");
      if (input.sections.length > 10) throw new InvalidInput("sections", "must hold at most 10 sections");
      const all: string[] = single ? [single] : [];
      const seen = new Set<string>();
      input.sections.forEach((s, i) => {
        if (input.sections.length > 1 && !s.title.trim()) throw new InvalidInput(`sections[${i}].title`, "is required when there is more than one section");
        if (s.title.length > 24) throw new InvalidInput(`sections[${i}].title`, "must be at most 24 characters");
        if (s.productRetailerIds.length === 0) throw new InvalidInput(`sections[${i}].product_retailer_ids`, "must name at least one product");
        s.productRetailerIds.forEach((id, j) => {
          if (seen.has(id)) throw new InvalidInput(`sections[${i}].product_retailer_ids[${j}]`, "appears twice");
          seen.add(id);
          all.push(id);
        });
      });
      if (all.length > 30) throw new InvalidInput("sections", "must hold at most 30 products in total");
      const rows = await findByRetailerIds(db, catalog.id, all);
      const byRetailer = new Map(rows.map((r) => [r.retailer_id, productRowToProduct(r)]));
      const usable = (id: string, field: string) => {
        const p = byRetailer.get(id);
        if (!p || p.archived || !p.visible) throw new PolicyRefused("PRODUCT_NOT_IN_CATALOG", `product ${id.slice(0, 100)} is not in the catalog`, 131009, field);
        return p;
      };
      if (single) return { kind: "single", product: usable(single, "product_retailer_id") };
      return {
        kind: "multi",
        sections: input.sections.map((s, i) => ({ title: s.title, products: s.productRetailerIds.map((id, j) => usable(id, `sections[${i}].product_retailer_ids[${j}]`)) })),
      };
    },
  };
}

export type { Catalog };
export type CatalogService = ReturnType<typeof createCatalogService>;

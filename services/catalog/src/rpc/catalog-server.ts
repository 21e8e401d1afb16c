import {
  CatalogServiceService,
  ImportFormat,
  RowOutcome,
  type CatalogServiceServer,
  type ImportProductsRequest,
  type ImportProductsResponse,
  type ProductInput as ProductInputPb,
  type RowResult as RowResultPb,
  type BulkUpsertProductsRequest,
} from "@kontor/proto/catalog/v1/catalog_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { parseMoney } from "@kontor/service-kit/money";
import { pageOf, readPage } from "@kontor/service-kit/paging";
import type { CatalogService, RowResult, SearchCursor } from "../domain/catalog-service.js";
import type { CartService } from "../domain/cart-service.js";
import type { OrderService } from "../domain/order-service.js";
import type { CommerceSettings, CommerceSettingsService } from "../domain/commerce-settings.js";
import { validateAddress, validateTracking, type OrderState } from "../domain/order.js";
import { ProductFileReader } from "../domain/import.js";
import type { ProductInput } from "../domain/product.js";
import { cartToPb, catalogToPb, orderToPb, productToPb, stateFromPb } from "./mappers.js";
import {
  authorizeListOrders,
  authorizeManageBusiness,
  authorizeManageCatalog,
  authorizeReadCatalog,
  authorizeReadOrder,
  authorizeUpdateOrder,
  customerFor,
} from "./authorize.js";

type Cursor = { t: string; id: string };
const isCursor = (v: unknown): v is Cursor =>
  typeof v === "object" && v !== null && typeof (v as Cursor).t === "string" && !Number.isNaN(Date.parse((v as Cursor).t)) && typeof (v as Cursor).id === "string" && isUuid((v as Cursor).id);
const isSearchCursor = (v: unknown): v is SearchCursor => {
  if (isCursor(v)) return true;
  if (typeof v !== "object" || v === null) return false;
  const c = v as { r?: unknown; id?: unknown; s?: unknown };
  return typeof c.r === "number" && Number.isFinite(c.r) && typeof c.id === "string" && isUuid(c.id) && (c.s === undefined || (typeof c.s === "string" && /^\d{1,19}$/.test(c.s)));
};

/** The proto's ProductInput as the domain's. */
export function inputFromPb(p: ProductInputPb | undefined): ProductInput {
  return {
    retailerId: p?.retailerId ?? "",
    name: p?.name ?? "",
    description: p?.description ?? "",
    price: p?.price,
    imageUrls: p?.imageUrls ?? [],
    salePrice: p?.salePrice,
    saleStartsAt: p?.saleStartsAt,
    saleEndsAt: p?.saleEndsAt,
    availability: p?.availability ?? 0,
    inventory: p?.inventory,
    categories: p?.categories ?? [],
    collections: p?.collections ?? [],
    itemGroupId: p?.itemGroupId ?? "",
    size: p?.size ?? "",
    color: p?.color ?? "",
    visible: p?.visible,
  };
}

function rowResultToPb(r: RowResult): RowResultPb {
  return {
    index: r.index,
    retailerId: r.retailerId,
    outcome: r.outcome === "created" ? RowOutcome.ROW_OUTCOME_CREATED : r.outcome === "updated" ? RowOutcome.ROW_OUTCOME_UPDATED : RowOutcome.ROW_OUTCOME_FAILED,
    productId: r.productId,
    field: r.error?.field ?? "",
    reason: r.error?.reason ?? "",
    message: r.error?.message ?? "",
  };
}

/**
 * The messages of a client or duplex stream, one at a time, by its events
 * (pausing the stream while the handler works on what arrived).
 */
async function* messagesOf<T>(call: NodeJS.EventEmitter & { pause(): unknown; resume(): unknown }): AsyncGenerator<T> {
  const queue: T[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  call.on("data", (m: T) => {
    queue.push(m);
    call.pause();
    wake?.();
  });
  call.on("end", () => {
    ended = true;
    wake?.();
  });
  call.on("error", (err: unknown) => {
    failure = err;
    wake?.();
  });
  call.on("cancelled", () => {
    failure = new Error("the call was cancelled");
    wake?.();
  });
  for (;;) {
    const next = queue.shift();
    if (next !== undefined) {
      if (queue.length === 0) call.resume();
      yield next;
      continue;
    }
    if (failure) throw failure;
    if (ended) return;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

/** Rows ImportProducts upserts per step (and per progress message). */
const IMPORT_BATCH = 500;
/** Rows one import may hold. */
const MAX_IMPORT_ROWS = 200_000;

export interface CatalogUseCases {
  catalog: CatalogService;
  carts: CartService;
  orders: OrderService;
  settings: CommerceSettingsService;
}

const settingsToPb = (s: CommerceSettings) => ({ isCartEnabled: s.isCartEnabled, isCatalogVisible: s.isCatalogVisible, updatedAt: s.updatedAt });

/** Thin handlers: decode → authorize → domain → map. */
export function registerCatalogServer(grpc: KitServer, { catalog, carts, orders, settings }: CatalogUseCases, maxPageSize: number): void {
  const managedCatalog = async (principal: Parameters<typeof authorizeManageCatalog>[0], catalogId: string) => {
    const c = await catalog.getCatalog(catalogId);
    authorizeManageCatalog(principal, c);
    return c;
  };
  const managedProduct = async (principal: Parameters<typeof authorizeManageCatalog>[0], productId: string) => {
    if (!productId) throw new InvalidInput("product_id", "is required");
    const p = await catalog.getProduct(productId);
    authorizeManageCatalog(principal, { id: p.catalogId, businessId: p.businessId, name: "", isDefault: false, createdAt: p.createdAt });
    return p;
  };

  const handlers: CatalogServiceServer = {
    createProduct: grpc.unary("CreateProduct", async (req, ctx) => {
      authorizeManageBusiness(ctx.principal, req.businessId);
      const product = await catalog.createProduct(req.businessId, req.catalogId, {
        ...inputFromPb(req),
        imageUrls: req.imageUrls.length > 0 ? req.imageUrls : req.imageUrl ? [req.imageUrl] : [],
      });
      return { product: productToPb(product) };
    }),
    getProduct: grpc.unary("GetProduct", async (req, ctx) => {
      if (!req.productId) throw new InvalidInput("product_id", "is required");
      const product = await catalog.getProduct(req.productId);
      // Hidden and archived products exist only for their owner.
      if ((!product.visible || product.archived) && !authorizeReadCatalog(ctx.principal, product.businessId).includeHidden) throw new NotFound("product");
      return { product: productToPb(product) };
    }),
    listProducts: grpc.unary("ListProducts", async (req, ctx) => {
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      if (req.catalogId && !isUuid(req.catalogId)) throw new InvalidInput("catalog_id", "is not a catalog id");
      const { limit, take, cursor } = readPage(req.page, isCursor, maxPageSize);
      const after = cursor ? { createdAt: new Date(cursor.t), id: cursor.id } : undefined;
      const { includeHidden } = authorizeReadCatalog(ctx.principal, req.businessId);
      const products = await catalog.listProducts(req.businessId, take, after, { includeHidden, catalogId: req.catalogId || undefined });
      const { items, page } = pageOf(products, limit, (last) => ({ t: last.createdAt.toISOString(), id: last.id }));
      return { products: items.map((p) => productToPb(p)), page };
    }),

    createCatalog: grpc.unary("CreateCatalog", async (req, ctx) => {
      authorizeManageBusiness(ctx.principal, req.businessId);
      return { catalog: catalogToPb(await catalog.createCatalog(req.businessId, req.name)) };
    }),
    listCatalogs: grpc.unary("ListCatalogs", async (req) => {
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      return { catalogs: (await catalog.listCatalogs(req.businessId)).map(catalogToPb) };
    }),
    updateProduct: grpc.unary("UpdateProduct", async (req, ctx) => {
      const product = await managedProduct(ctx.principal, req.productId);
      return { product: productToPb(await catalog.updateProduct(product, inputFromPb(req.product), req.updateMask ?? [])) };
    }),
    archiveProduct: grpc.unary("ArchiveProduct", async (req, ctx) => {
      const product = await managedProduct(ctx.principal, req.productId);
      return { product: productToPb(await catalog.archiveProduct(product)) };
    }),
    bulkUpsertProducts: grpc.clientStream("BulkUpsertProducts", async (call, ctx) => {
      // Every message is read (and checked by the kit) before anything is written: a refused stream writes nothing.
      let catalogId = "";
      const rows: { index: number; input: ProductInput }[] = [];
      for await (const msg of messagesOf<BulkUpsertProductsRequest>(call)) {
        if (msg.catalogId) {
          if (catalogId && msg.catalogId !== catalogId) throw new InvalidInput("catalog_id", "must be the same in every message");
          catalogId = msg.catalogId;
        }
        for (const p of msg.products) {
          rows.push({ index: rows.length, input: inputFromPb(p) });
          if (rows.length > 10_000) throw new InvalidInput("products", "a call carries at most 10000 products");
        }
      }
      const target = await managedCatalog(ctx.principal, catalogId);
      const results = await catalog.bulkUpsert(target, rows);
      const count = (o: RowResult["outcome"]) => results.filter((r) => r.outcome === o).length;
      return { results: results.map(rowResultToPb), created: count("created"), updated: count("updated"), failed: count("failed") };
    }),
    importProducts: grpc.duplex("ImportProducts", async (call, ctx) => {
      let reader: ProductFileReader | undefined;
      let target: Awaited<ReturnType<typeof managedCatalog>> | undefined;
      const progress: ImportProductsResponse = { rowsRead: 0, created: 0, updated: 0, failed: 0, failures: [], done: false };
      let pending: { index: number; input: ProductInput }[] = [];
      const send = async (done: boolean) => {
        const ok = call.write({ ...progress, done });
        progress.failures = [];
        if (!ok) await new Promise<void>((resolve) => call.once("drain", () => resolve()));
      };
      const take = async (rows: ReturnType<ProductFileReader["push"]>) => {
        for (const row of rows) {
          progress.rowsRead += 1;
          if (progress.rowsRead > MAX_IMPORT_ROWS) throw new InvalidInput("chunk", `an import holds at most ${MAX_IMPORT_ROWS} rows`);
          if ("error" in row) {
            progress.failed += 1;
            progress.failures.push(rowResultToPb({ index: row.index, retailerId: row.retailerId, outcome: "failed", productId: "", error: row.error }));
          } else pending.push({ index: row.index, input: row.input });
          if (pending.length >= IMPORT_BATCH) await flush();
        }
      };
      const flush = async () => {
        if (pending.length === 0) return;
        const results = await catalog.bulkUpsert(target!, pending);
        pending = [];
        for (const r of results) {
          if (r.outcome === "created") progress.created += 1;
          else if (r.outcome === "updated") progress.updated += 1;
          else {
            progress.failed += 1;
            progress.failures.push(rowResultToPb(r));
          }
        }
        await send(false);
      };
      for await (const msg of messagesOf<ImportProductsRequest>(call)) {
        if (!reader) {
          target = await managedCatalog(ctx.principal, msg.catalogId);
          if (msg.format !== ImportFormat.IMPORT_FORMAT_CSV && msg.format !== ImportFormat.IMPORT_FORMAT_JSON_LINES) throw new InvalidInput("format", "must be CSV or JSON_LINES");
          reader = new ProductFileReader(msg.format === ImportFormat.IMPORT_FORMAT_CSV ? "csv" : "jsonl");
        }
        await take(reader.push(msg.chunk));
      }
      if (!reader) throw new InvalidInput("catalog_id", "is required");
      await take(reader.end());
      await flush();
      await send(true);
    }),
    searchProducts: grpc.unary("SearchProducts", async (req, ctx) => {
      const target = await catalog.getCatalog(req.catalogId);
      const { includeHidden } = authorizeReadCatalog(ctx.principal, target.businessId);
      if (req.minPriceMinor !== "0" && BigInt(req.minPriceMinor) < 0n) throw new InvalidInput("min_price_minor", "must not be negative");
      if (req.maxPriceMinor !== "0" && BigInt(req.maxPriceMinor) < 0n) throw new InvalidInput("max_price_minor", "must not be negative");
      const { limit, take, cursor } = readPage(req.page, isSearchCursor, maxPageSize);
      const found = await catalog.searchProducts(
        target,
        {
          query: req.query,
          categories: req.categories,
          minPriceMinor: req.minPriceMinor === "0" ? undefined : BigInt(req.minPriceMinor),
          maxPriceMinor: req.maxPriceMinor === "0" ? undefined : BigInt(req.maxPriceMinor),
          availability: req.availability,
        },
        { includeHidden, limit: take, cursor },
      );
      const { items, page } = pageOf(found, limit, (last) => last.cursor);
      return { products: items.map((f) => productToPb(f.product)), page };
    }),
    getProductMessage: grpc.unary("GetProductMessage", async (req, ctx) => {
      const target = await managedCatalog(ctx.principal, req.catalogId);
      const message = await catalog.productMessage(target, { productRetailerId: req.productRetailerId, sections: req.sections.map((s) => ({ title: s.title, productRetailerIds: s.productRetailerIds })) });
      if (message.kind === "single") return { catalogId: target.id, product: productToPb(message.product), sections: [] };
      return { catalogId: target.id, product: undefined, sections: message.sections.map((s) => ({ title: s.title, products: s.products.map((p) => productToPb(p)) })) };
    }),

    getCart: grpc.unary("GetCart", async (req, ctx) => {
      const customerId = customerFor(ctx.principal, req.customerId);
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      const cart = await carts.getCart(customerId, req.businessId);
      return { cart: cart ? cartToPb(cart) : undefined };
    }),
    addCartItem: grpc.unary("AddCartItem", async (req, ctx) => {
      const customerId = customerFor(ctx.principal, req.customerId);
      const target = await catalog.getCatalog(req.catalogId);
      await settings.requireCart(target.businessId);
      return { cart: cartToPb(await carts.add(customerId, target, req.productRetailerId, req.quantity)) };
    }),
    setCartItemQuantity: grpc.unary("SetCartItemQuantity", async (req, ctx) => {
      const customerId = customerFor(ctx.principal, req.customerId);
      const target = await catalog.getCatalog(req.catalogId);
      return { cart: cartToPb(await carts.setQuantity(customerId, target, req.productRetailerId, req.quantity)) };
    }),
    removeCartItem: grpc.unary("RemoveCartItem", async (req, ctx) => {
      const customerId = customerFor(ctx.principal, req.customerId);
      const target = await catalog.getCatalog(req.catalogId);
      return { cart: cartToPb(await carts.remove(customerId, target, req.productRetailerId)) };
    }),
    checkout: grpc.unary("Checkout", async (req, ctx) => {
      const customerId = customerFor(ctx.principal, req.customerId);
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      const expected = req.expectedTotal ? parseMoney("expected_total", req.expectedTotal) : undefined;
      await settings.requireCart(req.businessId);
      const order = await carts.checkout(customerId, req.businessId, { note: req.note, deliveryAddress: validateAddress(req.deliveryAddress), expectedTotal: expected });
      return { order: orderToPb(order) };
    }),

    createChatOrder: grpc.unary("CreateChatOrder", async (req, ctx) => {
      const customerId = customerFor(ctx.principal, req.customerId);
      const target = await catalog.getCatalog(req.catalogId);
      const order = await orders.createChatOrder(
        customerId,
        target,
        req.text,
        req.items.map((i) => ({ retailerId: i.productRetailerId, quantity: i.quantity, itemPrice: i.itemPrice })),
      );
      return { order: orderToPb(order) };
    }),
    getOrder: grpc.unary("GetOrder", async (req, ctx) => {
      if (!req.orderId) throw new InvalidInput("order_id", "is required");
      const order = await orders.getOrder(req.orderId);
      authorizeReadOrder(ctx.principal, order);
      return { order: orderToPb(order) };
    }),
    listOrders: grpc.unary("ListOrders", async (req, ctx) => {
      const by = authorizeListOrders(ctx.principal, req.businessId, req.customerId);
      const states = req.states.map((s, i) => {
        const state = stateFromPb(s);
        if (!state) throw new InvalidInput(`states[${i}]`, "is not an order state");
        return state;
      });
      const { limit, take, cursor } = readPage(req.page, isCursor, maxPageSize);
      const after = cursor ? { createdAt: new Date(cursor.t), id: cursor.id } : undefined;
      const list = await orders.listOrders(by, states, take, after);
      const { items, page } = pageOf(list, limit, (last) => ({ t: last.createdAt.toISOString(), id: last.id }));
      return { orders: items.map(orderToPb), page };
    }),
    updateOrderStatus: grpc.unary("UpdateOrderStatus", async (req, ctx) => {
      if (!req.orderId) throw new InvalidInput("order_id", "is required");
      const to: OrderState | undefined = stateFromPb(req.state);
      if (!to) throw new InvalidInput("state", "is required");
      const order = await orders.getOrder(req.orderId);
      const actor = authorizeUpdateOrder(ctx.principal, order);
      return { order: orderToPb(await orders.updateStatus(order.id, to, actor, { tracking: validateTracking(req.tracking), note: req.note })) };
    }),

    getCommerceSettings: grpc.unary("GetCommerceSettings", async (req) => {
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      return { settings: settingsToPb(await settings.get(req.businessId)) };
    }),
    updateCommerceSettings: grpc.unary("UpdateCommerceSettings", async (req, ctx) => {
      authorizeManageBusiness(ctx.principal, req.businessId);
      return { settings: settingsToPb(await settings.update(req.businessId, { isCartEnabled: req.isCartEnabled, isCatalogVisible: req.isCatalogVisible })) };
    }),
  };
  grpc.addService(CatalogServiceService, handlers);
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { Availability, RowOutcome, type CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { ProductArchived, ProductUpserted } from "@kontor/proto/catalog/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildProductInput, bulkUpsert, call, clientAt, importFile, refusal } from "./factories.js";

let env: TestEnv;
let app: CatalogApp;
let client: CatalogServiceClient;
let owner: string;
let intruder: string;
let catalogId: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env()));
  const { port } = await app.start();
  client = clientAt(port);
  owner = await env.token({ kind: "business", businessId: "biz_shop" });
  intruder = await env.token({ kind: "business", businessId: "biz_other" });
  catalogId = (await call(client, "createCatalog", { businessId: "biz_shop", name: "Summer" }, owner)).catalog!.id;
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("catalogs", () => {
  it("when a business creates catalogs, then the first is its default, CreateProduct without a catalog uses it, and retailer ids are unique per catalog", async () => {
    const biz = `biz_cat_${Date.now()}`;
    const token = await env.token({ kind: "business", businessId: biz });
    const first = (await call(client, "createCatalog", { businessId: biz, name: "Main" }, token)).catalog!;
    const second = (await call(client, "createCatalog", { businessId: biz, name: "Outlet" }, token)).catalog!;
    expect([first.isDefault, second.isDefault]).toEqual([true, false]);
    const listed = await call(client, "listCatalogs", { businessId: biz }, token);
    expect(listed.catalogs.map((c) => c.name)).toEqual(["Main", "Outlet"]);

    const { product } = await call(client, "createProduct", { businessId: biz, retailerId: "SKU-1", name: "Mug", price: { amountMinor: "500", currency: "EUR" } }, token);
    expect(product!.catalogId).toBe(first.id);
    // The same SKU in another catalog is another product; twice in one catalog is refused.
    await call(client, "createProduct", { businessId: biz, catalogId: second.id, retailerId: "SKU-1", name: "Mug", price: { amountMinor: "400", currency: "EUR" } }, token);
    const dup = await refusal(client, "createProduct", { businessId: biz, catalogId: second.id, retailerId: "SKU-1", name: "Mug", price: { amountMinor: "400", currency: "EUR" } }, token);
    expect({ code: dup.code, field: dup.field }).toEqual({ code: status.ALREADY_EXISTS, field: "retailer_id" });
  });

  it("when another business names this business's catalog, then PERMISSION_DENIED for create, update, archive, bulk upsert and product messages, and nothing changes", async () => {
    const { product } = await call(client, "createProduct", { businessId: "biz_shop", catalogId, ...buildProductInput({ name: "Private vase" }) }, owner);
    expect((await refusal(client, "createProduct", { businessId: "biz_shop", catalogId, ...buildProductInput() }, intruder)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "updateProduct", { productId: product!.id, product: buildProductInput({ name: "Stolen" }), updateMask: ["name"] }, intruder)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "archiveProduct", { productId: product!.id }, intruder)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "getProductMessage", { catalogId, productRetailerId: product!.retailerId }, intruder)).code).toBe(status.PERMISSION_DENIED);
    await expect(bulkUpsert(client, catalogId, [buildProductInput()], intruder)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    // The other business's own catalog id does not reach this business's products either.
    const got = await call(client, "getProduct", { productId: product!.id }, owner);
    expect(got.product!.name).toBe("Private vase");
    expect(got.product!.archived).toBe(false);
  });
});

describe("tenant isolation of reads and of partners", () => {
  it("when a rival business or another business's partner looks at this catalog, then hidden products do not exist for them and every write is PERMISSION_DENIED; this business's partner reads and writes it", async () => {
    const [row] = (await bulkUpsert(client, catalogId, [buildProductInput({ name: "Unreleased kettle", visible: false })], owner)).results;
    const hidden = { id: row!.productId };
    const rivalPartner = await env.token({ kind: "partner", partnerId: "p_rival", businessIds: ["biz_other"] });
    const ownPartner = await env.token({ kind: "partner", partnerId: "p_shop", businessIds: ["biz_shop"] });
    for (const token of [intruder, rivalPartner]) {
      expect((await refusal(client, "getProduct", { productId: hidden.id }, token)).code).toBe(status.NOT_FOUND);
      expect((await call(client, "searchProducts", { catalogId, query: "unreleased kettle", page: { pageSize: 10, pageToken: "" } }, token)).products).toEqual([]);
      const listed = await call(client, "listProducts", { businessId: "biz_shop", catalogId, page: { pageSize: 1000, pageToken: "" } }, token);
      expect(listed.products.map((p) => p.id)).not.toContain(hidden.id);
      expect((await refusal(client, "updateProduct", { productId: hidden.id, product: buildProductInput({ visible: true }), updateMask: ["visible"] }, token)).code).toBe(status.PERMISSION_DENIED);
      expect((await refusal(client, "createCatalog", { businessId: "biz_shop", name: "Theirs" }, token)).code).toBe(status.PERMISSION_DENIED);
      await expect(importFile(client, catalogId, "csv", "retailer_id,name,price,currency\nIMPOSTER,Fake,1.00,EUR", token)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    }
    expect((await call(client, "getProduct", { productId: hidden.id }, ownPartner)).product!.name).toBe("Unreleased kettle");
    expect((await call(client, "searchProducts", { catalogId, query: "kettle", page: { pageSize: 10, pageToken: "" } }, ownPartner)).products.map((p) => p.id)).toEqual([hidden.id]);
    const renamed = await call(client, "updateProduct", { productId: hidden.id, product: buildProductInput({ name: "Unreleased teakettle" }), updateMask: ["name"] }, ownPartner);
    expect(renamed.product!.name).toBe("Unreleased teakettle");
    expect((await call(client, "getProduct", { productId: hidden.id }, owner)).product!.visible).toBe(false);
    const all = await call(client, "searchProducts", { catalogId, page: { pageSize: 100, pageToken: "" } }, owner);
    expect(all.products.map((p) => p.retailerId)).not.toContain("IMPOSTER");
  });
});

describe("BulkUpsertProducts limits", () => {
  it("when a call carries 10,001 products, then INVALID_ARGUMENT names products and nothing is written; 10,000 are written", async () => {
    const cat = (await call(client, "createCatalog", { businessId: "biz_shop", name: "Ten thousand" }, owner)).catalog!.id;
    const rows = Array.from({ length: 10_001 }, (_, i) => buildProductInput({ retailerId: `TT-${i}`, name: `Item ${i}`, description: "", imageUrls: [] }));
    await expect(bulkUpsert(client, cat, rows, owner, 1000)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((await call(client, "searchProducts", { catalogId: cat, page: { pageSize: 10, pageToken: "" } }, owner)).products).toEqual([]);
    const ok = await bulkUpsert(client, cat, rows.slice(0, 10_000), owner, 1000);
    expect({ created: ok.created, failed: ok.failed, results: ok.results.length }).toEqual({ created: 10_000, failed: 0, results: 10_000 });
  }, 180_000);
});

describe("UpdateProduct", () => {
  it("when a mask names fields, then only those change, the version grows and a product.upserted event says so", async () => {
    const input = buildProductInput({ name: "Linen shirt", size: "M", color: "blue", itemGroupId: "shirt-1", categories: ["apparel"], inventory: "10" });
    const { product } = await call(client, "createProduct", { businessId: "biz_shop", catalogId, ...input }, owner);
    const saleEnds = new Date(Date.now() + 86_400_000);
    const updated = (
      await call(
        client,
        "updateProduct",
        { productId: product!.id, product: buildProductInput({ name: "IGNORED", price: { amountMinor: "2500", currency: "EUR" }, salePrice: { amountMinor: "2000", currency: "EUR" }, saleEndsAt: saleEnds }), updateMask: ["price", "sale_price", "sale_ends_at"] },
        owner,
      )
    ).product!;
    expect(updated.name).toBe("Linen shirt");
    expect(updated.price).toEqual({ amountMinor: "2500", currency: "EUR" });
    expect(updated.effectivePrice).toEqual({ amountMinor: "2000", currency: "EUR" });
    expect({ size: updated.size, color: updated.color, group: updated.itemGroupId, inventory: updated.inventory, categories: updated.categories }).toEqual({ size: "M", color: "blue", group: "shirt-1", inventory: "10", categories: ["apparel"] });

    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "catalog", subjects.productUpserted)).map((m) => ProductUpserted.decode(m.data)).filter((e) => e.productId === product!.id);
    expect(events.map((e) => [e.version, e.price?.amountMinor, e.effectivePrice?.amountMinor])).toEqual([
      ["1", "1999", "1999"],
      ["2", "2500", "2000"],
    ]);
    expect(events[0]!.catalogId).toBe(catalogId);
  });

  it("when the mask names an unknown field or retailer_id, or the new values are bad, then INVALID_ARGUMENT names it and nothing changes", async () => {
    const { product } = await call(client, "createProduct", { businessId: "biz_shop", catalogId, ...buildProductInput() }, owner);
    expect((await refusal(client, "updateProduct", { productId: product!.id, product: buildProductInput(), updateMask: ["owner"] }, owner)).field).toBe("update_mask");
    expect((await refusal(client, "updateProduct", { productId: product!.id, product: buildProductInput(), updateMask: ["retailer_id"] }, owner)).field).toBe("update_mask");
    expect((await refusal(client, "updateProduct", { productId: product!.id, product: buildProductInput(), updateMask: [] }, owner)).field).toBe("update_mask");
    const sale = await refusal(client, "updateProduct", { productId: product!.id, product: buildProductInput({ salePrice: { amountMinor: "5000", currency: "EUR" } }), updateMask: ["sale_price"] }, owner);
    expect({ code: sale.code, field: sale.field }).toEqual({ code: status.INVALID_ARGUMENT, field: "product.sale_price.amount_minor" });
    const currency = await refusal(client, "updateProduct", { productId: product!.id, product: buildProductInput({ salePrice: { amountMinor: "5", currency: "USD" } }), updateMask: ["sale_price"] }, owner);
    expect(currency.field).toBe("product.sale_price.currency");
    expect((await call(client, "getProduct", { productId: product!.id }, owner)).product!.salePrice).toBeUndefined();
  });
});

describe("ArchiveProduct", () => {
  it("when archived, then others no longer find it, it leaves the listing, its owner still reads it, and product.archived is published", async () => {
    const { product } = await call(client, "createProduct", { businessId: "biz_shop", catalogId, ...buildProductInput({ name: "Old stock" }) }, owner);
    const archived = (await call(client, "archiveProduct", { productId: product!.id }, owner)).product!;
    expect(archived.archived).toBe(true);
    const shopper = await env.token({ kind: "customer", customerId: "c_browse" });
    expect((await refusal(client, "getProduct", { productId: product!.id }, shopper)).code).toBe(status.NOT_FOUND);
    expect((await call(client, "getProduct", { productId: product!.id }, owner)).product!.archived).toBe(true);
    const listed = await call(client, "listProducts", { businessId: "biz_shop", catalogId, page: { pageSize: 1000, pageToken: "" } }, owner);
    expect(listed.products.map((p) => p.id)).not.toContain(product!.id);
    const update = await refusal(client, "updateProduct", { productId: product!.id, product: buildProductInput(), updateMask: ["name"] }, owner);
    expect({ code: update.code, reason: update.reason }).toEqual({ code: status.FAILED_PRECONDITION, reason: "PRODUCT_ARCHIVED" });
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "catalog", subjects.productArchived)).map((m) => ProductArchived.decode(m.data)).filter((e) => e.productId === product!.id);
    expect(events.map((e) => [e.retailerId, e.catalogId])).toEqual([[product!.retailerId, catalogId]]);
  });
});

describe("BulkUpsertProducts", () => {
  it("when some rows are bad, then each row has its own result, the good ones are written, and a second call updates by retailer id", async () => {
    const cat = (await call(client, "createCatalog", { businessId: "biz_shop", name: "Bulk" }, owner)).catalog!.id;
    const good = Array.from({ length: 1200 }, (_, i) => buildProductInput({ retailerId: `BULK-${i}`, name: `Bulk item ${i}` }));
    const rows = [
      ...good.slice(0, 600),
      buildProductInput({ retailerId: "BAD-CURRENCY", price: { amountMinor: "100", currency: "EURO" } }),
      buildProductInput({ retailerId: "BAD-NAME", name: " " }),
      buildProductInput({ retailerId: "BULK-0", name: "Twice in one call" }),
      ...good.slice(600),
    ];
    const first = await bulkUpsert(client, cat, rows, owner, 250);
    expect({ created: first.created, updated: first.updated, failed: first.failed }).toEqual({ created: 1200, updated: 0, failed: 3 });
    expect(first.results).toHaveLength(rows.length);
    expect(first.results.map((r) => r.index)).toEqual(rows.map((_, i) => i));
    const failed = first.results.filter((r) => r.outcome === RowOutcome.ROW_OUTCOME_FAILED).map((r) => [r.index, r.retailerId, r.field, r.reason]);
    expect(failed).toEqual([
      [600, "BAD-CURRENCY", "price.currency", "INVALID_FIELD"],
      [601, "BAD-NAME", "name", "INVALID_FIELD"],
      [602, "BULK-0", "retailer_id", "DUPLICATE_ROW"],
    ]);

    const again = await bulkUpsert(client, cat, [buildProductInput({ retailerId: "BULK-1", name: "Renamed" }), buildProductInput({ retailerId: "BULK-NEW" })], owner);
    expect(again.results.map((r) => r.outcome)).toEqual([RowOutcome.ROW_OUTCOME_UPDATED, RowOutcome.ROW_OUTCOME_CREATED]);
    expect(again.results[0]!.productId).toBe(first.results[1]!.productId);
    expect((await call(client, "getProduct", { productId: again.results[0]!.productId }, owner)).product!.name).toBe("Renamed");
  });

  it("when a row only the database refuses is in a chunk, then that row fails alone and the rest of its chunk is written", async () => {
    const cat = (await call(client, "createCatalog", { businessId: "biz_shop", name: "Chunk" }, owner)).catalog!.id;
    // Two units of X are reserved by an unpaid order; a row setting its inventory to 1 breaks the stock check.
    const x = buildProductInput({ retailerId: "X", inventory: "5" });
    const [created] = (await bulkUpsert(client, cat, [x], owner)).results;
    const customer = await env.token({ kind: "customer", customerId: "c_chunk" });
    await call(client, "createChatOrder", { catalogId: cat, items: [{ productRetailerId: "X", quantity: 2, itemPrice: undefined }] }, customer);
    const res = await bulkUpsert(client, cat, [buildProductInput({ retailerId: "A" }), { ...x, inventory: "1" }, buildProductInput({ retailerId: "B" })], owner);
    expect(res.results.map((r) => [r.retailerId, r.outcome, r.reason])).toEqual([
      ["A", RowOutcome.ROW_OUTCOME_CREATED, ""],
      ["X", RowOutcome.ROW_OUTCOME_FAILED, "INVENTORY_BELOW_RESERVED"],
      ["B", RowOutcome.ROW_OUTCOME_CREATED, ""],
    ]);
    expect((await call(client, "getProduct", { productId: created!.productId }, owner)).product!.inventory).toBe("5");
  });
});

describe("ImportProducts", () => {
  it("when a CSV is sent in chunks cut anywhere (inside quotes and UTF-8 characters), then rows are upserted with progress, prices in 0, 2 and 3 decimals become exact minor units, and bad rows are reported", async () => {
    const cat = (await call(client, "createCatalog", { businessId: "biz_shop", name: "Import" }, owner)).catalog!.id;
    const csv = [
      "retailer_id,name,description,price,currency,availability,inventory,categories,image_urls",
      'IMP-EUR,"Crème brûlée, large","A ""classic""\nwith two lines",19.99,EUR,in stock,3,desserts|sweet,https://cdn.example.com/a.png',
      "IMP-JPY,Matcha,,1000,JPY,preorder,,tea,",
      "IMP-BHD,Dates,,19.999,BHD,,,,",
      "IMP-BIG,Yacht,,90071992547409.93,USD,,,,",
      "IMP-BAD1,Too precise,,10.5,JPY,,,,",
      "IMP-BAD2,No currency,,10,,,,,",
    ].join("\n");
    const progress = await importFile(client, cat, "csv", csv, owner, 5);
    const last = progress[progress.length - 1]!;
    expect(last.done).toBe(true);
    expect({ read: last.rowsRead, created: last.created, failed: last.failed }).toEqual({ read: 6, created: 4, failed: 2 });
    const failures = progress.flatMap((p) => p.failures).map((f) => [f.index, f.retailerId, f.field]);
    expect(failures).toEqual([
      [4, "IMP-BAD1", "price"],
      [5, "IMP-BAD2", "currency"],
    ]);
    const found = await call(client, "searchProducts", { catalogId: cat, page: { pageSize: 10, pageToken: "" } }, owner);
    const byId = Object.fromEntries(found.products.map((p) => [p.retailerId, p]));
    expect(byId["IMP-EUR"]!.price).toEqual({ amountMinor: "1999", currency: "EUR" });
    expect(byId["IMP-EUR"]!.name).toBe("Crème brûlée, large");
    expect(byId["IMP-EUR"]!.description).toBe('A "classic"\nwith two lines');
    expect(byId["IMP-EUR"]!.categories).toEqual(["desserts", "sweet"]);
    expect(byId["IMP-EUR"]!.inventory).toBe("3");
    expect(byId["IMP-JPY"]!.price).toEqual({ amountMinor: "1000", currency: "JPY" });
    expect(byId["IMP-JPY"]!.availability).toBe(Availability.AVAILABILITY_PREORDER);
    expect(byId["IMP-BHD"]!.price).toEqual({ amountMinor: "19999", currency: "BHD" });
    // 2^53 + 1 minor units: a float would have made it ...992.
    expect(byId["IMP-BIG"]!.price).toEqual({ amountMinor: "9007199254740993", currency: "USD" });
  });

  it("when JSON lines are imported, then the same keys work and a line that is not an object fails alone", async () => {
    const cat = (await call(client, "createCatalog", { businessId: "biz_shop", name: "Jsonl" }, owner)).catalog!.id;
    const file = [JSON.stringify({ retailer_id: "J1", name: "Teapot", price_minor: 4500, currency: "EUR", categories: ["tea", "kitchen"] }), "not json", JSON.stringify({ retailer_id: "J2", name: "Cup", price: "3.5", currency: "EUR" })].join("\n");
    const progress = await importFile(client, cat, "jsonl", file, owner, 11);
    const last = progress[progress.length - 1]!;
    expect({ created: last.created, failed: last.failed, done: last.done }).toEqual({ created: 2, failed: 1, done: true });
    const found = await call(client, "searchProducts", { catalogId: cat, page: { pageSize: 10, pageToken: "" } }, owner);
    expect(Object.fromEntries(found.products.map((p) => [p.retailerId, p.price!.amountMinor]))).toEqual({ J1: "4500", J2: "350" });
  });
});

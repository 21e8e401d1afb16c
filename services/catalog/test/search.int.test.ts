import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { Availability, type CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { buildProductInput, bulkUpsert, call, clientAt, refusal } from "./factories.js";

let env: TestEnv;
let app: CatalogApp;
let client: CatalogServiceClient;
let owner: string;
let shopper: string;
let catalogId: string;

const product = (retailerId: string, name: string, priceMinor: number, extra: Parameters<typeof buildProductInput>[0] = {}) =>
  buildProductInput({ retailerId, name, description: "", price: { amountMinor: String(priceMinor), currency: "EUR" }, ...extra });

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env()));
  const { port } = await app.start();
  client = clientAt(port);
  owner = await env.token({ kind: "business", businessId: "biz_search" });
  shopper = await env.token({ kind: "customer", customerId: "c_search" });
  catalogId = (await call(client, "createCatalog", { businessId: "biz_search", name: "Shop" }, owner)).catalog!.id;
  await bulkUpsert(
    client,
    catalogId,
    [
      product("CB", "Crème brûlée", 650, { categories: ["desserts"], description: "Vanilla custard" }),
      product("VASE", "Blue ceramic vase", 4500, { categories: ["home"] }),
      product("VASE2", "Tall glass vase", 3200, { categories: ["home"], availability: Availability.AVAILABILITY_OUT_OF_STOCK }),
      product("MUG", "Ceramic mug", 1200, { categories: ["kitchen", "home"] }),
      product("HIDDEN", "Secret vase", 100, { visible: false }),
      product("SALE", "Sale vase", 9000, { salePrice: { amountMinor: "900", currency: "EUR" }, saleEndsAt: new Date(Date.now() + 86_400_000) }),
    ],
    owner,
  );
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const ids = async (req: Parameters<typeof call<"searchProducts">>[2], token = shopper) =>
  (await call(client, "searchProducts", { catalogId, page: { pageSize: 50, pageToken: "" }, ...req }, token)).products.map((p) => p.retailerId);

describe("SearchProducts", () => {
  it("when the query has no accents or the name has none, then it still matches (accent-insensitive both ways)", async () => {
    expect(await ids({ query: "creme brulee" })).toEqual(["CB"]);
    expect(await ids({ query: "CRÈME" })).toEqual(["CB"]);
    expect(await ids({ query: "custard" })).toEqual(["CB"]);
  });

  it("when a word is misspelt, then close words of the catalog still find the product (typo-tolerant)", async () => {
    expect(await ids({ query: "ceramik" })).toEqual(expect.arrayContaining(["VASE", "MUG"]));
    expect((await ids({ query: "vasse blue" })).sort()).toEqual(["VASE"]);
    expect(await ids({ query: "creme brulle" })).toEqual(["CB"]);
  });

  it("when filtering by category, price range (the effective price) and availability, then only matches come back; hidden products only for the owner", async () => {
    expect((await ids({ categories: ["home"] })).sort()).toEqual(["MUG", "VASE", "VASE2"]);
    expect((await ids({ minPriceMinor: "1000", maxPriceMinor: "4000" })).sort()).toEqual(["MUG", "VASE2"]);
    // The sale price (9.00) counts, not the list price (90.00).
    expect((await ids({ query: "sale", maxPriceMinor: "1000" })).sort()).toEqual(["SALE"]);
    expect((await ids({ query: "vase", availability: [Availability.AVAILABILITY_IN_STOCK] })).sort()).toEqual(["SALE", "VASE"]);
    expect(await ids({ query: "secret" })).toEqual([]);
    expect(await ids({ query: "secret" }, owner)).toEqual(["HIDDEN"]);
    const bad = await refusal(client, "searchProducts", { catalogId, minPriceMinor: "10", maxPriceMinor: "5" }, shopper);
    expect({ code: bad.code, field: bad.field }).toEqual({ code: status.INVALID_ARGUMENT, field: "max_price_minor" });
  });

  it("when a product is renamed, hidden or archived, then text search follows at once (old words gone, new words found, archived never)", async () => {
    const cat = (await call(client, "createCatalog", { businessId: "biz_search", name: "Changes" }, owner)).catalog!.id;
    const [row] = (await bulkUpsert(client, cat, [product("CHG", "Walnut bowl", 500)], owner)).results;
    const find = async (query: string, token = shopper) => (await call(client, "searchProducts", { catalogId: cat, query, page: { pageSize: 10, pageToken: "" } }, token)).products.map((p) => p.retailerId);
    expect(await find("walnut")).toEqual(["CHG"]);
    await call(client, "updateProduct", { productId: row!.productId, product: buildProductInput({ name: "Maple bowl" }), updateMask: ["name"] }, owner);
    expect(await find("walnut")).toEqual([]);
    expect(await find("maple")).toEqual(["CHG"]);
    await call(client, "updateProduct", { productId: row!.productId, product: buildProductInput({ visible: false }), updateMask: ["visible"] }, owner);
    expect(await find("maple")).toEqual([]);
    expect(await find("maple", owner)).toEqual(["CHG"]);
    await call(client, "archiveProduct", { productId: row!.productId }, owner);
    expect(await find("maple", owner)).toEqual([]);
  });

  for (const query of ["", "item"]) {
    it(`when products are added between pages (${query ? "text search" : "browse"}), then paging still returns every earlier product exactly once`, async () => {
      const cat = (await call(client, "createCatalog", { businessId: "biz_search", name: `Paging ${query}` }, owner)).catalog!.id;
      const before = Array.from({ length: 25 }, (_, i) => product(`P${i}`, `Item number ${i}`, 100 + i));
      await bulkUpsert(client, cat, before, owner);
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const res = await call(client, "searchProducts", { catalogId: cat, query, page: { pageSize: 4, pageToken } }, shopper);
        seen.push(...res.products.map((p) => p.retailerId));
        pageToken = res.page!.nextPageToken;
        // Inserts land while the customer pages.
        if (pages < 3) await bulkUpsert(client, cat, [product(`NEW${pages}`, `Item item item new ${pages}`, 50)], owner);
        pages++;
      } while (pageToken && pages < 50);
      const earlier = seen.filter((id) => !id.startsWith("NEW"));
      expect(new Set(seen).size).toBe(seen.length);
      expect(earlier.sort()).toEqual(before.map((p) => p.retailerId).sort());
    });
  }
});

describe("SearchProducts over the rank cap", () => {
  it("when a word matches more products than the rank cap, then its pages go through the capped candidates once each, and products inserted between pages never enter, also into free space early in the table", async () => {
    const capped = await createCatalog(loadConfig(env.env({ SEARCH_RANK_CAP: "10", SWEEP_INTERVAL_MS: "0", CONSUME_PAYMENTS: "false" })));
    const { port } = await capped.start();
    const c = clientAt(port);
    try {
      const cat = (await call(c, "createCatalog", { businessId: "biz_search", name: "Capped" }, owner)).catalog!.id;
      await bulkUpsert(c, cat, Array.from({ length: 30 }, (_, i) => product(`L${i}`, `Lamp ${i}`, 100 + i)), owner);
      // Rewrite every row once (new row versions elsewhere), then vacuum: the old places are free for the inserts below.
      await bulkUpsert(c, cat, Array.from({ length: 30 }, (_, i) => product(`L${i}`, `Lamp number ${i}`, 100 + i)), owner);
      await capped.runtime.database.pool.query("VACUUM product_search");
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const res = await call(c, "searchProducts", { catalogId: cat, query: "lamp", page: { pageSize: 4, pageToken } }, shopper);
        seen.push(...res.products.map((p) => p.retailerId));
        pageToken = res.page!.nextPageToken;
        await bulkUpsert(c, cat, Array.from({ length: 5 }, (_, i) => product(`NEW${pages}-${i}`, `Lamp lamp new ${pages} ${i}`, 50)), owner);
        pages++;
      } while (pageToken && pages < 20);
      expect(seen).toHaveLength(10);
      expect(new Set(seen).size).toBe(10);
      expect(seen.filter((id) => id.startsWith("NEW"))).toEqual([]);
      // A new query sees the new products among its candidates again.
      const fresh = await call(c, "searchProducts", { catalogId: cat, query: "lamp", page: { pageSize: 100, pageToken: "" } }, shopper);
      expect(fresh.products).toHaveLength(10);
    } finally {
      c.close();
      await capped.stop();
    }
  });
});

describe("GetProductMessage", () => {
  it("when a single product is asked for, then it comes back with its price and image; when it is hidden or missing, then FAILED_PRECONDITION names the field", async () => {
    const single = await call(client, "getProductMessage", { catalogId, productRetailerId: "VASE" }, owner);
    expect(single.product!.retailerId).toBe("VASE");
    expect(single.product!.imageUrl).toBe("https://cdn.example.com/mug.png");
    const missing = await refusal(client, "getProductMessage", { catalogId, productRetailerId: "HIDDEN" }, owner);
    expect({ code: missing.code, field: missing.field, reason: missing.reason }).toEqual({ code: status.FAILED_PRECONDITION, field: "product_retailer_id", reason: "PRODUCT_NOT_IN_CATALOG" });
  });

  it("when sections are asked for, then they come back in order; more than 30 products, 10 sections, a missing title or a missing product is refused naming the field", async () => {
    const messaging = await env.token({ kind: "service", service: "messaging" });
    const multi = await call(client, "getProductMessage", { catalogId, sections: [{ title: "Home", productRetailerIds: ["VASE", "MUG"] }, { title: "Sweet", productRetailerIds: ["CB"] }] }, messaging);
    expect(multi.sections.map((s) => [s.title, s.products.map((p) => p.retailerId)])).toEqual([
      ["Home", ["VASE", "MUG"]],
      ["Sweet", ["CB"]],
    ]);
    const many = Array.from({ length: 31 }, (_, i) => `X${i}`);
    expect((await refusal(client, "getProductMessage", { catalogId, sections: [{ title: "A", productRetailerIds: many.slice(0, 20) }, { title: "B", productRetailerIds: many.slice(20) }] }, owner)).field).toBe("sections");
    expect((await refusal(client, "getProductMessage", { catalogId, sections: [{ title: "A", productRetailerIds: ["VASE"] }, { title: "", productRetailerIds: ["MUG"] }] }, owner)).field).toBe("sections[1].title");
    const gone = await refusal(client, "getProductMessage", { catalogId, sections: [{ title: "A", productRetailerIds: ["VASE", "NOPE"] }] }, owner);
    expect({ code: gone.code, field: gone.field }).toEqual({ code: status.FAILED_PRECONDITION, field: "sections[0].product_retailer_ids[1]" });
    const eleven = Array.from({ length: 11 }, (_, i) => ({ title: `S${i}`, productRetailerIds: ["VASE"] }));
    expect((await refusal(client, "getProductMessage", { catalogId, sections: eleven }, owner)).field).toBe("sections");
  });

  it("when a message has exactly 10 sections and 30 products, then it is built in order; one product more, a title of 25 characters or an archived product is refused naming the field", async () => {
    const cat = (await call(client, "createCatalog", { businessId: "biz_search", name: "Thirty" }, owner)).catalog!.id;
    await bulkUpsert(client, cat, Array.from({ length: 31 }, (_, i) => product(`T${i}`, `Thing ${i}`, 100 + i)), owner);
    const ten = Array.from({ length: 10 }, (_, s) => ({ title: `${"Section".padEnd(21, ".")}${String(s).padStart(3, "0")}`, productRetailerIds: [0, 1, 2].map((k) => `T${s * 3 + k}`) }));
    expect(ten[0]!.title).toHaveLength(24);
    const messaging = await env.token({ kind: "service", service: "messaging" });
    const built = await call(client, "getProductMessage", { catalogId: cat, sections: ten }, messaging);
    expect(built.sections.map((s) => [s.title, s.products.map((p) => p.retailerId)])).toEqual(ten.map((s) => [s.title, s.productRetailerIds]));
    expect(built.sections.flatMap((s) => s.products.map((p) => p.price!.amountMinor))).toEqual(Array.from({ length: 30 }, (_, i) => String(100 + i)));
    const thirtyOne = ten.map((s, i) => (i === 9 ? { ...s, productRetailerIds: [...s.productRetailerIds, "T30"] } : s));
    expect((await refusal(client, "getProductMessage", { catalogId: cat, sections: thirtyOne }, messaging)).field).toBe("sections");
    const longTitle = await refusal(client, "getProductMessage", { catalogId: cat, sections: [{ title: "x".repeat(25), productRetailerIds: ["T0"] }] }, messaging);
    expect({ code: longTitle.code, field: longTitle.field }).toEqual({ code: status.INVALID_ARGUMENT, field: "sections[0].title" });
    const t5 = built.sections[1]!.products[2]!;
    await call(client, "archiveProduct", { productId: t5.id }, owner);
    const archived = await refusal(client, "getProductMessage", { catalogId: cat, sections: ten }, messaging);
    expect({ code: archived.code, reason: archived.reason, field: archived.field }).toEqual({ code: status.FAILED_PRECONDITION, reason: "PRODUCT_NOT_IN_CATALOG", field: "sections[1].product_retailer_ids[2]" });
  });
});

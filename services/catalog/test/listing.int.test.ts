import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { buildCreateProduct } from "./factories.js";

let env: TestEnv;
let app: CatalogApp;
let client: CatalogServiceClient;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env()));
  const { port } = await app.start();
  client = clientFor(CatalogServiceClient, port);
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

/** Every product id a principal sees, page by page. */
async function listAll(businessId: string, token: string, pageSize: number): Promise<string[]> {
  const seen: string[] = [];
  let pageToken = "";
  let pages = 0;
  do {
    const res = await unaryCall(client.listProducts.bind(client), { catalogId: "", businessId, page: { pageSize, pageToken } }, { token });
    expect(res.products.length).toBeLessThanOrEqual(pageSize);
    seen.push(...res.products.map((p) => p.id));
    pageToken = res.page?.nextPageToken ?? "";
    pages += 1;
  } while (pageToken && pages < 50);
  return seen;
}

describe("ListProducts with hidden products", () => {
  it("when more hidden products than a page lie between visible ones, then a non-owner still pages through every visible product and the owner through all", async () => {
    const biz = `biz_hidden_${Date.now()}`;
    const ownerToken = await env.token({ kind: "business", businessId: biz });
    const shopper = await env.token({ kind: "customer", customerId: "c_shopper" });
    // Newest first: visible, then five hidden, then visible, then five hidden, then visible.
    const layout = ["v", "h", "h", "h", "h", "h", "v", "h", "h", "h", "h", "h", "v"].reverse();
    const created: { id: string; visible: boolean }[] = [];
    for (const kind of layout) {
      const { product } = await unaryCall(client.createProduct.bind(client), buildCreateProduct({ businessId: biz }), { token: ownerToken });
      created.push({ id: product!.id, visible: kind === "v" });
    }
    const hidden = created.filter((p) => !p.visible).map((p) => p.id);
    await app.runtime.db.updateTable("product").set({ visible: false }).where("id", "in", hidden).execute();
    const newestFirst = [...created].reverse();

    expect(await listAll(biz, shopper, 2)).toEqual(newestFirst.filter((p) => p.visible).map((p) => p.id));
    expect(await listAll(biz, ownerToken, 2)).toEqual(newestFirst.map((p) => p.id));
  });
});

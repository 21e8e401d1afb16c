import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogServiceService, CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { assertHostileRefused, rowCounts } from "@kontor/testkit/hostile";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { bounds } from "../src/rpc/bounds.js";
import { buildCreateProduct } from "./factories.js";

let env: TestEnv;
let app: CatalogApp;
let address: string;
let owner: string;
let customer: string;
let client: CatalogServiceClient;

/** The principal each RPC is meant for; a method missing here fails the test, so a new one gets covered. */
const callers: Record<string, () => string> = {
  createProduct: () => owner,
  getProduct: () => owner,
  listProducts: () => owner,
  createCatalog: () => owner,
  listCatalogs: () => owner,
  updateProduct: () => owner,
  archiveProduct: () => owner,
  bulkUpsertProducts: () => owner,
  importProducts: () => owner,
  searchProducts: () => owner,
  getProductMessage: () => owner,
  getCart: () => customer,
  addCartItem: () => customer,
  setCartItemQuantity: () => customer,
  removeCartItem: () => customer,
  checkout: () => customer,
  createChatOrder: () => customer,
  getOrder: () => customer,
  listOrders: () => customer,
  updateOrderStatus: () => customer,
  getCommerceSettings: () => owner,
  updateCommerceSettings: () => owner,
};

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env()));
  const { port } = await app.start();
  address = `127.0.0.1:${port}`;
  client = clientFor(CatalogServiceClient, port);
  owner = await env.token({ kind: "business", businessId: "biz_hostile" });
  customer = await env.token({ kind: "customer", customerId: "cus_hostile" });
  await unaryCall(client.createProduct.bind(client), buildCreateProduct({ businessId: "biz_hostile" }), { token: owner });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("hostile input", () => {
  it("when an id holds U+0000, then INVALID_ARGUMENT naming it, not INTERNAL from PostgreSQL's encoding check", async () => {
    const list = await expectFailure(client.listProducts.bind(client), { catalogId: "", businessId: "biz_hostile\u0000", page: undefined }, { token: owner });
    expect({ code: list.code, field: errorDetail(list)?.field }).toEqual({ code: 3, field: "business_id" });
    const get = await expectFailure(client.getProduct.bind(client), { productId: "\u0000" }, { token: owner });
    expect({ code: get.code, field: errorDetail(get)?.field }).toEqual({ code: 3, field: "product_id" });
  });

  for (const [name, method] of Object.entries(CatalogServiceService)) {
    it(`${method.path}: U+0000, over-long strings and over-long lists in any field are INVALID_ARGUMENT naming the field, and nothing changes`, async () => {
      const token = callers[name];
      expect(token, `no caller for ${name}`).toBeDefined();
      const before = await rowCounts(env.databaseUrl, "catalog");
      const listed = await unaryCall(client.listProducts.bind(client), { catalogId: "", businessId: "biz_hostile", page: undefined }, { token: owner });
      await assertHostileRefused({ address, method, token: token!(), bounds, numRuns: 25 });
      expect(await rowCounts(env.databaseUrl, "catalog")).toEqual(before);
      expect(await unaryCall(client.listProducts.bind(client), { catalogId: "", businessId: "biz_hostile", page: undefined }, { token: owner })).toEqual(listed);
    });
  }
});

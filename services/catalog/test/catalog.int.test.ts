import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { ProductCreated } from "@kontor/proto/catalog/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { checkHealth, clientFor, errorDetail, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildCreateProduct } from "./factories.js";

let env: TestEnv;
let app: CatalogApp;
let port: number;
let metricsPort: number;
let client: CatalogServiceClient;
let owner: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env()));
  ({ port, metricsPort } = await app.start());
  client = clientFor(CatalogServiceClient, port);
  owner = await env.token({ kind: "business", businessId: "biz_pottery" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

/** Reads every ProductCreated event in this test file's stream. */
async function storedEvents(): Promise<ProductCreated[]> {
  return (await streamMessages(env, "catalog", subjects.productCreated)).map((m) => ProductCreated.decode(m.data));
}

describe("health", () => {
  it("when started, then grpc.health.v1 answers SERVING for the server and the service", async () => {
    expect(await checkHealth(`127.0.0.1:${port}`)).toBe("SERVING");
    expect(await checkHealth(`127.0.0.1:${port}`, "kontor.catalog.v1.CatalogService")).toBe("SERVING");
  });
});

describe("ops endpoints", () => {
  it("when RPCs have run, then /metrics counts them by method and code, and /healthz says SERVING", async () => {
    await expectFailure(client.getProduct.bind(client), { productId: "missing" }, { token: owner });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/kontor_rpc_server_handled_total\{[^}]*method="GetProduct"[^}]*code="NOT_FOUND"[^}]*\} [1-9]/);
    expect(metrics).toContain("kontor_rpc_server_duration_seconds_bucket");
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "SERVING" });
  });
});

describe("CreateProduct", () => {
  it("when the owner creates a product, then it is stored and ProductCreated reaches NATS once", async () => {
    const { product } = await unaryCall(client.createProduct.bind(client), buildCreateProduct({ name: "Blue vase" }), { token: owner });
    expect(product?.name).toBe("Blue vase");
    expect(product?.price).toEqual({ amountMinor: "1999", currency: "EUR" });

    const got = await unaryCall(client.getProduct.bind(client), { productId: product!.id }, { token: owner });
    expect(got.product?.id).toBe(product!.id);

    await outboxDrained(app.runtime.database.pool);
    const events = (await storedEvents()).filter((e) => e.productId === product!.id);
    expect(events).toHaveLength(1);
    expect(events[0]?.meta?.businessId).toBe("biz_pottery");
  });

  it("when there is no token, then UNAUTHENTICATED", async () => {
    const err = await expectFailure(client.createProduct.bind(client), buildCreateProduct());
    expect(err.code).toBe(status.UNAUTHENTICATED);
  });

  it("when the token is signed by another key, then UNAUTHENTICATED", async () => {
    const other = await createTestEnv();
    try {
      const forged = await other.token({ kind: "business", businessId: "biz_pottery" });
      const err = await expectFailure(client.createProduct.bind(client), buildCreateProduct(), { token: forged });
      expect(err.code).toBe(status.UNAUTHENTICATED);
    } finally {
      await other.cleanup();
    }
  });

  it("when another tenant's principal creates for this business, then PERMISSION_DENIED and nothing is stored", async () => {
    const intruder = await env.token({ kind: "business", businessId: "biz_other" });
    const request = buildCreateProduct();
    const err = await expectFailure(client.createProduct.bind(client), request, { token: intruder });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    const list = await unaryCall(client.listProducts.bind(client), { catalogId: "", businessId: "biz_pottery", page: { pageSize: 100, pageToken: "" } }, { token: owner });
    expect(list.products.map((p) => p.retailerId)).not.toContain(request.retailerId);
  });

  it("when the input is bad, then INVALID_ARGUMENT names the field and no SQL leaks", async () => {
    const err = await expectFailure(client.createProduct.bind(client), buildCreateProduct({ price: { amountMinor: "5", currency: "EURO" } }), { token: owner });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(err)?.field).toBe("price.currency");
    expect(err.details).toContain("price.currency");

    // A value only the database refuses (a CHECK constraint the domain does not know): the answer
    // names the field, and neither its message nor any trailer carries SQL, the table, the
    // constraint or the SQLSTATE.
    const pool = app.runtime.database.pool;
    await pool.query(`ALTER TABLE product ADD CONSTRAINT product_name_check CHECK (name <> 'Refused by the database')`);
    try {
      const refused = await expectFailure(client.createProduct.bind(client), buildCreateProduct({ name: "Refused by the database" }), { token: owner });
      expect(refused.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(refused)?.field).toBe("name");
      const trailers = Object.values(refused.metadata.getMap()).map((v) => (typeof v === "string" ? v : Buffer.from(v).toString("latin1")));
      for (const said of [refused.details, ...trailers]) {
        expect(said).not.toMatch(/product_name_check|relation|violates|failing row|insert into|"product"|23514|sqlstate/i);
      }
    } finally {
      await pool.query("ALTER TABLE product DROP CONSTRAINT product_name_check");
    }
  });

  it("when the retailer id is taken, then ALREADY_EXISTS without SQL text", async () => {
    const request = buildCreateProduct();
    await unaryCall(client.createProduct.bind(client), request, { token: owner });
    const err = await expectFailure(client.createProduct.bind(client), request, { token: owner });
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(err.details).not.toMatch(/insert|constraint|duplicate key/i);
    expect(errorDetail(err)?.field).toBe("retailer_id");
  });
});

describe("ListProducts", () => {
  it("when paging, then every product appears exactly once in order", async () => {
    const biz = `biz_list_${Date.now()}`;
    const token = await env.token({ kind: "business", businessId: biz });
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { product } = await unaryCall(client.createProduct.bind(client), buildCreateProduct({ businessId: biz }), { token });
      created.push(product!.id);
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const res = await unaryCall(client.listProducts.bind(client), { catalogId: "", businessId: biz, page: { pageSize: 3, pageToken } }, { token });
      seen.push(...res.products.map((p) => p.id));
      pageToken = res.page?.nextPageToken ?? "";
    } while (pageToken);
    expect(seen).toEqual([...created].reverse());
  });

  it("when the page token is garbage, then INVALID_ARGUMENT names page.page_token", async () => {
    const err = await expectFailure(client.listProducts.bind(client), { catalogId: "", businessId: "biz_pottery", page: { pageSize: 3, pageToken: "nope" } }, { token: owner });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(err)?.field).toBe("page.page_token");
  });
});

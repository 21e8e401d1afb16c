import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogServiceService } from "@kontor/proto/catalog/v1/catalog_service";
import { allowListViolations } from "@kontor/testkit/access";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { catalogAccess } from "../src/rpc/access.js";

let env: TestEnv;
let app: CatalogApp;
let port: number;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env()));
  ({ port } = await app.start());
});

afterAll(async () => {
  await app?.stop();
  await env?.cleanup();
});

describe("the access table", () => {
  it("when every principal kind, staff role and service calls every RPC, then only the callers on the RPC's list get past the allow-list", async () => {
    expect(await allowListViolations(env, CatalogServiceService, catalogAccess, `127.0.0.1:${port}`)).toEqual([]);
  });

  it("when a service writes, then only the gateway may (for its partners)", () => {
    expect(catalogAccess.CreateProduct.filter((c) => c.startsWith("service:"))).toEqual(["service:gateway"]);
  });
});

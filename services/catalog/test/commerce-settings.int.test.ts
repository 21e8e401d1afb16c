import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import type { CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { buildProductInput, bulkUpsert, call, clientAt, refusal } from "./factories.js";

let env: TestEnv;
let app: CatalogApp;
let client: CatalogServiceClient;
let owner: string;
let partner: string;
let stranger: string;
let alice: string;
let catalogId: string;
const BIZ = "biz_settings";

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env({ SWEEP_INTERVAL_MS: "0" })));
  client = clientAt((await app.start()).port);
  owner = await env.token({ kind: "business", businessId: BIZ });
  partner = await env.token({ kind: "partner", partnerId: "p_settings", businessIds: [BIZ] });
  stranger = await env.token({ kind: "business", businessId: "biz_other" });
  alice = await env.token({ kind: "customer", customerId: "c_settings_alice" });
  catalogId = (await call(client, "createCatalog", { businessId: BIZ, name: "Shop" }, owner)).catalog!.id;
  await bulkUpsert(client, catalogId, [buildProductInput({ retailerId: "TEA", name: "Tea", price: { amountMinor: "450", currency: "EUR" }, inventory: "100" })], owner);
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("GetCommerceSettings / UpdateCommerceSettings", () => {
  it("when never set, then the Cloud API's defaults: cart enabled, catalog hidden", async () => {
    const { settings } = await call(client, "getCommerceSettings", { businessId: "biz_never_set" }, owner);
    expect(settings).toMatchObject({ isCartEnabled: true, isCatalogVisible: false });
    expect(settings!.updatedAt).toBeUndefined();
  });

  it("when one setting is given, then only it changes and the other keeps its value", async () => {
    let { settings } = await call(client, "updateCommerceSettings", { businessId: BIZ, isCatalogVisible: true }, partner);
    expect(settings).toMatchObject({ isCartEnabled: true, isCatalogVisible: true });
    expect(settings!.updatedAt).toBeInstanceOf(Date);
    ({ settings } = await call(client, "updateCommerceSettings", { businessId: BIZ, isCartEnabled: false }, owner));
    expect(settings).toMatchObject({ isCartEnabled: false, isCatalogVisible: true });
    ({ settings } = await call(client, "getCommerceSettings", { businessId: BIZ }, alice));
    expect(settings).toMatchObject({ isCartEnabled: false, isCatalogVisible: true });
    ({ settings } = await call(client, "updateCommerceSettings", { businessId: BIZ, isCartEnabled: true }, owner));
    expect(settings).toMatchObject({ isCartEnabled: true, isCatalogVisible: true });
  });

  it("when another business or a customer changes them, then PERMISSION_DENIED and nothing changes", async () => {
    expect((await refusal(client, "updateCommerceSettings", { businessId: BIZ, isCatalogVisible: false }, stranger)).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(client, "updateCommerceSettings", { businessId: BIZ, isCatalogVisible: false }, alice)).code).toBe(status.PERMISSION_DENIED);
    expect((await call(client, "getCommerceSettings", { businessId: BIZ }, owner)).settings!.isCatalogVisible).toBe(true);
  });

  it("when the business id is missing, then INVALID_ARGUMENT naming business_id", async () => {
    const r = await refusal(client, "getCommerceSettings", {}, owner);
    expect(r.code).toBe(status.INVALID_ARGUMENT);
    expect(r.field).toBe("business_id");
  });
});

describe("the cart while disabled", () => {
  it("when the business disables its cart, then AddCartItem and Checkout are FAILED_PRECONDITION CART_DISABLED; enabled again, they work", async () => {
    await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, alice);
    await call(client, "updateCommerceSettings", { businessId: BIZ, isCartEnabled: false }, owner);

    const add = await refusal(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, alice);
    expect(add.code).toBe(status.FAILED_PRECONDITION);
    expect(add.reason).toBe("CART_DISABLED");
    const checkout = await refusal(client, "checkout", { businessId: BIZ }, alice);
    expect(checkout.code).toBe(status.FAILED_PRECONDITION);
    expect(checkout.reason).toBe("CART_DISABLED");
    // The cart is kept as it was: reading it still works.
    expect((await call(client, "getCart", { businessId: BIZ }, alice)).cart!.items).toHaveLength(1);

    await call(client, "updateCommerceSettings", { businessId: BIZ, isCartEnabled: true }, owner);
    const cart = (await call(client, "addCartItem", { catalogId, productRetailerId: "TEA", quantity: 1 }, alice)).cart!;
    expect(cart.items[0]!.quantity).toBe(2);
    const { order } = await call(client, "checkout", { businessId: BIZ }, alice);
    expect(order!.items).toHaveLength(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { ProductArchived, ProductUpserted } from "@kontor/proto/catalog/v1/events";
import { Availability } from "@kontor/proto/catalog/v1/catalog_service";
import type { Content } from "@kontor/proto/messaging/v1/message";
import type { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { errorDetail } from "@kontor/service-kit/errors";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { customer, number, registerBusiness, registerCustomer, sendReq, startWithBusiness, text, uid } from "./factories.js";

/*
 * Product messages name products messaging learnt from catalog's events
 * (no call to catalog per message); each customer writes first (the window).
 */
let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let bizToken: string;
let onboarding: string;
const biz = "biz_shop";
const pn = "pn_shop";

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, client, bizToken } = await startWithBusiness(env, biz, pn));
  onboarding = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

async function publish(subject: string, payload: Uint8Array, eventId: string) {
  const nc = await env.nats();
  await nc.jetstream().publish(`${env.natsPrefix}${subject}`, payload, { msgID: eventId });
}

async function upsert(businessId: string, catalogId: string, retailerId: string, version: number, over: { visible?: boolean; availability?: Availability } = {}) {
  const eventId = randomUUID();
  await publish(
    "kontor.catalog.product.upserted.v1",
    ProductUpserted.encode(
      ProductUpserted.fromPartial({ meta: { eventId, occurredAt: new Date(), businessId }, catalogId, productId: randomUUID(), retailerId, name: retailerId, visible: over.visible ?? true, availability: over.availability ?? Availability.AVAILABILITY_IN_STOCK, version: String(version) }),
    ).finish(),
    eventId,
  );
}

const rowOf = async (catalogId: string, retailerId: string) =>
  (await app.runtime.database.pool.query<{ sendable: boolean; version: string }>("SELECT sendable, version FROM catalog_product WHERE catalog_id = $1 AND retailer_id = $2", [catalogId, retailerId])).rows[0];

/** A customer who wrote to the shop (its window is open). */
async function customerWhoWrote(): Promise<string> {
  const c = uid("cust");
  await registerCustomer(client, onboarding, c);
  await unaryCall(client.sendMessage.bind(client), sendReq(customer(c), number(pn), text("do you have mugs?")), { token: await env.token({ kind: "customer", customerId: c }) });
  return c;
}

const product = (catalogId: string, retailerId: string): Content => ({
  kind: { $case: "interactive", value: { header: undefined, body: "Have a look", footer: "", action: { $case: "product", value: { catalogId, productRetailerId: retailerId } } } },
});
const productList = (catalogId: string, ids: string[][]): Content => ({
  kind: {
    $case: "interactive",
    value: { header: { kind: { $case: "text", value: "Our mugs" } }, body: "Pick one", footer: "", action: { $case: "productList", value: { catalogId, sections: ids.map((productRetailerIds, i) => ({ title: `S${i}`, productRetailerIds })) } } },
  },
});

describe("product messages", () => {
  it("when catalog's events describe the products, then a product message naming them goes; an unknown, hidden or archived one is 131009 naming the field", async () => {
    const catalog = uid("cat_");
    await upsert(biz, catalog, "MUG-1", 1);
    await upsert(biz, catalog, "MUG-2", 1);
    await upsert(biz, catalog, "MUG-3", 1, { visible: false });
    await waitFor(async () => (await rowOf(catalog, "MUG-3")) !== undefined, 10_000);
    const c = await customerWhoWrote();

    await unaryCall(client.sendMessage.bind(client), sendReq(number(pn), customer(c), product(catalog, "MUG-1")), { token: bizToken });
    await unaryCall(client.sendMessage.bind(client), sendReq(number(pn), customer(c), productList(catalog, [["MUG-1"], ["MUG-2"]])), { token: bizToken });

    const unknown = await expectFailure(client.sendMessage.bind(client), sendReq(number(pn), customer(c), productList(catalog, [["MUG-1"], ["MUG-2", "MUG-9"]])), { token: bizToken });
    expect(unknown.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(unknown)).toMatchObject({ field: "content.interactive.product_list.sections[1].product_retailer_ids[1]", cloudApiCode: 131009 });
    const hidden = await expectFailure(client.sendMessage.bind(client), sendReq(number(pn), customer(c), product(catalog, "MUG-3")), { token: bizToken });
    expect(errorDetail(hidden)).toMatchObject({ field: "content.interactive.product.product_retailer_id", cloudApiCode: 131009 });

    // Archived, then a late older upsert: it stays archived (versions only move forward).
    const eventId = randomUUID();
    await publish("kontor.catalog.product.archived.v1", ProductArchived.encode({ meta: { eventId, occurredAt: new Date(), businessId: biz }, catalogId: catalog, productId: "", retailerId: "MUG-2", version: "3" }).finish(), eventId);
    await upsert(biz, catalog, "MUG-2", 2);
    await waitFor(async () => (await rowOf(catalog, "MUG-2"))?.version === "3", 10_000);
    await upsert(biz, catalog, "MUG-4", 1);
    await waitFor(async () => (await rowOf(catalog, "MUG-4")) !== undefined, 10_000);
    expect(await rowOf(catalog, "MUG-2")).toEqual({ sendable: false, version: "3" });
  });

  it("when a business names another business's catalog, then 131009 names the catalog and nothing is stored", async () => {
    const catalog = uid("cat_");
    await upsert("biz_other_shop", catalog, "TEA-1", 1);
    await waitFor(async () => (await rowOf(catalog, "TEA-1")) !== undefined, 10_000);
    await registerBusiness(env, app, "biz_other_shop", "pn_other_shop");
    const c = await customerWhoWrote();
    const before = (await app.runtime.database.pool.query<{ n: string }>("SELECT count(*) AS n FROM message")).rows[0]!.n;
    const err = await expectFailure(client.sendMessage.bind(client), sendReq(number(pn), customer(c), product(catalog, "TEA-1")), { token: bizToken });
    expect(errorDetail(err)).toMatchObject({ field: "content.interactive.product.catalog_id", cloudApiCode: 131009 });
    expect((await app.runtime.database.pool.query<{ n: string }>("SELECT count(*) AS n FROM message")).rows[0]!.n).toBe(before);
  });
});

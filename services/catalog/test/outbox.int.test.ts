import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { ProductCreated } from "@kontor/proto/catalog/v1/events";
import { streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createCatalog } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildCreateProduct } from "./factories.js";

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.cleanup();
});

async function eventCount(productId: string): Promise<number> {
  const messages = await streamMessages(env, "catalog", subjects.productCreated);
  return messages.filter((m) => ProductCreated.decode(m.data).productId === productId).length;
}

describe("outbox relay", () => {
  it("when the relay dies after publishing but before recording it, then a restarted relay leaves exactly one event", async () => {
    const config = loadConfig(env.env());
    let published = 0;
    // First life: publish succeeds, then the relay "crashes" before deleting the row.
    const first = await createCatalog(config, {
      afterPublish: async () => {
        published++;
        throw new Error("simulated crash between publish and delete");
      },
    });
    const { port } = await first.start();
    const client = clientFor(CatalogServiceClient, port);
    const token = await env.token({ kind: "business", businessId: "biz_crash" });
    const { product } = await unaryCall(client.createProduct.bind(client), buildCreateProduct({ businessId: "biz_crash" }), { token });
    await waitFor(() => published >= 2); // it kept retrying and re-publishing
    client.close();
    await first.stop();
    expect(await eventCount(product!.id)).toBe(1);

    // Second life: a healthy relay finds the row still pending and publishes it again.
    const second = await createCatalog(config);
    await second.start();
    await waitFor(async () => {
      const { count } = await second.runtime.db.selectFrom("outbox").select((eb) => eb.fn.countAll<string>().as("count")).executeTakeFirstOrThrow();
      return Number(count) === 0;
    });
    await second.stop();
    expect(await eventCount(product!.id)).toBe(1);
  });

  it("when the relay is stopped between the commit and the publish, then the event is published after restart, once", async () => {
    const config = loadConfig(env.env());
    const app = await createCatalog(config);
    const { port } = await app.start();
    await app.runtime.outbox.stop(); // the relay is down; the RPC still commits into the outbox
    const client = clientFor(CatalogServiceClient, port);
    const token = await env.token({ kind: "business", businessId: "biz_down" });
    const { product } = await unaryCall(client.createProduct.bind(client), buildCreateProduct({ businessId: "biz_down" }), { token });
    client.close();
    expect(await eventCount(product!.id)).toBe(0);
    await app.stop();

    const again = await createCatalog(config);
    await again.start();
    await waitFor(async () => (await eventCount(product!.id)) === 1);
    await again.stop();
    expect(await eventCount(product!.id)).toBe(1);
  });
});

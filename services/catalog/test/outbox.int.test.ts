import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { ProductCreated } from "@kontor/proto/catalog/v1/events";
import { OutboxBatch } from "@kontor/proto/common/v1/outbox";
import { createLogger } from "@kontor/service-kit/log";
import { domainStream } from "@kontor/service-kit/nats";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import { streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
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

/** Product ids of the stored ProductCreated events that start with `tag`, in stream order. */
async function storedProductIds(tag: string): Promise<string[]> {
  const messages = await streamMessages(env, "catalog", subjects.productCreated);
  return messages.map((m) => ProductCreated.decode(m.data).productId).filter((id) => id.startsWith(tag));
}

/** An event written straight into the outbox; `padding` makes its payload bigger. */
function productCreated(productId: string, padding = 0): OutboxEvent {
  const eventId = newEventId();
  const event = ProductCreated.fromPartial({ meta: { eventId, occurredAt: new Date(), businessId: "biz_outbox" }, productId, name: "x".repeat(padding) });
  return { eventId, subject: subjects.productCreated, payload: ProductCreated.encode(event).finish() };
}

async function pendingRows(app: CatalogApp): Promise<number> {
  const { count } = await app.runtime.db.selectFrom("outbox_batch").select((eb) => eb.fn.countAll<string>().as("count")).executeTakeFirstOrThrow();
  return Number(count);
}

// Every test here starts and stops whole replicas; on a busy shared host that takes a while.
describe("outbox relay", { timeout: 180_000 }, () => {
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
      const { count } = await second.runtime.db.selectFrom("outbox_batch").select((eb) => eb.fn.countAll<string>().as("count")).executeTakeFirstOrThrow();
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

  it("when one commit enqueues several events, then they share one row and each lands once, in commit order", async () => {
    const config = loadConfig(env.env());
    const published: string[][] = [];
    const app = await createCatalog(config, {
      afterPublish: async (eventIds) => {
        published.push(eventIds);
      },
    });
    await app.start();
    const tag = `batch-${newEventId()}-`;
    const events = [1, 2, 3, 4, 5].map((i) => productCreated(`${tag}${i}`));
    await app.runtime.db.transaction().execute(async (trx) => {
      await app.runtime.enqueue(trx, events);
      const row = await trx.selectFrom("outbox_batch").select("payload").orderBy("id", "desc").limit(1).executeTakeFirstOrThrow();
      expect(OutboxBatch.decode(row.payload).events.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
    });
    await waitFor(async () => (await pendingRows(app)) === 0);
    await app.runtime.outbox.flush();
    await app.stop();
    expect(published).toContainEqual(events.map((e) => e.eventId));
    expect(await storedProductIds(tag)).toEqual([1, 2, 3, 4, 5].map((i) => `${tag}${i}`));
  });

  it("when JetStream refuses an event of a row, then the row stays, and once the stream accepts it every event of the row lands once", async () => {
    const config = loadConfig(env.env());
    // The relay logs each failed pass with its count: the test waits for those, not for time.
    let failedPasses = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) {
          if (!line) continue;
          const entry = JSON.parse(line) as { message?: string; failures?: number };
          if (entry.message === "outbox relay pass failed, retrying") failedPasses = Math.max(failedPasses, entry.failures ?? 0);
        }
        done();
      },
    });
    const app = await createCatalog(config, { log: createLogger("catalog", "warn", sink) });
    await app.start();
    const jsm = await (await env.nats()).jetstreamManager();
    const stream = domainStream(env.natsPrefix, "catalog").name;
    await jsm.streams.update(stream, { max_msg_size: 512 });
    const tag = `refused-${newEventId()}-`;
    try {
      // The first event fits and is stored; the second is over the stream's size limit.
      await app.runtime.db.transaction().execute((trx) => app.runtime.enqueue(trx, [productCreated(`${tag}small`), productCreated(`${tag}big`, 2048)]));
      await waitFor(async () => (await storedProductIds(tag)).length === 1);
      // Several refused passes (the relay backs off between them): the row must survive them all.
      await waitFor(() => failedPasses >= 3);
      expect(await pendingRows(app)).toBe(1);
      expect(await storedProductIds(tag)).toEqual([`${tag}small`]);
    } finally {
      await jsm.streams.update(stream, { max_msg_size: -1 });
    }
    await waitFor(async () => (await pendingRows(app)) === 0, 15_000);
    await app.stop();
    // The first event went out again with the row; the duplicate window dropped the copy.
    expect(await storedProductIds(tag)).toEqual([`${tag}small`, `${tag}big`]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { DirectoryServiceClient } from "@kontor/proto/directory/v1/directory_service";
import { FollowChanged } from "@kontor/proto/directory/v1/events";
import { CustomerErased } from "@kontor/proto/messaging/v1/events";
import { ensureStream, domainStream } from "@kontor/service-kit/nats";
import { outboxDrained } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createDirectory, type DirectoryApp } from "../src/app.js";
import { CUSTOMER_ERASURE_CONSUMER } from "../src/events/consumers.js";
import { consumed, subjects } from "../src/events/subjects.js";
import { buildRegister, streamMessages } from "./factories.js";

let env: TestEnv;
let app: DirectoryApp;
let client: DirectoryServiceClient;
let onboarding: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createDirectory(loadConfig(env.env({ CHAT_LINK_BASE_URL: "https://kontor.example/" })));
  const { port } = await app.start();
  client = clientFor(DirectoryServiceClient, port);
  onboarding = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

async function register(): Promise<string> {
  const { business } = await unaryCall(client.registerBusiness.bind(client), buildRegister(), { token: onboarding });
  return business!.id;
}

async function follow(businessId: string, customerId: string) {
  return unaryCall(client.followBusiness.bind(client), { businessId, customerId }, { token: await env.token({ kind: "customer", customerId }) });
}

/** Publishes messaging's CustomerErased as messaging's outbox does (event id `<customer>:erased`), under a fresh NATS id. */
async function publishErased(customerId: string, erasedAt: Date): Promise<void> {
  const nc = await env.nats();
  await ensureStream(await nc.jetstreamManager(), domainStream(env.natsPrefix, "messaging"));
  const eventId = `${customerId}:erased`;
  await nc.jetstream().publish(env.natsPrefix + consumed.customerErased, CustomerErased.encode({ meta: { eventId, occurredAt: erasedAt, businessId: "" }, customerId, erasedAt }).finish(), {
    msgID: randomUUID(),
  });
}

const handled = (eventId: string) =>
  waitFor(() => app.runtime.db.selectFrom("processed_events").select("event_id").where("consumer", "=", CUSTOMER_ERASURE_CONSUMER).where("event_id", "=", eventId).executeTakeFirst(), 10_000);

const followerCount = async (businessId: string) =>
  Number((await app.runtime.db.selectFrom("business_search").select("follower_count").where("business_id", "=", businessId).executeTakeFirstOrThrow()).follower_count);

describe("customer erasure from messaging", () => {
  it("when a customer is erased, then its follows are deleted once (counts drop once, FollowChanged per business), the erasure is recorded, and it cannot follow again", async () => {
    const [x, y] = [await register(), await register()];
    const erased = `cust_${randomUUID().slice(0, 8)}`;
    const other = `cust_${randomUUID().slice(0, 8)}`;
    await follow(x, erased);
    await follow(y, erased);
    await follow(x, other);
    expect([await followerCount(x), await followerCount(y)]).toEqual([2, 1]);

    const at = new Date(Date.now() - 1000);
    await publishErased(erased, at);
    await handled(`${erased}:erased`);
    const left = await app.runtime.db.selectFrom("follow").select(["business_id", "customer_id"]).where("business_id", "in", [x, y]).execute();
    expect(left).toEqual([{ business_id: x, customer_id: other }]);
    expect([await followerCount(x), await followerCount(y)]).toEqual([1, 0]);
    const record = await app.runtime.db.selectFrom("customer_erasure").select(["erased_at", "follows_removed"]).where("customer_id", "=", erased).execute();
    expect(record).toEqual([{ erased_at: at, follows_removed: 2 }]);

    await outboxDrained(app.runtime.database.pool);
    const changes = (await streamMessages(env, subjects.followChanged)).map((d) => FollowChanged.decode(d)).filter((e) => e.customerId === erased && !e.following);
    expect(changes.map((e) => [e.businessId, e.followerCount]).sort()).toEqual([[x, "1"], [y, "0"]].sort());

    // Redelivered (past the stream's dedupe): nothing moves twice.
    await publishErased(erased, at);
    const marker = `cust_${randomUUID().slice(0, 8)}`;
    await publishErased(marker, at);
    await handled(`${marker}:erased`);
    expect([await followerCount(x), await followerCount(y)]).toEqual([1, 0]);

    const again = await expectFailure(client.followBusiness.bind(client), { businessId: x, customerId: erased }, { token: await env.token({ kind: "customer", customerId: erased }) });
    expect([again.code, errorDetail(again)?.reason]).toEqual([status.FAILED_PRECONDITION, "CUSTOMER_ERASED"]);
    expect(await followerCount(x)).toBe(1);
  });
});

import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { BusinessUpdated } from "@kontor/proto/directory/v1/events";
import { ConversationOpened, MessageReceived } from "@kontor/proto/messaging/v1/events";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { domainStream } from "@kontor/service-kit/nats";
import { outboxDrained } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { customer, e164, masterKey, number, registerBusiness, sendReq, snapshot, text, uid } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let service: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createMessaging(loadConfig(env.env({ MESSAGE_MASTER_KEY: masterKey() })));
  client = clientFor(MessagingServiceClient, (await app.start()).port);
  service = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

async function eventsOn<T>(subject: string, decode: (b: Uint8Array) => T): Promise<T[]> {
  const nc = await env.nats();
  const consumer = await nc.jetstream().consumers.get(domainStream(env.natsPrefix, "messaging").name, { filterSubjects: env.natsPrefix + subject });
  const out: T[] = [];
  const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
  for await (const m of batch) {
    out.push(decode(m.data));
    if (m.info.pending === 0) break;
  }
  return out;
}

describe("UpsertCustomer", () => {
  it("when a service registers a customer, then it is created; the customer may rename itself but not register others", async () => {
    const id = uid("cust");
    const num = e164();
    const created = await unaryCall(client.upsertCustomer.bind(client), { customerId: id, e164: num, profileName: "Ana", settings: { readReceipts: true, locale: "pt-BR" } }, { token: service });
    expect(created.created).toBe(true);
    expect(created.customer?.settings).toEqual({ readReceipts: true, locale: "pt-BR" });
    const self = await env.token({ kind: "customer", customerId: id });
    const renamed = await unaryCall(client.upsertCustomer.bind(client), { customerId: id, e164: "", profileName: "Ana B.", settings: undefined }, { token: self });
    expect(renamed.created).toBe(false);
    expect(renamed.customer?.profileName).toBe("Ana B.");
    expect(renamed.customer?.e164).toBe(num);
    let err = await expectFailure(client.upsertCustomer.bind(client), { customerId: uid("cust"), e164: e164(), profileName: "x", settings: undefined }, { token: self });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    err = await expectFailure(client.upsertCustomer.bind(client), { customerId: uid("cust"), e164: num, profileName: "dup", settings: undefined }, { token: service });
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(errorDetail(err)?.field).toBe("e164");
    err = await expectFailure(client.upsertCustomer.bind(client), { customerId: "bad id!", e164: e164(), profileName: "x", settings: undefined }, { token: service });
    expect(errorDetail(err)?.field).toBe("customer_id");
    err = await expectFailure(client.upsertCustomer.bind(client), { customerId: uid("cust"), e164: "12", profileName: "x", settings: undefined }, { token: service });
    expect(errorDetail(err)?.field).toBe("e164");
  });
});

describe("inbox rows", () => {
  it("when a participant has no inbox row (data from before it existed), then a send creates it and succeeds", async () => {
    await registerBusiness(env, app, "biz_inbox", "pn_inbox");
    const biz = await env.token({ kind: "business", businessId: "biz_inbox" });
    const id = uid("cust");
    await unaryCall(client.upsertCustomer.bind(client), { customerId: id, e164: e164(), profileName: "x", settings: undefined }, { token: service });
    // The missing row is the sender's (a customer's own sends are numbered in its inbox too); the customer writes first.
    await app.runtime.database.pool.query("DELETE FROM inbox WHERE participant = $1", [`c_${id}`]);
    const me = await env.token({ kind: "customer", customerId: id });
    const own = await unaryCall(client.sendMessage.bind(client), sendReq(customer(id), number("pn_inbox"), text("hi")), { token: me });
    expect(own.result?.seq).toBe("1");
    const stored = await app.runtime.database.pool.query<{ sender_rseq: string }>("SELECT sender_rseq FROM message WHERE id = $1", [own.result!.messageId]);
    expect(stored.rows[0]?.sender_rseq).toBe("1");
    // The same when the missing row is the recipient's.
    await app.runtime.database.pool.query("DELETE FROM inbox WHERE participant = $1", [`c_${id}`]);
    const { result } = await unaryCall(client.sendMessage.bind(client), sendReq(number("pn_inbox"), customer(id), text("hello")), { token: biz });
    expect(result?.seq).toBe("2");
    const row = await app.runtime.database.pool.query<{ last_seq: string }>("SELECT last_seq FROM inbox WHERE participant = $1", [`c_${id}`]);
    expect(row.rows[0]?.last_seq).toBe("1");
  });
});

describe("directory mirror and events", () => {
  it("when a customer writes first and the business answers, then one service conversation opens and each inbound message is an event with its content; a number directory drops stops routing", async () => {
    await registerBusiness(env, app, "biz_bakery", "pn_bakery");
    const biz = await env.token({ kind: "business", businessId: "biz_bakery" });
    const id = uid("cust");
    await unaryCall(client.upsertCustomer.bind(client), { customerId: id, e164: "+5511987654321", profileName: "Bia", settings: undefined }, { token: service });
    const me = await env.token({ kind: "customer", customerId: id });
    const first = await unaryCall(client.sendMessage.bind(client), sendReq(customer(id), number("pn_bakery"), text("Oi! Tem pão?")), { token: me });
    await unaryCall(client.sendMessage.bind(client), sendReq(number("pn_bakery"), customer(id), text("Tem sim")), { token: biz });
    await unaryCall(client.sendMessage.bind(client), sendReq(customer(id), number("pn_bakery"), text("Obrigada")), { token: me });

    await outboxDrained(app.runtime.database.pool);
    const opened = (await eventsOn(subjects.conversationOpened, ConversationOpened.decode)).filter((e) => e.conversationId === first.result!.conversationId);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ phoneNumberId: "pn_bakery", customerId: id, customerCountry: "BR", origin: "user_initiated", category: "service", businessId: "biz_bakery", pricingModel: "PMP", billable: false });
    const received = await waitFor(async () => {
      const all = (await eventsOn(subjects.messageReceived, MessageReceived.decode)).filter((e) => e.customerId === id);
      return all.length === 2 ? all : undefined;
    }, 10_000);
    expect(received.map((e) => e.message?.content?.kind)).toEqual([
      { $case: "text", value: { body: "Oi! Tem pão?", previewUrl: false } },
      { $case: "text", value: { body: "Obrigada", previewUrl: false } },
    ]);
    expect(received[0]?.type).toBe("text");
    expect(received[0]?.meta?.businessId).toBe("biz_bakery");

    // Directory drops the number from the business: messaging stops routing to and from it.
    const nc = await env.nats();
    const eventId = randomUUID();
    await nc.jetstream().publish(
      `${env.natsPrefix}kontor.directory.business.updated.v1`,
      BusinessUpdated.encode({ meta: { eventId, occurredAt: new Date(), businessId: "biz_bakery" }, business: snapshot("biz_bakery", [], { version: 5 }), changedFields: ["phone_numbers"] }).finish(),
      { msgID: eventId },
    );
    await waitFor(() => app.directory.get("pn_bakery") === undefined, 10_000);
    const err = await expectFailure(client.sendMessage.bind(client), sendReq(customer(id), number("pn_bakery"), text("still there?")), { token: me });
    expect(err.code).toBe(status.NOT_FOUND);
    // An older snapshot arriving late does not bring it back.
    const stale = randomUUID();
    await nc.jetstream().publish(
      `${env.natsPrefix}kontor.directory.business.updated.v1`,
      BusinessUpdated.encode({ meta: { eventId: stale, occurredAt: new Date(), businessId: "biz_bakery" }, business: snapshot("biz_bakery", [{ phoneNumberId: "pn_bakery", e164: e164() }], { version: 3 }), changedFields: [] }).finish(),
      { msgID: stale },
    );
    // The consumer applies directory's events in stream order: once a later one is applied, the stale one was handled.
    await registerBusiness(env, app, "biz_after_stale", "pn_after_stale");
    expect(app.directory.get("pn_bakery")).toBeUndefined();
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { MessageReceived, UserBlockChanged } from "@kontor/proto/messaging/v1/events";
import { MessagingServiceClient, type SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { errorDetail } from "@kontor/service-kit/errors";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { clientFor, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig, type Config } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { customer, e164, masterKey, number, registerBusiness, registerCustomer, sendReq, text, uid } from "./factories.js";

/*
 * The business's side of blocking (block_users) with every policy rule on and
 * two replicas sharing PostgreSQL and NATS: A serves the block RPCs, B learns
 * the blocks from the events; both refuse sends either way.
 */
let env: TestEnv;
let config: Readonly<Config>;
let a: MessagingApp;
let b: MessagingApp;
let ca: MessagingServiceClient;
let cb: MessagingServiceClient;
let onboarding: string;

beforeAll(async () => {
  env = await createTestEnv();
  config = loadConfig(env.env({ MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "200", THROUGHPUT_PER_SECOND: "100000", PAIR_BURST_MAX: "1000" }));
  a = await createMessaging(config);
  ca = clientFor(MessagingServiceClient, (await a.start()).port);
  b = await createMessaging(config);
  cb = clientFor(MessagingServiceClient, (await b.start()).port);
  onboarding = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  ca?.close();
  cb?.close();
  await b?.stop();
  await a?.stop();
  await env?.cleanup();
});

async function business() {
  const businessId = uid("biz_");
  const pn = uid("pn_");
  await registerBusiness(env, a, businessId, pn);
  await waitFor(() => b.directory.get(pn), 10_000);
  return { businessId, pn, token: await env.token({ kind: "business", businessId }) };
}
type Biz = Awaited<ReturnType<typeof business>>;

/** A customer; with `wrote`, it has messaged the number (so it can be blocked). */
async function newCustomer(biz: Biz, wrote = true) {
  const id = uid("cust");
  const phone = e164();
  await registerCustomer(ca, onboarding, id, phone);
  const token = await env.token({ kind: "customer", customerId: id });
  if (wrote) await send(ca, sendReq(customer(id), number(biz.pn), text("hi")), token);
  return { id, phone, token };
}

const send = (client: MessagingServiceClient, req: SendMessageRequest, token: string) => unaryCall(client.sendMessage.bind(client), req, { token });

async function refusal(client: MessagingServiceClient, req: SendMessageRequest, token: string) {
  try {
    await send(client, req, token);
  } catch (err) {
    const e = err as ServiceError;
    const d = errorDetail(e);
    return { code: e.code, reason: d?.reason, cloud: d?.cloudApiCode };
  }
  return undefined;
}

const blockUsers = (biz: Biz, users: string[], token = biz.token) => unaryCall(ca.blockUsers.bind(ca), { phoneNumberId: biz.pn, users }, { token });
const unblockUsers = (biz: Biz, users: string[]) => unaryCall(ca.unblockUsers.bind(ca), { phoneNumberId: biz.pn, users }, { token: biz.token });
const listBlocked = (biz: Biz, pageSize = 0, pageToken = "") => unaryCall(ca.listBlockedUsers.bind(ca), { phoneNumberId: biz.pn, page: { pageSize, pageToken } }, { token: biz.token });

async function userBlockEvents(biz: Biz): Promise<UserBlockChanged[]> {
  await outboxDrained(a.runtime.database.pool);
  return (await streamMessages(env, "messaging", subjects.userBlockChanged)).map((m) => UserBlockChanged.decode(m.data)).filter((e) => e.phoneNumberId === biz.pn);
}

describe("BlockUsers, UnblockUsers, ListBlockedUsers", () => {
  it("when a business blocks users, then those who wrote in the last 24 hours are added (one event each), the others fail with 139100", async () => {
    const biz = await business();
    const wrote = await newCustomer(biz);
    const silent = await newCustomer(biz, false);
    const digits = wrote.phone.slice(1);
    const r = await blockUsers(biz, [digits, silent.phone, "+15550009999", "not a number"]);
    expect(r.added).toEqual([{ input: digits, waId: digits, customerId: wrote.id }]);
    expect(r.failed.map((f) => [f.input, f.cloudApiCode])).toEqual([
      ["+15550009999", 139100],
      ["not a number", 139100],
      [silent.phone, 139100],
    ]);
    expect(r.failed.find((f) => f.input === silent.phone)!.message).toMatch(/24 hours/);

    const listed = await listBlocked(biz);
    expect(listed.users.map((u) => [u.customerId, u.e164])).toEqual([[wrote.id, wrote.phone]]);
    expect(listed.page!.nextPageToken).toBe("");

    // Again: the same answer, no second event.
    expect((await blockUsers(biz, [wrote.phone])).added).toEqual([{ input: wrote.phone, waId: digits, customerId: wrote.id }]);
    const events = await userBlockEvents(biz);
    expect(events.map((e) => [e.customerId, e.businessId, e.blocked])).toEqual([[wrote.id, biz.businessId, true]]);

    // Unblocking needs no recent message; a user never blocked is removed as well (nothing changes, no event).
    const u = await unblockUsers(biz, [wrote.phone, silent.phone]);
    expect(u.removed.map((x) => x.customerId)).toEqual([wrote.id, silent.id]);
    expect(u.failed).toEqual([]);
    expect((await listBlocked(biz)).users).toEqual([]);
    const after = await userBlockEvents(biz);
    expect(after.map((e) => e.blocked)).toEqual([true, false]);
    expect(after[1]!.at!.getTime()).toBeGreaterThan(after[0]!.at!.getTime());
  });

  it("when the list is longer than a page, then pages follow most recently blocked first, none missing or repeated", async () => {
    const biz = await business();
    const cs = [];
    for (let i = 0; i < 5; i++) {
      const c = await newCustomer(biz);
      await blockUsers(biz, [c.phone]);
      cs.push(c);
    }
    const seen: string[] = [];
    let token = "";
    do {
      const page = await listBlocked(biz, 2, token);
      expect(page.users.length).toBeLessThanOrEqual(2);
      seen.push(...page.users.map((u) => u.customerId));
      token = page.page!.nextPageToken;
    } while (token);
    expect(seen).toEqual(cs.map((c) => c.id).reverse());
    const bad = await expectFailure(ca.listBlockedUsers.bind(ca), { phoneNumberId: biz.pn, page: { pageSize: 2, pageToken: "garbage" } }, { token: biz.token });
    expect([bad.code, errorDetail(bad)?.field]).toEqual([status.INVALID_ARGUMENT, "page.page_token"]);
  });

  it("when another business, a customer or an unknown number is named, then PERMISSION_DENIED or NOT_FOUND, and nothing is blocked", async () => {
    const biz = await business();
    const other = await business();
    const c = await newCustomer(biz);
    const denied = await expectFailure(ca.blockUsers.bind(ca), { phoneNumberId: biz.pn, users: [c.phone] }, { token: other.token });
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(ca.listBlockedUsers.bind(ca), { phoneNumberId: biz.pn, page: undefined }, { token: c.token })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(ca.blockUsers.bind(ca), { phoneNumberId: "pn_nobody", users: [c.phone] }, { token: biz.token })).code).toBe(status.NOT_FOUND);
    const missing = await expectFailure(ca.blockUsers.bind(ca), { phoneNumberId: "", users: [c.phone] }, { token: biz.token });
    expect([missing.code, errorDetail(missing)?.field]).toEqual([status.INVALID_ARGUMENT, "phone_number_id"]);
    // A partner of the business may.
    const partner = await env.token({ kind: "partner", partnerId: "p_blocks", businessIds: [biz.businessId] });
    expect((await unaryCall(ca.listBlockedUsers.bind(ca), { phoneNumberId: biz.pn, page: undefined }, { token: partner })).users).toEqual([]);
  });
});

describe("the send path", () => {
  it("when a number blocks a customer, then on every replica its sends are USER_BLOCKED (131026) and the customer's messages are refused and never reach the business; unblocked, both go again", async () => {
    const biz = await business();
    const c = await newCustomer(biz);
    const bystander = await newCustomer(biz);
    await send(cb, sendReq(number(biz.pn), customer(c.id), text("hello!")), biz.token);
    await blockUsers(biz, [c.phone]);

    for (const client of [ca, cb]) {
      const refused = await waitFor(() => refusal(client, sendReq(number(biz.pn), customer(c.id), text("are you there?")), biz.token), 10_000);
      expect(refused).toEqual({ code: status.FAILED_PRECONDITION, reason: "USER_BLOCKED", cloud: 131026 });
      const inbound = await refusal(client, sendReq(customer(c.id), number(biz.pn), text("let me in")), c.token);
      expect(inbound).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "BLOCKED_BY_BUSINESS" });
      // Others are not affected.
      await send(client, sendReq(number(biz.pn), customer(bystander.id), text("news")), biz.token);
      await send(client, sendReq(customer(bystander.id), number(biz.pn), text("thanks")), bystander.token);
    }
    await outboxDrained(a.runtime.database.pool);
    await outboxDrained(b.runtime.database.pool);
    const received = (await streamMessages(env, "messaging", subjects.messageReceived)).map((m) => MessageReceived.decode(m.data)).filter((e) => e.customerId === c.id);
    expect(received.map((e) => e.message?.content?.kind?.$case === "text" && e.message.content.kind.value.body)).toEqual(["hi"]);

    await unblockUsers(biz, [c.phone]);
    for (const client of [cb, ca]) {
      await waitFor(() => send(client, sendReq(number(biz.pn), customer(c.id), text("welcome back")), biz.token).then(() => true, () => false), 10_000);
      await send(client, sendReq(customer(c.id), number(biz.pn), text("thanks")), c.token);
    }
  });

  it("when a replica starts after the block, then it refuses from its first send (blocks are loaded at start)", async () => {
    const biz = await business();
    const c = await newCustomer(biz);
    await blockUsers(biz, [c.phone]);
    const late = await createMessaging(config);
    const cl = clientFor(MessagingServiceClient, (await late.start()).port);
    try {
      await waitFor(() => late.directory.get(biz.pn), 10_000);
      expect(await refusal(cl, sendReq(number(biz.pn), customer(c.id), text("hi")), biz.token)).toEqual({ code: status.FAILED_PRECONDITION, reason: "USER_BLOCKED", cloud: 131026 });
    } finally {
      cl.close();
      await late.stop();
    }
  });
});

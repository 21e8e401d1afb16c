import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { DirectoryServiceClient } from "@kontor/proto/directory/v1/directory_service";
import { EventEnvelope, FollowChanged } from "@kontor/proto/directory/v1/events";
import { ensureStream, domainStream } from "@kontor/service-kit/nats";
import { outboxDrained } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createDirectory, type DirectoryApp } from "../src/app.js";
import { MESSAGE_VOLUME_CONSUMER } from "../src/events/consumers.js";
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

async function register(overrides: Parameters<typeof buildRegister>[0] = {}) {
  const { business } = await unaryCall(client.registerBusiness.bind(client), buildRegister(overrides), { token: onboarding });
  return { business: business!, token: await env.token({ kind: "business", businessId: business!.id }) };
}

const customer = (id: string) => env.token({ kind: "customer", customerId: id });

describe("follow", () => {
  it("when customers follow and unfollow, then counts move once per change and FollowChanged is published per change", async () => {
    const { business } = await register();
    const follow = async (c: string) => unaryCall(client.followBusiness.bind(client), { businessId: business.id, customerId: c }, { token: await customer(c) });
    expect(await follow("cust_a")).toEqual({ following: true, followerCount: "1" });
    expect(await follow("cust_a")).toEqual({ following: true, followerCount: "1" });
    expect(await follow("cust_b")).toEqual({ following: true, followerCount: "2" });
    const un = await unaryCall(client.unfollowBusiness.bind(client), { businessId: business.id, customerId: "cust_a" }, { token: await customer("cust_a") });
    expect(un).toEqual({ following: false, followerCount: "1" });
    const again = await unaryCall(client.unfollowBusiness.bind(client), { businessId: business.id, customerId: "cust_a" }, { token: await customer("cust_a") });
    expect(again).toEqual({ following: false, followerCount: "1" });
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, subjects.followChanged)).map((d) => FollowChanged.decode(d)).filter((e) => e.businessId === business.id);
    expect(events.map((e) => [e.customerId, e.following, e.followerCount])).toEqual([
      ["cust_a", true, "1"],
      ["cust_b", true, "2"],
      ["cust_a", false, "1"],
    ]);
    const got = await unaryCall(client.getBusiness.bind(client), { businessId: business.id }, { token: onboarding });
    expect(got.business?.followerCount).toBe("1");
  });

  it("when a customer acts for another customer, or the business is unknown, then PERMISSION_DENIED / NOT_FOUND", async () => {
    const { business } = await register();
    const err = await expectFailure(client.followBusiness.bind(client), { businessId: business.id, customerId: "cust_victim" }, { token: await customer("cust_mallory") });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    const missing = await expectFailure(client.followBusiness.bind(client), { businessId: "biz_nope", customerId: "cust_a" }, { token: await customer("cust_a") });
    expect(missing.code).toBe(status.NOT_FOUND);
  });

  it("when the business pages through its followers, then each appears once, newest first; nobody else may list them", async () => {
    const { business, token } = await register();
    for (let i = 0; i < 7; i++) {
      await unaryCall(client.followBusiness.bind(client), { businessId: business.id, customerId: `cust_${i}` }, { token: await customer(`cust_${i}`) });
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const res = await unaryCall(client.listFollowers.bind(client), { businessId: business.id, page: { pageSize: 3, pageToken } }, { token });
      expect(res.followerCount).toBe("7");
      seen.push(...res.followers.map((f) => f.customerId));
      pageToken = res.page?.nextPageToken ?? "";
    } while (pageToken);
    expect(seen).toEqual(["cust_6", "cust_5", "cust_4", "cust_3", "cust_2", "cust_1", "cust_0"]);
    for (const t of [await customer("cust_1"), await env.token({ kind: "business", businessId: "biz_rival" })]) {
      const err = await expectFailure(client.listFollowers.bind(client), { businessId: business.id, page: undefined }, { token: t });
      expect(err.code).toBe(status.PERMISSION_DENIED);
    }
    const mine = await unaryCall(client.listFollowedBusinesses.bind(client), { customerId: "cust_3", page: undefined }, { token: await customer("cust_3") });
    expect(mine.businesses.map((b) => b.business?.id)).toContain(business.id);
  });
});

describe("chat links", () => {
  it("when a business creates a link, then resolving it returns the business, number, prefilled text and referral, and counts the open", async () => {
    const { business, token } = await register();
    const { chatLink } = await unaryCall(
      client.createChatLink.bind(client),
      { businessId: business.id, prefilledMessage: "Hallo! Ich möchte einen Kurs buchen", campaign: "winter-2026", referralTag: "flyer:kreuzberg", phoneNumberId: "" },
      { token },
    );
    expect(chatLink?.url).toBe(`https://kontor.example/c/${chatLink!.code}`);
    expect(chatLink?.code).toMatch(/^[2-9A-HJ-NP-Za-km-z]{8}$/);
    const resolved = await unaryCall(client.resolveChatLink.bind(client), { code: chatLink!.code }, { token: await customer("cust_z") });
    expect(resolved.business?.id).toBe(business.id);
    expect(resolved.phoneNumber?.phoneNumberId).toBe(business.profile!.phoneNumbers[0]!.phoneNumberId);
    expect(resolved.prefilledMessage).toBe("Hallo! Ich möchte einen Kurs buchen");
    expect(resolved.referral).toEqual({ sourceType: "chat_link", sourceUrl: chatLink!.url, code: chatLink!.code, campaign: "winter-2026", referralTag: "flyer:kreuzberg" });
    const listed = await unaryCall(client.listChatLinks.bind(client), { businessId: business.id, page: undefined }, { token });
    expect(listed.chatLinks[0]?.openCount).toBe("1");

    const qr = await unaryCall(client.getChatLinkQrCode.bind(client), { businessId: business.id, code: chatLink!.code }, { token });
    expect(qr.url).toBe(chatLink!.url);
    expect(qr.svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(qr.svg).toContain("<path");

    await unaryCall(client.deleteChatLink.bind(client), { businessId: business.id, code: chatLink!.code }, { token });
    const gone = await expectFailure(client.resolveChatLink.bind(client), { code: chatLink!.code }, { token: await customer("cust_z") });
    expect(gone.code).toBe(status.NOT_FOUND);
  });

  it("when another business touches the link or the input is bad, then PERMISSION_DENIED / INVALID_ARGUMENT", async () => {
    const { business, token } = await register();
    const rival = await register();
    const { chatLink } = await unaryCall(client.createChatLink.bind(client), { businessId: business.id, prefilledMessage: "", campaign: "", referralTag: "", phoneNumberId: "" }, { token });
    const denied = await expectFailure(client.createChatLink.bind(client), { businessId: business.id, prefilledMessage: "", campaign: "", referralTag: "", phoneNumberId: "" }, { token: rival.token });
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    const notTheirs = await expectFailure(client.getChatLinkQrCode.bind(client), { businessId: rival.business.id, code: chatLink!.code }, { token: rival.token });
    expect(notTheirs.code).toBe(status.NOT_FOUND);
    const wrongNumber = await expectFailure(
      client.createChatLink.bind(client),
      { businessId: business.id, prefilledMessage: "", campaign: "", referralTag: "", phoneNumberId: rival.business.profile!.phoneNumbers[0]!.phoneNumberId },
      { token },
    );
    expect([wrongNumber.code, errorDetail(wrongNumber)?.field]).toEqual([status.INVALID_ARGUMENT, "phone_number_id"]);
    const badTag = await expectFailure(client.createChatLink.bind(client), { businessId: business.id, prefilledMessage: "", campaign: "<script>", referralTag: "", phoneNumberId: "" }, { token });
    expect([badTag.code, errorDetail(badTag)?.field]).toEqual([status.INVALID_ARGUMENT, "campaign"]);
  });
});

describe("popularity from messaging", () => {
  it("when messaging publishes inbound messages, then message_volume counts each event once, even when redelivered", async () => {
    const { business } = await register();
    const nc = await env.nats();
    const jsm = await nc.jetstreamManager();
    await ensureStream(jsm, domainStream(env.natsPrefix, "messaging"));
    const js = nc.jetstream();
    const publish = (eventId: string) =>
      js.publish(env.natsPrefix + consumed.messageReceived, EventEnvelope.encode({ meta: { eventId, occurredAt: new Date(), businessId: business.id } }).finish());
    await publish("evt-1");
    await publish("evt-2");
    // A duplicate that slipped past the stream's dedupe window (no msgID): the consumer drops it.
    await publish("evt-1");
    await js.publish(env.natsPrefix + consumed.messageReceived, new Uint8Array([0xff, 0xff, 0xff]));
    // The barrier: the consumer handles events in stream order, so once the later evt-3 is
    // recorded, the duplicate (and the poison message) before it have been handled too.
    await publish("evt-3");
    await waitFor(() =>
      app.runtime.db.selectFrom("processed_events").select("event_id").where("consumer", "=", MESSAGE_VOLUME_CONSUMER).where("event_id", "=", "evt-3").executeTakeFirst(),
    );
    const { message_volume } = await app.runtime.db.selectFrom("business_search").select("message_volume").where("business_id", "=", business.id).executeTakeFirstOrThrow();
    expect(Number(message_volume)).toBe(3);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { ConsentSetting, ConsentSource } from "@kontor/proto/messaging/v1/consent";
import { ConsentChanged, MessageReceived } from "@kontor/proto/messaging/v1/events";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { errorDetail } from "@kontor/service-kit/errors";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { clientFor, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig, type Config } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { KEYWORD_DURABLE } from "../src/events/consent.js";
import { domainStream } from "@kontor/service-kit/nats";
import { customer, masterKey, number, registerBusiness, registerCustomer, sendReq, text, uid } from "./factories.js";

/*
 * Consent (rules 2 and 7) with two replicas sharing PostgreSQL and NATS:
 * A serves the RPCs and takes the customers' messages; B only holds a cache.
 */
let env: TestEnv;
let config: Readonly<Config>;
let a: MessagingApp;
let b: MessagingApp;
let ca: MessagingServiceClient;
let onboarding: string;
let gateway: string;

beforeAll(async () => {
  env = await createTestEnv();
  config = loadConfig(env.env({ MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "200" }));
  a = await createMessaging(config);
  ca = clientFor(MessagingServiceClient, (await a.start()).port);
  b = await createMessaging(config);
  await b.start();
  onboarding = await env.token({ kind: "service", service: "onboarding" });
  gateway = await env.token({ kind: "service", service: "gateway" });
});

afterAll(async () => {
  ca?.close();
  await b?.stop();
  await a?.stop();
  await env?.cleanup();
});

/** A business with one number and a customer of its own. */
async function setup() {
  const businessId = uid("biz_");
  const pn = uid("pn_");
  await registerBusiness(env, a, businessId, pn);
  const customerId = uid("cust");
  await registerCustomer(ca, onboarding, customerId);
  return {
    businessId,
    pn,
    customerId,
    bizToken: await env.token({ kind: "business", businessId }),
    customerToken: await env.token({ kind: "customer", customerId }),
  };
}
type Setup = Awaited<ReturnType<typeof setup>>;

async function consentEvents(filter: (e: ConsentChanged) => boolean): Promise<ConsentChanged[]> {
  await outboxDrained(a.runtime.database.pool);
  return (await streamMessages(env, "messaging", subjects.consentChanged)).map((m) => ConsentChanged.decode(m.data)).filter(filter);
}

/** Every received event so far is handled and acknowledged by the keyword consumer (its writes are committed). */
async function keywordsHandled(): Promise<void> {
  await outboxDrained(a.runtime.database.pool);
  const jsm = await (await env.nats()).jetstreamManager();
  const stream = domainStream(env.natsPrefix, "messaging").name;
  await waitFor(async () => {
    const info = await jsm.consumers.info(stream, KEYWORD_DURABLE);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
}

async function customerSays(s: Setup, body: string): Promise<string> {
  const { result } = await unaryCall(ca.sendMessage.bind(ca), sendReq(customer(s.customerId), number(s.pn), text(body)), { token: s.customerToken });
  return result!.messageId;
}

async function marketingOf(s: Setup) {
  const r = await unaryCall(ca.getConsent.bind(ca), { customerId: s.customerId, businessId: s.businessId }, { token: s.bizToken });
  return r.marketing[0]!;
}

describe("the keyword path", () => {
  it('when a customer sends "STOP", then an opt-out for that business is recorded with the message as proof, its event lands once, and the message is delivered', async () => {
    const s = await setup();
    await unaryCall(ca.setMarketingConsent.bind(ca), { customerId: s.customerId, businessId: s.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "signed up at checkout" }, { token: s.bizToken });
    const id = await customerSays(s, "STOP");
    const m = await waitFor(async () => {
      const c = await marketingOf(s);
      return c.optOut ? c : undefined;
    });
    expect(m.optedIn).toBe(false);
    expect(m.optOut).toMatchObject({ source: ConsentSource.CONSENT_SOURCE_KEYWORD, proof: "STOP", recordedBy: `customer:${s.customerId}` });
    const events = await consentEvents((e) => e.messageId === id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ customerId: s.customerId, businessId: s.businessId, setting: ConsentSetting.CONSENT_SETTING_MARKETING, value: false, source: ConsentSource.CONSENT_SOURCE_KEYWORD, proof: "STOP" });
    // The message itself is stored and readable by the business as any other.
    const read = await unaryCall(ca.getMessage.bind(ca), { participant: number(s.pn), messageId: id }, { token: s.bizToken });
    expect(read.message?.content?.kind).toEqual({ $case: "text", value: { body: "STOP", previewUrl: false } });
  });

  it('when a customer sends "START", then "abmelden", then "please do not stop", then it is opted in, then out, and the third text changes nothing', async () => {
    const s = await setup();
    const start = await customerSays(s, "START");
    await waitFor(async () => (await marketingOf(s)).optedIn);
    const abmelden = await customerSays(s, "  Abmelden! ");
    await waitFor(async () => (await marketingOf(s)).optOut?.proof === "  Abmelden! ");
    expect((await marketingOf(s)).optedIn).toBe(false);
    const chat = await customerSays(s, "please do not stop");
    await keywordsHandled();
    const events = await consentEvents((e) => e.customerId === s.customerId);
    expect(events.map((e) => [e.messageId, e.value])).toEqual([
      [start, true],
      [abmelden, false],
    ]);
    expect(events.some((e) => e.messageId === chat)).toBe(false);
  });

  it("when the received event is delivered again, then nothing is recorded or emitted again", async () => {
    const s = await setup();
    const id = await customerSays(s, "unsubscribe");
    await waitFor(async () => (await marketingOf(s)).optOut !== undefined);
    const received = (await streamMessages(env, "messaging", subjects.messageReceived)).find((m) => MessageReceived.decode(m.data).message?.id === id)!;
    // Published again under a new NATS id: the stream keeps it, the consumer sees it a second time.
    const nc = await env.nats();
    await nc.jetstream().publish(`${env.natsPrefix}${subjects.messageReceived}`, received.data, { msgID: randomUUID() });
    await keywordsHandled();
    expect(await consentEvents((e) => e.messageId === id)).toHaveLength(1);
    expect((await marketingOf(s)).optOut?.proof).toBe("unsubscribe");
  });
});

describe("SetMarketingConsent and GetConsent", () => {
  it("when the customer opts in and the business reads it, then the record has its source, proof and time, and one event", async () => {
    const s = await setup();
    const before = Date.now();
    const r = await unaryCall(ca.setMarketingConsent.bind(ca), { customerId: s.customerId, businessId: s.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_IMPORT, proof: "paper form 2026-11" }, { token: s.customerToken });
    expect(r.changed).toBe(true);
    expect(r.marketing).toMatchObject({ businessId: s.businessId, optedIn: true, optIn: { source: ConsentSource.CONSENT_SOURCE_IMPORT, proof: "paper form 2026-11", recordedBy: `customer:${s.customerId}` } });
    expect(r.marketing!.optIn!.at!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    const own = await unaryCall(ca.getConsent.bind(ca), { customerId: s.customerId, businessId: "" }, { token: s.customerToken });
    expect(own.marketing.map((x) => x.businessId)).toEqual([s.businessId]);
    expect(own.privacy).toMatchObject({ adPersonalization: false, dataSharingOptOut: false });
    const events = await consentEvents((e) => e.customerId === s.customerId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ businessId: s.businessId, setting: ConsentSetting.CONSENT_SETTING_MARKETING, value: true, source: ConsentSource.CONSENT_SOURCE_IMPORT });
    // Then the customer opts out by RPC.
    const out = await unaryCall(ca.setMarketingConsent.bind(ca), { customerId: s.customerId, businessId: s.businessId, optIn: false, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "" }, { token: s.customerToken });
    expect(out.marketing?.optedIn).toBe(false);
    expect(await consentEvents((e) => e.customerId === s.customerId)).toHaveLength(2);
  });

  it("when a business or the gateway records an opt-in, then it needs proof, may not opt out, and acts only for its own business; nor reads the privacy settings", async () => {
    const s = await setup();
    const other = await setup();
    const req = (over: object) => ({ customerId: s.customerId, businessId: s.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "ticked the box at checkout", ...over });
    const noProof = await expectFailure(ca.setMarketingConsent.bind(ca), req({ proof: "  " }), { token: s.bizToken });
    expect(noProof.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(noProof)?.field).toBe("proof");
    expect((await expectFailure(ca.setMarketingConsent.bind(ca), req({ optIn: false }), { token: s.bizToken })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(ca.setMarketingConsent.bind(ca), req({ businessId: other.businessId }), { token: s.bizToken })).code).toBe(status.PERMISSION_DENIED);
    const partner = await env.token({ kind: "partner", partnerId: "bsp_c", businessIds: [other.businessId] });
    expect((await expectFailure(ca.setMarketingConsent.bind(ca), req({}), { token: partner })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(ca.getConsent.bind(ca), { customerId: s.customerId, businessId: s.businessId }, { token: partner })).code).toBe(status.PERMISSION_DENIED);
    const noBusiness = await expectFailure(ca.getConsent.bind(ca), { customerId: s.customerId, businessId: "" }, { token: s.bizToken });
    expect(noBusiness.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(noBusiness)?.field).toBe("business_id");
    expect((await marketingOf(s)).optIn).toBeUndefined();

    const ok = await unaryCall(ca.setMarketingConsent.bind(ca), req({}), { token: gateway });
    expect(ok.marketing?.optIn?.recordedBy).toBe("service:gateway");
    const read = await unaryCall(ca.getConsent.bind(ca), { customerId: s.customerId, businessId: s.businessId }, { token: s.bizToken });
    expect(read.privacy).toBeUndefined();
    expect(read.marketing).toHaveLength(1);
    expect(read.marketing[0]).toMatchObject({ optedIn: true });
  });

  it("when a customer names another customer, then PERMISSION_DENIED and nothing changes", async () => {
    const s = await setup();
    const t = await setup();
    expect((await expectFailure(ca.getConsent.bind(ca), { customerId: t.customerId, businessId: "" }, { token: s.customerToken })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(ca.setMarketingConsent.bind(ca), { customerId: t.customerId, businessId: t.businessId, optIn: true, source: 0, proof: "x" }, { token: s.customerToken })).code).toBe(
      status.PERMISSION_DENIED,
    );
    expect((await expectFailure(ca.setPrivacySettings.bind(ca), { customerId: t.customerId, adPersonalization: true }, { token: s.customerToken })).code).toBe(status.PERMISSION_DENIED);
    expect((await marketingOf(t)).optIn).toBeUndefined();
    expect(await consentEvents((e) => e.customerId === t.customerId)).toHaveLength(0);
  });

  it("when input is bad, then INVALID_ARGUMENT names the field and nothing is stored", async () => {
    const s = await setup();
    const base = { customerId: s.customerId, businessId: s.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "form" };
    const cases: [object, string][] = [
      [{ customerId: "" }, "customer_id"],
      [{ businessId: "not valid!" }, "business_id"],
      [{ source: ConsentSource.CONSENT_SOURCE_KEYWORD }, "source"],
      [{ source: 99 }, "source"],
      [{ proof: "p".repeat(1001) }, "proof"],
    ];
    for (const [over, field] of cases) {
      const err = await expectFailure(ca.setMarketingConsent.bind(ca), { ...base, ...over }, { token: s.customerToken });
      expect(err.code, field).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe(field);
    }
    const none = await expectFailure(ca.setPrivacySettings.bind(ca), { customerId: s.customerId }, { token: s.customerToken });
    expect(none.code).toBe(status.INVALID_ARGUMENT);
    const rows = await a.runtime.database.pool.query(`SELECT 1 FROM marketing_consent WHERE customer_id = $1 UNION ALL SELECT 1 FROM customer_privacy WHERE customer_id = $1`, [s.customerId]);
    expect(rows.rowCount).toBe(0);
  });
});

describe("SetPrivacySettings", () => {
  it("when the customer turns ad personalization on and opts out of data sharing, then one event per changed setting; the same again emits nothing", async () => {
    const s = await setup();
    const r = await unaryCall(ca.setPrivacySettings.bind(ca), { customerId: s.customerId, adPersonalization: true }, { token: s.customerToken });
    expect(r.privacy).toMatchObject({ adPersonalization: true, dataSharingOptOut: false });
    const r2 = await unaryCall(ca.setPrivacySettings.bind(ca), { customerId: s.customerId, adPersonalization: true, dataSharingOptOut: true }, { token: s.customerToken });
    expect(r2.privacy).toMatchObject({ adPersonalization: true, dataSharingOptOut: true });
    await unaryCall(ca.setPrivacySettings.bind(ca), { customerId: s.customerId, adPersonalization: true, dataSharingOptOut: true }, { token: s.customerToken });
    const events = await consentEvents((e) => e.customerId === s.customerId);
    expect(events.map((e) => [e.setting, e.value, e.businessId])).toEqual([
      [ConsentSetting.CONSENT_SETTING_AD_PERSONALIZATION, true, ""],
      [ConsentSetting.CONSENT_SETTING_DATA_SHARING_OPT_OUT, true, ""],
    ]);
    const read = await unaryCall(ca.getConsent.bind(ca), { customerId: s.customerId, businessId: "" }, { token: s.customerToken });
    expect(read.privacy).toMatchObject({ adPersonalization: true, dataSharingOptOut: true });
    // A business never changes them (the access table refuses it before the handler).
    expect((await expectFailure(ca.setPrivacySettings.bind(ca), { customerId: s.customerId, adPersonalization: false }, { token: s.bizToken })).code).toBe(status.PERMISSION_DENIED);
  });
});

describe("the marketing consent cache on another replica", () => {
  it("when consent changes on A (by RPC, then by a STOP message), then B's cache follows through the events", async () => {
    const s = await setup();
    await waitFor(() => b.directory.get(s.pn));
    await b.consentCache.load(s.customerId, s.businessId);
    expect(b.consentCache.marketingAllowed(s.customerId, s.businessId, Date.now())).toBe(false);
    await unaryCall(ca.setMarketingConsent.bind(ca), { customerId: s.customerId, businessId: s.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "app settings" }, { token: s.customerToken });
    // A applied its own change at once; B hears it from the event.
    expect(a.consentCache.get(s.customerId, s.businessId)).toBeUndefined();
    await waitFor(() => b.consentCache.marketingAllowed(s.customerId, s.businessId, Date.now()));
    await customerSays(s, "stop");
    await waitFor(() => !b.consentCache.marketingAllowed(s.customerId, s.businessId, Date.now()));
    expect(b.consentCache.marketingRefusal(s.customerId, s.businessId, Date.now())?.reason).toBe("MARKETING_OPTED_OUT");
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { ConversationOpened, MessageBilled, MessageReceived, MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import type { Content, Referral, TemplateParameter } from "@kontor/proto/messaging/v1/message";
import { MessagingServiceClient, type SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { TemplateCategory as C, TemplateComponentType as T, TemplateHeaderFormat as H, TemplateParameterFormat as P } from "@kontor/proto/messaging/v1/template";
import { TemplateServiceClient } from "@kontor/proto/messaging/v1/template_service";
import { ConsentSource } from "@kontor/proto/messaging/v1/consent";
import { errorDetail } from "@kontor/service-kit/errors";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { customer, masterKey, number, registerBusiness, registerCustomer, sendReq, text, uid } from "./factories.js";
import { expandStatuses } from "@kontor/service-kit/message-status";

/*
 * The policy rules on the send path, with every rule on: two replicas A and
 * B with limits high enough not to refuse (the rules under test refuse), and
 * C with a small throughput and pair rate.
 */
let env: TestEnv;
let a: MessagingApp;
let b: MessagingApp;
let c: MessagingApp;
let ca: MessagingServiceClient;
let cb: MessagingServiceClient;
let cc: MessagingServiceClient;
let templates: TemplateServiceClient;
let onboarding: string;

beforeAll(async () => {
  env = await createTestEnv();
  const base = { MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "200" };
  const roomy = loadConfig(env.env({ ...base, THROUGHPUT_PER_SECOND: "100000", PAIR_BURST_MAX: "1000" }));
  a = await createMessaging(roomy);
  const portA = (await a.start()).port;
  ca = clientFor(MessagingServiceClient, portA);
  templates = clientFor(TemplateServiceClient, portA);
  b = await createMessaging(roomy);
  cb = clientFor(MessagingServiceClient, (await b.start()).port);
  c = await createMessaging(loadConfig(env.env({ ...base, MESSAGE_MASTER_KEY: roomy.MESSAGE_MASTER_KEY, THROUGHPUT_PER_SECOND: "4", PAIR_INTERVAL_MS: "600000", PAIR_BURST_MAX: "3" })));
  cc = clientFor(MessagingServiceClient, (await c.start()).port);
  onboarding = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  for (const cl of [ca, cb, cc, templates]) cl?.close();
  for (const app of [c, b, a]) await app?.stop();
  await env?.cleanup();
});

/** A business with one number known to every replica, and its token. */
async function business() {
  const businessId = uid("biz_");
  const pn = uid("pn_");
  await registerBusiness(env, a, businessId, pn);
  await waitFor(() => b.directory.get(pn) && c.directory.get(pn), 10_000);
  return { businessId, pn, token: await env.token({ kind: "business", businessId }) };
}

async function newCustomer(e164?: string) {
  const id = uid("cust");
  await registerCustomer(ca, onboarding, id, e164);
  return { id, token: await env.token({ kind: "customer", customerId: id }) };
}

async function send(client: MessagingServiceClient, req: SendMessageRequest, token: string) {
  return unaryCall(client.sendMessage.bind(client), req, { token });
}

async function refusal(client: MessagingServiceClient, req: SendMessageRequest, token: string) {
  try {
    await send(client, req, token);
  } catch (err) {
    const e = err as ServiceError;
    const d = errorDetail(e);
    return { code: e.code, reason: d?.reason, cloud: d?.cloudApiCode, metadata: d?.metadata ?? {}, message: e.details };
  }
  throw new Error("expected the send to be refused");
}

const param = (value: string): TemplateParameter => ({ type: "text", parameterName: "", text: value, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" });
const templateContent = (name: string, values: string[], language = "en_US"): Content => ({
  kind: { $case: "template", value: { name, languageCode: language, rendered: undefined, components: [{ type: "body", subType: "", index: 0, parameters: values.map(param) }] } },
});

/** An APPROVED template of the business (the automatic review approves plain wording at once). */
async function template(biz: { businessId: string; token: string }, category: C, text = "Hello {{1}}, your order {{2}} is on its way.") {
  const name = uid("tpl_");
  const res = await unaryCall(
    templates.createTemplate.bind(templates),
    {
      businessId: biz.businessId,
      name,
      language: "en_US",
      category,
      parameterFormat: P.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED,
      components: [{ type: T.TEMPLATE_COMPONENT_TYPE_BODY, format: H.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text, example: { headerText: [], headerTextNamedParams: [], bodyText: [{ values: ["Ana", "A-17"] }], bodyTextNamedParams: [], headerHandle: [] }, buttons: [] }],
    },
    { token: biz.token },
  );
  return { name, id: res.template!.id };
}

async function eventsOf<T>(subject: string, decode: (b: Uint8Array) => T | T[], pick: (e: T) => boolean): Promise<T[]> {
  for (const app of [a, b, c]) await outboxDrained(app.runtime.database.pool);
  return (await streamMessages(env, "messaging", subject)).flatMap((m) => decode(m.data)).filter(pick);
}

/** A message.status event's statuses: one, or several (STATUS_EVENTS=per_commit). */
function statusesIn(data: Uint8Array): MessageStatusChanged[] {
  const e = MessageStatusChanged.decode(data);
  return expandStatuses(e);
}

describe("customer service window (rule 1)", () => {
  it("when a customer never wrote, then a free-form message is refused with 131047; once it writes, the business may answer from any replica", async () => {
    const biz = await business();
    const cu = await newCustomer();
    const refused = await refusal(ca, sendReq(number(biz.pn), customer(cu.id), text("hi")), biz.token);
    expect(refused).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "OUTSIDE_CUSTOMER_SERVICE_WINDOW", cloud: 131047 });

    await send(ca, sendReq(customer(cu.id), number(biz.pn), text("hello?")), cu.token);
    // B never saw the customer's message: its memory says closed, so it reads the conversation row once.
    const answered = await send(cb, sendReq(number(biz.pn), customer(cu.id), text("hi, how can we help?")), biz.token);
    expect(answered.result?.seq).toBe("2");
  });

  it("when the customer's last message is more than 24 h old, then a replica refuses free-form; a template still goes", async () => {
    const biz = await business();
    const cu = await newCustomer();
    await send(ca, sendReq(customer(cu.id), number(biz.pn), text("hello")), cu.token);
    // The window as the store holds it, 24 h and a second ago; C has not used this conversation yet.
    await a.runtime.database.pool.query("UPDATE conversation SET last_inbound_at = now() - interval '24 hours 1 second' WHERE phone_number_id = $1", [biz.pn]);
    const refused = await refusal(cc, sendReq(number(biz.pn), customer(cu.id), text("still there?")), biz.token);
    expect(refused.cloud).toBe(131047);
    const t = await template(biz, C.TEMPLATE_CATEGORY_UTILITY);
    await send(cc, sendReq(number(biz.pn), customer(cu.id), templateContent(t.name, ["Ana", "A-17"])), biz.token);
  });
});

describe("templates on the send path (rule 6)", () => {
  it("when a template is sent, then it must exist approved in that language (132001) with matching parameters (132000), and the rendered text is stored with the message", async () => {
    const biz = await business();
    const cu = await newCustomer();
    const t = await template(biz, C.TEMPLATE_CATEGORY_UTILITY);
    expect(await refusal(ca, sendReq(number(biz.pn), customer(cu.id), templateContent("no_such_template", ["x"])), biz.token)).toMatchObject({ code: status.NOT_FOUND, cloud: 132001 });
    expect(await refusal(ca, sendReq(number(biz.pn), customer(cu.id), templateContent(t.name, ["Ana", "A-17"], "de")), biz.token)).toMatchObject({ cloud: 132001 });
    expect(await refusal(ca, sendReq(number(biz.pn), customer(cu.id), templateContent(t.name, ["Ana"])), biz.token)).toMatchObject({ code: status.INVALID_ARGUMENT, cloud: 132000 });

    // B learns the template from the store on first use.
    const sent = await send(cb, sendReq(number(biz.pn), customer(cu.id), templateContent(t.name, ["Ana", "A-17"])), biz.token);
    const got = await unaryCall(ca.getMessage.bind(ca), { messageId: sent.result!.messageId, participant: customer(cu.id) }, { token: cu.token });
    const content = got.message?.content?.kind;
    expect(content?.$case).toBe("template");
    if (content?.$case === "template") expect(content.value.rendered).toMatchObject({ templateId: t.id, category: "UTILITY", body: "Hello Ana, your order A-17 is on its way." });
  });

  it("when a reviewer rejects an approved template, then every replica refuses it with 132001 once the status event arrives", async () => {
    const biz = await business();
    const cu = await newCustomer();
    const t = await template(biz, C.TEMPLATE_CATEGORY_UTILITY);
    await send(cb, sendReq(number(biz.pn), customer(cu.id), templateContent(t.name, ["Ana", "A-17"])), biz.token);
    const reviewer = await env.token({ kind: "staff", staffId: "rev_p", roles: ["messaging.template_reviewer"] });
    await unaryCall(templates.reviewTemplate.bind(templates), { templateId: t.id, decision: 2, reason: "misleading" }, { token: reviewer });
    await waitFor(async () => {
      try {
        await send(cb, sendReq(number(biz.pn), customer(cu.id), templateContent(t.name, ["Ana", "A-17"])), biz.token);
        return false;
      } catch (err) {
        return errorDetail(err as ServiceError)?.cloudApiCode === 132001;
      }
    }, 10_000);
  });
});

describe("marketing consent (rule 2)", () => {
  it("when a customer has no opt-in, then a MARKETING template is refused with 131050; opted in it goes; after the customer's STOP it is refused again", async () => {
    const biz = await business();
    const cu = await newCustomer();
    const t = await template(biz, C.TEMPLATE_CATEGORY_MARKETING, "Hi {{1}}, new arrivals for order {{2}} are in.");
    const req = () => sendReq(number(biz.pn), customer(cu.id), templateContent(t.name, ["Ana", "A-17"]));
    expect(await refusal(ca, req(), biz.token)).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "MARKETING_OPT_IN_MISSING", cloud: 131050 });

    await unaryCall(ca.setMarketingConsent.bind(ca), { customerId: cu.id, businessId: biz.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "" }, { token: cu.token });
    await send(ca, req(), biz.token);
    // B hears the opt-in by its consent event.
    await waitFor(() => send(cb, req(), biz.token).then(() => true, () => false), 10_000);

    await send(ca, sendReq(customer(cu.id), number(biz.pn), text("STOP")), cu.token);
    for (const client of [ca, cb]) {
      const refused = await waitFor(() => refusal(client, req(), biz.token).catch(() => undefined), 10_000);
      expect(refused).toMatchObject({ reason: "MARKETING_OPTED_OUT", cloud: 131050 });
    }
  });
});

describe("blocks (rule 3)", () => {
  it("when a customer blocks a business, then every replica refuses its messages as an unknown recipient would be (131026); unblocked, they go again", async () => {
    const biz = await business();
    const cu = await newCustomer();
    await send(ca, sendReq(customer(cu.id), number(biz.pn), text("hi")), cu.token);
    await send(cb, sendReq(number(biz.pn), customer(cu.id), text("hello!")), biz.token);
    await unaryCall(ca.setBusinessBlocked.bind(ca), { customerId: cu.id, businessId: biz.businessId, blocked: true }, { token: cu.token });
    for (const client of [ca, cb]) {
      const refused = await waitFor(() => refusal(client, sendReq(number(biz.pn), customer(cu.id), text("are you there?")), biz.token).catch(() => undefined), 10_000);
      const unknown = await refusal(client, sendReq(number(biz.pn), customer("cust_nobody"), text("x")), biz.token);
      expect(refused).toMatchObject({ code: status.NOT_FOUND, reason: "RECIPIENT_NOT_FOUND", cloud: 131026 });
      expect(refused).toEqual(unknown);
    }
    await unaryCall(ca.setBusinessBlocked.bind(ca), { customerId: cu.id, businessId: biz.businessId, blocked: false }, { token: cu.token });
    await waitFor(() => send(cb, sendReq(number(biz.pn), customer(cu.id), text("welcome back")), biz.token).then(() => true, () => false), 10_000);
  });
});

describe("limits (rule 4)", () => {
  it("when a pair sends more than its burst, then 131056 with retry_after_ms, a retry of an accepted send still gets its original; other customers are not affected", async () => {
    const biz = await business();
    const [x, y] = [await newCustomer(), await newCustomer()];
    for (const cu of [x, y]) await send(ca, sendReq(customer(cu.id), number(biz.pn), text("hi")), cu.token);
    const first = await send(cc, sendReq(number(biz.pn), customer(x.id), text("update 0"), { clientMessageId: "update-0" }), biz.token);
    for (let i = 1; i < 3; i++) await send(cc, sendReq(number(biz.pn), customer(x.id), text(`update ${i}`)), biz.token);
    const refused = await refusal(cc, sendReq(number(biz.pn), customer(x.id), text("one more")), biz.token);
    expect(refused).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "PAIR_RATE_LIMIT", cloud: 131056 });
    expect(Number(refused.metadata.retry_after_ms)).toBeGreaterThan(0);
    // A retry of an accepted send answers its original, although the pair has no room left.
    const retry = await send(cc, sendReq(number(biz.pn), customer(x.id), text("update 0"), { clientMessageId: "update-0" }), biz.token);
    expect(retry.result).toMatchObject({ messageId: first.result!.messageId, seq: first.result!.seq, duplicate: true });
    await send(cc, sendReq(number(biz.pn), customer(y.id), text("hello y")), biz.token);
  });

  it("when a number sends past its throughput, then 130429; a customer's message is never refused for it", async () => {
    const biz = await business();
    const customers = [];
    for (let i = 0; i < 6; i++) customers.push(await newCustomer());
    for (const cu of customers) await send(ca, sendReq(customer(cu.id), number(biz.pn), text("hi")), cu.token);
    // C allows 4 per second with a bucket 4 deep; the requests go out together, far faster than it refills.
    const outcomes = await Promise.allSettled(customers.map((cu) => send(cc, sendReq(number(biz.pn), customer(cu.id), text("news")), biz.token)));
    const refused = outcomes.filter((o) => o.status === "rejected").map((o) => errorDetail((o as PromiseRejectedResult).reason as ServiceError));
    expect(refused.length).toBeGreaterThan(0);
    for (const d of refused) expect(d).toMatchObject({ reason: "THROUGHPUT_LIMIT", cloudApiCode: 130429 });
    for (const cu of customers) await send(cc, sendReq(customer(cu.id), number(biz.pn), text("thanks")), cu.token);
  });

  it("when two replicas start conversations for one business, then together they stop at its tier's limit (250), and GetMessagingLimits reports it", async () => {
    const biz = await business();
    const t = await template(biz, C.TEMPLATE_CATEGORY_UTILITY);
    const customers: { id: string }[] = [];
    for (let i = 0; i < 252; i++) customers.push(await newCustomer());
    const sendTo = (i: number) => send(i % 2 === 0 ? ca : cb, sendReq(number(biz.pn), customer(customers[i]!.id), templateContent(t.name, ["Ana", "A-17"])), biz.token);
    const outcomes = await Promise.allSettled(customers.map((_, i) => sendTo(i)));
    const accepted = outcomes.filter((o) => o.status === "fulfilled").length;
    expect(accepted).toBe(250);
    for (const o of outcomes) if (o.status === "rejected") expect(errorDetail(o.reason as ServiceError)).toMatchObject({ reason: "MESSAGING_LIMIT_REACHED", cloudApiCode: 131048 });
    // A customer already counted in the 24 h is not counted again, on either replica.
    const counted = outcomes.findIndex((o) => o.status === "fulfilled");
    await send(counted % 2 === 0 ? cb : ca, sendReq(number(biz.pn), customer(customers[counted]!.id), templateContent(t.name, ["Ana", "B-2"])), biz.token);

    // Half the limit was in use: the upgrade rule's mark is set.
    const mark = await a.runtime.database.pool.query<{ share_reached_at: Date | null }>("SELECT share_reached_at FROM messaging_limit WHERE business_id = $1", [biz.businessId]);
    expect(mark.rows[0]?.share_reached_at).not.toBeNull();

    const limits = await unaryCall(ca.getMessagingLimits.bind(ca), { businessId: biz.businessId }, { token: biz.token });
    expect(limits).toMatchObject({ tier: "TIER_250", uniqueCustomers24h: "250", limit: "250" });
    // A has sent 125 or so of them and none was read: a read rate under 25 % is YELLOW.
    expect(limits.numbers).toEqual([{ phoneNumberId: biz.pn, qualityRating: "YELLOW", throughputPerSecond: 100000 }]);
  }, 180_000); // hundreds of customers and sends: on a slow or busy host this passes the default minute
});

describe("quality (rule 5)", () => {
  it("when a business used half its limit within 7 days, then the evaluation steps it up one tier, once; TIER_250 waits for verification", async () => {
    const [up, unverified] = [await business(), await business()];
    const pool = a.runtime.database.pool;
    await pool.query("INSERT INTO messaging_limit (business_id, tier, share_reached_at) VALUES ($1, 1, now() - interval '6 days'), ($2, 0, now())", [up.businessId, unverified.businessId]);
    const first = await a.qualityJob.run();
    expect(first.upgraded).toContain(up.businessId);
    expect(first.upgraded).not.toContain(unverified.businessId);
    expect((await b.qualityJob.run()).upgraded).not.toContain(up.businessId);
    const limits = await unaryCall(cb.getMessagingLimits.bind(cb), { businessId: up.businessId }, { token: up.token });
    expect(limits).toMatchObject({ tier: "TIER_10K", limit: "10000" });
  });

  it("when a number turns RED from blocks after a marketing template, then that template is paused (132015) and the business's tier is held", async () => {
    const biz = await business();
    const good = await template(biz, C.TEMPLATE_CATEGORY_MARKETING, "Hi {{1}}, the spring collection for {{2}} is here.");
    const bad = await template(biz, C.TEMPLATE_CATEGORY_MARKETING, "Hi {{1}}, last chance on {{2}} today.");
    const customers: { id: string; token: string }[] = [];
    for (let i = 0; i < 100; i++) customers.push(await newCustomer());
    await Promise.all(customers.map((cu) => unaryCall(ca.setMarketingConsent.bind(ca), { customerId: cu.id, businessId: biz.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "" }, { token: cu.token })));
    await Promise.all(customers.map((cu, i) => send(ca, sendReq(number(biz.pn), customer(cu.id), templateContent(i < 3 ? bad.name : good.name, ["Ana", "A-17"])), biz.token)));
    await a.runtime.database.pool.query("INSERT INTO messaging_limit (business_id, tier, share_reached_at) VALUES ($1, 1, now()) ON CONFLICT (business_id) DO UPDATE SET tier = 1, share_reached_at = now()", [biz.businessId]);
    // Two of the three who got the bad one block the business: 2 of 100 sent is RED.
    for (const cu of customers.slice(0, 2)) await unaryCall(ca.setBusinessBlocked.bind(ca), { customerId: cu.id, businessId: biz.businessId, blocked: true }, { token: cu.token });
    await waitFor(() => a.policy.rating(biz.pn) === "RED", 10_000);

    const { paused, upgraded } = await a.qualityJob.run();
    expect(paused).toEqual([bad.id]);
    expect(upgraded).not.toContain(biz.businessId);
    const refused = await waitFor(() => refusal(cb, sendReq(number(biz.pn), customer(customers[2]!.id), templateContent(bad.name, ["Ana", "A-17"])), biz.token).catch(() => undefined), 10_000);
    expect(refused).toMatchObject({ reason: "TEMPLATE_PAUSED", cloud: 132015 });
    // A second run within the round pauses nothing more.
    expect((await a.qualityJob.run()).paused).toEqual([]);
  }, 180_000); // hundreds of customers and sends: on a slow or busy host this passes the default minute
});

describe("billing events (rule 8)", () => {
  it("when a business answers and sends templates, then each window opens once as conversation.opened and each template is priced in message.billed (PMP)", async () => {
    const biz = await business();
    const cu = await newCustomer("+491701234567");
    const utility = await template(biz, C.TEMPLATE_CATEGORY_UTILITY);
    const shipping = await template(biz, C.TEMPLATE_CATEGORY_UTILITY, "Your order {{1}} ships from {{2}} today.");
    // Business-initiated: a utility template before the customer ever wrote is billed.
    const first = await send(ca, sendReq(number(biz.pn), customer(cu.id), templateContent(utility.name, ["Ana", "A-17"])), biz.token);
    await send(ca, sendReq(customer(cu.id), number(biz.pn), text("thanks!")), cu.token);
    // Inside the service window: free-form is a free service message, a utility template is free too.
    const replies = await Promise.all([ca, cb].map((cl, i) => send(cl, sendReq(number(biz.pn), customer(cu.id), text(`reply ${i}`)), biz.token)));
    const inWindow = await send(cb, sendReq(number(biz.pn), customer(cu.id), templateContent(shipping.name, ["A-17", "Berlin"])), biz.token);

    const conversation = first.result!.conversationId;
    const opened = await eventsOf(subjects.conversationOpened, ConversationOpened.decode, (e) => e.conversationId === conversation);
    expect(opened.map((e) => e.category).sort()).toEqual(["service", "utility"]);
    const utilityWindow = opened.find((e) => e.category === "utility")!;
    expect(utilityWindow).toMatchObject({ origin: "business_initiated", pricingModel: "PMP", billable: false, customerCountry: "DE", businessId: biz.businessId, messageId: first.result!.messageId });
    expect(utilityWindow.expiresAt!.getTime() - utilityWindow.openedAt!.getTime()).toBe(24 * 3600_000);
    const service = opened.find((e) => e.category === "service")!;
    expect(replies.map((r) => r.result!.messageId)).toContain(service.messageId);
    expect(service.origin).toBe("user_initiated");

    const billed = await eventsOf(subjects.messageBilled, MessageBilled.decode, (e) => e.conversationId === conversation);
    expect(billed).toHaveLength(2);
    expect(billed.find((e) => e.messageId === first.result!.messageId)).toMatchObject({ category: "utility", billable: true, pricingType: "regular", pricingModel: "PMP", customerCountry: "DE", templateId: utility.id, templateName: utility.name });
    expect(billed.find((e) => e.messageId === inWindow.result!.messageId)).toMatchObject({ category: "utility", billable: false, pricingType: "free_customer_service" });
    // The status events price each message as the webhook shows it, and name the customer's number.
    const statuses = await eventsOf(subjects.messageStatus, statusesIn, (e) => e.conversationId === conversation && e.status === 2);
    expect(statuses.find((e) => e.messageId === first.result!.messageId)).toMatchObject({ pricingCategory: "utility", pricingType: "regular", pricingModel: "PMP", billable: true, customerE164: "+491701234567" });
    expect(statuses.find((e) => e.messageId === replies[0]!.result!.messageId)).toMatchObject({ pricingCategory: "service", pricingType: "free_customer_service", billable: false });
    const inbound = await eventsOf(subjects.messageReceived, MessageReceived.decode, (e) => e.message?.conversationId === conversation);
    expect(inbound[0]).toMatchObject({ customerE164: "+491701234567", customerProfileName: "Ana" });
  });

  it("when a customer comes from a click-to-chat ad and the business answers within 24 h, then a free entry point opens for 72 h and its templates are free", async () => {
    const biz = await business();
    const cu = await newCustomer();
    const t = await template(biz, C.TEMPLATE_CATEGORY_UTILITY);
    const referral: Referral = { sourceUrl: "https://ads.example/1", sourceId: "ad_1", sourceType: "ad", headline: "Spring sale", body: "", mediaType: "", imageUrl: "", videoUrl: "", thumbnailUrl: "", ctwaClid: "clid_1" };
    const inbound = await send(ca, sendReq(customer(cu.id), number(biz.pn), text("I saw your ad"), { referral }), cu.token);
    const reply = await send(cb, sendReq(number(biz.pn), customer(cu.id), text("Welcome!")), biz.token);
    const tpl = await send(ca, sendReq(number(biz.pn), customer(cu.id), templateContent(t.name, ["Ana", "A-17"])), biz.token);

    const conversation = inbound.result!.conversationId;
    const received = await eventsOf(subjects.messageReceived, MessageReceived.decode, (e) => e.message?.id === inbound.result!.messageId);
    expect(received[0]?.referral).toMatchObject({ sourceId: "ad_1", ctwaClid: "clid_1" });
    const opened = await eventsOf(subjects.conversationOpened, ConversationOpened.decode, (e) => e.conversationId === conversation);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ category: "referral_conversion", origin: "referral", billable: false, messageId: reply.result!.messageId });
    expect(opened[0]!.expiresAt!.getTime() - opened[0]!.openedAt!.getTime()).toBe(72 * 3600_000);
    const billed = await eventsOf(subjects.messageBilled, MessageBilled.decode, (e) => e.messageId === tpl.result!.messageId);
    expect(billed[0]).toMatchObject({ billable: false, pricingType: "free_entry_point" });

    const bizReferral = await refusal(ca, sendReq(number(biz.pn), customer(cu.id), text("x"), { referral }), biz.token);
    expect(bizReferral).toMatchObject({ code: status.INVALID_ARGUMENT });
  }, 180_000); // reads three event streams back; on a slow or busy host this passes the default minute
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { AnalyticsGranularity, BusinessToolsServiceClient } from "@kontor/proto/messaging/v1/tools_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { decodeAnalytics } from "../src/events/analytics.js";
import { fold, points } from "../src/domain/tools/analytics.js";
import { customer, number, registerBusiness, registerCustomer, sendReq, startWithBusiness, text, uid } from "./factories.js";
import { approvedTemplate, bodyParams } from "./tools-fixtures.js";

/*
 * Per-template analytics (sent, delivered, read, button taps) against
 * PostgreSQL and NATS with the policy on: counted by the analytics consumer
 * from message.billed (which names the template), message.status and
 * message.received, and equal to the same events replayed from the stream.
 */
let env: TestEnv;
let app: MessagingApp;
let port: number;
let messaging: MessagingServiceClient;
let tools: BusinessToolsServiceClient;
let onboarding: string;

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, port, client: messaging } = await startWithBusiness(env, "biz_tpl_home", "pn_tpl_home"));
  tools = clientFor(BusinessToolsServiceClient, port);
  onboarding = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  tools?.close();
  messaging?.close();
  await app?.stop();
  await env?.cleanup();
});

const counts = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));

describe("GetAnalytics per template", () => {
  it("when template messages are delivered, read and their buttons tapped, then each template's counts equal the replayed event log's, and other messages count for none", async () => {
    const businessId = uid("biz_tp");
    const pn = uid("pn_tp");
    await registerBusiness(env, app, businessId, pn);
    const biz = { businessId, pn, token: await env.token({ kind: "business", businessId }) };
    const shipped = await approvedTemplate(port, biz);
    const other = await approvedTemplate(port, biz);

    const people = await Promise.all(
      ["Ana", "Bo", "Cy", "Di"].map(async (name) => {
        const id = uid("cust_tp");
        await registerCustomer(messaging, onboarding, id, undefined, name);
        return { id, name, token: await env.token({ kind: "customer", customerId: id }) };
      }),
    );
    const sendTemplate = async (to: (typeof people)[number], name: string) =>
      (await unaryCall(messaging.sendMessage.bind(messaging), sendReq(number(pn), customer(to.id), { kind: { $case: "template", value: { name, languageCode: "en_US", components: bodyParams(to.name, "A-1"), rendered: undefined } } }), { token: biz.token })).result!;
    const [ana, bo, cy, di] = people as [(typeof people)[number], (typeof people)[number], (typeof people)[number], (typeof people)[number]];
    const toAna = await sendTemplate(ana, shipped);
    const toBo = await sendTemplate(bo, shipped);
    const toCy = await sendTemplate(cy, shipped);
    const toDi = await sendTemplate(di, other);
    const receipt = (who: typeof ana, conversationId: string, statusCode: number) =>
      unaryCall(messaging.reportReceipt.bind(messaging), { reader: customer(who.id), conversationId, status: statusCode, upToSeq: "1", messageId: "" }, { token: who.token });
    await receipt(ana, toAna.conversationId, 4); // read
    await receipt(bo, toBo.conversationId, 3); // delivered
    await receipt(cy, toCy.conversationId, 4);
    // Cy taps a reply button of the template (its context is the template message), twice; Di just writes.
    const tap = { kind: { $case: "interactive" as const, value: { header: undefined, body: "", footer: "", action: { $case: "buttonReply" as const, value: { id: "track", title: "Track it" } } } } };
    for (let i = 0; i < 2; i++) await unaryCall(messaging.sendMessage.bind(messaging), sendReq(customer(cy.id), number(pn), tap, { context: { messageId: toCy.messageId } }), { token: cy.token });
    await unaryCall(messaging.sendMessage.bind(messaging), sendReq(customer(di.id), number(pn), text("thanks")), { token: di.token });
    // A free-form answer read by Di: a message of no template.
    await unaryCall(messaging.sendMessage.bind(messaging), sendReq(number(pn), customer(di.id), text("You're welcome")), { token: biz.token });
    await receipt(di, toDi.conversationId, 4);
    await unaryCall(messaging.reportReceipt.bind(messaging), { reader: customer(di.id), conversationId: toDi.conversationId, status: 4, upToSeq: "3", messageId: "" }, { token: di.token });

    const day = new Date().toISOString().slice(0, 10);
    await outboxDrained(app.runtime.database.pool);
    const log = (await streamMessages(env, "messaging")).flatMap((m) => decodeAnalytics(m.subject, m.data)).filter((e) => e.businessId === businessId);
    const expected = points(fold(log, new Map()).map((d) => ({ day: d.day, metric: d.metric, value: d.value })), "day")[0]!;
    expect(expected.templateSent).toEqual({ [shipped]: 3, [other]: 1 });
    expect(expected.templateRead).toEqual({ [shipped]: 2, [other]: 1 });
    expect(expected.templateClicked).toEqual({ [shipped]: 2 });
    expect(expected.templateDelivered[shipped]).toBeGreaterThanOrEqual(1);

    const ask = () => unaryCall(tools.getAnalytics.bind(tools), { businessId, phoneNumberId: pn, startDate: day, endDate: day, granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_MONTH }, { token: biz.token });
    const got = await waitFor(async () => {
      const p = (await ask()).points[0];
      return p && p.templateClicked[shipped] === "2" && p.templateRead[other] === "1" && p.templateRead[shipped] === "2" ? p : undefined;
    }, 30_000);
    expect({ sent: got.templateSent, delivered: got.templateDelivered, read: got.templateRead, clicked: got.templateClicked }).toEqual({
      sent: counts(expected.templateSent),
      delivered: counts(expected.templateDelivered),
      read: counts(expected.templateRead),
      clicked: counts(expected.templateClicked),
    });
  });
});

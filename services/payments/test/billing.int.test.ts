import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { headers } from "nats";
import { ConversationOpened, MessageBilled } from "@kontor/proto/messaging/v1/events";
import { PaymentsServiceClient } from "@kontor/proto/payments/v1/payments_service";
import { InvoiceIssued } from "@kontor/proto/payments/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { testEnv, uniqueId } from "./factories.js";

let env: TestEnv;
let app: PaymentsApp;
let client: PaymentsServiceClient;
let clock = new Date("2026-11-20T12:00:00Z");
let billing: string;

const RATES = '{"currency":"EUR","message":{"marketing":5,"utility":2},"conversation":{"marketing":7},"countries":{"IN":{"message":{"marketing":1}}}}';

beforeAll(async () => {
  env = await createTestEnv();
  app = await createPayments(loadConfig(testEnv(env, { BILLING_RATES: RATES })), { now: () => clock });
  const { port } = await app.start();
  client = clientFor(PaymentsServiceClient, port);
  billing = await env.token({ kind: "staff", staffId: "billing_1", roles: ["payments.billing_admin"] });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

/** Publishes one event on this test file's messaging stream, with the given Nats-Msg-Id. */
async function publish(subject: string, payload: Uint8Array, msgId: string): Promise<void> {
  const js = (await env.nats()).jetstream();
  const h = headers();
  h.set("Nats-Msg-Id", msgId);
  await waitFor(async () => js.publish(`${env.natsPrefix}${subject}`, payload, { headers: h }).then(() => true, () => undefined));
}

function billed(businessId: string, category: string, country: string, billable: boolean, at: Date, eventId = uniqueId("mb")) {
  return {
    eventId,
    payload: MessageBilled.encode({
      meta: { eventId, occurredAt: at, businessId },
      messageId: uniqueId("m"), conversationId: "c", phoneNumberId: "p", customerId: "cus", businessId, category, customerCountry: country,
      pricingModel: "PMP", billable, pricingType: billable ? "regular" : "free_customer_service", templateId: "", templateName: "", templateLanguage: "", sentAt: at,
    }).finish(),
  };
}

describe("the messaging bill", () => {
  it("when billable messages and conversations arrive (some twice, some free), then the month's invoice counts each once at its country's price", async () => {
    const businessId = uniqueId("biz");
    const nov = new Date("2026-11-10T09:00:00Z");
    const events = [
      billed(businessId, "marketing", "DE", true, nov),
      billed(businessId, "marketing", "DE", true, nov),
      billed(businessId, "marketing", "IN", true, nov),
      billed(businessId, "utility", "DE", true, nov),
      billed(businessId, "service", "DE", false, nov),
    ];
    for (const e of events) await publish("kontor.messaging.message.billed.v1", e.payload, e.eventId);
    // The first one again, past the stream's dedupe window (another Nats-Msg-Id): still one line.
    await publish("kontor.messaging.message.billed.v1", events[0]!.payload, `${events[0]!.eventId}-again`);
    const convId = uniqueId("co");
    await publish(
      "kontor.messaging.conversation.opened.v1",
      ConversationOpened.encode({
        meta: { eventId: convId, occurredAt: nov, businessId }, conversationId: "c", phoneNumberId: "p", customerId: "cus", customerCountry: "DE", category: "marketing", origin: "business_initiated",
        businessId, pricingModel: "CBP", billable: true, openedAt: nov, expiresAt: nov, messageId: "m", windowId: "w",
      }).finish(),
      convId,
    );
    await waitFor(async () => ((await app.runtime.db.selectFrom("processed_events").select("event_id").where("event_id", "in", [...events.map((e) => e.eventId), convId]).execute()).length === 5 ? true : undefined));
    await waitFor(async () => ((await app.runtime.db.selectFrom("usage_line").select("event_id").where("business_id", "=", businessId).execute()).length === 5 ? true : undefined));

    const early = await expectFailure(client.issueInvoices.bind(client), { period: "2026-11" }, { token: billing });
    expect(errorDetail(early)?.field).toBe("period");
    clock = new Date("2026-12-01T00:00:01Z");
    const issued = await unaryCall(client.issueInvoices.bind(client), { period: "2026-11" }, { token: billing });
    expect(issued.issued).toBeGreaterThanOrEqual(1);
    expect((await unaryCall(client.issueInvoices.bind(client), { period: "2026-11" }, { token: billing })).issued).toBe(0);

    const token = await env.token({ kind: "business", businessId });
    const { invoices } = await unaryCall(client.listInvoices.bind(client), { businessId, page: undefined }, { token });
    expect(invoices).toHaveLength(1);
    const invoice = invoices[0]!;
    expect(invoice).toMatchObject({ period: "2026-11", total: { amountMinor: "20", currency: "EUR" } });
    expect(invoice.lines.map((l) => [l.kind, l.category, l.country, l.quantity, l.amount?.amountMinor])).toEqual([
      ["conversation", "marketing", "DE", "1", "7"],
      ["message", "marketing", "DE", "2", "10"],
      ["message", "marketing", "IN", "1", "1"],
      ["message", "utility", "DE", "1", "2"],
    ]);
    expect((await unaryCall(client.getInvoice.bind(client), { invoiceId: invoice.id }, { token })).invoice?.total?.amountMinor).toBe("20");

    await outboxDrained(app.runtime.database.pool);
    const published = (await streamMessages(env, "payments", subjects.invoiceIssued)).map((m) => InvoiceIssued.decode(m.data)).filter((e) => e.invoice?.businessId === businessId);
    expect(published).toHaveLength(1);
    expect(published[0]?.invoice?.total?.amountMinor).toBe("20");

    // December's invoice holds December's usage only: November's lines were invoiced.
    const dec = billed(businessId, "marketing", "DE", true, new Date("2026-12-03T10:00:00Z"));
    await publish("kontor.messaging.message.billed.v1", dec.payload, dec.eventId);
    await waitFor(async () => ((await app.runtime.db.selectFrom("usage_line").select("event_id").where("event_id", "=", dec.eventId).execute()).length === 1 ? true : undefined));
    clock = new Date("2027-01-01T00:00:01Z");
    await unaryCall(client.issueInvoices.bind(client), { period: "2026-12" }, { token: billing });
    const december = (await unaryCall(client.listInvoices.bind(client), { businessId, page: { pageSize: 1, pageToken: "" } }, { token })).invoices[0];
    expect(december).toMatchObject({ period: "2026-12", total: { amountMinor: "5" } });

    const other = await env.token({ kind: "business", businessId: uniqueId("biz") });
    expect((await expectFailure(client.getInvoice.bind(client), { invoiceId: invoice.id }, { token: other })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(client.listInvoices.bind(client), { businessId, page: undefined }, { token: other })).code).toBe(status.PERMISSION_DENIED);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { headers } from "nats";
import { ConversationOpened, MessageBilled } from "@kontor/proto/messaging/v1/events";
import { InvoiceState, PaymentsServiceClient } from "@kontor/proto/payments/v1/payments_service";
import { InvoiceIssued, InvoicePaid } from "@kontor/proto/payments/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { clearingOwner, SYSTEM_ACCOUNTS } from "../src/domain/ledger-service.js";
import { ibanOf, testEnv, uniqueId } from "./factories.js";

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

describe("paying invoices from the business wallet", () => {
  const eur = (amountMinor: string) => ({ amountMinor, currency: "EUR" });
  async function usage(businessId: string, at: Date, count: number): Promise<void> {
    const events = Array.from({ length: count }, () => billed(businessId, "marketing", "DE", true, at));
    for (const e of events) await publish("kontor.messaging.message.billed.v1", e.payload, e.eventId);
    await waitFor(async () => ((await app.runtime.db.selectFrom("usage_line").select("event_id").where("business_id", "=", businessId).where("invoice_id", "is", null).execute()).length === count ? true : undefined));
  }
  async function fund(businessId: string, amount: bigint): Promise<void> {
    const { ledger } = app.services;
    const wallet = await ledger.ensureAccount({ kind: "business", id: businessId }, "business_wallet", "EUR");
    const clearing = await ledger.ensureAccount(clearingOwner("test"), "bank_clearing", "EUR");
    await ledger.postTransfer("test", { idempotencyKey: uniqueId("f"), fromAccountId: clearing.id, toAccountId: wallet.id, amount: { amountMinor: amount, currency: "EUR" }, note: "" }, "topup");
  }
  const balance = async (owner: { kind: "business" | "system"; id: string }) => (await app.services.ledger.findWallet(owner, "EUR"))?.balanceMinor ?? 0n;

  it("when the wallet covers the invoice, then it is paid on issue to the platform's revenue; when it does not, it stays open until a top-up or the sweep pays it", async () => {
    clock = new Date("2027-02-10T12:00:00Z");
    const rich = uniqueId("biz");
    const poor = uniqueId("biz");
    const topped = uniqueId("biz");
    for (const b of [rich, poor, topped]) await usage(b, new Date("2027-02-05T10:00:00Z"), 3);
    await fund(rich, 100n);
    await fund(poor, 10n);
    const revenueBefore = await balance(SYSTEM_ACCOUNTS.fees.owner);
    clock = new Date("2027-03-01T00:00:01Z");
    await unaryCall(client.issueInvoices.bind(client), { period: "2027-02" }, { token: billing });

    const invoiceOf = async (businessId: string) => (await unaryCall(client.listInvoices.bind(client), { businessId, page: undefined }, { token: billing })).invoices[0]!;
    const paid = await invoiceOf(rich);
    expect(paid).toMatchObject({ total: eur("15"), state: InvoiceState.INVOICE_STATE_PAID });
    expect(paid.transferId).not.toBe("");
    expect(await balance({ kind: "business", id: rich })).toBe(85n);
    expect(await balance(SYSTEM_ACCOUNTS.fees.owner)).toBe(revenueBefore + 15n);
    expect((await invoiceOf(poor)).state).toBe(InvoiceState.INVOICE_STATE_OPEN);
    expect(await balance({ kind: "business", id: poor })).toBe(10n);

    // The sweep pays it once the wallet can; a second sweep pays nothing twice.
    await fund(poor, 10n);
    await app.sweep();
    await app.sweep();
    expect((await invoiceOf(poor)).state).toBe(InvoiceState.INVOICE_STATE_PAID);
    expect(await balance({ kind: "business", id: poor })).toBe(5n);

    // A top-up through the bank pays the business's open invoice as soon as it settles.
    const token = await env.token({ kind: "business", businessId: topped });
    expect((await invoiceOf(topped)).state).toBe(InvoiceState.INVOICE_STATE_OPEN);
    const bank = (await unaryCall(client.linkBankAccount.bind(client), { owner: { owner: { $case: "businessId", value: topped } }, currency: "EUR", number: { $case: "iban", value: ibanOf("DE", "370400440532013000") }, holderName: "Shop" }, { token })).bankAccount!;
    const wallet = await app.services.ledger.ensureAccount({ kind: "business", id: topped }, "business_wallet", "EUR");
    await unaryCall(client.topUp.bind(client), { idempotencyKey: uniqueId("top"), accountId: wallet.id, bankAccountId: bank.id, amount: eur("40") }, { token });
    await waitFor(async () => ((await invoiceOf(topped)).state === InvoiceState.INVOICE_STATE_PAID ? true : undefined));
    expect(await balance({ kind: "business", id: topped })).toBe(25n);
    expect(await balance(SYSTEM_ACCOUNTS.fees.owner)).toBe(revenueBefore + 45n);

    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "payments", subjects.invoicePaid)).map((m) => InvoicePaid.decode(m.data)).filter((e) => [rich, poor, topped].includes(e.invoice?.businessId ?? ""));
    expect(events.map((e) => e.invoice?.businessId).sort()).toEqual([rich, poor, topped].sort());
    const sums = await app.runtime.db.selectFrom("ledger_account").select((eb) => eb.fn.sum<string>("balance_minor").as("total")).where("currency", "=", "EUR").executeTakeFirstOrThrow();
    expect(sums.total).toBe("0");
  });
});

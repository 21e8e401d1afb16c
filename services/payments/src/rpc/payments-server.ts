import { PaymentsServiceService, type PaymentsServiceServer } from "@kontor/proto/payments/v1/payments_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { principalLabel } from "@kontor/service-kit/auth";
import { InvalidInput } from "@kontor/service-kit/errors";
import { parseCurrency, parseMoney, type MoneyValue } from "@kontor/service-kit/money";
import { readPage } from "@kontor/service-kit/paging";
import { validateOpenAccount, type AccountOwner } from "../domain/ledger-account.js";
import type { LedgerService } from "../domain/ledger-service.js";
import type { PinService } from "../domain/pin-service.js";
import type { BankService } from "../domain/bank-service.js";
import type { P2pService } from "../domain/p2p-service.js";
import type { PaymentService } from "../domain/payment-service.js";
import type { BillingService } from "../domain/billing-service.js";
import type { SettlementService } from "../domain/settlement-service.js";
import { invoiceToPb } from "../pb/invoice.js";
import { validateBankNumber } from "../domain/bank.js";
import { validateIdempotencyKey } from "../domain/idempotency.js";
import { validatePin } from "../domain/pin.js";
import { validateE164 } from "../domain/phone-number.js";
import { INT64_MAX, validateTransfer } from "../domain/transfer.js";
import {
  accountToPb,
  bankAccountToPb,
  bankOperationToPb,
  collectRequestToPb,
  ownerFromPb,
  paymentIntentToPb,
  refundToPb,
  statementEntryToPb,
  transferToPb,
} from "./mappers.js";
import {
  authorizeBusinessSide,
  authorizeCustomer,
  authorizeDebit,
  authorizeGetAccount,
  authorizeOpenAccount,
  authorizeOwnerItself,
  authorizeReadCollect,
  authorizeReadPayment,
  authorizeRefund,
  authorizeBusinessReader,
} from "./authorize.js";

export interface PaymentsUseCases {
  ledger: LedgerService;
  pins: PinService;
  bank: BankService;
  p2p: P2pService;
  payments: PaymentService;
  billing: BillingService;
  settlement: SettlementService;
}

const MAX_NOTE = 280;
const MAX_ID = 128;
const MAX_STATEMENT_PAGE = 500;

function required(field: string, value: string, max = MAX_ID): string {
  if (!value) throw new InvalidInput(field, "is required");
  if (value.length > max) throw new InvalidInput(field, `must be at most ${max} characters`);
  return value;
}

/** A positive amount within int64. */
function positiveAmount(field: string, money: { amountMinor: string; currency: string } | undefined): MoneyValue {
  const amount = parseMoney(field, money);
  if (amount.amountMinor <= 0n) throw new InvalidInput(`${field}.amount_minor`, "must be positive");
  if (amount.amountMinor > INT64_MAX) throw new InvalidInput(`${field}.amount_minor`, "is out of range");
  return amount;
}

function note(field: string, value: string): string {
  if ([...value].length > MAX_NOTE) throw new InvalidInput(field, `must be at most ${MAX_NOTE} characters`);
  return value;
}

function owner(value: ReturnType<typeof ownerFromPb>): AccountOwner {
  if (!value) throw new InvalidInput("owner", "is required: one of business_id, customer_id");
  if (!value.id) throw new InvalidInput(`owner.${value.kind === "business" ? "business_id" : value.kind === "customer" ? "customer_id" : "system"}`, "is required");
  return value;
}

const isPeriodCursor = (v: unknown): v is { p: string } => typeof v === "object" && v !== null && typeof (v as { p?: unknown }).p === "string" && /^[0-9]{4}-[0-9]{2}$/.test((v as { p: string }).p);

const isEntryCursor = (v: unknown): v is { e: string } => typeof v === "object" && v !== null && typeof (v as { e?: unknown }).e === "string" && /^[0-9]{1,19}$/.test((v as { e: string }).e);

/** Thin handlers: decode → validate → authorize → domain → map. */
export function registerPaymentsServer(grpc: KitServer, uc: PaymentsUseCases): void {
  const { ledger, pins, bank, p2p, payments, billing, settlement } = uc;
  const handlers: PaymentsServiceServer = {
    openAccount: grpc.unary("OpenAccount", async (req, ctx) => {
      const open = validateOpenAccount({ owner: ownerFromPb(req.owner), currency: req.currency, allowNegativeBalance: req.allowNegativeBalance });
      authorizeOpenAccount(ctx.principal, open);
      const account = await ledger.openAccount(open);
      return { account: accountToPb(account) };
    }),
    getAccount: grpc.unary("GetAccount", async (req, ctx) => {
      if (!req.accountId) throw new InvalidInput("account_id", "is required");
      const account = await ledger.getAccount(req.accountId);
      authorizeGetAccount(ctx.principal, account);
      return { account: accountToPb(account) };
    }),
    postTransfer: grpc.unary("PostTransfer", async (req, ctx) => {
      const transfer = validateTransfer({
        idempotencyKey: req.idempotencyKey,
        fromAccountId: req.fromAccountId,
        toAccountId: req.toAccountId,
        amount: req.amount,
        note: req.note,
      });
      const from = await ledger.accountHeader(transfer.fromAccountId);
      authorizeDebit(ctx.principal, from);
      if (from.owner.kind === "customer") await pins.verify(from.owner.id, req.pin);
      const result = await ledger.postTransfer(principalLabel(ctx.principal), transfer);
      return { transfer: transferToPb(result.transfer), replayed: result.replayed };
    }),
    getStatement: grpc.unary("GetStatement", async (req, ctx) => {
      const accountId = required("account_id", req.accountId);
      const { limit, take, cursor } = readPage(req.page, isEntryCursor, MAX_STATEMENT_PAGE, 100);
      const account = await ledger.getAccount(accountId);
      authorizeGetAccount(ctx.principal, account);
      const s = await ledger.statement(account, req.from, req.to, cursor?.e, take);
      const items = s.entries.slice(0, limit);
      const more = s.entries.length > limit;
      const page = { nextPageToken: more ? Buffer.from(JSON.stringify({ e: items[items.length - 1]!.id })).toString("base64url") : "" };
      return {
        openingBalance: { amountMinor: s.openingMinor.toString(), currency: s.currency },
        closingBalance: { amountMinor: s.closingMinor.toString(), currency: s.currency },
        entries: items.map((e) => statementEntryToPb(e, account.id)),
        page,
      };
    }),

    linkBankAccount: grpc.unary("LinkBankAccount", async (req, ctx) => {
      const who = owner(ownerFromPb(req.owner));
      const currency = parseCurrency("currency", req.currency);
      const number = validateBankNumber({
        iban: req.number?.$case === "iban" ? req.number.value : undefined,
        local: req.number?.$case === "local" ? req.number.value : undefined,
      });
      const holder = note("holder_name", req.holderName);
      authorizeOwnerItself(ctx.principal, who);
      return { bankAccount: bankAccountToPb(await bank.link(who, currency, number, holder)) };
    }),
    listBankAccounts: grpc.unary("ListBankAccounts", async (req, ctx) => {
      const who = owner(ownerFromPb(req.owner));
      authorizeOwnerItself(ctx.principal, who);
      return { bankAccounts: (await bank.list(who)).map(bankAccountToPb) };
    }),
    topUp: grpc.unary("TopUp", async (req, ctx) => {
      const key = validateIdempotencyKey(req.idempotencyKey);
      const accountId = required("account_id", req.accountId);
      const bankAccountId = required("bank_account_id", req.bankAccountId);
      const amount = positiveAmount("amount", req.amount);
      const account = await ledger.getAccount(accountId);
      authorizeOwnerItself(ctx.principal, account.owner);
      const r = await bank.topUp(principalLabel(ctx.principal), { idempotencyKey: key, account, bankAccountId, amount });
      return { operation: bankOperationToPb(r.operation), replayed: r.replayed };
    }),
    payout: grpc.unary("Payout", async (req, ctx) => {
      const key = validateIdempotencyKey(req.idempotencyKey);
      const accountId = required("account_id", req.accountId);
      const bankAccountId = required("bank_account_id", req.bankAccountId);
      const amount = positiveAmount("amount", req.amount);
      const account = await ledger.getAccount(accountId);
      authorizeOwnerItself(ctx.principal, account.owner);
      if (account.owner.kind === "customer") await pins.verify(account.owner.id, req.pin);
      const r = await bank.payout(principalLabel(ctx.principal), { idempotencyKey: key, account, bankAccountId, amount });
      return { operation: bankOperationToPb(r.operation), replayed: r.replayed };
    }),
    setSettlementSchedule: grpc.unary("SetSettlementSchedule", async (req, ctx) => {
      const businessId = required("business_id", req.businessId);
      const bankAccountId = required("bank_account_id", req.bankAccountId);
      const minimum = parseMoney("minimum", req.minimum);
      if (minimum.amountMinor < 0n || minimum.amountMinor > INT64_MAX) throw new InvalidInput("minimum.amount_minor", `must be 0-${INT64_MAX}`);
      authorizeOwnerItself(ctx.principal, { kind: "business", id: businessId });
      const s = await settlement.set(businessId, bankAccountId, minimum, req.enabled);
      return { schedule: { businessId: s.businessId, bankAccountId: s.bankAccountId, minimum: { amountMinor: s.minimum.amountMinor.toString(), currency: s.minimum.currency }, enabled: s.enabled, nextRunAt: s.nextRunAt } };
    }),
    getBankOperation: grpc.unary("GetBankOperation", async (req, ctx) => {
      const op = await bank.get(required("operation_id", req.operationId));
      const account = await ledger.getAccount(op.accountId);
      authorizeOwnerItself(ctx.principal, account.owner);
      return { operation: bankOperationToPb(op) };
    }),

    setPaymentPin: grpc.unary("SetPaymentPin", async (req, ctx) => {
      const customerId = required("customer_id", req.customerId);
      validatePin("new_pin", req.newPin);
      if (req.currentPin) validatePin("current_pin", req.currentPin);
      authorizeCustomer(ctx.principal, customerId);
      await pins.set(customerId, req.newPin, req.currentPin);
      return {};
    }),
    setPaymentNumber: grpc.unary("SetPaymentNumber", async (req) => {
      const customerId = required("customer_id", req.customerId);
      await p2p.setNumber(customerId, validateE164("number", req.number));
      return {};
    }),
    sendMoney: grpc.unary("SendMoney", async (req, ctx) => {
      const key = validateIdempotencyKey(req.idempotencyKey);
      const from = required("from_customer_id", req.fromCustomerId);
      if (req.toNumber && req.toCustomerId) throw new InvalidInput("to_number", "give to_customer_id or to_number, not both");
      const byNumber = req.toNumber ? validateE164("to_number", req.toNumber) : undefined;
      if (!byNumber) required("to_customer_id", req.toCustomerId);
      const amount = positiveAmount("amount", req.amount);
      const text = note("note", req.note);
      validatePin("pin", req.pin);
      authorizeCustomer(ctx.principal, from);
      const to = byNumber ? await p2p.payeeOf(byNumber) : req.toCustomerId;
      if (from === to) throw new InvalidInput(byNumber ? "to_number" : "to_customer_id", "must not be the payer");
      const r = await p2p.send(principalLabel(ctx.principal), { idempotencyKey: key, fromCustomerId: from, toCustomerId: to, amount, note: text, pin: req.pin });
      return { transfer: transferToPb(r.transfer), replayed: r.replayed };
    }),
    requestMoney: grpc.unary("RequestMoney", async (req, ctx) => {
      const key = validateIdempotencyKey(req.idempotencyKey);
      const requester = required("requester_customer_id", req.requesterCustomerId);
      const payer = required("payer_customer_id", req.payerCustomerId);
      if (requester === payer) throw new InvalidInput("payer_customer_id", "must differ from requester_customer_id");
      const amount = positiveAmount("amount", req.amount);
      const text = note("note", req.note);
      authorizeCustomer(ctx.principal, requester);
      const r = await p2p.request(principalLabel(ctx.principal), { idempotencyKey: key, requesterCustomerId: requester, payerCustomerId: payer, amount, note: text, expiresInSeconds: req.expiresInSeconds });
      return { request: collectRequestToPb(r.request), replayed: r.replayed };
    }),
    respondToCollectRequest: grpc.unary("RespondToCollectRequest", async (req, ctx) => {
      const key = validateIdempotencyKey(req.idempotencyKey);
      const id = required("collect_request_id", req.collectRequestId);
      if (req.approve) validatePin("pin", req.pin);
      const request = await p2p.get(id);
      authorizeCustomer(ctx.principal, request.payerCustomerId);
      const r = await p2p.respond(principalLabel(ctx.principal), { idempotencyKey: key, id, approve: req.approve, pin: req.pin }, request.payerCustomerId);
      return { request: collectRequestToPb(r.request), replayed: r.replayed };
    }),
    getCollectRequest: grpc.unary("GetCollectRequest", async (req, ctx) => {
      const request = await p2p.get(required("collect_request_id", req.collectRequestId));
      authorizeReadCollect(ctx.principal, request);
      return { request: collectRequestToPb(request) };
    }),

    createPaymentIntent: grpc.unary("CreatePaymentIntent", async (req, ctx) => {
      const key = validateIdempotencyKey(req.idempotencyKey);
      const orderId = required("order_id", req.orderId);
      const businessId = required("business_id", req.businessId);
      const customerId = required("customer_id", req.customerId);
      const amount = positiveAmount("amount", req.amount);
      authorizeBusinessSide(ctx.principal, businessId);
      const r = await payments.create(principalLabel(ctx.principal), { idempotencyKey: key, orderId, businessId, customerId, amount });
      return { payment: paymentIntentToPb(r.payment), replayed: r.replayed };
    }),
    confirmPaymentIntent: grpc.unary("ConfirmPaymentIntent", async (req, ctx) => {
      const key = validateIdempotencyKey(req.idempotencyKey);
      const paymentId = required("payment_id", req.paymentId);
      validatePin("pin", req.pin);
      const payment = await payments.get(paymentId);
      authorizeCustomer(ctx.principal, payment.customerId);
      const r = await payments.confirm(principalLabel(ctx.principal), { idempotencyKey: key, paymentId, pin: req.pin }, payment.customerId, payment);
      return { payment: paymentIntentToPb(r.payment), replayed: r.replayed };
    }),
    getPaymentIntent: grpc.unary("GetPaymentIntent", async (req, ctx) => {
      const payment = req.paymentId
        ? await payments.get(required("payment_id", req.paymentId))
        : await payments.getByOrder(required("business_id", req.businessId), required("order_id", req.orderId));
      authorizeReadPayment(ctx.principal, payment);
      return { payment: paymentIntentToPb(payment) };
    }),
    refundPayment: grpc.unary("RefundPayment", async (req, ctx) => {
      const key = validateIdempotencyKey(req.idempotencyKey);
      const paymentId = required("payment_id", req.paymentId);
      const amount = positiveAmount("amount", req.amount);
      const reason = note("reason", req.reason);
      const payment = await payments.get(paymentId);
      authorizeRefund(ctx.principal, payment);
      const bankAccountId = req.bankAccountId ? required("bank_account_id", req.bankAccountId) : undefined;
      const r = await payments.refund(principalLabel(ctx.principal), { idempotencyKey: key, paymentId, amount, reason, bankAccountId });
      return { refund: refundToPb(r.refund), payment: paymentIntentToPb(r.payment), replayed: r.replayed };
    }),
    setBusinessPlan: grpc.unary("SetBusinessPlan", async (req) => {
      const businessId = required("business_id", req.businessId);
      const plan = required("plan", req.plan, 64);
      const r = await payments.setPlan(businessId, plan);
      return { plan: r.plan, feeBps: r.feeBps };
    }),
    listInvoices: grpc.unary("ListInvoices", async (req, ctx) => {
      const businessId = required("business_id", req.businessId);
      const { limit, take, cursor } = readPage(req.page, isPeriodCursor, 100, 12);
      authorizeBusinessReader(ctx.principal, businessId);
      const invoices = await billing.list(businessId, cursor?.p, take);
      const items = invoices.slice(0, limit);
      const more = invoices.length > limit;
      return { invoices: items.map(invoiceToPb), page: { nextPageToken: more ? Buffer.from(JSON.stringify({ p: items[items.length - 1]!.period })).toString("base64url") : "" } };
    }),
    getInvoice: grpc.unary("GetInvoice", async (req, ctx) => {
      const invoice = await billing.get(required("invoice_id", req.invoiceId));
      authorizeBusinessReader(ctx.principal, invoice.businessId);
      return { invoice: invoiceToPb(invoice) };
    }),
    issueInvoices: grpc.unary("IssueInvoices", async (req) => {
      return { issued: await billing.issueClosed(req.period) };
    }),
  };
  grpc.addService(PaymentsServiceService, handlers);
}



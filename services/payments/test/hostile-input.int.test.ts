import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaymentsServiceClient, PaymentsServiceService } from "@kontor/proto/payments/v1/payments_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall } from "@kontor/testkit/grpc";
import { assertHostileRefused, rowCounts } from "@kontor/testkit/hostile";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { bounds } from "../src/rpc/bounds.js";
import { buildOpenCustomerAccount, testEnv } from "./factories.js";

let env: TestEnv;
let app: PaymentsApp;
let address: string;
let client: PaymentsServiceClient;
let customer: string;
let business: string;
let billingAdmin: string;
let onboarding: string;
let accountId: string;

/** The principal each RPC is meant for; a method missing here fails the test, so a new one gets covered. */
const callers: Record<string, () => string> = {
  openAccount: () => customer,
  getAccount: () => customer,
  postTransfer: () => customer,
  getStatement: () => customer,
  linkBankAccount: () => customer,
  listBankAccounts: () => customer,
  topUp: () => customer,
  payout: () => customer,
  getBankOperation: () => customer,
  setPaymentPin: () => customer,
  sendMoney: () => customer,
  requestMoney: () => customer,
  respondToCollectRequest: () => customer,
  getCollectRequest: () => customer,
  createPaymentIntent: () => business,
  confirmPaymentIntent: () => customer,
  getPaymentIntent: () => customer,
  refundPayment: () => business,
  setBusinessPlan: () => billingAdmin,
  listInvoices: () => business,
  getInvoice: () => business,
  issueInvoices: () => billingAdmin,
  setPaymentNumber: () => onboarding,
  setSettlementSchedule: () => business,
};

beforeAll(async () => {
  env = await createTestEnv();
  app = await createPayments(loadConfig(testEnv(env)));
  const { port } = await app.start();
  address = `127.0.0.1:${port}`;
  client = clientFor(PaymentsServiceClient, port);
  customer = await env.token({ kind: "customer", customerId: "cus_hostile" });
  business = await env.token({ kind: "business", businessId: "biz_hostile" });
  billingAdmin = await env.token({ kind: "staff", staffId: "billing_1", roles: ["payments.billing_admin"] });
  onboarding = await env.token({ kind: "service", service: "onboarding" });
  const { account } = await unaryCall(client.openAccount.bind(client), buildOpenCustomerAccount("cus_hostile"), { token: customer });
  accountId = account!.id;
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("hostile input", () => {
  for (const [name, method] of Object.entries(PaymentsServiceService)) {
    it(`${method.path}: U+0000, over-long strings and over-long lists in any field are INVALID_ARGUMENT naming the field, and nothing changes`, async () => {
      const token = callers[name];
      expect(token, `no caller for ${name}`).toBeDefined();
      const before = await rowCounts(env.databaseUrl, "payments");
      const read = await unaryCall(client.getAccount.bind(client), { accountId }, { token: customer });
      await assertHostileRefused({ address, method, token: token!(), bounds, numRuns: 25 });
      expect(await rowCounts(env.databaseUrl, "payments")).toEqual(before);
      expect(await unaryCall(client.getAccount.bind(client), { accountId }, { token: customer })).toEqual(read);
    });
  }
});

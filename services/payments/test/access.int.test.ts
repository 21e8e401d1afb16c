import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaymentsServiceService } from "@kontor/proto/payments/v1/payments_service";
import { allowListViolations } from "@kontor/testkit/access";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { paymentsAccess } from "../src/rpc/access.js";
import { testEnv } from "./factories.js";

let env: TestEnv;
let app: PaymentsApp;
let port: number;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createPayments(loadConfig(testEnv(env)));
  ({ port } = await app.start());
});

afterAll(async () => {
  await app?.stop();
  await env?.cleanup();
});

describe("the access table", () => {
  it("when every principal kind, staff role and service calls every RPC, then only the callers on the RPC's list get past the allow-list", async () => {
    expect(await allowListViolations(env, PaymentsServiceService, paymentsAccess, `127.0.0.1:${port}`)).toEqual([]);
  });

  it("when a service other than ads asks to move money, then the allow-list refuses it; no service opens accounts", () => {
    expect(paymentsAccess.PostTransfer.filter((c) => c.startsWith("service:"))).toEqual(["service:ads"]);
    expect(paymentsAccess.OpenAccount.filter((c) => c.startsWith("service:"))).toEqual([]);
  });

  it("when anyone but a customer asks to move a customer's money (send, approve, confirm, PIN), then the allow-list refuses it", () => {
    for (const rpc of ["SendMoney", "RespondToCollectRequest", "ConfirmPaymentIntent", "SetPaymentPin", "RequestMoney"] as const) expect(paymentsAccess[rpc]).toEqual(["customer"]);
    for (const rpc of ["TopUp", "Payout", "LinkBankAccount", "GetStatement", "RefundPayment"] as const) expect(paymentsAccess[rpc].filter((c) => c.startsWith("service:"))).toEqual([]);
    expect(paymentsAccess.CreatePaymentIntent.filter((c) => c.startsWith("service:"))).toEqual(["service:catalog"]);
  });
});

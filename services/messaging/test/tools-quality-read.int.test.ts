import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { unaryCall, waitFor } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { customer, number, registerCustomer, sendReq, startWithBusiness, text, uid } from "./factories.js";

/*
 * A customer's READ receipt reaches the quality rating the quality job
 * reads (send-policy.ts's signals): against PostgreSQL and NATS, policy on.
 * A number with 100 sent and none read is YELLOW (read rate under 25 %);
 * once its customers read them it is GREEN again.
 */
let env: TestEnv;
let app: MessagingApp;
let messaging: MessagingServiceClient;
let bizToken: string;

beforeAll(async () => {
  env = await createTestEnv();
  // Throughput high enough that 100 quick sends are never refused.
  ({ app, client: messaging, bizToken } = await startWithBusiness(env, "biz_quality_read", "pn_quality_read", { THROUGHPUT_PER_SECOND: "100000" }));
});

afterAll(async () => {
  messaging?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("ReportReceipt and quality", () => {
  it("when customers read the business's messages, then the number's read signal lifts its rating from YELLOW to GREEN", async () => {
    const onboarding = await env.token({ kind: "service", service: "onboarding" });
    const pn = "pn_quality_read";
    const customers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const id = uid("cust_q");
        await registerCustomer(messaging, onboarding, id);
        const token = await env.token({ kind: "customer", customerId: id });
        const first = await unaryCall(messaging.sendMessage.bind(messaging), sendReq(customer(id), number(pn), text("hi")), { token });
        return { id, token, conversationId: first.result!.conversationId };
      }),
    );
    expect(app.policy.rating(pn)).toBe("GREEN"); // under 100 sent
    for (const c of customers) {
      for (let i = 0; i < 10; i++) await unaryCall(messaging.sendMessage.bind(messaging), sendReq(number(pn), customer(c.id), text(`update ${i}`)), { token: bizToken });
    }
    await waitFor(() => app.policy.rating(pn) === "YELLOW", 30_000);

    for (const c of customers) {
      await unaryCall(messaging.reportReceipt.bind(messaging), { reader: customer(c.id), conversationId: c.conversationId, status: 4, upToSeq: "11", messageId: "" }, { token: c.token });
    }
    await waitFor(() => app.policy.rating(pn) === "GREEN", 30_000);
  });
});

import { describe, expect, it } from "vitest";
import { unaryCall, waitFor } from "@kontor/testkit/grpc";
import { customer, number, sendReq, text } from "./factories.js";
import { useToolsService } from "./tools-fixtures.js";

/*
 * A customer's READ receipt reaches the quality rating the quality job
 * reads (send-policy.ts's signals): against PostgreSQL and NATS, policy on.
 * A number with 100 sent and none read is YELLOW (read rate under 25 %);
 * once its customers read them it is GREEN again.
 */
// Throughput high enough that 100 quick sends are never refused.
const t = useToolsService("quality", { THROUGHPUT_PER_SECOND: "100000" });

describe("ReportReceipt and quality", () => {
  it("when customers read the business's messages, then the number's read signal lifts its rating from YELLOW to GREEN", async () => {
    const pn = "pn_quality_home";
    const bizToken = await t.env.token({ kind: "business", businessId: "biz_quality_home" });
    const customers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const { customerId: id, token } = await t.customer();
        const first = await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(id), number(pn), text("hi")), { token });
        return { id, token, conversationId: first.result!.conversationId };
      }),
    );
    expect(t.app.policy.rating(pn)).toBe("GREEN"); // under 100 sent
    for (const c of customers) {
      for (let i = 0; i < 10; i++) await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(number(pn), customer(c.id), text(`update ${i}`)), { token: bizToken });
    }
    await waitFor(() => t.app.policy.rating(pn) === "YELLOW", 30_000);

    for (const c of customers) {
      await unaryCall(t.messaging.reportReceipt.bind(t.messaging), { reader: customer(c.id), conversationId: c.conversationId, status: 4, upToSeq: "11", messageId: "" }, { token: c.token });
    }
    await waitFor(() => t.app.policy.rating(pn) === "GREEN", 30_000);
  });
});

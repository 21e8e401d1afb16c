import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { errorDetail } from "@kontor/service-kit/errors";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { BusinessKeyErased } from "@kontor/proto/messaging/v1/events";
import { streamMessages } from "@kontor/testkit/events";
import { subjects } from "../src/events/subjects.js";
import { customer, number, registerCustomer, sendReq, startWithBusiness, text, uid, ROUTING_ONLY } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let bizToken: string;
let service: string;
const biz = "biz_erase";
const phone = "pn_erase";

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, client, bizToken } = await startWithBusiness(env, biz, phone, ROUTING_ONLY));
  service = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const query = <R extends object>(text: string, values: unknown[]) => app.runtime.database.pool.query<R>(text, values).then((r) => r.rows);

async function storeOne(body: string): Promise<{ messageId: string; customerToken: string; customerId: string }> {
  const customerId = uid("cust");
  await registerCustomer(client, service, customerId);
  const { result } = await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(customerId), text(body)), { token: bizToken });
  return { messageId: result!.messageId, customerToken: await env.token({ kind: "customer", customerId }), customerId };
}

describe("a stored body that fails its integrity check", () => {
  it("when a body was altered, then reading it is DATA_LOSS, not content_erased", async () => {
    const { messageId, customerToken, customerId } = await storeOne("tamper with me");
    // Flip one ciphertext byte (after version, IV and tag): the GCM tag no longer matches.
    await query(`UPDATE message SET body = overlay(body PLACING decode(lpad(to_hex(get_byte(body, 30) # 1), 2, '0'), 'hex') FROM 31 FOR 1) WHERE id = $1`, [messageId]);
    const err = await expectFailure(client.getMessage.bind(client), { participant: customer(customerId), messageId }, { token: customerToken });
    expect(err.code).toBe(status.DATA_LOSS);
    expect(errorDetail(err)?.reason).toBe("DATA_CORRUPTED");
  });
});

describe("EraseBusinessKey", () => {
  // Erasure is final for the business: the test that erases runs last.
  it("when the caller is a service, a business or staff without the operator role, then PERMISSION_DENIED and nothing is erased or recorded", async () => {
    const { messageId, customerToken, customerId } = await storeOne("still here");
    const recorded = async () => (await query<{ n: string }>(`SELECT count(*) AS n FROM business_key_erasure`, []))[0]!.n;
    const auditBefore = await recorded();
    const callers = [
      service,
      bizToken,
      customerToken,
      await env.token({ kind: "staff", staffId: "rev_1", roles: ["directory.reviewer"] }),
      await env.token({ kind: "partner", partnerId: "bsp_1", businessIds: [biz] }),
    ];
    for (const token of callers) {
      const err = await expectFailure(client.eraseBusinessKey.bind(client), { businessId: biz, reason: "because" }, { token });
      expect(err.code).toBe(status.PERMISSION_DENIED);
    }
    expect(await recorded()).toBe(auditBefore);
    const read = await unaryCall(client.getMessage.bind(client), { participant: customer(customerId), messageId }, { token: customerToken });
    expect(read.message?.contentErased).toBe(false);
  });

  it("when an operator gives no reason, then INVALID_ARGUMENT names reason and nothing is erased", async () => {
    const { messageId, customerToken, customerId } = await storeOne("kept");
    const operator = await env.token({ kind: "staff", staffId: "op_bo", roles: ["operator"] });
    for (const reason of ["", "   "]) {
      const err = await expectFailure(client.eraseBusinessKey.bind(client), { businessId: biz, reason }, { token: operator });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe("reason");
    }
    const read = await unaryCall(client.getMessage.bind(client), { participant: customer(customerId), messageId }, { token: customerToken });
    expect(read.message?.contentErased).toBe(false);
  });

  it("when a staff operator erases with a reason, then the history is shredded, who, which keys, when and why are recorded, and the erasure event is published", async () => {
    const earlier = await query<{ n: string }>(`SELECT count(*) AS n FROM message`, []);
    const { messageId } = await storeOne("to be forgotten");
    const [{ key_id: keyId }] = await query<{ key_id: number }>(`SELECT key_id FROM message WHERE id = $1`, [messageId]) as [{ key_id: number }];
    const operator = await env.token({ kind: "staff", staffId: "op_ana", roles: ["operator"] });
    const before = new Date();

    const erased = await unaryCall(client.eraseBusinessKey.bind(client), { businessId: biz, reason: "  the business closed its account  " }, { token: operator });

    // Every message of the business so far (the earlier tests' too).
    expect(Number(erased.shreddedMessages)).toBe(Number(earlier[0]!.n) + 1);
    const audit = await query<{ business_id: string; key_ids: number[]; erased_by: string; reason: string; erased_at: Date }>(
      `SELECT business_id, key_ids, erased_by, reason, erased_at FROM business_key_erasure WHERE business_id = $1`,
      [biz],
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ business_id: biz, key_ids: [keyId], erased_by: "staff:op_ana", reason: "the business closed its account" });
    expect(audit[0]!.erased_at.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
    // Every replica learns it from the durable event (key-erasure.int.test.ts); the reason stays in the audit row.
    const events = await waitFor(async () => {
      const found = (await streamMessages(env, "messaging", subjects.businessKeyErased)).map((m) => BusinessKeyErased.decode(m.data));
      return found.length > 0 && found;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ businessId: biz, keyIds: [keyId] });
  });
});


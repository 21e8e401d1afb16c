import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { createPartner, expectGraphError, graph, registerCustomer, startStack, type PartnerFixture, type Stack } from "./factories.js";

let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let other: PartnerFixture;
let customer: string;

beforeAll(async () => {
  env = await createTestEnv();
  // Three management calls per hour; one send per 100 s per number (a second one in a row is always over).
  stack = await startStack(env, { messaging: { MESSAGING_POLICY: "off" }, gateway: { MANAGEMENT_CALLS_PER_HOUR: "3", SENDS_PER_SECOND_PER_NUMBER: "0.01" } });
  p = await createPartner(env, stack);
  other = await createPartner(env, stack);
  ({ number: customer } = await registerCustomer(stack));
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const usageOf = (r: { headers: Headers }) => JSON.parse(r.headers.get("x-business-use-case-usage") ?? "null") as Record<string, any[]> | null;

async function raw(method: string, path: string, token: string, json?: unknown) {
  const res = await fetch(`${stack.base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(json ? { "content-type": "application/json" } : {}) }, body: json ? JSON.stringify(json) : undefined });
  return { res, body: (await res.json()) as Record<string, any> };
}

describe("the gateway's own limits", () => {
  it("when a WABA's management calls pass the hourly limit, then 80007 with X-Business-Use-Case-Usage, and another partner's WABA is unaffected", async () => {
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { res } = await raw("GET", `/v23.0/${p.wabaId}/message_templates`, p.token);
      expect(res.status).toBe(200);
      const u = usageOf(res)!;
      expect(Object.keys(u)).toEqual([p.wabaId]);
      expect(u[p.wabaId]![0]).toMatchObject({ type: "whatsapp_business_management", estimated_time_to_regain_access: 0 });
      counts.push(u[p.wabaId]![0].call_count);
    }
    expect(counts).toEqual([33, 67, 100]);
    const over = await graph(stack.base, "GET", `/v23.0/${p.wabaId}/message_templates`, { token: p.token });
    expectGraphError(over, 80007, 400);
    const { res } = await raw("GET", `/v23.0/${p.wabaId}/phone_numbers`, p.token);
    expect(res.status).toBe(400);
    const regain = usageOf(res)![p.wabaId]![0];
    expect(regain.call_count).toBe(100);
    // The first call leaves the rolling hour 59–60 minutes from now (a minute may have begun meanwhile).
    expect(regain.estimated_time_to_regain_access).toBeGreaterThanOrEqual(58);
    expect(regain.estimated_time_to_regain_access).toBeLessThanOrEqual(60);
    expect((await raw("GET", `/v23.0/${other.wabaId}/message_templates`, other.token)).res.status).toBe(200);
  });

  it("when a number sends faster than its rate, then 130429 with the usage header, and nothing more is sent", async () => {
    const send = (f: PartnerFixture) => raw("POST", `/v23.0/${f.phoneNumberId}/messages`, f.token, { messaging_product: "whatsapp", to: customer, type: "text", text: { body: "hi" } });
    const first = await send(p);
    expect(first.res.status, JSON.stringify(first.body)).toBe(200);
    expect(usageOf(first.res)![p.wabaId]![0]).toMatchObject({ type: "whatsapp_business_messaging", call_count: 100 });
    const second = await send(p);
    expect(second.res.status).toBe(400);
    expect(second.body.error.code).toBe(130429);
    expect(second.body.messages).toBeUndefined();
    expect((await send(other)).res.status).toBe(200);
  });

  it("when a call is refused for a bad token, then it counts against nothing", async () => {
    const r = await raw("GET", `/v23.0/${other.wabaId}/message_templates`, "not-a-token");
    expect(r.res.status).toBe(401);
    expect(usageOf(r.res)).toBeNull();
  });
});

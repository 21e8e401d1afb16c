import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { WhatsAppAPI } from "whatsapp-api-js";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { unaryCall } from "@kontor/testkit/grpc";
import { createPartner, expectGraphError, graph, registerCustomer, startStack, type PartnerFixture, type Stack } from "./factories.js";

/* POST, DELETE and GET /{phone-number-id}/block_users (cloud-api.md §10.4) against the real messaging, every policy rule on. */
let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let other: PartnerFixture;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  p = await createPartner(env, stack);
  other = await createPartner(env, stack);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

/** A customer's message to the partner's number through messaging (the customer app's side). */
async function customerSends(customerId: string, body: string, phoneNumberId = p.phoneNumberId) {
  const c = stack.messagingClient;
  const token = await env.token({ kind: "customer", customerId });
  return unaryCall(
    c.sendMessage.bind(c),
    { sender: { kind: { $case: "customerId", value: customerId } }, recipient: { kind: { $case: "phoneNumberId", value: phoneNumberId } }, to: "", clientMessageId: "", content: { kind: { $case: "text", value: { body, previewUrl: false } } }, context: undefined, bizOpaqueCallbackData: "", referral: undefined },
    { token },
  );
}

/** A customer who wrote to the number (so it can be blocked). */
async function writer() {
  const c = await registerCustomer(stack);
  await customerSends(c.customerId, "hi");
  return c;
}

const sendText = (to: string, body = "hello") => graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { token: p.token, json: { messaging_product: "whatsapp", to, type: "text", text: { body } } });
const block = (users: string[], method = "POST", fixture = p) => graph(stack.base, method, `/v23.0/${fixture.phoneNumberId}/block_users`, { token: fixture.token, json: { messaging_product: "whatsapp", block_users: users.map((user) => ({ user })) } });

describe("/{phone-number-id}/block_users", () => {
  it("when a user who wrote is blocked, then the answer is the Cloud API's, sends to it fail with 131026, its messages are refused; unblocked, both work again", async () => {
    const c = await writer();
    const digits = c.number.slice(1);
    expect((await sendText(c.number)).status).toBe(200);

    const r = await block([c.number]);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ messaging_product: "whatsapp", block_users: { added_users: [{ input: c.number, wa_id: digits }] } });

    const refused = await sendText(c.number, "are you there?");
    expect(expectGraphError(refused, 131026, 400).error_data.details).toMatch(/blocked the user/);
    const inbound = await customerSends(c.customerId, "let me in").then(() => undefined, (e: ServiceError) => e);
    expect(inbound?.code).toBe(grpcStatus.FAILED_PRECONDITION);

    const list = await graph(stack.base, "GET", `/v23.0/${p.phoneNumberId}/block_users`, { token: p.token });
    expect(list.status, list.text).toBe(200);
    expect(list.body).toEqual({ data: [{ messaging_product: "whatsapp", wa_id: digits }], paging: { cursors: { before: "", after: "" } } });

    const u = await block([digits], "DELETE");
    expect(u.status, u.text).toBe(200);
    expect(u.body).toEqual({ messaging_product: "whatsapp", block_users: { removed_users: [{ input: digits, wa_id: digits }] } });
    expect((await graph(stack.base, "GET", `/v23.0/${p.phoneNumberId}/block_users`, { token: p.token })).body.data).toEqual([]);
    expect((await sendText(c.number, "welcome back")).status).toBe(200);
    await customerSends(c.customerId, "thanks");
  });

  it("when some users cannot be blocked, then HTTP 400 with error 139100 beside added_users and failed_users, each failure with its code and details", async () => {
    const ok = await writer();
    const silent = await registerCustomer(stack);
    const r = await block([ok.number, silent.number, "12"]);
    expect(r.status, r.text).toBe(400);
    expect(Object.keys(r.body).sort()).toEqual(["block_users", "error", "messaging_product"]);
    expect(r.body.block_users.added_users).toEqual([{ input: ok.number, wa_id: ok.number.slice(1) }]);
    const failed = r.body.block_users.failed_users as { input: string; errors: { code: number; message: string; error_data: { details: string } }[] }[];
    expect(failed.map((f) => f.input).sort()).toEqual(["12", silent.number].sort());
    for (const f of failed) expect(f.errors).toEqual([{ code: 139100, message: "Failed to block/unblock users", error_data: { details: expect.any(String) } }]);
    expect(failed.find((f) => f.input === silent.number)!.errors[0]!.error_data.details).toMatch(/24 hours/);
    expect(r.body.error).toMatchObject({ code: 139100, message: "(#139100) Failed to block/unblock users", type: "OAuthException", error_data: { messaging_product: "whatsapp" } });
  });

  it("when the list is longer than limit, then paging.next leads through it, most recently blocked first", async () => {
    const fixture = await createPartner(env, stack);
    const numbers: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await registerCustomer(stack);
      await customerSends(c.customerId, "hi", fixture.phoneNumberId);
      expect((await block([c.number], "POST", fixture)).status).toBe(200);
      numbers.push(c.number.slice(1));
    }
    const seen: string[] = [];
    let path = `/v23.0/${fixture.phoneNumberId}/block_users?limit=2`;
    for (;;) {
      const page = await graph(stack.base, "GET", path, { token: fixture.token });
      expect(page.status, page.text).toBe(200);
      seen.push(...page.body.data.map((d: { wa_id: string }) => d.wa_id));
      if (!page.body.paging.next) break;
      const next = new URL(page.body.paging.next);
      path = next.pathname + next.search;
    }
    expect(seen).toEqual(numbers.reverse());
  });

  it("when the body or the id is wrong, then a Graph error naming the parameter, and another partner's number is an unknown object", async () => {
    const c = await writer();
    const url = `/v23.0/${p.phoneNumberId}/block_users`;
    expectGraphError(await graph(stack.base, "POST", url, { token: p.token, json: { block_users: [{ user: c.number }] } }), 131008, 400);
    expect(expectGraphError(await graph(stack.base, "POST", url, { token: p.token, json: { messaging_product: "whatsapp", block_users: "x" } }), 100, 400).error_data.details).toMatch(/block_users/);
    expect(expectGraphError(await graph(stack.base, "POST", url, { token: p.token, json: { messaging_product: "whatsapp", block_users: [{ user: c.number, why: "spam" }] } }), 100, 400).error_data.details).toMatch(/block_users\[0\]\.why/);
    const many = Array.from({ length: 1001 }, (_, i) => ({ user: `+49150000${String(i).padStart(5, "0")}` }));
    expect(expectGraphError(await graph(stack.base, "POST", url, { token: p.token, json: { messaging_product: "whatsapp", block_users: many } }), 100, 400).error_data.details).toMatch(/block_users/);
    expect(expectGraphError(await graph(stack.base, "GET", `${url}?after=garbage`, { token: p.token }), 100, 400).error_data.details).toMatch(/after/);
    const foreign = await graph(stack.base, "POST", `/v23.0/${other.phoneNumberId}/block_users`, { token: p.token, json: { messaging_product: "whatsapp", block_users: [{ user: c.number }] } });
    expect(expectGraphError(foreign, 100, 400).error_subcode).toBe(33);
    expect((await graph(stack.base, "GET", `/v23.0/${p.phoneNumberId}/block_users`, { token: p.token })).body.data.map((d: { wa_id: string }) => d.wa_id)).not.toContain(c.number.slice(1));
  });

  it("when a published SDK (whatsapp-api-js) blocks and unblocks, then it reads Kontor's answers as the Cloud API's", async () => {
    const c = await writer();
    const base = stack.base;
    const sdk = new WhatsAppAPI({
      token: p.token,
      appSecret: p.appSecret,
      v: "v23.0",
      ponyfill: { fetch: (url: string | URL | Request, init?: RequestInit) => fetch(String(url).replace("https://graph.facebook.com", base), init) },
    });
    const blocked = await sdk.blockUser(p.phoneNumberId, c.number);
    expect(blocked).toEqual({ messaging_product: "whatsapp", block_users: { added_users: [{ input: c.number, wa_id: c.number.slice(1) }] } });
    const unblocked = await sdk.unblockUser(p.phoneNumberId, c.number);
    expect(unblocked).toEqual({ messaging_product: "whatsapp", block_users: { removed_users: [{ input: c.number, wa_id: c.number.slice(1) }] } });
  });

  it("when a user is named by a business-scoped id only, then it is a failed user (Kontor blocks by number); an item with neither is 131008", async () => {
    const r = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/block_users`, { token: p.token, json: { messaging_product: "whatsapp", block_users: [{ user_id: "US.13491208655302741918" }] } });
    expect(r.status, r.text).toBe(400);
    expect(r.body.block_users.failed_users[0]).toMatchObject({ input: "US.13491208655302741918", errors: [{ code: 139100 }] });
    expectGraphError(await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/block_users`, { token: p.token, json: { messaging_product: "whatsapp", block_users: [{}] } }), 131008, 400);
  });

  it("when the OpenAPI document is read, then it describes the three operations with the body schema", async () => {
    const doc = await graph(stack.base, "GET", "/openapi.json");
    const ops = doc.body.paths["/{id}/block_users"];
    expect(Object.keys(ops).sort()).toEqual(["delete", "get", "post"]);
    expect(ops.post.requestBody.content["application/json"].schema.required).toEqual(["messaging_product", "block_users"]);
    expect(ops.get.parameters.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(["limit", "after"]));
  });
});

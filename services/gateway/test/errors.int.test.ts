import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { revokeToken, issueToken } from "../src/store/partner-store.js";
import { createPartner, expectGraphError, graph, registerCustomer, startStack, type PartnerFixture, type Stack } from "./factories.js";

let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let customerNumber: string;

beforeAll(async () => {
  env = await createTestEnv();
  // The policy rules on: the Cloud API codes come from messaging's refusals.
  stack = await startStack(env, { gateway: { BODY_LIMIT_BYTES: "65536" } });
  p = await createPartner(env, stack);
  ({ number: customerNumber } = await registerCustomer(stack));
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const send = (body: unknown, token = p.token, path = `/v23.0/${p.phoneNumberId}/messages`) => graph(stack.base, "POST", path, { token, json: body });
const text = (over: Record<string, unknown> = {}) => ({ messaging_product: "whatsapp", to: customerNumber, type: "text", text: { body: "hello" }, ...over });

describe("errors from messaging's policy, through the one table", () => {
  it("when a free-form message goes to a customer who never wrote, then 131047 Re-engagement message (HTTP 400)", async () => {
    const e = expectGraphError(await send(text()), 131047, 400);
    expect(e.message).toBe("(#131047) Re-engagement message");
    expect(e.type).toBe("OAuthException");
    expect(e).not.toHaveProperty("error_subcode");
  });

  it("when a template does not exist, then 132001 Template does not exist (HTTP 404)", async () => {
    const r = await send({ messaging_product: "whatsapp", to: customerNumber, type: "template", template: { name: "no_such_template", language: { code: "en_US", policy: "deterministic" } } });
    expectGraphError(r, 132001, 404);
  });

  it("when the recipient is not on Kontor, then 131026 Message Undeliverable", async () => {
    expectGraphError(await send(text({ to: "+4915000000001" })), 131026, 400);
  });

  it("when messaging rejects a field, then 100 naming the Cloud API parameter", async () => {
    const r = await send({ messaging_product: "whatsapp", to: customerNumber, type: "interactive", interactive: { type: "button", body: { text: "x" }, action: { buttons: [1, 2, 3, 4].map((i) => ({ type: "reply", reply: { id: `b${i}`, title: `B${i}` } })) } } });
    const e = expectGraphError(r, 100, 400);
    expect(e.error_data.details).toMatch(/interactive\.action\.buttons/);
  });
});

describe("authentication and tenancy", () => {
  it("when no token is sent, then 190 with HTTP 401", async () => {
    expectGraphError(await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { json: text() }), 190, 401);
  });

  it("when the token is unknown, revoked or expired, then 190 with HTTP 401", async () => {
    expectGraphError(await send(text(), "KGWnot-a-real-token"), 190, 401);
    const revoked = await issueToken(stack.gateway.db, p.partnerId, ["whatsapp_business_messaging"]);
    expect(await revokeToken(stack.gateway.db, revoked)).toBe(true);
    expectGraphError(await send(text(), revoked), 190, 401);
    const expired = await issueToken(stack.gateway.db, p.partnerId, ["whatsapp_business_messaging"], { expiresAt: new Date(Date.now() - 1000) });
    expect((await send(text(), expired)).body.error.error_data.details).toMatch(/expired/);
  });

  it("when a token that was just used is revoked, then it is refused once AUTH_CACHE_MS has passed (the bound on a cached token)", async () => {
    const { number } = await registerCustomer(stack);
    const token = await issueToken(stack.gateway.db, p.partnerId, ["whatsapp_business_messaging"]);
    const use = () => graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { token, json: { messaging_product: "whatsapp", to: number, type: "text", text: { body: "hi" } } });
    const first = await use();
    expect(first.status, first.text).not.toBe(401);
    expect(await revokeToken(stack.gateway.db, token)).toBe(true);
    // The default AUTH_CACHE_MS (2 s): an accepted token is remembered at most that long.
    await new Promise((r) => setTimeout(r, 2000 + 100));
    expectGraphError(await use(), 190, 401);
  });

  it("when the token lacks whatsapp_business_messaging, then 10 Permission Denied (HTTP 403)", async () => {
    const managementOnly = await issueToken(stack.gateway.db, p.partnerId, ["whatsapp_business_management"]);
    expectGraphError(await send(text(), managementOnly), 10, 403);
  });

  it("when the token is sent as Authorization: OAuth, then it authenticates like Bearer", async () => {
    const r = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { headers: { authorization: `OAuth ${p.token}` }, json: text() });
    expectGraphError(r, 131047, 400);
  });
});

describe("hostile input → Graph 4xx naming the parameter, never a 5xx", () => {
  const cases: [string, () => Promise<Awaited<ReturnType<typeof graph>>>, number, number, RegExp][] = [
    ["malformed JSON", () => graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { token: p.token, raw: '{"messaging_product": "whatsapp", "to": ' }), 100, 400, /body/],
    ["a JSON array body", () => graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { token: p.token, raw: "[1,2]" }), 100, 400, /body/],
    ["text as a string", () => send(text({ text: "hello" })), 100, 400, /text/],
    ["an unknown field", () => send(text({ colour: "red" })), 100, 400, /colour/],
    ["an unknown nested field", () => send(text({ text: { body: "x", bold: true } })), 100, 400, /text\.bold/],
    ["a wrong messaging_product", () => send(text({ messaging_product: "sms" })), 100, 400, /messaging_product/],
    ["messaging_product missing", () => send({ to: customerNumber, type: "text", text: { body: "x" } }), 131008, 400, /messaging_product/],
    ["a body over 4096 characters", () => send(text({ text: { body: "x".repeat(4097) } })), 100, 400, /text\.body/],
    ["a bad phone number", () => send(text({ to: "call me maybe" })), 100, 400, /\bto\b/],
    ["a too short phone number", () => send(text({ to: "+12" })), 100, 400, /\bto\b/],
    ["an unknown type", () => send(text({ type: "hologram" })), 100, 400, /type/],
    ["media with both id and link", () => send({ messaging_product: "whatsapp", to: customerNumber, type: "image", image: { id: "1", link: "https://x/y.jpg" } }), 100, 400, /image/],
    ["a caption on audio", () => send({ messaging_product: "whatsapp", to: customerNumber, type: "audio", audio: { id: "1", caption: "no" } }), 100, 400, /audio\.caption/],
    ["latitude out of range", () => send({ messaging_product: "whatsapp", to: customerNumber, type: "location", location: { latitude: 91, longitude: 0 } }), 100, 400, /location\.latitude/],
    ["a bad language policy", () => send({ messaging_product: "whatsapp", to: customerNumber, type: "template", template: { name: "t", language: { code: "en", policy: "fallback" } } }), 100, 400, /template\.language\.policy/],
    ["a huge body", () => send(text({ text: { body: "x".repeat(70_000) } })), 100, 413, /too large/],
    ["an unsupported content type", () => graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { token: p.token, raw: "<xml/>", contentType: "application/xml" }), 100, 400, /Content-Type/],
    ["a non-numeric object id", () => send(text(), p.token, `/v23.0/..%2F..%2Fetc/messages`), 100, 400, /does not exist/],
    ["an unknown edge", () => graph(stack.base, "GET", `/v23.0/${p.phoneNumberId}/nonsense`, { token: p.token }), 100, 400, /does not exist/],
    ["a __proto__ key", () => graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { token: p.token, raw: '{"messaging_product":"whatsapp","__proto__":{"x":1}}' }), 100, 400, /body|__proto__/],
    ["mark-as-read of an unknown message", () => send({ messaging_product: "whatsapp", status: "read", message_id: "wamid.nope" }), 100, 400, /message_id/],
  ];
  it.each(cases)("%s", async (_name, call, code, http, details) => {
    const r = await call();
    const e = expectGraphError(r, code, http);
    expect(e.error_data.details).toMatch(details);
  });
});

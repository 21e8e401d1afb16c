import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { createPartner, expectGraphError, graph, registerCustomer, startStack, type PartnerFixture, type Stack } from "./factories.js";

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

const utility = (name: string, language = "en_US") => ({
  name,
  language,
  category: "utility",
  components: [
    { type: "HEADER", format: "TEXT", text: "Order update" },
    { type: "BODY", text: "Hello {{1}}, your order {{2}} has shipped.", example: { body_text: [["Ana", "A-1"]] } },
    { type: "FOOTER", text: "Kontor Pottery" },
    { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Thanks" }] },
  ],
});

describe("/{waba-id}/message_templates", () => {
  it("when a template is created, listed with paging and filters, sent, and deleted, then each answer has the Cloud API's shape", async () => {
    const created = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/message_templates`, { token: p.token, json: utility("order_shipped") });
    expect(created.status, created.text).toBe(200);
    expect(Object.keys(created.body).sort()).toEqual(["category", "id", "status"]);
    expect(created.body).toMatchObject({ status: "APPROVED", category: "UTILITY" });
    for (const [name, lang] of [["order_shipped", "de"], ["order_delayed", "en_US"]] as const) {
      expect((await graph(stack.base, "POST", `/v23.0/${p.wabaId}/message_templates`, { token: p.token, json: utility(name, lang) })).status).toBe(200);
    }

    const page1 = await graph(stack.base, "GET", `/v23.0/${p.wabaId}/message_templates?limit=2`, { token: p.token });
    expect(page1.status, page1.text).toBe(200);
    expect(page1.body.data).toHaveLength(2);
    expect(Object.keys(page1.body.data[0]).sort()).toEqual(["category", "components", "id", "language", "name", "parameter_format", "status"]);
    const shipped = page1.body.data.find((t: { id: string }) => t.id === created.body.id) ?? (await graph(stack.base, "GET", `/v23.0/${p.wabaId}/message_templates?name=order_shipped&language=en_US`, { token: p.token })).body.data[0];
    expect(shipped.components).toEqual(utility("order_shipped").components);
    expect(page1.body.paging.cursors.after).toBeTruthy();
    expect(page1.body.paging.next).toMatch(new RegExp(`/v23\\.0/${p.wabaId}/message_templates\\?.*after=`));
    const page2 = await graph(stack.base, "GET", new URL(page1.body.paging.next).pathname + new URL(page1.body.paging.next).search, { token: p.token });
    expect(page2.body.data).toHaveLength(1);
    expect(page2.body.paging.next).toBeUndefined();
    const ids = [...page1.body.data, ...page2.body.data].map((t: { id: string }) => t.id);
    expect(new Set(ids).size).toBe(3);

    const filtered = await graph(stack.base, "GET", `/${p.wabaId}/message_templates?name=order_shipped&fields=name,language`, { token: p.token });
    expect(filtered.body.data.map((t: { language: string }) => t.language).sort()).toEqual(["de", "en_US"]);
    expect(Object.keys(filtered.body.data[0]).sort()).toEqual(["id", "language", "name"]);

    const { number } = await registerCustomer(stack);
    const sent = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, {
      token: p.token,
      json: { messaging_product: "whatsapp", to: number, type: "template", template: { name: "order_shipped", language: { code: "en_US", policy: "deterministic" }, components: [{ type: "body", parameters: [{ type: "text", text: "Ana" }, { type: "text", text: "A-7" }] }] } },
    });
    expect(sent.status, sent.text).toBe(200);
    expect(sent.body.messages[0]).toEqual({ id: expect.stringMatching(/^wamid\./), message_status: "accepted" });
    const mismatch = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, {
      token: p.token,
      json: { messaging_product: "whatsapp", to: number, type: "template", template: { name: "order_shipped", language: { code: "en_US" }, components: [{ type: "body", parameters: [{ type: "text", text: "Ana" }] }] } },
    });
    expectGraphError(mismatch, 132000, 400);

    const deleted = await graph(stack.base, "DELETE", `/v23.0/${p.wabaId}/message_templates?name=order_shipped&hsm_id=${created.body.id}`, { token: p.token });
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toEqual({ success: true });
    const after = await graph(stack.base, "GET", `/v23.0/${p.wabaId}/message_templates?name=order_shipped`, { token: p.token });
    expect(after.body.data.map((t: { language: string }) => t.language)).toEqual(["de"]);
  });

  it("when the input is bad or the cursor is invalid, then Graph errors name the parameter", async () => {
    const bad = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/message_templates`, { token: p.token, json: { ...utility("x"), category: "SPAM" } });
    expect(expectGraphError(bad, 100, 400).error_data.details).toMatch(/category/);
    const missing = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/message_templates`, { token: p.token, json: { name: "x", language: "en" } });
    expect(expectGraphError(missing, 131008, 400).error_data.details).toMatch(/category/);
    const badName = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/message_templates`, { token: p.token, json: utility("Not Valid") });
    expect(expectGraphError(badName, 100, 400).error_data.details).toMatch(/name/);
    expectGraphError(await graph(stack.base, "GET", `/v24.0/${p.wabaId}/message_templates?after=garbage`, { token: p.token }), 131059, 400);
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${p.wabaId}/message_templates?after=garbage`, { token: p.token }), 100, 400);
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${p.wabaId}/message_templates?limit=abc`, { token: p.token }), 100, 400);
  });

  it("when a partner names another partner's WABA or lacks whatsapp_business_management, then it is refused", async () => {
    const theirs = await graph(stack.base, "GET", `/v23.0/${other.wabaId}/message_templates`, { token: p.token });
    expect(expectGraphError(theirs, 100, 400).error_subcode).toBe(33);
    expectGraphError(await graph(stack.base, "POST", `/v23.0/${other.wabaId}/message_templates`, { token: p.token, json: utility("steal") }), 100, 400);
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${other.phoneNumberId}`, { token: p.token }), 100, 400);
  });
});

describe("phone numbers", () => {
  it("when GET /{waba-id}/phone_numbers and GET /{phone-number-id}, then the number has quality_rating and messaging_limit from messaging", async () => {
    const list = await graph(stack.base, "GET", `/v23.0/${p.wabaId}/phone_numbers?access_token=${p.token}`);
    expect(list.status, list.text).toBe(200);
    expect(list.body.data).toHaveLength(1);
    const n = list.body.data[0];
    expect(n).toMatchObject({ id: p.phoneNumberId, display_phone_number: p.businessE164, verified_name: `Biz ${p.businessId}`, quality_rating: "GREEN", messaging_limit_tier: "TIER_250", throughput: { level: "STANDARD" } });
    expect(list.body.paging.cursors).toHaveProperty("after");
    const one = await graph(stack.base, "GET", `/${p.phoneNumberId}?fields=quality_rating,messaging_limit_tier`, { token: p.token });
    expect(one.body).toEqual({ id: p.phoneNumberId, quality_rating: "GREEN", messaging_limit_tier: "TIER_250" });
    const waba = await graph(stack.base, "GET", `/v23.0/${p.wabaId}`, { token: p.token });
    expect(waba.body).toMatchObject({ id: p.wabaId, name: `Biz ${p.businessId}` });
  });
});

describe("one template by id", () => {
  it("when a template is read and edited by its id, then GET /{template-id} shows it and POST /{template-id} replaces its components; another partner cannot see it", async () => {
    const created = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/message_templates`, {
    token: p.token,
    json: { name: "edit_me", language: "en", category: "UTILITY", components: [{ type: "BODY", text: "Order {{1}} is ready.", example: { body_text: [["A-1"]] } }] },
    });
    expect(created.status, created.text).toBe(200);
    const id = created.body.id as string;
    const got = await graph(stack.base, "GET", `/v23.0/${id}`, { token: p.token });
    expect(got.status, got.text).toBe(200);
    expect(got.body).toMatchObject({ id, name: "edit_me", language: "en", category: "UTILITY" });
    expect((await graph(stack.base, "GET", `/v23.0/${id}?fields=name`, { token: p.token })).body).toEqual({ id, name: "edit_me" });
    const edited = await graph(stack.base, "POST", `/v23.0/${id}`, { token: p.token, json: { components: [{ type: "BODY", text: "Order {{1}} ships today.", example: { body_text: [["A-2"]] } }] } });
    expect(edited.status, edited.text).toBe(200);
    expect(edited.body).toEqual({ success: true });
    const after = await graph(stack.base, "GET", `/v23.0/${id}`, { token: p.token });
    expect(JSON.stringify(after.body.components)).toContain("ships today");
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${id}`, { token: other.token }), 100, 400);
    expectGraphError(await graph(stack.base, "POST", `/v23.0/${id}`, { token: other.token, json: { components: [{ type: "BODY", text: "mine now" }] } }), 100, 400);
    expect(expectGraphError(await graph(stack.base, "POST", `/v23.0/${id}`, { token: p.token, json: { components: "x" } }), 100, 400).error_data.details).toMatch(/components/);
    expectGraphError(await graph(stack.base, "POST", `/v23.0/${id}`, { token: p.token, json: { category: "MARKETING" } }), 131008, 400);
    expect(JSON.stringify((await graph(stack.base, "GET", `/v23.0/${id}`, { token: p.token })).body.components)).toContain("ships today");
  });
});

describe("the API's description", () => {
  it("when /openapi.json is fetched without a token, then it is OpenAPI 3.1 with every Cloud API operation and its schemas", async () => {
    const res = await fetch(`${stack.base}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const doc = (await res.json()) as { openapi: string; servers: { url: string }[]; paths: Record<string, Record<string, any>> };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers[0]!.url).toBe(stack.base);
    for (const [path, method] of [
      ["/{id}/messages", "post"],
      ["/{id}/message_templates", "get"],
      ["/{id}/message_templates", "post"],
      ["/{id}/media", "post"],
      ["/{id}", "get"],
      ["/{id}", "post"],
      ["/{id}", "delete"],
      ["/{id}/subscribed_apps", "post"],
      ["/{id}/webhook_dead_letters", "get"],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    const send = doc.paths["/{id}/messages"]!.post;
    expect(send.requestBody.content["application/json"].schema.properties.messaging_product).toEqual({ type: "string", enum: ["whatsapp"] });
    expect(send.parameters).toContainEqual(expect.objectContaining({ name: "id", in: "path", required: true }));
    expect(doc.paths["/{id}/media"]!.post.requestBody.content["multipart/form-data"]).toBeDefined();
    expect(doc.paths["/openapi.json"]).toBeUndefined();
    // The versioned path works as well.
    expect((await fetch(`${stack.base}/v23.0/openapi.json`)).status).toBe(200);
  });

  it("when /docs is opened, then a self-contained page reads openapi.json", async () => {
    const res = await fetch(`${stack.base}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('fetch("openapi.json")');
    expect(html).not.toMatch(/<script src=/);
  });
});

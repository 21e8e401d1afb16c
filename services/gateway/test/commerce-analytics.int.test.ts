import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { createPartner, expectGraphError, graph, registerCustomer, startStack, type PartnerFixture, type Stack } from "./factories.js";

/*
 * whatsapp_commerce_settings onto the real catalog (cloud-api.md §8.1), and
 * the analytics field and template_analytics onto messaging's day counts
 * (§10.5), compared field by field.
 */
let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let other: PartnerFixture;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { withCatalog: true });
  p = await createPartner(env, stack);
  other = await createPartner(env, stack);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

describe("the OpenAPI document", () => {
  it("when read, then it describes commerce settings, template analytics and the analytics field", async () => {
    const doc = await graph(stack.base, "GET", "/openapi.json");
    expect(Object.keys(doc.body.paths["/{id}/whatsapp_commerce_settings"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.body.paths["/{id}/whatsapp_commerce_settings"].post.requestBody.content["application/json"].schema.properties).sort()).toEqual(["is_cart_enabled", "is_catalog_visible"]);
    expect(doc.body.paths["/{id}/template_analytics"].get.parameters.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(["start", "end", "granularity", "template_ids", "metric_types"]));
    expect(doc.body.paths["/{id}"].get.summary).toMatch(/analytics/);
  });
});

describe("/{phone-number-id}/whatsapp_commerce_settings", () => {
  const url = () => `/v23.0/${p.phoneNumberId}/whatsapp_commerce_settings`;

  it("when never set, then GET answers the defaults in the Cloud API's shape", async () => {
    const r = await graph(stack.base, "GET", url(), { token: p.token });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ data: [{ is_cart_enabled: true, is_catalog_visible: false, id: p.phoneNumberId }] });
  });

  it("when POSTed in the query string, a form or JSON, then each changes only what it names, and catalog holds the settings", async () => {
    let r = await graph(stack.base, "POST", `${url()}?is_cart_enabled=false`, { token: p.token });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ success: true });
    r = await graph(stack.base, "POST", url(), { token: p.token, form: { is_catalog_visible: "true" } });
    expect(r.body).toEqual({ success: true });
    expect((await graph(stack.base, "GET", url(), { token: p.token })).body.data[0]).toEqual({ is_cart_enabled: false, is_catalog_visible: true, id: p.phoneNumberId });
    r = await graph(stack.base, "POST", url(), { token: p.token, json: { is_cart_enabled: true } });
    expect(r.body).toEqual({ success: true });
    expect((await graph(stack.base, "GET", url(), { token: p.token })).body.data[0]).toEqual({ is_cart_enabled: true, is_catalog_visible: true, id: p.phoneNumberId });

    const catalog = clientFor(CatalogServiceClient, stack.catalogPort);
    try {
      const token = await env.token({ kind: "business", businessId: p.businessId });
      const { settings } = await unaryCall(catalog.getCommerceSettings.bind(catalog), { businessId: p.businessId }, { token });
      expect(settings).toMatchObject({ isCartEnabled: true, isCatalogVisible: true });
    } finally {
      catalog.close();
    }
  });

  it("when a parameter is missing, unknown or not a boolean, or the number is another partner's, then a Graph error naming it", async () => {
    expectGraphError(await graph(stack.base, "POST", url(), { token: p.token, json: {} }), 131008, 400);
    expect(expectGraphError(await graph(stack.base, "POST", `${url()}?is_cart_enabled=maybe`, { token: p.token }), 100, 400).error_data.details).toMatch(/is_cart_enabled/);
    expect(expectGraphError(await graph(stack.base, "POST", url(), { token: p.token, json: { is_cart_enabled: true, storefront: 1 } }), 100, 400).error_data.details).toMatch(/storefront/);
    expect(expectGraphError(await graph(stack.base, "GET", `/v23.0/${other.phoneNumberId}/whatsapp_commerce_settings`, { token: p.token }), 100, 400).error_subcode).toBe(33);
  });
});

/** A customer who wrote, two texts and two template messages to it, the first delivered. */
async function traffic(fixture: PartnerFixture) {
  const c = await registerCustomer(stack);
  const token = await env.token({ kind: "customer", customerId: c.customerId });
  const m = stack.messagingClient;
  const { result } = await unaryCall(
    m.sendMessage.bind(m),
    { sender: { kind: { $case: "customerId", value: c.customerId } }, recipient: { kind: { $case: "phoneNumberId", value: fixture.phoneNumberId } }, to: "", clientMessageId: "", content: { kind: { $case: "text", value: { body: "hi", previewUrl: false } } }, context: undefined, bizOpaqueCallbackData: "", referral: undefined },
    { token },
  );
  const template = await graph(stack.base, "POST", `/v23.0/${fixture.wabaId}/message_templates`, {
    token: fixture.token,
    json: { name: "order_update", language: "en_US", category: "UTILITY", components: [{ type: "BODY", text: "Your order {{1}} is {{2}}. Thank you!", example: { body_text: [["A-1", "shipped"]] } }] },
  });
  expect(template.status, template.text).toBe(200);
  const ids: string[] = [];
  for (const json of [
    { messaging_product: "whatsapp", to: c.number, type: "text", text: { body: "one" } },
    { messaging_product: "whatsapp", to: c.number, type: "text", text: { body: "two" } },
    ...[1, 2].map((i) => ({ messaging_product: "whatsapp", to: c.number, type: "template", template: { name: "order_update", language: { code: "en_US" }, components: [{ type: "body", parameters: [{ type: "text", text: `A-${i}` }, { type: "text", text: "shipped" }] }] } })),
  ]) {
    const r = await graph(stack.base, "POST", `/v23.0/${fixture.phoneNumberId}/messages`, { token: fixture.token, json });
    expect(r.status, r.text).toBe(200);
    ids.push(r.body.messages[0].id);
  }
  await unaryCall(m.reportReceipt.bind(m), { reader: { kind: { $case: "customerId", value: c.customerId } }, conversationId: result!.conversationId, status: MessageStatus.MESSAGE_STATUS_DELIVERED, upToSeq: "0", messageId: ids[0]! }, { token });
  return { templateId: template.body.id as string, number: c.number };
}

describe("GET /{waba-id}?fields=analytics…", () => {
  it("when asked per DAY and per MONTH, then data points cover the range with the messages sent and delivered, in the Cloud API's shape", async () => {
    await traffic(p);
    const now = Math.floor(Date.now() / 1000);
    const day = now - (now % 86_400);
    const start = day - 86_400;
    const end = day + 86_400;
    const displayed = p.businessE164.slice(1);
    const path = `/v23.0/${p.wabaId}?fields=${encodeURIComponent(`id,analytics.start(${start}).end(${end}).granularity(DAY).phone_numbers(["${displayed}"])`)}`;
    const r = await waitFor(async () => {
      const got = await graph(stack.base, "GET", path, { token: p.token });
      const today = got.body.analytics?.data_points?.[1];
      return today && today.sent >= 4 && today.delivered >= 1 ? got : undefined;
    }, 30_000);
    expect(Object.keys(r.body).sort()).toEqual(["analytics", "id"]);
    expect(r.body.id).toBe(p.wabaId);
    expect(r.body.analytics).toEqual({
      phone_numbers: [displayed],
      granularity: "DAY",
      data_points: [
        { start, end: day, sent: 0, delivered: 0 },
        { start: day, end, sent: 4, delivered: 1 },
      ],
    });

    const month = await graph(stack.base, "GET", `/${p.wabaId}?fields=analytics.start(${start}).end(${end}).granularity(MONTH)`, { token: p.token });
    expect(month.status, month.text).toBe(200);
    expect(month.body.analytics.granularity).toBe("MONTH");
    expect(month.body.analytics.phone_numbers).toEqual([displayed]);
    const points = month.body.analytics.data_points as { start: number; end: number; sent: number; delivered: number }[];
    expect(points[0]!.start).toBe(start);
    expect(points[points.length - 1]!.end).toBe(end);
    expect(points.reduce((s, x) => s + x.sent, 0)).toBe(4);
    expect(points.reduce((s, x) => s + x.delivered, 0)).toBe(1);
  });

  it("when granularity, a modifier, the range or a number is not supported, then error 100 naming the parameter", async () => {
    const now = Math.floor(Date.now() / 1000);
    const ask = (f: string) => graph(stack.base, "GET", `/v23.0/${p.wabaId}?fields=${encodeURIComponent(f)}`, { token: p.token });
    expect(expectGraphError(await ask(`analytics.start(${now - 3600}).end(${now}).granularity(HALF_HOUR)`), 100, 400).error_data.details).toMatch(/^Parameter analytics\.granularity/);
    expect(expectGraphError(await ask(`analytics.start(${now - 3600}).end(${now}).granularity(WEEK)`), 100, 400).error_data.details).toMatch(/analytics\.granularity/);
    expect(expectGraphError(await ask(`analytics.start(${now - 3600}).end(${now}).granularity(DAY).country_codes(["US"])`), 100, 400).error_data.details).toMatch(/analytics\.country_codes/);
    expect(expectGraphError(await ask(`analytics.start(${now}).end(${now - 3600}).granularity(DAY)`), 100, 400).error_data.details).toMatch(/analytics\.end/);
    expect(expectGraphError(await ask(`analytics.start(abc).end(${now}).granularity(DAY)`), 100, 400).error_data.details).toMatch(/analytics\.start/);
    expect(expectGraphError(await ask(`analytics.start(${now - 3600}).end(${now}).granularity(DAY).phone_numbers(["${other.businessE164.slice(1)}"])`), 100, 400).error_data.details).toMatch(/analytics\.phone_numbers/);
    expect(expectGraphError(await ask(`analytics.start(${now - 400 * 86_400}).end(${now}).granularity(DAY)`), 100, 400).error_data.details).toMatch(/analytics\.end/);
    expectGraphError(await ask(`analytics.start(${now - 3600}).end(${now})`), 131008, 400);
  });
});

describe("GET /{waba-id}/template_analytics", () => {
  it("when asked DAILY for a template, then one data point per day with sent, delivered, read and clicked, field by field", async () => {
    const { templateId } = await traffic(other);
    const now = Math.floor(Date.now() / 1000);
    const day = now - (now % 86_400);
    const path = `/v23.0/${other.wabaId}/template_analytics?start=${day}&end=${day + 86_400}&granularity=DAILY&template_ids=${encodeURIComponent(JSON.stringify([templateId]))}&metric_types=SENT,DELIVERED,READ,CLICKED&product_type=CLOUD_API&use_waba_timezone=true`;
    const r = await waitFor(async () => {
      const got = await graph(stack.base, "GET", path, { token: other.token });
      return got.body.data?.[0]?.data_points?.[0]?.sent >= 2 ? got : undefined;
    }, 30_000);
    expect(Object.keys(r.body).sort()).toEqual(["data", "paging"]);
    expect(r.body.data).toEqual([{ granularity: "DAILY", product_type: "cloud_api", data_points: [{ template_id: templateId, start: day, end: day + 86_400, sent: 2, delivered: 0, read: 0, clicked: [] }] }]);

    const sentOnly = await graph(stack.base, "GET", `/v23.0/${other.wabaId}/template_analytics?start=${day}&end=${day + 86_400}&granularity=DAILY&template_ids=${templateId}&metric_types=SENT`, { token: other.token });
    expect(sentOnly.body.data[0].data_points).toEqual([{ template_id: templateId, start: day, end: day + 86_400, sent: 2 }]);
  });

  it("when a parameter is missing or not supported, or the template is another WABA's, then a Graph error naming it", async () => {
    const now = Math.floor(Date.now() / 1000);
    const mine = (await graph(stack.base, "GET", `/v23.0/${other.wabaId}/message_templates?name=order_update`, { token: other.token })).body.data[0]?.id ?? "1";
    const q = (extra: string) => graph(stack.base, "GET", `/v23.0/${other.wabaId}/template_analytics?start=${now - 3600}&end=${now}${extra}`, { token: other.token });
    expect(expectGraphError(await q(`&granularity=DAILY&template_ids=${mine}&metric_types=COST`), 100, 400).error_data.details).toMatch(/^Parameter metric_types/);
    expect(expectGraphError(await q(`&granularity=HALF_HOUR&template_ids=${mine}`), 100, 400).error_data.details).toMatch(/^Parameter granularity/);
    expect(expectGraphError(await q(`&granularity=DAILY&template_ids=${mine}&product_type=MARKETING_MESSAGES_LITE_API`), 100, 400).error_data.details).toMatch(/product_type/);
    expectGraphError(await q(`&granularity=DAILY`), 131008, 400);
    const ids = JSON.stringify(Array.from({ length: 11 }, (_, i) => String(i + 1)));
    expect(expectGraphError(await q(`&granularity=DAILY&template_ids=${encodeURIComponent(ids)}`), 100, 400).error_data.details).toMatch(/template_ids/);
    const theirs = (await graph(stack.base, "GET", `/v23.0/${p.wabaId}/message_templates?name=order_update`, { token: p.token })).body.data[0]?.id ?? "1";
    expect(expectGraphError(await q(`&granularity=DAILY&template_ids=${theirs}`), 100, 400).error_data.details).toMatch(/template_ids/);
    expect(expectGraphError(await graph(stack.base, "GET", `/v23.0/${p.wabaId}/template_analytics?start=1&end=2&granularity=DAILY&template_ids=1`, { token: other.token }), 100, 400).error_subcode).toBe(33);
  });
});

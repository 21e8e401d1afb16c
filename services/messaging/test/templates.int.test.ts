import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { TemplateStatusChanged } from "@kontor/proto/messaging/v1/events";
import {
  TemplateButtonType as B,
  TemplateCategory as C,
  TemplateComponentType as T,
  TemplateHeaderFormat as H,
  TemplateParameterFormat as P,
  TemplateStatus as S,
  type TemplateButton,
  type TemplateComponentSpec,
} from "@kontor/proto/messaging/v1/template";
import { TemplateServiceClient, TemplateServiceService, TemplateReviewDecision as D, type CreateTemplateRequest } from "@kontor/proto/messaging/v1/template_service";
import { errorDetail } from "@kontor/service-kit/errors";
import { allowListViolations } from "@kontor/testkit/access";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { clientFor, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { assertHostileRefused, rowCounts } from "@kontor/testkit/hostile";
import type { MessagingApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { templateAccess } from "../src/rpc/access.js";
import { bounds } from "../src/rpc/bounds.js";
import { setTemplateBusinessVerified } from "../src/store/template-store.js";
import { e164, revokeVerification, startWithBusiness, uid, verifyBusiness } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let client: TemplateServiceClient;
let port: number;
let reviewer: string;
/** Small caps, so the limit test creates a handful of templates, not 250. */
const LIMIT = 3;
const LIMIT_VERIFIED = 5;

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, port } = await startWithBusiness(env, "biz_tpl_home", "pn_tpl_home", { TEMPLATE_LIMIT: String(LIMIT), TEMPLATE_LIMIT_VERIFIED: String(LIMIT_VERIFIED) }));
  client = clientFor(TemplateServiceClient, port);
  reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["messaging.template_reviewer"] });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const comp = (c: Partial<TemplateComponentSpec> & { type: T }): TemplateComponentSpec => ({ format: H.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text: "", example: undefined, buttons: [], ...c });
const ex = (e: Partial<NonNullable<TemplateComponentSpec["example"]>>) => ({ headerText: [], headerTextNamedParams: [], bodyText: [], bodyTextNamedParams: [], headerHandle: [], ...e });
const body = (text: string, values?: string[]) => comp({ type: T.TEMPLATE_COMPONENT_TYPE_BODY, text, example: values ? ex({ bodyText: [{ values }] }) : undefined });
const btn = (b: Partial<TemplateButton> & { type: B }): TemplateButton => ({ text: "", url: "", phoneNumber: "", example: [], otpType: "", ...b });
const urlButtons = (url: string) => comp({ type: T.TEMPLATE_COMPONENT_TYPE_BUTTONS, buttons: [btn({ type: B.TEMPLATE_BUTTON_TYPE_URL, text: "Track", url, example: ["A17"] })] });

function createReq(businessId: string, over: Partial<CreateTemplateRequest> = {}): CreateTemplateRequest {
  return {
    businessId,
    name: uid("order_update_"),
    language: "en_US",
    category: C.TEMPLATE_CATEGORY_UTILITY,
    parameterFormat: P.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED,
    components: [body("Hi {{1}}, your order {{2}} has shipped.", ["Ana", "A-17"])],
    ...over,
  };
}

/** A business of its own per test, and its token. */
async function business(): Promise<{ businessId: string; token: string }> {
  const businessId = uid("biz_tpl_");
  return { businessId, token: await env.token({ kind: "business", businessId }) };
}

/** Every status event of one template on JetStream, once the outbox is drained (so a second copy would show). */
async function statusEvents(templateId: string) {
  await outboxDrained(app.runtime.database.pool);
  return (await streamMessages(env, "messaging", subjects.templateStatus)).map((m) => TemplateStatusChanged.decode(m.data)).filter((e) => e.templateId === templateId);
}
const moves = (events: TemplateStatusChanged[]) => events.map((e) => [e.oldStatus, e.newStatus]);

describe("template lifecycle", () => {
  it("when a business creates a valid template, then it is APPROVED at once and PENDING, then APPROVED, are each on JetStream exactly once", async () => {
    const { businessId, token } = await business();
    const req = createReq(businessId);
    const { template } = await unaryCall(client.createTemplate.bind(client), req, { token });
    expect(template).toMatchObject({ businessId, name: req.name, language: "en_US", category: C.TEMPLATE_CATEGORY_UTILITY, status: S.TEMPLATE_STATUS_APPROVED, rejectedReason: "", parameterFormat: P.TEMPLATE_PARAMETER_FORMAT_POSITIONAL });
    const events = await statusEvents(template!.id);
    expect(moves(events)).toEqual([
      [S.TEMPLATE_STATUS_UNSPECIFIED, S.TEMPLATE_STATUS_PENDING],
      [S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_APPROVED],
    ]);
    expect(events[1]).toMatchObject({ businessId, name: req.name, language: "en_US", category: C.TEMPLATE_CATEGORY_UTILITY, reason: "", meta: { businessId } });
    expect(events[1]!.changedAt).toBeInstanceOf(Date);
    const got = await unaryCall(client.getTemplate.bind(client), { businessId, templateId: template!.id }, { token });
    expect(got.template).toEqual(template);
  });

  it("when a UTILITY template has promotional wording, then it is APPROVED as MARKETING with UTILITY as its previous category, and the event says why", async () => {
    const { businessId, token } = await business();
    const { template } = await unaryCall(client.createTemplate.bind(client), createReq(businessId, { components: [body("Order {{1}} shipped. Get 20% off your next order!", ["A-17"])] }), { token });
    expect(template).toMatchObject({ status: S.TEMPLATE_STATUS_APPROVED, category: C.TEMPLATE_CATEGORY_MARKETING, previousCategory: C.TEMPLATE_CATEGORY_UTILITY });
    const events = await statusEvents(template!.id);
    expect(events[1]).toMatchObject({ newStatus: S.TEMPLATE_STATUS_APPROVED, category: C.TEMPLATE_CATEGORY_MARKETING });
    expect(events[1]!.reason).toMatch(/re-categorized from UTILITY to MARKETING.*20% off/);
  });

  it("when review rejects a template, then it is REJECTED with the reason; an edit sends it back to review and it is APPROVED, each change an event", async () => {
    const { businessId, token } = await business();
    const { template } = await unaryCall(client.createTemplate.bind(client), createReq(businessId, { components: [body("Order {{1}} shipped.", ["A-17"]), urlButtons("https://bit.ly/{{1}}")] }), { token });
    expect(template!.status).toBe(S.TEMPLATE_STATUS_REJECTED);
    expect(template!.rejectedReason).toMatch(/^INVALID_FORMAT: link shorteners \(bit\.ly\)/);

    const edited = await unaryCall(client.editTemplate.bind(client), { businessId, templateId: template!.id, components: [body("Order {{1}} shipped.", ["A-17"]), urlButtons("https://shop.example/t/{{1}}")], category: 0, parameterFormat: 0 }, { token });
    expect(edited.template).toMatchObject({ id: template!.id, status: S.TEMPLATE_STATUS_APPROVED, rejectedReason: "" });
    expect(edited.template!.components[1]!.buttons[0]!.url).toBe("https://shop.example/t/{{1}}");
    const events = await statusEvents(template!.id);
    expect(moves(events)).toEqual([
      [S.TEMPLATE_STATUS_UNSPECIFIED, S.TEMPLATE_STATUS_PENDING],
      [S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_REJECTED],
      [S.TEMPLATE_STATUS_REJECTED, S.TEMPLATE_STATUS_PENDING],
      [S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_APPROVED],
    ]);
    expect(events[1]!.reason).toBe(template!.rejectedReason);

    // An APPROVED template keeps its category.
    const err = await expectFailure(client.editTemplate.bind(client), { businessId, templateId: template!.id, components: [body("Order {{1}} shipped.", ["A-17"])], category: C.TEMPLATE_CATEGORY_MARKETING, parameterFormat: 0 }, { token });
    expect([err.code, errorDetail(err)?.field]).toEqual([status.INVALID_ARGUMENT, "category"]);
  });

  it("when an APPROVED template is edited twice within 24 hours, then the second edit is FAILED_PRECONDITION and changes nothing", async () => {
    const { businessId, token } = await business();
    const { template } = await unaryCall(client.createTemplate.bind(client), createReq(businessId), { token });
    const edit = (text: string) => ({ businessId, templateId: template!.id, components: [body(text, ["Ana"])], category: 0, parameterFormat: 0 });
    expect((await unaryCall(client.editTemplate.bind(client), edit("Hello {{1}}, it shipped."), { token })).template!.status).toBe(S.TEMPLATE_STATUS_APPROVED);
    const err = await expectFailure(client.editTemplate.bind(client), edit("Hey {{1}}, it shipped."), { token });
    expect([err.code, errorDetail(err)?.reason]).toEqual([status.FAILED_PRECONDITION, "TEMPLATE_EDIT_LIMIT"]);
    expect((await unaryCall(client.getTemplate.bind(client), { businessId, templateId: template!.id }, { token })).template!.components[0]!.text).toBe("Hello {{1}}, it shipped.");
  });

  it("when a name is taken in a language, then ALREADY_EXISTS; the same name in another language is a template of its own", async () => {
    const { businessId, token } = await business();
    const req = createReq(businessId);
    await unaryCall(client.createTemplate.bind(client), req, { token });
    const err = await expectFailure(client.createTemplate.bind(client), req, { token });
    expect([err.code, errorDetail(err)?.field]).toEqual([status.ALREADY_EXISTS, "name"]);
    const de = await unaryCall(client.createTemplate.bind(client), { ...req, language: "de", components: [body("Hallo {{1}}, Bestellung {{2}} ist unterwegs.", ["Ana", "A-17"])] }, { token });
    expect(de.template!.status).toBe(S.TEMPLATE_STATUS_APPROVED);
  });

  it("when a business deletes by name, then every language of it goes; by id, only that one", async () => {
    const { businessId, token } = await business();
    const keep = createReq(businessId);
    const kept = await unaryCall(client.createTemplate.bind(client), keep, { token });
    const name = uid("gone_");
    await unaryCall(client.createTemplate.bind(client), createReq(businessId, { name }), { token });
    await unaryCall(client.createTemplate.bind(client), createReq(businessId, { name, language: "de" }), { token });
    expect(await unaryCall(client.deleteTemplate.bind(client), { businessId, name, templateId: "" }, { token })).toEqual({ deleted: 2 });
    const listed = await unaryCall(client.listTemplates.bind(client), { businessId, page: undefined, status: 0, category: 0, language: "", namePrefix: "" }, { token });
    expect(listed.templates.map((t) => t.name)).toEqual([keep.name]);
    const again = await expectFailure(client.deleteTemplate.bind(client), { businessId, name, templateId: "" }, { token });
    expect(again.code).toBe(status.NOT_FOUND);
    expect(await unaryCall(client.deleteTemplate.bind(client), { businessId, name: "", templateId: kept.template!.id }, { token })).toEqual({ deleted: 1 });
    expect((await expectFailure(client.getTemplate.bind(client), { businessId, templateId: kept.template!.id }, { token })).code).toBe(status.NOT_FOUND);
  });

  it("lists a page at a time by name and language, filtered by status, category, language and name prefix", async () => {
    const { businessId, token } = await business();
    await setTemplateBusinessVerified(app.runtime.db, businessId, true, 1);
    const mk = (name: string, language: string, text = "Order {{1}} shipped.") => unaryCall(client.createTemplate.bind(client), createReq(businessId, { name, language, components: [body(text, ["A"])] }), { token });
    await mk("alpha", "en");
    await mk("alpha", "de");
    await mk("beta", "en", "Order {{1}} shipped, see bit.ly please.");
    await mk("beta_two", "en", "Order {{1}} shipped. Big sale now!");
    const list = (over: Record<string, unknown> = {}) => unaryCall(client.listTemplates.bind(client), { businessId, page: undefined, status: 0, category: 0, language: "", namePrefix: "", ...over }, { token });
    const first = await list({ page: { pageSize: 3, pageToken: "" } });
    expect(first.templates.map((t) => `${t.name}/${t.language}`)).toEqual(["alpha/de", "alpha/en", "beta/en"]);
    const second = await list({ page: { pageSize: 3, pageToken: first.page!.nextPageToken } });
    expect(second.templates.map((t) => `${t.name}/${t.language}`)).toEqual(["beta_two/en"]);
    expect(second.page!.nextPageToken).toBe("");
    expect((await list({ status: S.TEMPLATE_STATUS_REJECTED })).templates.map((t) => t.name)).toEqual(["beta"]);
    expect((await list({ category: C.TEMPLATE_CATEGORY_MARKETING })).templates.map((t) => t.name)).toEqual(["beta_two"]);
    expect((await list({ language: "de" })).templates.map((t) => t.name)).toEqual(["alpha"]);
    expect((await list({ namePrefix: "beta" })).templates.map((t) => t.name)).toEqual(["beta", "beta_two"]);
    // "_" in a prefix is literal, not LIKE's wildcard.
    expect((await list({ namePrefix: "beta_" })).templates.map((t) => t.name)).toEqual(["beta_two"]);
    const bad = await expectFailure(client.listTemplates.bind(client), { businessId, page: { pageSize: 1, pageToken: "nope" }, status: 0, category: 0, language: "", namePrefix: "" }, { token });
    expect([bad.code, errorDetail(bad)?.field]).toEqual([status.INVALID_ARGUMENT, "page.page_token"]);
  });
});

describe("the reviewer's override", () => {
  it("when a reviewer rejects an APPROVED template with a reason, then it is REJECTED and the event carries the reason; approving it again restores it", async () => {
    const { businessId, token } = await business();
    const { template } = await unaryCall(client.createTemplate.bind(client), createReq(businessId), { token });
    const rejected = await unaryCall(client.reviewTemplate.bind(client), { templateId: template!.id, decision: D.TEMPLATE_REVIEW_DECISION_REJECT, reason: "  misleading sender  " }, { token: reviewer });
    expect(rejected.template).toMatchObject({ status: S.TEMPLATE_STATUS_REJECTED, rejectedReason: "misleading sender" });
    const approved = await unaryCall(client.reviewTemplate.bind(client), { templateId: template!.id, decision: D.TEMPLATE_REVIEW_DECISION_APPROVE, reason: "" }, { token: reviewer });
    expect(approved.template).toMatchObject({ status: S.TEMPLATE_STATUS_APPROVED, rejectedReason: "" });
    // The same decision again changes nothing and emits nothing.
    await unaryCall(client.reviewTemplate.bind(client), { templateId: template!.id, decision: D.TEMPLATE_REVIEW_DECISION_APPROVE, reason: "" }, { token: reviewer });
    const events = await statusEvents(template!.id);
    expect(moves(events).slice(2)).toEqual([
      [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_REJECTED],
      [S.TEMPLATE_STATUS_REJECTED, S.TEMPLATE_STATUS_APPROVED],
    ]);
    expect(events[2]!.reason).toBe("misleading sender");
  });

  it("when a reviewer rejects without a reason, then INVALID_ARGUMENT names reason; a business, a partner or other staff cannot review", async () => {
    const { businessId, token } = await business();
    const { template } = await unaryCall(client.createTemplate.bind(client), createReq(businessId), { token });
    const err = await expectFailure(client.reviewTemplate.bind(client), { templateId: template!.id, decision: D.TEMPLATE_REVIEW_DECISION_REJECT, reason: " " }, { token: reviewer });
    expect([err.code, errorDetail(err)?.field]).toEqual([status.INVALID_ARGUMENT, "reason"]);
    for (const caller of [token, await env.token({ kind: "partner", partnerId: "bsp_1", businessIds: [businessId] }), await env.token({ kind: "staff", staffId: "s", roles: ["operator", "directory.reviewer"] })]) {
      const refused = await expectFailure(client.reviewTemplate.bind(client), { templateId: template!.id, decision: D.TEMPLATE_REVIEW_DECISION_REJECT, reason: "x" }, { token: caller });
      expect(refused.code).toBe(status.PERMISSION_DENIED);
    }
    expect((await unaryCall(client.getTemplate.bind(client), { businessId, templateId: template!.id }, { token })).template!.status).toBe(S.TEMPLATE_STATUS_APPROVED);
  });
});

describe("tenants", () => {
  it("when another business asks for, edits or deletes a template, then NOT_FOUND (or PERMISSION_DENIED naming the owner) and nothing changes; a partner acts for its businesses only", async () => {
    const owner = await business();
    const other = await business();
    const { template } = await unaryCall(client.createTemplate.bind(client), createReq(owner.businessId), { token: owner.token });
    const id = template!.id;
    const as = other.businessId;
    expect((await expectFailure(client.getTemplate.bind(client), { businessId: as, templateId: id }, { token: other.token })).code).toBe(status.NOT_FOUND);
    expect((await expectFailure(client.editTemplate.bind(client), { businessId: as, templateId: id, components: [body("Hi there.")], category: 0, parameterFormat: 0 }, { token: other.token })).code).toBe(status.NOT_FOUND);
    expect((await expectFailure(client.deleteTemplate.bind(client), { businessId: as, name: template!.name, templateId: "" }, { token: other.token })).code).toBe(status.NOT_FOUND);
    expect((await expectFailure(client.deleteTemplate.bind(client), { businessId: as, name: "", templateId: id }, { token: other.token })).code).toBe(status.NOT_FOUND);
    expect((await unaryCall(client.listTemplates.bind(client), { businessId: as, page: undefined, status: 0, category: 0, language: "", namePrefix: "" }, { token: other.token })).templates).toEqual([]);
    // Naming the owner with another business's token.
    expect((await expectFailure(client.getTemplate.bind(client), { businessId: owner.businessId, templateId: id }, { token: other.token })).code).toBe(status.PERMISSION_DENIED);
    const partner = await env.token({ kind: "partner", partnerId: "bsp_tpl", businessIds: [owner.businessId] });
    expect((await unaryCall(client.getTemplate.bind(client), { businessId: owner.businessId, templateId: id }, { token: partner })).template!.id).toBe(id);
    expect((await expectFailure(client.createTemplate.bind(client), createReq(other.businessId), { token: partner })).code).toBe(status.PERMISSION_DENIED);
    expect((await unaryCall(client.getTemplate.bind(client), { businessId: owner.businessId, templateId: id }, { token: owner.token })).template).toEqual(template);
  });
});

describe("the template cap", () => {
  it(`when a business has ${LIMIT} templates, then the next is RESOURCE_EXHAUSTED with 2388019; verified, it may have ${LIMIT_VERIFIED}`, async () => {
    const { businessId, token } = await business();
    for (let i = 0; i < LIMIT; i++) await unaryCall(client.createTemplate.bind(client), createReq(businessId), { token });
    const err = await expectFailure(client.createTemplate.bind(client), createReq(businessId), { token });
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect([errorDetail(err)?.reason, errorDetail(err)?.cloudApiCode]).toEqual(["TEMPLATE_LIMIT", 2388019]);
    await setTemplateBusinessVerified(app.runtime.db, businessId, true, 1);
    for (let i = LIMIT; i < LIMIT_VERIFIED; i++) await unaryCall(client.createTemplate.bind(client), createReq(businessId), { token });
    expect((await expectFailure(client.createTemplate.bind(client), createReq(businessId), { token })).code).toBe(status.RESOURCE_EXHAUSTED);
  });
});

describe("the template cap and directory's verified badge", () => {
  it(`when directory verifies a business, then its cap is ${LIMIT_VERIFIED}; a newer revocation brings ${LIMIT} back, and a stale verification after it changes nothing`, async () => {
    const { businessId, token } = await business();
    const phoneNumberId = uid("pn_tpl_");
    const e164Number = e164();
    const flagOf = (id: string) => app.runtime.db.selectFrom("template_business").select(["verified", "verified_version"]).where("business_id", "=", id).executeTakeFirst();
    for (let i = 0; i < LIMIT; i++) await unaryCall(client.createTemplate.bind(client), createReq(businessId), { token });
    expect((await expectFailure(client.createTemplate.bind(client), createReq(businessId), { token })).code).toBe(status.RESOURCE_EXHAUSTED);

    await verifyBusiness(env, businessId, phoneNumberId, e164Number, 5);
    await waitFor(async () => (await flagOf(businessId))?.verified);
    await unaryCall(client.createTemplate.bind(client), createReq(businessId), { token });

    await revokeVerification(env, businessId, phoneNumberId, e164Number, 6);
    await waitFor(async () => (await flagOf(businessId))?.verified_version === "6");
    expect((await expectFailure(client.createTemplate.bind(client), createReq(businessId), { token })).code).toBe(status.RESOURCE_EXHAUSTED);

    // A stale verification (version 4), then another business's event as a barrier: the consumer is ordered.
    await verifyBusiness(env, businessId, phoneNumberId, e164Number, 4);
    const barrier = uid("biz_tpl_barrier_");
    await verifyBusiness(env, barrier, uid("pn_tpl_"), e164(), 1);
    await waitFor(async () => (await flagOf(barrier))?.verified);
    expect(await flagOf(businessId)).toEqual({ verified: false, verified_version: "6" });
    expect((await expectFailure(client.createTemplate.bind(client), createReq(businessId), { token })).code).toBe(status.RESOURCE_EXHAUSTED);
  });
});

describe("the template cap under concurrency", () => {
  it(`when ${LIMIT + 2} creates of one business race, then exactly ${LIMIT} are stored`, async () => {
    const { businessId, token } = await business();
    const results = await Promise.allSettled(Array.from({ length: LIMIT + 2 }, () => unaryCall(client.createTemplate.bind(client), createReq(businessId), { token })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(LIMIT);
    const listed = await unaryCall(client.listTemplates.bind(client), { businessId, page: undefined, status: 0, category: 0, language: "", namePrefix: "" }, { token });
    expect(listed.templates).toHaveLength(LIMIT);
  });
});

describe("quality's transitions", () => {
  it("when quality strikes an APPROVED template three times, then PAUSED, PAUSED again after an unpause, then DISABLED, each an event; a DISABLED one cannot be edited or deleted", async () => {
    const { businessId, token } = await business();
    const { template } = await unaryCall(client.createTemplate.bind(client), createReq(businessId), { token });
    const quality = app.services.templates;
    expect((await quality.applyQuality(template!.id, "strike", "RED")).status).toBe(S.TEMPLATE_STATUS_PAUSED);
    await quality.applyQuality(template!.id, "unpause", "");
    expect((await quality.applyQuality(template!.id, "strike", "RED")).pauseCount).toBe(2);
    await quality.applyQuality(template!.id, "unpause", "");
    expect((await quality.applyQuality(template!.id, "strike", "RED")).status).toBe(S.TEMPLATE_STATUS_DISABLED);
    expect(moves(await statusEvents(template!.id)).slice(2)).toEqual([
      [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_PAUSED],
      [S.TEMPLATE_STATUS_PAUSED, S.TEMPLATE_STATUS_APPROVED],
      [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_PAUSED],
      [S.TEMPLATE_STATUS_PAUSED, S.TEMPLATE_STATUS_APPROVED],
      [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_DISABLED],
    ]);
    const err = await expectFailure(client.editTemplate.bind(client), { businessId, templateId: template!.id, components: [body("Hi there.")], category: 0, parameterFormat: 0 }, { token });
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    const kept = await expectFailure(client.deleteTemplate.bind(client), { businessId, name: template!.name, templateId: "" }, { token });
    expect([kept.code, errorDetail(kept)?.reason]).toEqual([status.FAILED_PRECONDITION, "TEMPLATE_DISABLED"]);
    expect((await unaryCall(client.getTemplate.bind(client), { businessId, templateId: template!.id }, { token })).template!.status).toBe(S.TEMPLATE_STATUS_DISABLED);
  });
});

describe("bad input", () => {
  it("when a component breaks a rule, then INVALID_ARGUMENT names the field and nothing is stored or published", async () => {
    const { businessId, token } = await business();
    await outboxDrained(app.runtime.database.pool);
    const before = await rowCounts(env.databaseUrl, "messaging");
    const eventsBefore = (await streamMessages(env, "messaging", subjects.templateStatus)).length;
    const cases: [Partial<CreateTemplateRequest>, string][] = [
      [{ components: [body("Hi {{1}}.", ["Ana"]), comp({ type: T.TEMPLATE_COMPONENT_TYPE_FOOTER, text: "f".repeat(61) })] }, "components[1].text"],
      [{ components: [body("Hi {{1}}, order {{2}} and {{3}}.", ["Ana", "7", ""])] }, "components[0].example.body_text[0][2]"],
      [{ components: [body("Hi {{1}}, order {{3}}.", ["Ana", "7"])] }, "components[0].text"],
      [{ components: [body("{{1}} is here.", ["Ana"])] }, "components[0].text"],
      [{ name: "Order-Update" }, "name"],
      [{ language: "en-US" }, "language"],
      [{ category: C.TEMPLATE_CATEGORY_UNSPECIFIED }, "category"],
      [{ components: [] }, "components"],
    ];
    for (const [over, field] of cases) {
      const err = await expectFailure(client.createTemplate.bind(client), createReq(businessId, over), { token });
      expect([err.code, errorDetail(err)?.field], JSON.stringify(over)).toEqual([status.INVALID_ARGUMENT, field]);
    }
    const bad = await expectFailure(client.getTemplate.bind(client), { businessId, templateId: "not-a-uuid" }, { token });
    expect([bad.code, errorDetail(bad)?.field]).toEqual([status.INVALID_ARGUMENT, "template_id"]);
    expect(await rowCounts(env.databaseUrl, "messaging")).toEqual(before);
    expect((await streamMessages(env, "messaging", subjects.templateStatus)).length).toBe(eventsBefore);
  });
});

describe("TemplateService at the boundary", () => {
  it("when every principal kind, staff role and service calls every RPC, then only the callers on the RPC's list get past the allow-list", async () => {
    expect(await allowListViolations(env, TemplateServiceService, templateAccess, `127.0.0.1:${port}`)).toEqual([]);
  });

  for (const [name, method] of Object.entries(TemplateServiceService)) {
    it(`${method.path}: U+0000, over-long strings and over-long lists in any field are INVALID_ARGUMENT naming the field, and nothing changes`, async () => {
      const token = name === "reviewTemplate" ? reviewer : await env.token({ kind: "business", businessId: "biz_tpl_home" });
      const before = await rowCounts(env.databaseUrl, "messaging");
      await assertHostileRefused({ address: `127.0.0.1:${port}`, method, token, bounds, numRuns: 10 });
      expect(await rowCounts(env.databaseUrl, "messaging")).toEqual(before);
    });
  }
});

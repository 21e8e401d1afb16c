import { afterAll, beforeAll } from "vitest";
import type { QueryResult } from "pg";
import type { Content, TemplateComponent } from "@kontor/proto/messaging/v1/message";
import type { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { TemplateCategory, TemplateComponentType, TemplateHeaderFormat, TemplateParameterFormat } from "@kontor/proto/messaging/v1/template";
import { TemplateServiceClient } from "@kontor/proto/messaging/v1/template_service";
import { BusinessToolsServiceClient, type CreateBroadcastRequest } from "@kontor/proto/messaging/v1/tools_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { customer, e164, number, registerBusiness, registerCustomer, sendReq, startWithBusiness, text, uid } from "./factories.js";

/*
 * What the business tools' integration tests share: the service against
 * PostgreSQL and NATS with the policy on, its clients and tokens, and the
 * businesses, customers, templates and broadcasts the tests make.
 */

/** A business with one number of its own, and its token. */
export interface TestBusiness {
  businessId: string;
  pn: string;
  /** The number's E.164. */
  phone: string;
  token: string;
}

export interface ToolsHarness {
  env: TestEnv;
  app: MessagingApp;
  port: number;
  messaging: MessagingServiceClient;
  tools: BusinessToolsServiceClient;
  /** The onboarding service's token (it registers customers). */
  onboarding: string;
  /** SQL on the service's database. */
  sql(text: string, values?: unknown[]): Promise<QueryResult>;
  /** A new business with one number (directory's event), known to the service. */
  business(prefix?: string): Promise<TestBusiness>;
  /** A registered customer and its token. */
  customer(name?: string, phone?: string): Promise<{ customerId: string; token: string }>;
  /** A customer who wrote `first` to the number (so the business may answer), and the conversation. */
  conversationWith(biz: { pn: string }, name?: string, phone?: string, first?: Content): Promise<{ customerId: string; token: string; conversationId: string }>;
}

/**
 * Starts the service for the test file (beforeAll; afterAll stops it and
 * drops its database and streams) with a home business `biz_<home>_home`;
 * the harness's fields are set once beforeAll ran.
 */
export function useToolsService(home: string, config: Record<string, string> = {}): ToolsHarness {
  const h = {
    sql: (q: string, values: unknown[] = []) => h.app.runtime.database.pool.query(q, values),
    async business(prefix = `biz_${home}`) {
      const businessId = uid(prefix);
      const pn = uid(`pn_${home}`);
      const phone = e164();
      await registerBusiness(h.env, h.app, businessId, pn, phone);
      return { businessId, pn, phone, token: await h.env.token({ kind: "business", businessId }) };
    },
    async customer(name = "Ana", phone?: string) {
      const customerId = uid(`cust_${home}`);
      await registerCustomer(h.messaging, h.onboarding, customerId, phone, name);
      return { customerId, token: await h.env.token({ kind: "customer", customerId }) };
    },
    async conversationWith(biz: { pn: string }, name = "Ana", phone?: string, first: Content = text("hello")) {
      const c = await h.customer(name, phone);
      const sent = await unaryCall(h.messaging.sendMessage.bind(h.messaging), sendReq(customer(c.customerId), number(biz.pn), first), { token: c.token });
      return { ...c, conversationId: sent.result!.conversationId };
    },
  } as ToolsHarness;

  beforeAll(async () => {
    h.env = await createTestEnv();
    const started = await startWithBusiness(h.env, `biz_${home}_home`, `pn_${home}_home`, config);
    h.app = started.app;
    h.port = started.port;
    h.messaging = started.client;
    h.tools = clientFor(BusinessToolsServiceClient, started.port);
    h.onboarding = await h.env.token({ kind: "service", service: "onboarding" });
  });

  afterAll(async () => {
    h.tools?.close();
    h.messaging?.close();
    await h.app?.stop();
    await h.env?.cleanup();
  });

  return h;
}

/** Body parameters of a template send, in order. */
export const bodyParams = (...values: string[]): TemplateComponent[] => [
  { type: "body", subType: "", index: 0, parameters: values.map((text) => ({ type: "text", parameterName: "", text, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" })) },
];

/** A template send's content: the template in en_US with these body parameters. */
export const templateContent = (name: string, ...params: string[]): Content => ({ kind: { $case: "template", value: { name, languageCode: "en_US", components: bodyParams(...params), rendered: undefined } } });

/** An APPROVED template of the business (two body parameters), approved by the automatic review: utility, or marketing. */
export async function approvedTemplate(port: number, biz: { businessId: string; token: string }, category = TemplateCategory.TEMPLATE_CATEGORY_UTILITY): Promise<string> {
  const templates = clientFor(TemplateServiceClient, port);
  const name = uid("tpl_t_");
  const none = TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_UNSPECIFIED;
  const example = { headerText: [], headerTextNamedParams: [], bodyText: [], bodyTextNamedParams: [], headerHandle: [] };
  try {
    await unaryCall(
      templates.createTemplate.bind(templates),
      {
        businessId: biz.businessId,
        name,
        language: "en_US",
        category,
        parameterFormat: TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED,
        components: [
          { type: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY, format: none, text: "Hi {{1}}, your order {{2}} has shipped.", example: { ...example, bodyText: [{ values: ["Ana", "A-1"] }] }, buttons: [] },
        ],
      },
      { token: biz.token },
    );
  } finally {
    templates.close();
  }
  return name;
}

/** CreateBroadcast of the template from the business's number with default parameters, a DRAFT with no recipients unless `over` says otherwise. */
export function broadcastReq(biz: { businessId: string; pn: string }, templateName: string, over: Partial<CreateBroadcastRequest> = {}): CreateBroadcastRequest {
  return { businessId: biz.businessId, phoneNumberId: biz.pn, templateName, templateLanguage: "en_US", components: bodyParams("there", "A-1"), recipients: [], labelId: "", start: false, optedInFollowers: false, sendAt: undefined, ...over };
}

/** Customer ids as broadcast recipients (no parameters of their own). */
export const toCustomers = (ids: readonly string[]) => ids.map((value) => ({ to: { $case: "customerId" as const, value }, components: [] }));

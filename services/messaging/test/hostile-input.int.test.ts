import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessagingServiceService, SendMessageStreamResponse, type MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { unaryCall } from "@kontor/testkit/grpc";
import { assertHostileRefused, refusedField, rowCounts, type RawOutcome } from "@kontor/testkit/hostile";
import type { MessagingApp } from "../src/app.js";
import { bounds } from "../src/rpc/bounds.js";
import { startWithBusiness, ROUTING_ONLY } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let address: string;
const biz = "biz_hostile";
const tokens: Record<"business" | "customer" | "gateway" | "operator", string> = { business: "", customer: "", gateway: "", operator: "" };

/** The principal each RPC is meant for; a method missing here fails the test, so a new one gets covered. */
const callers: Record<string, keyof typeof tokens> = {
  sendMessage: "business",
  sendMessageStream: "business",
  streamInbox: "business",
  reportReceipt: "business",
  sendTyping: "business",
  listConversations: "business",
  listMessages: "business",
  getMessage: "business",
  upsertCustomer: "customer",
  failMessage: "gateway",
  eraseBusinessKey: "operator",
  getConsent: "customer",
  setMarketingConsent: "customer",
  setPrivacySettings: "customer",
  exportCustomerData: "customer",
  setBusinessBlocked: "customer",
  reportBusiness: "customer",
  listBlockedBusinesses: "customer",
  blockUsers: "business",
  unblockUsers: "business",
  listBlockedUsers: "business",
  eraseCustomerData: "customer",
  getMessagingLimits: "business",
};

/**
 * The streaming send answers per item: the refusal is the first item's
 * result (the stream itself ends OK), naming the field as the unary
 * SendMessage would; here it is put back under `message.` to compare.
 */
function itemRefusal(outcome: RawOutcome): { code: number | undefined; field: string | undefined } {
  if (outcome.error) return refusedField(outcome.error);
  const results = SendMessageStreamResponse.decode(Buffer.concat(outcome.responses)).results;
  const outcomeOf = results[0]?.outcome;
  if (outcomeOf?.$case !== "error") return { code: undefined, field: undefined };
  const field = outcomeOf.value.detail?.field;
  return { code: outcomeOf.value.code, field: field === undefined || field === "ref" ? field : `message.${field}` };
}

beforeAll(async () => {
  env = await createTestEnv();
  let port: number;
  ({ app, client, port, bizToken: tokens.business } = await startWithBusiness(env, biz, "pn_hostile", ROUTING_ONLY));
  address = `127.0.0.1:${port}`;
  tokens.customer = await env.token({ kind: "customer", customerId: "cust_hostile" });
  tokens.gateway = await env.token({ kind: "service", service: "gateway" });
  tokens.operator = await env.token({ kind: "staff", staffId: "op_1", roles: ["operator"] });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("hostile input", () => {
  for (const [name, method] of Object.entries(MessagingServiceService)) {
    it(`${method.path}: U+0000, over-long strings and over-long lists in any field are INVALID_ARGUMENT naming the field, and nothing changes`, async () => {
      const caller = callers[name];
      expect(caller, `no caller for ${name}`).toBeDefined();
      const participant = { kind: { $case: "phoneNumberId" as const, value: "pn_hostile" } };
      const before = await rowCounts(env.databaseUrl, "messaging");
      const listed = await unaryCall(client.listConversations.bind(client), { participant, page: undefined, filter: undefined }, { token: tokens.business });
      await assertHostileRefused({ address, method, token: tokens[caller!], bounds, numRuns: 10, refusal: name === "sendMessageStream" ? itemRefusal : undefined });
      expect(await rowCounts(env.databaseUrl, "messaging")).toEqual(before);
      expect(await unaryCall(client.listConversations.bind(client), { participant, page: undefined, filter: undefined }, { token: tokens.business })).toEqual(listed);
    });
  }
});

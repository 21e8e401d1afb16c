import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryServiceClient, DirectoryServiceService } from "@kontor/proto/directory/v1/directory_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { assertHostileRefused, rowCounts } from "@kontor/testkit/hostile";
import { loadConfig } from "../src/config.js";
import { createDirectory, type DirectoryApp } from "../src/app.js";
import { bounds } from "../src/rpc/bounds.js";
import { buildRegister } from "./factories.js";

let env: TestEnv;
let app: DirectoryApp;
let address: string;
let client: DirectoryServiceClient;
let businessId: string;
const tokens: Record<"partner" | "business" | "customer" | "reviewer", string> = { partner: "", business: "", customer: "", reviewer: "" };

/** The principal each RPC is meant for; a method missing here fails the test, so a new one gets covered. */
const callers: Record<string, keyof typeof tokens> = {
  registerBusiness: "partner",
  getBusiness: "customer",
  updateBusiness: "business",
  lookupBusiness: "customer",
  listCategories: "customer",
  requestVerification: "business",
  listVerificationCases: "reviewer",
  decideVerification: "reviewer",
  revokeVerification: "reviewer",
  searchBusinesses: "customer",
  suggestBusinesses: "customer",
  followBusiness: "customer",
  unfollowBusiness: "customer",
  listFollowers: "business",
  listFollowedBusinesses: "customer",
  createChatLink: "business",
  listChatLinks: "business",
  deleteChatLink: "business",
  resolveChatLink: "customer",
  getChatLinkQrCode: "business",
  isOpen: "customer",
};

beforeAll(async () => {
  env = await createTestEnv();
  app = await createDirectory(loadConfig(env.env()));
  const { port } = await app.start();
  address = `127.0.0.1:${port}`;
  client = clientFor(DirectoryServiceClient, port);
  tokens.partner = await env.token({ kind: "partner", partnerId: "bsp_1", businessIds: [] });
  tokens.customer = await env.token({ kind: "customer", customerId: "cust_hostile" });
  tokens.reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["directory.reviewer"] });
  const { business } = await unaryCall(client.registerBusiness.bind(client), buildRegister(), { token: tokens.partner });
  businessId = business!.id;
  tokens.business = await env.token({ kind: "business", businessId });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("hostile input", () => {
  it("when an id or a code holds U+0000, then INVALID_ARGUMENT naming it, not INTERNAL from PostgreSQL's encoding check", async () => {
    const cases = [
      () => expectFailure(client.getBusiness.bind(client), { businessId: `${businessId}\u0000` }, { token: tokens.customer }),
      () => expectFailure(client.lookupBusiness.bind(client), { key: { $case: "handle", value: "a\u0000" } }, { token: tokens.customer }),
      () => expectFailure(client.isOpen.bind(client), { businessId: "\u0000", at: undefined }, { token: tokens.customer }),
      () => expectFailure(client.resolveChatLink.bind(client), { code: "ab\u0000" }, { token: tokens.customer }),
    ];
    const fields = ["business_id", "handle", "business_id", "code"];
    for (const [i, call] of cases.entries()) {
      const err = await call();
      expect({ code: err.code, field: errorDetail(err)?.field }).toEqual({ code: 3, field: fields[i] });
    }
  });

  for (const [name, method] of Object.entries(DirectoryServiceService)) {
    it(`${method.path}: U+0000, over-long strings and over-long lists in any field are INVALID_ARGUMENT naming the field, and nothing changes`, async () => {
      const caller = callers[name];
      expect(caller, `no caller for ${name}`).toBeDefined();
      const before = await rowCounts(env.databaseUrl, "directory");
      const read = await unaryCall(client.getBusiness.bind(client), { businessId }, { token: tokens.customer });
      await assertHostileRefused({ address, method, token: tokens[caller!], bounds, numRuns: 15 });
      expect(await rowCounts(env.databaseUrl, "directory")).toEqual(before);
      expect(await unaryCall(client.getBusiness.bind(client), { businessId }, { token: tokens.customer })).toEqual(read);
    });
  }
});

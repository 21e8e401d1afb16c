import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WhatsAppClient } from "@kapso/whatsapp-cloud-api";
import { DirectoryServiceClient } from "@kontor/proto/directory/v1/directory_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { SCOPES, newNumericId } from "../src/domain/partners.js";
import { issueToken, linkBusiness, upsertPartner } from "../src/store/partner-store.js";
import { createPartner, e164, expectGraphError, graph, startStack, uid, type Stack } from "./factories.js";

let env: TestEnv;
let stack: Stack;
let directory: DirectoryServiceClient;
let p: { token: string; phoneNumberId: string; businessId: string };

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { withDirectory: true });
  directory = clientFor(DirectoryServiceClient, stack.directoryPort);
  // A business as onboarding registers it in directory; its event reaches the gateway, and a partner manages it.
  const { business } = await unaryCall(
    directory.registerBusiness.bind(directory),
    {
      businessId: "",
      profile: {
        displayName: "Lucky Shrub",
        legalName: "",
        category: "retail.pottery",
        description: "Succulents and pots",
        about: "Succulent specialists!",
        address: { street: "1 Hacker Way", city: "Berlin", postalCode: "10115", region: "", location: undefined },
        country: "DE",
        languages: ["de"],
        hours: undefined,
        websites: ["https://shrub.example/"],
        email: "hi@shrub.example",
        profilePictureUrl: "",
        phoneNumbers: [{ phoneNumberId: "", e164: e164(), displayName: "" }],
        handle: "",
      },
    },
    { token: await env.token({ kind: "service", service: "onboarding" }) },
  );
  const businessId = business!.id;
  const phoneNumberId = business!.profile!.phoneNumbers[0]!.phoneNumberId;
  await waitFor(() => stack.gateway.db.selectFrom("business_number").select("phone_number_id").where("phone_number_id", "=", phoneNumberId).executeTakeFirst());
  const partnerId = uid("partner-");
  await upsertPartner(stack.gateway.db, { id: partnerId, name: "BSP", appSecret: "s", verifyToken: "v" });
  await linkBusiness(stack.gateway.db, partnerId, businessId, newNumericId());
  p = { token: await issueToken(stack.gateway.db, partnerId, [...SCOPES]), phoneNumberId, businessId };
});

afterAll(async () => {
  directory?.close();
  await stack?.stop();
  await env?.cleanup();
});

describe("/{phone-number-id}/whatsapp_business_profile", () => {
  it("when the profile is read, then it is directory's, in the Cloud API's shape; fields= selects", async () => {
    const r = await graph(stack.base, "GET", `/v23.0/${p.phoneNumberId}/whatsapp_business_profile`, { token: p.token });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({
      data: [
        {
          about: "Succulent specialists!",
          address: "1 Hacker Way, 10115 Berlin",
          description: "Succulents and pots",
          email: "hi@shrub.example",
          profile_picture_url: "",
          websites: ["https://shrub.example/"],
          vertical: "RETAIL",
          messaging_product: "whatsapp",
        },
      ],
    });
    const some = await graph(stack.base, "GET", `/v23.0/${p.phoneNumberId}/whatsapp_business_profile?fields=about,email`, { token: p.token });
    expect(some.body).toEqual({ data: [{ about: "Succulent specialists!", email: "hi@shrub.example", messaging_product: "whatsapp" }] });
  });

  it("when the profile is updated, then directory holds the new values and only those changed", async () => {
    const r = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/whatsapp_business_profile`, {
      token: p.token,
      json: { messaging_product: "whatsapp", about: "Cacti too 🌵", websites: ["https://shrub.example/", "https://cacti.example/"], vertical: "RETAIL" },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ success: true });
    const { business } = await unaryCall(directory.getBusiness.bind(directory), { businessId: p.businessId }, { token: await env.token({ kind: "service", service: "onboarding" }) });
    expect(business!.profile).toMatchObject({ about: "Cacti too 🌵", websites: ["https://shrub.example/", "https://cacti.example/"], description: "Succulents and pots", email: "hi@shrub.example", displayName: "Lucky Shrub" });
  });

  it("when the update is bad or names another partner's number, then a Graph error names the parameter", async () => {
    const post = (json: unknown, token = p.token) => graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/whatsapp_business_profile`, { token, json });
    expectGraphError(await post({ about: "x" }), 131008, 400);
    expect(expectGraphError(await post({ messaging_product: "whatsapp", about: "" }), 100, 400).error_data.details).toMatch(/about/);
    expect(expectGraphError(await post({ messaging_product: "whatsapp", about: "x".repeat(140) }), 100, 400).error_data.details).toMatch(/about/);
    expect(expectGraphError(await post({ messaging_product: "whatsapp", email: "not-an-email" }), 100, 400).error_data.details).toMatch(/email/);
    expect(expectGraphError(await post({ messaging_product: "whatsapp", websites: ["a", "b", "c"] }), 100, 400).error_data.details).toMatch(/websites/);
    expect(expectGraphError(await post({ messaging_product: "whatsapp", vertical: "HOTEL" }), 100, 400).error_data.details).toMatch(/vertical/);
    expect(expectGraphError(await post({ messaging_product: "whatsapp", colour: "red" }), 100, 400).error_data.details).toMatch(/colour/);
    const other = await createPartner(env, stack);
    expectGraphError(await post({ messaging_product: "whatsapp", about: "mine now" }, other.token), 100, 400);
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${p.phoneNumberId}/whatsapp_business_profile`, { token: other.token }), 100, 400);
  });

  it("when a published SDK (@kapso/whatsapp-cloud-api) reads and updates the profile by base URL only, then each call succeeds with its own parsing", async () => {
    const sdk = new WhatsAppClient({ baseUrl: stack.base, accessToken: p.token, graphVersion: "v23.0" });
    const updated = await sdk.phoneNumbers.businessProfile.update({ phoneNumberId: p.phoneNumberId, description: "Pots, cacti and succulents", email: "shop@shrub.example" });
    expect(updated).toMatchObject({ success: true });
    const read = (await sdk.phoneNumbers.businessProfile.get({ phoneNumberId: p.phoneNumberId, fields: "description,email" })) as { data: Record<string, unknown>[] };
    expect(read.data[0]).toMatchObject({ description: "Pots, cacti and succulents", email: "shop@shrub.example" });
  });
});

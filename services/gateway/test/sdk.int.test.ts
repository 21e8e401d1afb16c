import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphApiError, WhatsAppClient } from "@kapso/whatsapp-cloud-api";
import { normalizeWebhook, verifySignature } from "@kapso/whatsapp-cloud-api/server";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { unaryCall } from "@kontor/testkit/grpc";
import { signatures, webhookBytes } from "../src/domain/webhook-payload.js";
import { createPartner, registerCustomer, startStack, type PartnerFixture, type Stack } from "./factories.js";

/** A published Cloud API client (npm @kapso/whatsapp-cloud-api) pointed at the gateway by its base URL only. */
let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let sdk: WhatsAppClient;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  p = await createPartner(env, stack);
  sdk = new WhatsAppClient({ baseUrl: stack.base, accessToken: p.token, graphVersion: "v23.0" });
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

describe("@kapso/whatsapp-cloud-api against the gateway", () => {
  it("when it creates and lists templates, sends one, replies in the window and marks read, then each call succeeds with the SDK's own parsing", async () => {
    const created = await sdk.templates.create({
      businessAccountId: p.wabaId,
      name: "sdk_receipt",
      language: "en_US",
      category: "UTILITY",
      components: [{ type: "BODY", text: "Receipt {{1}} is ready.", example: { body_text: [["R-1"]] } }],
    });
    expect(created).toMatchObject({ id: expect.any(String), status: "APPROVED", category: "UTILITY" });
    const listed = await sdk.templates.list({ businessAccountId: p.wabaId, limit: 10 });
    expect(listed.data.map((t) => t.name)).toContain("sdk_receipt");

    const { customerId, number } = await registerCustomer(stack);
    const tpl = await sdk.messages.sendTemplate({ phoneNumberId: p.phoneNumberId, to: number, template: { name: "sdk_receipt", language: { code: "en_US" }, components: [{ type: "body", parameters: [{ type: "text", text: "R-9" }] }] } });
    expect(tpl.messages[0]?.id).toMatch(/^wamid\./);
    expect(tpl.contacts?.[0]?.waId ?? (tpl.contacts?.[0] as { wa_id?: string } | undefined)?.wa_id).toBe(number.slice(1));

    // The customer answers: the service window opens and a free-form reply goes through.
    const c = stack.messagingClient;
    const { result } = await unaryCall(
      c.sendMessage.bind(c),
      { sender: { kind: { $case: "customerId", value: customerId } }, recipient: { kind: { $case: "phoneNumberId", value: p.phoneNumberId } }, to: "", clientMessageId: "", content: { kind: { $case: "text", value: { body: "thanks!", previewUrl: false } } }, context: undefined, bizOpaqueCallbackData: "", referral: undefined },
      { token: await env.token({ kind: "customer", customerId }) },
    );
    const read = await sdk.messages.markRead({ phoneNumberId: p.phoneNumberId, messageId: result!.messageId, typingIndicator: { type: "text" } });
    expect(read.success).toBe(true);
    const reply = await sdk.messages.sendText({ phoneNumberId: p.phoneNumberId, to: number, body: "You're welcome" });
    expect(reply.messages[0]?.id).toMatch(/^wamid\./);
    // Interactive buttons, as a reply to the customer's message (context).
    const buttons = await sdk.messages.sendInteractiveButtons({
      phoneNumberId: p.phoneNumberId,
      to: number,
      contextMessageId: result!.messageId,
      bodyText: "Rate us",
      footerText: "Kontor Pottery",
      buttons: [
        { id: "good", title: "Good" },
        { id: "bad", title: "Bad" },
      ],
    });
    expect(buttons.messages[0]?.id).toMatch(/^wamid\./);
  });

  it("when a send is refused, then the SDK raises its GraphApiError with the Cloud API code", async () => {
    const { number } = await registerCustomer(stack);
    const err = await sdk.messages.sendText({ phoneNumberId: p.phoneNumberId, to: number, body: "cold" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphApiError);
    expect((err as GraphApiError).code).toBe(131047);
    expect((err as GraphApiError).httpStatus).toBe(400);
    const bad = await new WhatsAppClient({ baseUrl: stack.base, accessToken: "nope", graphVersion: "v23.0" }).messages.sendText({ phoneNumberId: p.phoneNumberId, to: number, body: "x" }).catch((e: unknown) => e);
    expect((bad as GraphApiError).isAuthError()).toBe(true);
  });

  it("when the SDK's webhook helpers read a gateway notification, then the signature verifies and the message normalizes", () => {
    const body = webhookBytes({
      object: "whatsapp_business_account",
      entry: [{ id: p.wabaId, changes: [{ field: "messages", value: { messaging_product: "whatsapp", metadata: { display_phone_number: "15550100000", phone_number_id: p.phoneNumberId }, contacts: [{ wa_id: "4915112345678" }], messages: [{ from: "4915112345678", id: "wamid.X", timestamp: "1750000000", type: "text", text: { body: "Grüße 😀" } }] } }] }],
    });
    expect(verifySignature({ appSecret: p.appSecret, rawBody: body, signatureHeader: signatures(body, p.appSecret).sha256 })).toBe(true);
    expect(verifySignature({ appSecret: "other", rawBody: body, signatureHeader: signatures(body, p.appSecret).sha256 })).toBe(false);
    const normalized = normalizeWebhook(JSON.parse(body));
    expect(JSON.stringify(normalized)).toContain("Grüße 😀");
  });
});

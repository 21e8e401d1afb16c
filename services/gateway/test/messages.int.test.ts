import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListConversationsRequest, ListMessagesRequest, MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { unaryCall } from "@kontor/testkit/grpc";
import { createPartner, expectGraphError, graph, registerCustomer, startStack, type PartnerFixture, type Stack, uploadMedia } from "./factories.js";

let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let other: PartnerFixture;

beforeAll(async () => {
  env = await createTestEnv();
  // Routing only: the policy rules are exercised by errors.int.test.ts.
  stack = await startStack(env, { messaging: { MESSAGING_POLICY: "off" } });
  p = await createPartner(env, stack);
  other = await createPartner(env, stack);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

async function lastMessageTo(customerId: string) {
  const token = await env.token({ kind: "customer", customerId });
  const c: MessagingServiceClient = stack.messagingClient;
  const { conversations } = await unaryCall(c.listConversations.bind(c), ListConversationsRequest.fromPartial({ participant: { kind: { $case: "customerId", value: customerId } } }), { token });
  const conv = conversations[0]!;
  const { messages } = await unaryCall(c.listMessages.bind(c), ListMessagesRequest.fromPartial({ participant: { kind: { $case: "customerId", value: customerId } }, conversationId: conv.id, newestFirst: true }), { token });
  return messages[0]!;
}

describe("POST /{phone-number-id}/messages", () => {
  it("when a text is sent with a versioned path, then the answer is the Cloud API's success shape and the customer gets the text", async () => {
    const { customerId, number } = await registerCustomer(stack);
    const pretty = `${number.slice(0, 3)} ${number.slice(3, 7)}-${number.slice(7)}`;
    const r = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, {
      token: p.token,
      json: { messaging_product: "whatsapp", recipient_type: "individual", to: pretty, type: "text", text: { body: "See https://example.com", preview_url: true } },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.contentType).toMatch(/^application\/json/);
    expect(Object.keys(r.body).sort()).toEqual(["contacts", "messages", "messaging_product"]);
    expect(r.body.messaging_product).toBe("whatsapp");
    expect(r.body.contacts).toEqual([{ input: pretty, wa_id: number.slice(1) }]);
    expect(r.body.messages).toHaveLength(1);
    expect(r.body.messages[0].id).toMatch(/^wamid\./);
    expect(Object.keys(r.body.messages[0])).toEqual(["id"]);
    const m = await lastMessageTo(customerId);
    expect(m.id).toBe(r.body.messages[0].id);
    expect(m.content?.kind).toEqual({ $case: "text", value: { body: "See https://example.com", previewUrl: true } });
  });

  it("when the path is unversioned, the token is ?access_token= and the body is form-encoded, then it is the same send", async () => {
    const { customerId, number } = await registerCustomer(stack);
    const r = await graph(stack.base, "POST", `/${p.phoneNumberId}/messages?access_token=${encodeURIComponent(p.token)}`, {
      form: { messaging_product: "whatsapp", to: number, type: "text", text: JSON.stringify({ body: "form hello" }) },
    });
    expect(r.status, r.text).toBe(200);
    expect((await lastMessageTo(customerId)).content?.kind).toEqual({ $case: "text", value: { body: "form hello", previewUrl: false } });
  });

  it("when a number has no country code, then the business number's is prepended", async () => {
    const national = p.businessE164.slice(3, 13); // +49 + 10 digits
    const { number } = await registerCustomer(stack, undefined, `+49${national}`);
    const r = await graph(stack.base, "POST", `/v24.0/${p.phoneNumberId}/messages`, { token: p.token, json: { messaging_product: "whatsapp", to: national, type: "text", text: { body: "hi" } } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.contacts).toEqual([{ input: national, wa_id: number.slice(1) }]);
  });

  it("when media, location, contacts, a reply context, a reaction and each interactive kind are sent, then messaging stores each as its kind", async () => {
    const { customerId, number } = await registerCustomer(stack);
    const send = async (body: Record<string, unknown>) => {
      const r = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { token: p.token, json: { messaging_product: "whatsapp", to: number, ...body } });
      expect(r.status, r.text).toBe(200);
      return { id: r.body.messages[0].id as string, stored: await lastMessageTo(customerId) };
    };
    const image = await send({ type: "image", image: { link: "https://example.com/a.jpg", caption: "a pot" } });
    expect(image.stored.content?.kind).toMatchObject({ $case: "media", value: { kind: 1, source: { $case: "link", value: "https://example.com/a.jpg" }, caption: "a pot" } });
    const mediaId = await uploadMedia(stack.base, p.token, p.phoneNumberId, Buffer.from("%PDF-1.4 invoice"), "application/pdf", "upload.pdf");
    const doc = await send({ type: "document", document: { id: mediaId, filename: "invoice.pdf" }, context: { message_id: image.id } });
    expect(doc.stored.content?.kind).toMatchObject({ $case: "media", value: { kind: 4, source: { $case: "mediaId", value: mediaId }, filename: "invoice.pdf", mimeType: "application/pdf" } });
    expect(doc.stored.context?.messageId).toBe(image.id);
    const loc = await send({ type: "location", location: { latitude: "37.4421", longitude: -122.1615, name: "Philz", address: "101 Forest Ave" } });
    expect(loc.stored.content?.kind).toEqual({ $case: "location", value: { latitude: 37.4421, longitude: -122.1615, name: "Philz", address: "101 Forest Ave" } });
    const contacts = await send({ type: "contacts", contacts: [{ name: { formatted_name: "Jane Doe", first_name: "Jane" }, phones: [{ phone: "+1 650-555-1234", wa_id: "16505551234", type: "CELL" }] }] });
    expect(contacts.stored.content?.kind?.$case).toBe("contacts");
    const reaction = await send({ type: "reaction", reaction: { message_id: image.id, emoji: "😀" } });
    expect(reaction.stored.content?.kind).toEqual({ $case: "reaction", value: { messageId: image.id, emoji: "😀" } });
    const buttons = await send({
      type: "interactive",
      interactive: { type: "button", body: { text: "Pick" }, action: { buttons: [{ type: "reply", reply: { id: "a", title: "A" } }, { type: "reply", reply: { id: "b", title: "B" } }] } },
    });
    expect(buttons.stored.content?.kind).toMatchObject({ $case: "interactive", value: { body: "Pick", action: { $case: "buttons", value: { buttons: [{ id: "a", title: "A" }, { id: "b", title: "B" }] } } } });
    const list = await send({
      type: "interactive",
      interactive: { type: "list", header: { type: "text", text: "Menu" }, body: { text: "Choose" }, footer: { text: "f" }, action: { button: "Options", sections: [{ title: "S", rows: [{ id: "r1", title: "Row", description: "d" }] }] } },
    });
    expect(list.stored.content?.kind).toMatchObject({ $case: "interactive", value: { header: { kind: { $case: "text", value: "Menu" } }, footer: "f", action: { $case: "list" } } });
    const cta = await send({ type: "interactive", interactive: { type: "cta_url", body: { text: "Go" }, action: { name: "cta_url", parameters: { display_text: "See dates", url: "https://example.com" } } } });
    expect(cta.stored.content?.kind).toMatchObject({ $case: "interactive", value: { action: { $case: "ctaUrl", value: { displayText: "See dates", url: "https://example.com" } } } });
    const product = await send({ type: "interactive", interactive: { type: "product", body: { text: "This one" }, action: { catalog_id: "367025965434465", product_retailer_id: "SKU1" } } });
    expect(product.stored.content?.kind).toMatchObject({ $case: "interactive", value: { action: { $case: "product", value: { catalogId: "367025965434465", productRetailerId: "SKU1" } } } });
    const productList = await send({
      type: "interactive",
      interactive: { type: "product_list", header: { type: "text", text: "Pots" }, body: { text: "All" }, action: { catalog_id: "367025965434465", sections: [{ title: "Mugs", product_items: [{ product_retailer_id: "SKU1" }, { product_retailer_id: "SKU2" }] }] } },
    });
    expect(productList.stored.content?.kind).toMatchObject({ $case: "interactive", value: { action: { $case: "productList", value: { sections: [{ title: "Mugs", productRetailerIds: ["SKU1", "SKU2"] }] } } } });
  });

  it("when the customer's message is marked read with a typing indicator, then it is READ in messaging and the answer is {success:true}", async () => {
    const { customerId, number } = await registerCustomer(stack);
    const customerToken = await env.token({ kind: "customer", customerId });
    const c = stack.messagingClient;
    const { result } = await unaryCall(
      c.sendMessage.bind(c),
      { sender: { kind: { $case: "customerId", value: customerId } }, recipient: { kind: { $case: "phoneNumberId", value: p.phoneNumberId } }, to: "", clientMessageId: "", content: { kind: { $case: "text", value: { body: "hello shop", previewUrl: false } } }, context: undefined, bizOpaqueCallbackData: "", referral: undefined },
      { token: customerToken },
    );
    const r = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, {
      token: p.token,
      json: { messaging_product: "whatsapp", status: "read", message_id: result!.messageId, typing_indicator: { type: "text" } },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ success: true });
    const { message } = await unaryCall(c.getMessage.bind(c), { participant: { kind: { $case: "customerId", value: customerId } }, messageId: result!.messageId }, { token: customerToken });
    expect(message?.status).toBe(4);
    void number;
  });

  it("when a partner names another partner's phone-number id, then it gets the same Graph error as for an id that does not exist", async () => {
    const { number } = await registerCustomer(stack);
    const theirs = await graph(stack.base, "POST", `/v23.0/${other.phoneNumberId}/messages`, { token: p.token, json: { messaging_product: "whatsapp", to: number, type: "text", text: { body: "x" } } });
    const e = expectGraphError(theirs, 100, 400);
    expect(e.error_subcode).toBe(33);
    expect(e.type).toBe("GraphMethodException");
    const missing = await graph(stack.base, "POST", `/v23.0/199999999999999/messages`, { token: p.token, json: { messaging_product: "whatsapp", to: number, type: "text", text: { body: "x" } } });
    expectGraphError(missing, 100, 400);
    expect(missing.body.error.error_data.details).toBe(e.error_data.details.replace(other.phoneNumberId, "199999999999999"));
  });
});

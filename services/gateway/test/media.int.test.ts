import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListConversationsRequest, ListMessagesRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { unaryCall } from "@kontor/testkit/grpc";
import { createPartner, expectGraphError, graph, registerCustomer, startStack, uploadMedia, type PartnerFixture, type Stack } from "./factories.js";

let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let other: PartnerFixture;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { messaging: { MESSAGING_POLICY: "off" } });
  p = await createPartner(env, stack);
  other = await createPartner(env, stack);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(3000)]);

async function upload(form: FormData, query = "", token = p.token, phoneNumberId = p.phoneNumberId) {
  const res = await fetch(`${stack.base}/v23.0/${phoneNumberId}/media${query}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text, body: JSON.parse(text) as Record<string, any> };
}

function form(fields: Record<string, string>, file?: { bytes: Buffer; type: string; name: string; field?: string }): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  if (file) f.append(file.field ?? "file", new Blob([file.bytes], { type: file.type }), file.name);
  return f;
}

describe("media", () => {
  it("when an image is uploaded, then GET /{media-id} describes it and its short-lived URL serves the exact bytes", async () => {
    const id = await uploadMedia(stack.base, p.token, p.phoneNumberId, jpeg, "image/jpeg", "pot.jpg");
    expect(id).toMatch(/^\d{15,17}$/);
    const node = await graph(stack.base, "GET", `/v23.0/${id}`, { token: p.token });
    expect(node.status, node.text).toBe(200);
    expect(node.body).toEqual({ messaging_product: "whatsapp", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/media_download\//), mime_type: "image/jpeg", sha256: createHash("sha256").update(jpeg).digest("hex"), file_size: String(jpeg.length), id });
    // Clients send their bearer token along, as for Graph's URLs.
    const bytes = await fetch(node.body.url, { headers: { authorization: `Bearer ${p.token}` } });
    expect(bytes.status).toBe(200);
    expect(bytes.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await bytes.arrayBuffer()).equals(jpeg)).toBe(true);
    const tampered = await fetch(node.body.url.replace(/signature=./, "signature=A"));
    expect(tampered.status).toBe(404);
    expect(await fetch(node.body.url.replace(/expires=\d+/, "expires=4102444800"))).toMatchObject({ status: 404 });
    // phone_number_id, when given, must be the uploading number.
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${id}?phone_number_id=${other.phoneNumberId}`, { token: p.token }), 100, 400);
    expect((await graph(stack.base, "GET", `/v23.0/${id}?phone_number_id=${p.phoneNumberId}`, { token: p.token })).status).toBe(200);
  });

  it("when another partner asks for, downloads or deletes the media, then it is an unknown object", async () => {
    const id = await uploadMedia(stack.base, p.token, p.phoneNumberId, jpeg, "image/jpeg", "pot.jpg");
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${id}`, { token: other.token }), 100, 400);
    expectGraphError(await graph(stack.base, "DELETE", `/v23.0/${id}`, { token: other.token }), 100, 400);
    expect((await graph(stack.base, "GET", `/v23.0/${id}`, { token: p.token })).status).toBe(200);
  });

  it("when the upload is of the wrong type, too large, incomplete or not multipart, then a Graph error naming the problem and nothing is stored", async () => {
    expectGraphError(await upload(form({ messaging_product: "whatsapp" }, { bytes: Buffer.from("GIF89a"), type: "image/gif", name: "a.gif" })), 131053, 400);
    const big = Buffer.alloc(5 * 1024 * 1024 + 1, 1);
    const tooBig = await upload(form({ messaging_product: "whatsapp", type: "image/png" }, { bytes: big, type: "image/png", name: "big.png" }));
    expect(expectGraphError(tooBig, 131053, 400).error_data.details).toMatch(/larger than 5242880/);
    expect(expectGraphError(await upload(form({}, { bytes: jpeg, type: "image/jpeg", name: "a.jpg" })), 131008, 400).message).toMatch(/131008/);
    expect(expectGraphError(await upload(form({ messaging_product: "whatsapp", colour: "red" }, { bytes: jpeg, type: "image/jpeg", name: "a.jpg" })), 100, 400).error_data.details).toMatch(/colour/);
    expect(expectGraphError(await upload(form({ messaging_product: "whatsapp" })), 131008, 400).error_data.details).toMatch(/file/);
    const json = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/media`, { token: p.token, json: { messaging_product: "whatsapp" } });
    expect(expectGraphError(json, 100, 400).error_data.details).toMatch(/file/);
    // The type may come in the query, as some SDKs send it.
    const viaQuery = await upload(form({ messaging_product: "whatsapp" }, { bytes: jpeg, type: "application/octet-stream", name: "a.jpg" }), "?type=image/jpeg");
    expect(viaQuery.status, viaQuery.text).toBe(200);
    const rows = await stack.gateway.db.selectFrom("media").select(["id", "mime_type"]).where("business_id", "=", p.businessId).execute();
    expect(rows.every((r) => r.mime_type === "image/jpeg")).toBe(true);
  });

  it("when a send names an uploaded media id, then messaging gets its type and hash; a foreign, unknown or mismatched id is refused", async () => {
    const { customerId, number } = await registerCustomer(stack);
    const id = await uploadMedia(stack.base, p.token, p.phoneNumberId, jpeg, "image/jpeg", "pot.jpg");
    const send = (body: Record<string, unknown>, f = p) => graph(stack.base, "POST", `/v23.0/${f.phoneNumberId}/messages`, { token: f.token, json: { messaging_product: "whatsapp", to: number, ...body } });
    const r = await send({ type: "image", image: { id, caption: "a pot" } });
    expect(r.status, r.text).toBe(200);
    const token = await env.token({ kind: "customer", customerId });
    const c = stack.messagingClient;
    const { conversations } = await unaryCall(c.listConversations.bind(c), ListConversationsRequest.fromPartial({ participant: { kind: { $case: "customerId", value: customerId } } }), { token });
    const { messages } = await unaryCall(c.listMessages.bind(c), ListMessagesRequest.fromPartial({ participant: { kind: { $case: "customerId", value: customerId } }, conversationId: conversations[0]!.id, newestFirst: true }), { token });
    expect(messages[0]!.content?.kind).toMatchObject({ $case: "media", value: { source: { $case: "mediaId", value: id }, mimeType: "image/jpeg", sha256: createHash("sha256").update(jpeg).digest("hex"), caption: "a pot" } });
    expect(expectGraphError(await send({ type: "image", image: { id: "1999999999999999" } }), 100, 400).error_data.details).toMatch(/image\.id/);
    expectGraphError(await send({ type: "video", video: { id } }), 131053, 400);
    expect(expectGraphError(await send({ type: "image", image: { id } }, other), 100, 400).error_data.details).toMatch(/image\.id/);
  });

  it("when media is used in an interactive header or a template parameter, then ids and links are checked as for a media message, naming the parameter", async () => {
    const { customerId, number } = await registerCustomer(stack);
    const id = await uploadMedia(stack.base, p.token, p.phoneNumberId, jpeg, "image/jpeg", "pot.jpg");
    const send = (body: Record<string, unknown>, f = p) => graph(stack.base, "POST", `/v23.0/${f.phoneNumberId}/messages`, { token: f.token, json: { messaging_product: "whatsapp", to: number, ...body } });
    const interactive = (header: Record<string, unknown>) => ({
      type: "interactive",
      interactive: { type: "button", header, body: { text: "Pick" }, action: { buttons: [{ type: "reply", reply: { id: "a", title: "A" } }] } },
    });
    const template = (parameter: Record<string, unknown>) => ({
      type: "template",
      template: { name: "order_update", language: { code: "en" }, components: [{ type: "header", parameters: [parameter] }] },
    });

    // The business's own upload in an interactive header: messaging gets its type and hash.
    const r = await send(interactive({ type: "image", image: { id } }));
    expect(r.status, r.text).toBe(200);
    const token = await env.token({ kind: "customer", customerId });
    const c = stack.messagingClient;
    const { conversations } = await unaryCall(c.listConversations.bind(c), ListConversationsRequest.fromPartial({ participant: { kind: { $case: "customerId", value: customerId } } }), { token });
    const { messages } = await unaryCall(c.listMessages.bind(c), ListMessagesRequest.fromPartial({ participant: { kind: { $case: "customerId", value: customerId } }, conversationId: conversations[0]!.id, newestFirst: true }), { token });
    const kind = messages[0]!.content?.kind;
    expect(kind?.$case).toBe("interactive");
    expect(kind?.$case === "interactive" && kind.value.header?.kind).toMatchObject({ $case: "media", value: { source: { $case: "mediaId", value: id }, mimeType: "image/jpeg", sha256: createHash("sha256").update(jpeg).digest("hex") } });

    // Unknown, another partner's, of the wrong type, both id and link, or a link that is not http(s): refused like a media message, naming the parameter.
    const refused = async (body: Record<string, unknown>, code: number, param: string, f = p) => {
      const e = expectGraphError(await send(body, f), code, 400);
      expect(`${e.message} ${e.error_data.details}`).toContain(param);
    };
    await refused(interactive({ type: "image", image: { id: "1999999999999999" } }), 100, "interactive.header.image.id");
    await refused(interactive({ type: "image", image: { id } }), 100, "interactive.header.image.id", other);
    await refused(interactive({ type: "video", video: { id } }), 131053, "interactive.header.video.id");
    await refused(interactive({ type: "document", document: { id, link: "https://x/y.pdf" } }), 100, "interactive.header.document");
    await refused(template({ type: "image", image: { id: "1999999999999999" } }), 100, "template.components[0].parameters[0].image.id");
    await refused(template({ type: "image", image: { id } }), 100, "template.components[0].parameters[0].image.id", other);
    await refused(template({ type: "video", video: { id } }), 131053, "template.components[0].parameters[0].video.id");
    await refused(template({ type: "image", image: { link: "ftp://x/y.jpg" } }), 100, "template.components[0].parameters[0].image.link");
  });

  it("when media is deleted, then it is gone for GET, download and sends", async () => {
    const id = await uploadMedia(stack.base, p.token, p.phoneNumberId, jpeg, "image/jpeg", "pot.jpg");
    const url = (await graph(stack.base, "GET", `/v23.0/${id}`, { token: p.token })).body.url as string;
    const del = await graph(stack.base, "DELETE", `/v23.0/${id}`, { token: p.token });
    expect(del.body).toEqual({ success: true });
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${id}`, { token: p.token }), 100, 400);
    expect((await fetch(url)).status).toBe(404);
    expectGraphError(await graph(stack.base, "DELETE", `/v23.0/${id}`, { token: p.token }), 100, 400);
  });
});

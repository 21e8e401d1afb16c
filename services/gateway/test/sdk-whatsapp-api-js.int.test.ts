import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WhatsAppAPI } from "whatsapp-api-js";
import { Image, Text } from "whatsapp-api-js/messages";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { unaryCall, waitFor } from "@kontor/testkit/grpc";
import { createPartner, graph, registerCustomer, startStack, type PartnerFixture, type Stack } from "./factories.js";

/**
 * A second published Cloud API client, npm whatsapp-api-js. It has no
 * base-URL option (graph.facebook.com is built in), so its fetch ponyfill
 * rewrites the host, as its docs suggest for proxies.
 */
let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let sdk: WhatsAppAPI;
let hooks: Server;
const received: { raw: string; signature: string }[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  // Each notification in its own POST: this SDK's webhook handler reads entry[0].changes[0] only.
  stack = await startStack(env, { messaging: { MESSAGING_POLICY: "off" }, gateway: { WEBHOOK_MAX_BATCH: "1" } });
  p = await createPartner(env, stack);
  const base = stack.base;
  sdk = new WhatsAppAPI({
    token: p.token,
    appSecret: p.appSecret,
    webhookVerifyToken: p.verifyToken,
    v: "v23.0",
    ponyfill: { fetch: (url: string | URL | Request, init?: RequestInit) => fetch(String(url).replace("https://graph.facebook.com", base), init) },
  });
  hooks = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET") {
      res.writeHead(200).end(url.searchParams.get("hub.challenge"));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ raw: Buffer.concat(chunks).toString("utf8"), signature: String(req.headers["x-hub-signature-256"] ?? "") });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, "127.0.0.1", r));
  const sub = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/subscribed_apps`, { token: p.token, json: { override_callback_uri: `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hook`, verify_token: p.verifyToken } });
  expect(sub.status, sub.text).toBe(200);
});

afterAll(async () => {
  hooks?.closeAllConnections();
  hooks?.close();
  await stack?.stop();
  await env?.cleanup();
});

describe("whatsapp-api-js against the gateway", () => {
  it("when it sends text, uploads, retrieves, sends and deletes media and marks a message read, then each call succeeds with the SDK's own parsing", async () => {
    const { customerId, number } = await registerCustomer(stack);
    const sent = await sdk.sendMessage(p.phoneNumberId, number, new Text("Grüße aus Kontor"));
    expect(sent).toMatchObject({ messaging_product: "whatsapp", contacts: [{ wa_id: number.slice(1) }], messages: [{ id: expect.any(String) }] });

    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(2048, 7)]);
    const form = new FormData();
    form.append("file", new Blob([bytes], { type: "image/jpeg" }), "pot.jpg");
    form.append("messaging_product", "whatsapp");
    form.append("type", "image/jpeg");
    // The SDK types answers as success | error unions; the assertions below check which it is.
    const uploaded = (await sdk.uploadMedia(p.phoneNumberId, form, false)) as { id: string };
    expect(uploaded.id).toMatch(/^\d+$/);
    const media = (await sdk.retrieveMedia(uploaded.id)) as { url: string };
    expect(media).toMatchObject({ messaging_product: "whatsapp", mime_type: "image/jpeg", sha256: createHash("sha256").update(bytes).digest("hex"), file_size: String(bytes.length), id: uploaded.id });
    const download = await sdk.fetchMedia(media.url);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
    const withImage = await sdk.sendMessage(p.phoneNumberId, number, new Image(uploaded.id, true, "a pot"));
    expect(withImage).toMatchObject({ messages: [{ id: expect.any(String) }] });
    expect(await sdk.deleteMedia(uploaded.id)).toMatchObject({ success: true });

    // The customer writes; the business marks it read.
    const c = stack.messagingClient;
    const { result } = await unaryCall(
      c.sendMessage.bind(c),
      { sender: { kind: { $case: "customerId", value: customerId } }, recipient: { kind: { $case: "phoneNumberId", value: p.phoneNumberId } }, to: "", clientMessageId: "", content: { kind: { $case: "text", value: { body: "¿llegó? ñ", previewUrl: false } } }, context: undefined, bizOpaqueCallbackData: "", referral: undefined },
      { token: await env.token({ kind: "customer", customerId }) },
    );
    expect(await sdk.markAsRead(p.phoneNumberId, result!.messageId)).toMatchObject({ success: true });

    // Its webhook helper verifies the gateway's signature over the exact (ASCII-escaped) bytes and parses the message.
    await waitFor(() => received.find((r) => r.raw.includes(result!.messageId)), 60_000);
    const hook = received.find((r) => r.raw.includes(result!.messageId))!;
    expect(hook.raw).toContain("\\u00f1");
    expect(await sdk.verifyRequestSignature(hook.raw, hook.signature)).toBe(true);
    expect(await sdk.verifyRequestSignature(hook.raw.replace("\\u00f1", "n"), hook.signature)).toBe(false);
    let seen: { id: string; text?: { body: string } } | undefined;
    sdk.on.message = ({ message }) => {
      seen = message as typeof seen;
    };
    await sdk.post(JSON.parse(hook.raw), hook.raw, hook.signature);
    expect(seen).toMatchObject({ id: result!.messageId, text: { body: "¿llegó? ñ" } });
  });
});

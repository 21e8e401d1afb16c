import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { MessagingServiceClient, MessagingServiceService, type SendMessageRequest, type SendMessageStreamRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { createTokenSigner, createTokenVerifier, generateSigningKeys } from "./auth.js";
import { createKitServer, type KitServer } from "./grpc-server.js";
import { errorDetail } from "./errors.js";
import { createLogger } from "./log.js";
import { createMetrics } from "./metrics.js";

// The kit server runs the input check (input.ts) on every request before its
// handler: unary and server-stream requests once, stream messages as each arrives.

let kit: KitServer;
let client: MessagingServiceClient;
let token: string;
let address: string;
const seen: string[] = [];
const text = (body: string): SendMessageRequest["content"] => ({ kind: { $case: "text", value: { body, previewUrl: false } } });
const bodyOf = (req: SendMessageRequest | undefined) => (req?.content?.kind?.$case === "text" ? req.content.kind.value.body : "");

beforeAll(async () => {
  const keys = await generateSigningKeys("input-test");
  token = await (await createTokenSigner(keys.privateJwk)).sign({ kind: "business", businessId: "b1" });
  kit = createKitServer({
    service: "input-test",
    access: { SendMessage: ["business"], SendMessageStream: ["business"] },
    log: createLogger("input-test", "silent"),
    metrics: createMetrics("input-test", { defaultMetrics: false }),
    verifier: createTokenVerifier(JSON.stringify([keys.publicJwk])),
    bounds: { "content.text.body": 10 },
  });
  const unimplemented = async () => {
    throw new Error("not in this test");
  };
  kit.addService(MessagingServiceService, {
    sendMessage: kit.unary("SendMessage", async (req: SendMessageRequest) => {
      seen.push(bodyOf(req));
      return { messageId: "m1", conversationId: "c1", seq: "1", status: 1, acceptedAt: undefined, duplicate: false };
    }),
    // The kit's own stream check (the default): the handler only ever sees clean messages.
    sendMessageStream: kit.duplex("SendMessageStream", (call) => {
      return new Promise<void>((resolve, reject) => {
        call.on("data", (req: SendMessageStreamRequest) => seen.push(bodyOf(req.message)));
        call.on("end", () => resolve());
        call.on("error", reject);
      });
    }),
    streamInbox: kit.serverStream("StreamInbox", unimplemented),
    reportReceipt: kit.unary("ReportReceipt", unimplemented),
    sendTyping: kit.unary("SendTyping", unimplemented),
    listConversations: kit.unary("ListConversations", unimplemented),
    listMessages: kit.unary("ListMessages", unimplemented),
    getMessage: kit.unary("GetMessage", unimplemented),
    upsertCustomer: kit.unary("UpsertCustomer", unimplemented),
    failMessage: kit.unary("FailMessage", unimplemented),
    eraseBusinessKey: kit.unary("EraseBusinessKey", unimplemented),
  });
  const port = await kit.listen("127.0.0.1", 0);
  address = `127.0.0.1:${port}`;
  client = new MessagingServiceClient(address, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await kit?.shutdown(1000);
});

function auth(): Metadata {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
}

const send = (req: Partial<SendMessageRequest>) =>
  new Promise<ServiceError | undefined>((resolve) => {
    client.sendMessage({ sender: undefined, recipient: undefined, to: "", clientMessageId: "", content: undefined, context: undefined, bizOpaqueCallbackData: "", referral: undefined, ...req }, auth(), (err) => resolve(err ?? undefined));
  });

describe("kit server input check", () => {
  it("when a unary request holds U+0000 or breaks the service's bound, then INVALID_ARGUMENT naming the field and the handler never runs", async () => {
    seen.length = 0;
    const nul = await send({ content: text("a\u0000b") });
    expect({ code: nul?.code, field: nul && errorDetail(nul)?.field }).toEqual({ code: status.INVALID_ARGUMENT, field: "content.text.body" });
    const long = await send({ content: text("x".repeat(11)) });
    expect(long?.details).toBe("content.text.body: must be at most 10 characters");
    expect(seen).toEqual([]);
    expect(await send({ content: text("x".repeat(10)) })).toBeUndefined();
    expect(seen).toEqual(["x".repeat(10)]);
  });

  it("when a lone surrogate is sent, then the client's UTF-8 encoder has already made it U+FFFD: the handler gets a valid string", async () => {
    seen.length = 0;
    expect(await send({ content: text("a\uD800") })).toBeUndefined();
    expect(seen).toEqual(["a\uFFFD"]);
  });

  it("when a request's bytes hold invalid UTF-8 (an encoded surrogate half, a cut sequence), then INVALID_ARGUMENT naming the field, not a silent U+FFFD", async () => {
    seen.length = 0;
    const raw = new Client(address, credentials.createInsecure());
    const call = (bytes: Buffer) =>
      new Promise<ServiceError | undefined>((resolve) => {
        raw.makeUnaryRequest("/kontor.messaging.v1.MessagingService/SendMessage", (b: Buffer) => b, (b: Buffer) => b, bytes, auth(), (err) => resolve(err ?? undefined));
      });
    // content (5) { text (1) { body (1): bytes } }
    const request = (body: Buffer) => {
      const text = Buffer.concat([Buffer.from([0x0a, body.length]), body]);
      const content = Buffer.concat([Buffer.from([0x0a, text.length]), text]);
      return Buffer.concat([Buffer.from([0x2a, content.length]), content]);
    };
    for (const body of [Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62]), Buffer.from([0xc3]), Buffer.from([0x61, 0xff])]) {
      const err = await call(request(body));
      expect({ code: err?.code, field: err && errorDetail(err)?.field }).toEqual({ code: status.INVALID_ARGUMENT, field: "content.text.body" });
    }
    // Valid multi-byte UTF-8 (é, 😀) decodes as it always did.
    expect(await call(request(Buffer.from("é😀", "utf8")))).toBeUndefined();
    raw.close();
    expect(seen).toEqual(["é😀"]);
  });

  it("when a stream's third message is bad, then the handler sees the first two only and the stream fails INVALID_ARGUMENT naming the field", async () => {
    seen.length = 0;
    const call = client.sendMessageStream(auth());
    // Settles on the call's status either way, so a stream that wrongly ends OK fails at once.
    const failed = new Promise<ServiceError | undefined>((resolve) => {
      call.on("error", resolve);
      call.on("status", (st: { code: number }) => {
        if (st.code === status.OK) resolve(undefined);
      });
    });
    call.on("data", () => undefined);
    const item = (ref: string, body: string): SendMessageStreamRequest => ({ ref, message: { sender: undefined, recipient: undefined, to: "", clientMessageId: "", content: text(body), context: undefined, bizOpaqueCallbackData: "", referral: undefined } });
    call.write(item("1", "one"));
    call.write(item("2", "two"));
    call.write(item("3", "th\u0000ree"));
    call.write(item("4", "four"));
    call.end();
    const err = await failed;
    expect({ code: err?.code, field: err && errorDetail(err)?.field }).toEqual({ code: status.INVALID_ARGUMENT, field: "message.content.text.body" });
    expect(seen).toEqual(["one", "two"]);
  });

  it("a handler answering per item can ask the kit why one item is refused", () => {
    const bad = kit.inputError("SendMessageStream", { ref: "r", message: { content: text("\u0000") } });
    expect(bad?.field).toBe("message.content.text.body");
    expect(kit.inputError("SendMessageStream", { ref: "r", message: { content: text("fine") } })).toBeUndefined();
  });
});

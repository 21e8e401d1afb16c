import { credentials, Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  MessagingServiceClient,
  MessagingServiceService,
  type SendMessageRequest,
  type SendMessageStreamRequest,
  type SendMessageStreamResponse,
} from "@kontor/proto/messaging/v1/messaging_service";
import { createSendStreams, failureOfItem, StreamSendFailed } from "./send-streams.js";

/** A SendMessageStream server whose answers the test decides (the transport's behaviour, not messaging's). */
async function streamServer(answer: (req: SendMessageStreamRequest, call: ServerDuplexStream<SendMessageStreamRequest, SendMessageStreamResponse>) => void) {
  const server = new Server();
  const opened: string[] = [];
  const calls: ServerDuplexStream<SendMessageStreamRequest, SendMessageStreamResponse>[] = [];
  const unimplemented = (_c: unknown, cb: (e: object) => void) => cb({ code: 12 });
  const impl = Object.fromEntries(Object.keys(MessagingServiceService).map((k) => [k, unimplemented])) as Record<string, unknown>;
  impl.sendMessageStream = (call: ServerDuplexStream<SendMessageStreamRequest, SendMessageStreamResponse>) => {
    opened.push(String(call.metadata.get("authorization")[0]));
    calls.push(call);
    call.on("data", (req: SendMessageStreamRequest) => answer(req, call));
    call.on("end", () => call.end());
  };
  server.addService(MessagingServiceService, impl as never);
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return { server, port, opened, calls };
}

const request = (to: string): SendMessageRequest => ({
  sender: { kind: { $case: "phoneNumberId", value: "1" } },
  recipient: undefined,
  to,
  clientMessageId: "",
  content: { kind: { $case: "text", value: { body: "hi", previewUrl: false } } },
  context: undefined,
  bizOpaqueCallbackData: "",
  referral: undefined,
});

const ok = (ref: string, to: string): SendMessageStreamResponse => ({
  results: [{ ref, outcome: { $case: "result", value: { messageId: `wamid.${to}`, conversationId: "c", seq: "1", status: 1, clientMessageId: "", duplicate: false, acceptedAt: new Date(), recipient: undefined } } }],
});

describe("send streams", () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  it("when an item fails, then its failure reads as the unary call's (code, reason, Cloud API code, field without prefix)", () => {
    const f = failureOfItem({ code: 3, message: "content.text.body: is too long", detail: { reason: "INVALID_FIELD", field: "content.text.body", cloudApiCode: 100, metadata: {} } });
    expect(f).toEqual({ grpcCode: 3, message: "content.text.body: is too long", reason: "INVALID_FIELD", cloudApiCode: 100, field: "content.text.body", fieldDescription: "is too long" });
    expect(failureOfItem({ code: 9, message: "outside the window", detail: { reason: "OUTSIDE_WINDOW", field: "", cloudApiCode: 0, metadata: { cloud_api_code: "131047" } } }).cloudApiCode).toBe(131047);
    expect(failureOfItem({ code: 13, message: "internal error", detail: undefined })).toMatchObject({ grpcCode: 13, reason: "", field: "" });
  });

  it("when sends for two businesses are made, then each rides its own stream with its own token, answered by ref", async () => {
    const s = await streamServer((req, call) => call.write(ok(req.ref, req.message!.to)));
    const client = new MessagingServiceClient(`127.0.0.1:${s.port}`, credentials.createInsecure());
    const streams = createSendStreams({ channels: [client], token: async (p, b) => `${p}/${b}`, timeoutMs: 5000, maxAgeMs: 60_000 });
    cleanup.push(() => (streams.close(), client.close(), s.server.forceShutdown()));
    const results = await Promise.all([
      streams.send({ partnerId: "p", businessId: "a" }, request("+1")),
      streams.send({ partnerId: "p", businessId: "b" }, request("+2")),
      streams.send({ partnerId: "p", businessId: "a" }, request("+3")),
    ]);
    expect(results.map((r) => r?.messageId)).toEqual(["wamid.+1", "wamid.+2", "wamid.+3"]);
    expect(s.opened.sort()).toEqual(["Bearer p/a", "Bearer p/b"]);
  });

  it("when a stream is older than its age limit, then the next send opens a new one with a fresh token", async () => {
    const s = await streamServer((req, call) => call.write(ok(req.ref, req.message!.to)));
    const client = new MessagingServiceClient(`127.0.0.1:${s.port}`, credentials.createInsecure());
    let n = 0;
    const streams = createSendStreams({ channels: [client], token: async () => `t${++n}`, timeoutMs: 5000, maxAgeMs: 50 });
    cleanup.push(() => (streams.close(), client.close(), s.server.forceShutdown()));
    await streams.send({ partnerId: "p", businessId: "a" }, request("+1"));
    await new Promise((r) => setTimeout(r, 80));
    await streams.send({ partnerId: "p", businessId: "a" }, request("+2"));
    expect(s.opened).toEqual(["Bearer t1", "Bearer t2"]);
  });

  it("when messaging does not answer in time or the stream breaks, then the waiting sends fail (DEADLINE_EXCEEDED, UNAVAILABLE) and the next send opens a new stream", async () => {
    const s = await streamServer(() => undefined);
    const client = new MessagingServiceClient(`127.0.0.1:${s.port}`, credentials.createInsecure());
    const streams = createSendStreams({ channels: [client], token: async () => "t", timeoutMs: 200, maxAgeMs: 60_000 });
    cleanup.push(() => (streams.close(), client.close(), s.server.forceShutdown()));
    const late = await streams.send({ partnerId: "p", businessId: "a" }, request("+1")).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(StreamSendFailed);
    expect((late as StreamSendFailed).failure.grpcCode).toBe(4);

    const waiting = streams.send({ partnerId: "p", businessId: "a" }, request("+2")).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    s.calls.at(-1)!.emit("error", { code: 14, details: "going away" });
    s.calls.at(-1)!.destroy();
    const lost = await waiting;
    expect(lost).toBeInstanceOf(StreamSendFailed);
    expect((lost as StreamSendFailed).failure.grpcCode).toBe(14);
    expect(streams.open).toBe(0);
  });
});

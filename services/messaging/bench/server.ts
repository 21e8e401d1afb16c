/**
 * The benchmark's server process (a child of the load generator, so server
 * and client each get their own event loop and core, like production).
 * Modes: "messaging" runs the real service from env config; "noop" serves the
 * same gRPC service definition doing nothing (the raw grpc-js limit), except
 * that a streamed send whose recipient holds a StreamInbox on it is relayed
 * there: the same frame the service writes, encoded by the same code, without
 * storage, NATS or encryption (the floor of any server that delivers).
 */
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from "@grpc/grpc-js";
import {
  MessagingServiceService,
  type SendItemResult,
  type SendMessageRequest,
  type SendMessageResponse,
  type SendMessageStreamRequest,
  type SendMessageStreamResponse,
  type StreamInboxRequest,
  InboxEvent,
  StreamInboxResponse,
} from "@kontor/proto/messaging/v1/messaging_service";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { loadConfig } from "../src/config.js";
import { rawDefinition } from "./raw.js";
import { createMessaging } from "../src/app.js";
import { contentBytes, messageFrameBytes, responseBytes } from "../src/events/wire.js";

const mode = process.argv[2] ?? "messaging";


function noopResult(clientMessageId: string) {
  return { messageId: "wamid.AAAAAAAAAAAAAAAAAAAAAA", conversationId: "00000000-0000-0000-0000-000000000000", seq: "1", status: MessageStatus.MESSAGE_STATUS_ACCEPTED, clientMessageId, duplicate: false, acceptedAt: new Date(), recipient: undefined };
}

/** The no-op's open inbox streams by customer id (one per customer in the bench). */
const inboxes = new Map<string, ServerWritableStream<StreamInboxRequest, Buffer>>();
/** Frames for each recipient gathered in this turn of the event loop, written together (as the service's live delivery does per batch). */
const toDeliver = new Map<string, Uint8Array[]>();
let relaySeq = 0;

let flushScheduled = false;

/** Queues the message for its recipient's inbox stream if it has one here (true then). */
function relay(m: SendMessageRequest | undefined): boolean {
  const to = m?.recipient?.kind?.$case === "customerId" ? m.recipient.kind.value : "";
  if (!m || !inboxes.has(to)) return false;
  const n = ++relaySeq;
  const frame = messageFrameBytes(
    {
      id: `noop.${n}`,
      conversationId: "00000000-0000-0000-0000-000000000000",
      seq: n,
      senderKey: m.sender?.kind?.$case === "phoneNumberId" ? `p_${m.sender.kind.value}` : "",
      recipientKey: `c_${to}`,
      content: m.content ? contentBytes(m.content) : undefined,
      context: undefined,
      bizOpaqueCallbackData: m.bizOpaqueCallbackData,
      clientMessageId: m.clientMessageId,
      status: MessageStatus.MESSAGE_STATUS_ACCEPTED,
      errorCode: 0,
      createdAt: new Date(),
    },
    n,
  );
  const frames = toDeliver.get(to);
  if (frames) frames.push(frame);
  else toDeliver.set(to, [frame]);
  return true;
}

function flushDeliveries(): void {
  flushScheduled = false;
  for (const [to, frames] of toDeliver) inboxes.get(to)?.write(responseBytes(frames));
  toDeliver.clear();
}

async function startNoop(): Promise<number> {
  // The kit server's transport options, so the limits are measured on the same transport.
  const server = new Server({ "grpc.max_receive_message_length": 8 * 1024 * 1024, "grpc.keepalive_permit_without_calls": 1, "grpc.enable_channelz": 0 });
  const unimplemented = (_call: unknown, cb: sendUnaryData<never>) => cb({ code: 12 } as never, null);
  const definition = {
    ...MessagingServiceService,
    // Relayed frames are written as ready bytes, as the service writes them.
    streamInbox: {
      ...MessagingServiceService.streamInbox,
      responseSerialize: (value: StreamInboxResponse | Buffer): Buffer => (Buffer.isBuffer(value) ? value : Buffer.from(StreamInboxResponse.encode(value).finish())),
    },
  };
  server.addService(definition, {
    sendMessage: (call: ServerUnaryCall<SendMessageRequest, SendMessageResponse>, cb: sendUnaryData<SendMessageResponse>) => {
      cb(null, { result: noopResult(call.request.clientMessageId) });
      if (relay(call.request) && !flushScheduled) {
        flushScheduled = true;
        setImmediate(flushDeliveries);
      }
    },
    sendMessageStream: (call: ServerDuplexStream<SendMessageStreamRequest, SendMessageStreamResponse>) => {
      // Same response coalescing as the real handler: results of one turn go out together.
      let out: SendItemResult[] = [];
      let scheduled = false;
      call.on("data", (req: SendMessageStreamRequest) => {
        out.push({ ref: req.ref, outcome: { $case: "result", value: noopResult(req.message?.clientMessageId ?? "") } });
        relay(req.message);
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            const results = out;
            out = [];
            call.write({ results });
            flushDeliveries();
          });
        }
      });
      call.on("end", () => setImmediate(() => call.end()));
    },
    streamInbox: (call: ServerWritableStream<StreamInboxRequest, Buffer>) => {
      const p = call.request.participant?.kind;
      const id = p?.$case === "customerId" ? p.value : "";
      inboxes.set(id, call);
      call.on("cancelled", () => inboxes.get(id) === call && inboxes.delete(id));
      call.write(responseBytes([InboxEvent.encode({ event: { $case: "caughtUp", value: { cursor: "0" } } }).finish()]));
    },
    reportReceipt: unimplemented,
    sendTyping: unimplemented,
    listConversations: unimplemented,
    listMessages: unimplemented,
    getMessage: unimplemented,
    upsertCustomer: unimplemented,
    failMessage: unimplemented,
    eraseBusinessKey: unimplemented,
  });
  // The transport alone: the same call shapes with bytes passed through (no protobuf on either side).
  const ack = Buffer.alloc(60);
  server.addService(rawDefinition, {
    unary: (_call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb(null, ack),
    stream: (call: ServerDuplexStream<Buffer, Buffer>) => {
      let n = 0;
      call.on("data", () => {
        if (n++ === 0) setImmediate(() => {
          call.write(Buffer.alloc(n * ack.length));
          n = 0;
        });
      });
      call.on("end", () => setImmediate(() => call.end()));
    },
  });
  return new Promise((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
}

/**
 * BENCH_SERVER_PROFILE=<dir>: a CPU profile of the service written when the bench stops it with SIGTERM
 * (--cpu-prof would need a clean exit, and the restart variant SIGKILLs the first server).
 */
async function startProfile(): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_SERVER_PROFILE;
  if (!dir) return async () => undefined;
  const { Session } = await import("node:inspector/promises");
  const { writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(`${dir}/messaging-${process.pid}.cpuprofile`, JSON.stringify(profile));
  };
}

async function main() {
  let port: number;
  let metricsPort = 0;
  if (mode === "noop") {
    port = await startNoop();
  } else {
    const app = await createMessaging(loadConfig(process.env));
    ({ port, metricsPort } = await app.start());
    const profiled = await startProfile();
    if (process.env.BENCH_LOOP_DELAY === "1") {
      // Diagnostics: how long the service's event loop keeps I/O (PostgreSQL's answers among it) waiting.
      const { monitorEventLoopDelay, PerformanceObserver, constants } = await import("node:perf_hooks");
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      // Garbage-collection pauses by kind (minor = scavenge, major = mark-compact): count, total and longest ms.
      const gc = { minor: { n: 0, ms: 0, max: 0 }, major: { n: 0, ms: 0, max: 0 } };
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const kind = (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR ? gc.minor : gc.major;
          kind.n++;
          kind.ms += e.duration;
          kind.max = Math.max(kind.max, e.duration);
        }
      }).observe({ entryTypes: ["gc"] });
      const fmt = (k: { n: number; ms: number; max: number }) => `${k.n}× ${k.ms.toFixed(0)} ms (max ${k.max.toFixed(1)})`;
      setInterval(() => {
        process.stderr.write(`loop delay ms p50 ${(h.percentile(50) / 1e6).toFixed(1)} p99 ${(h.percentile(99) / 1e6).toFixed(1)} max ${(h.max / 1e6).toFixed(1)}; gc minor ${fmt(gc.minor)}, major ${fmt(gc.major)}\n`);
        h.reset();
        for (const k of [gc.minor, gc.major]) Object.assign(k, { n: 0, ms: 0, max: 0 });
      }, 2000).unref();
    }
    process.on("SIGTERM", () => {
      void profiled()
        .then(() => app.stop())
        .then(() => process.exit(0));
    });
  }
  process.stdout.write(`${JSON.stringify({ ready: true, port, metricsPort })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

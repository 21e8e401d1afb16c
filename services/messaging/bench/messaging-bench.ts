/**
 * npm run bench:messaging — end-to-end benchmark of the routing path against
 * the real PostgreSQL and NATS, with the raw grpc-js limits measured in the
 * same run and the same client setup. Prints one JSON line and writes
 * bench-results/messaging.json at the repo root. See BENCHMARKS.md.
 */
import { appendFileSync } from "node:fs";
import { randomBytes, randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { credentials, makeGenericClientConstructor, Metadata, type ClientDuplexStream, type ClientReadableStream } from "@grpc/grpc-js";
import { allocatorEnv } from "@kontor/service-kit/allocator";
import { benchKnob, listenerPids, machineBusyUs, pidsNamed, processCpuUs, reportBench, sumProcessCpuUs } from "@kontor/service-kit/bench";
import { createDb } from "@kontor/service-kit/db";
import { domainStream } from "@kontor/service-kit/nats";
import { AckPolicy } from "nats";
import { BusinessRegistered } from "@kontor/proto/directory/v1/events";
import { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import {
  MessagingServiceClient,
  SendMessageRequest,
  type SendMessageStreamRequest,
  type SendMessageStreamResponse,
  StreamInboxRequest,
} from "@kontor/proto/messaging/v1/messaging_service";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { createTestEnv, natsUrl, type TestEnv } from "@kontor/testkit/env";
import { rawDefinition } from "./raw.js";
import { nowMs, percentile, round, sleep, startServer, stopServer, type ServerProc } from "./tools-bench-kit.js";

const RECIPIENTS = benchKnob("BENCH_RECIPIENTS", 200);
const SENDERS = benchKnob("BENCH_SENDERS", 4);
const PHASE_MS = benchKnob("BENCH_PHASE_MS", 4000);
const ROUNDS = benchKnob("BENCH_ROUNDS", 3);
const UNARY_CONCURRENCY = benchKnob("BENCH_UNARY_CONCURRENCY", 64); // in flight per sender
const STREAM_WINDOW = benchKnob("BENCH_STREAM_WINDOW", 2000); // in flight per sender stream
const BODY_BYTES = 100;
/** Each low-load latency phase (and the commit probe beside them). */
const LOW_MS = benchKnob("BENCH_LOW_MS", 4000);
const CHANNEL_OPTIONS = { "grpc.use_local_subchannel_pool": 1, "grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.enable_channelz": 0 };
const budget = setTimeout(() => {
  process.stderr.write("bench: giving up after 4.5 minutes\n");
  process.exit(2);
}, 270_000);

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

// ---- server process: startServer / stopServer from ./tools-bench-kit.js -----------------

/**
 * CPU of every party to a phase, from /proc: the load generator (this
 * process), the server under test, PostgreSQL (all its processes), nats-server,
 * and the whole machine (what is left is the kernel's and everything else's).
 * On a CPU-bound box these say where each message's cost is paid, and so what
 * rate any implementation of the server could reach at best.
 */
interface CpuSnapshot {
  client: number;
  server: number;
  postgres: number;
  nats: number;
  machine: number;
  wall: number;
}
// The nats-server the bench talks to (not another on the machine), else every one.
let natsPids: number[] | undefined;
function cpuSnapshot(serverPid: number): CpuSnapshot {
  const pids = pidsNamed(["postgres", "nats-server"]);
  natsPids ??= listenerPids(Number(new URL(natsUrl).port || 4222));
  if (natsPids.length === 0) natsPids = undefined;
  const own = process.cpuUsage();
  return {
    client: own.user + own.system,
    server: processCpuUs(serverPid),
    postgres: sumProcessCpuUs(pids.get("postgres")!),
    nats: sumProcessCpuUs(natsPids ?? pids.get("nats-server")!),
    machine: machineBusyUs(),
    wall: nowMs() * 1000,
  };
}
type CpuUse = Omit<CpuSnapshot, "wall"> & { other: number; cores_busy: number; msgs: number };
const cpuTotals = new Map<string, CpuUse>();
/** Adds a phase's CPU (since `from`) to the totals of its kind. */
function addCpu(kind: string, from: CpuSnapshot, serverPid: number, msgs: number): void {
  const to = cpuSnapshot(serverPid);
  const t = cpuTotals.get(kind) ?? { client: 0, server: 0, postgres: 0, nats: 0, machine: 0, other: 0, cores_busy: 0, msgs: 0 };
  const d = { client: to.client - from.client, server: to.server - from.server, postgres: to.postgres - from.postgres, nats: to.nats - from.nats, machine: to.machine - from.machine };
  t.client += d.client;
  t.server += d.server;
  t.postgres += d.postgres;
  t.nats += d.nats;
  t.machine += d.machine;
  t.other += d.machine - d.client - d.server - d.postgres - d.nats;
  t.cores_busy += (d.machine / (to.wall - from.wall)) * msgs; // weighted, divided by msgs below
  t.msgs += msgs;
  cpuTotals.set(kind, t);
}
/** µs of CPU per message by party, and the machine's busy cores, per kind of phase. */
function cpuPerMsg(): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [k, t] of cpuTotals) {
    const n = Math.max(1, t.msgs);
    out[k] = {
      client: round1(t.client / n),
      server: round1(t.server / n),
      postgres: round1(t.postgres / n),
      nats: round1(t.nats / n),
      other: round1(t.other / n),
      machine: round1(t.machine / n),
      cores_busy: round(t.cores_busy / n, 2),
    };
  }
  return out;
}

// ---- load model ---------------------------------------------------------------

interface Sender {
  businessId: string;
  phoneNumberId: string;
  md: Metadata;
  client: MessagingServiceClient;
  seq: number;
}

const customers: string[] = [];
let senders: Sender[] = [];
/** Refused or failed sends by reason (stream results) or message (unary), for the log. */
const errorReasons = new Map<string, number>();
const pad = "x".repeat(BODY_BYTES);

function makeRequest(s: Sender, i: number, tag: string): SendMessageRequest {
  const n = s.seq++;
  const to = customers[(n * SENDERS + i) % customers.length]!;
  const stamp = nowMs().toFixed(3);
  return {
    sender: { kind: { $case: "phoneNumberId", value: s.phoneNumberId } },
    recipient: { kind: { $case: "customerId", value: to } },
    to: "",
    clientMessageId: `${tag}-${i}-${n}`,
    content: { kind: { $case: "text", value: { body: `${stamp}|${pad.slice(stamp.length + 1)}`, previewUrl: false } } },
    context: undefined,
    bizOpaqueCallbackData: "",
    referral: undefined,
  };
}

/** One channel per sender per server; a phase points the senders at one server's set. */
const clientSets = new Map<number, MessagingServiceClient[]>();
/** Acks of the real service count toward `lost`; the no-op server's do not. */
let countingAcks = false;

function useServer(port: number, real: boolean): void {
  let set = clientSets.get(port);
  if (!set) {
    set = senders.map((_, i) => new MessagingServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), { ...CHANNEL_OPTIONS, "kontor.sender": i }));
    clientSets.set(port, set);
  }
  senders.forEach((s, i) => (s.client = set[i]!));
  countingAcks = real;
}

function closeClients(port: number): void {
  for (const c of clientSets.get(port) ?? []) c.close();
  clientSets.delete(port);
}

function unary(s: Sender, req: SendMessageRequest): Promise<string> {
  return new Promise((res, rej) => s.client.sendMessage(req, s.md, (err, r) => (err ? rej(err) : res(r.result!.messageId))));
}

// ---- receivers ------------------------------------------------------------------

const received = new Set<string>();
let duplicates = 0;
let latencies: number[] = [];
/** Send → ack (durable) of the unary fixed-rate phases: the part of e2e before delivery. */
let ackLatencies: number[] = [];
const series: [number, number][] | undefined = process.env.BENCH_SERIES ? [] : undefined;
let measuring = false;
let receivedCount = 0;
/** Sends acknowledged by the server (all phases against the real service). */
let ackedTotal = 0;

/**
 * What a receiver needs of a StreamInboxResponse, read straight off the wire:
 * per message its id, cursor and the send time in the text body. The load
 * generator shares the two cores with the service, so it decodes no more than
 * that (the generated decoder would build every nested object and Date).
 */
interface Seen {
  id: string;
  cursor: string;
  sentAt: number;
}

function scanInbox(buf: Uint8Array, onMessage: (m: Seen) => void, onCaughtUp: () => void): void {
  const r = new BinaryReader(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skip(tag & 7);
      continue;
    }
    const eventEnd = r.uint32() + r.pos; // InboxEvent
    while (r.pos < eventEnd) {
      const t = r.uint32();
      const field = t >>> 3;
      if (field === 4) {
        onCaughtUp();
        r.skip(t & 7);
      } else if (field === 1) {
        const end = r.uint32() + r.pos; // InboxMessage
        const seen: Seen = { id: "", cursor: "", sentAt: NaN };
        while (r.pos < end) {
          const f = r.uint32();
          if (f >>> 3 === 2) seen.cursor = r.string();
          else if (f >>> 3 === 1) {
            const mEnd = r.uint32() + r.pos; // Message
            while (r.pos < mEnd) {
              const g = r.uint32();
              if (g >>> 3 === 1) seen.id = r.string();
              else if (g >>> 3 === 6) {
                const cEnd = r.uint32() + r.pos; // Content
                while (r.pos < cEnd) {
                  const h = r.uint32();
                  if (h >>> 3 !== 1) {
                    r.skip(h & 7);
                    continue;
                  }
                  const tEnd = r.uint32() + r.pos; // TextContent
                  while (r.pos < tEnd) {
                    const k = r.uint32();
                    if (k >>> 3 !== 1) {
                      r.skip(k & 7);
                      continue;
                    }
                    const body = r.string();
                    seen.sentAt = Number(body.slice(0, body.indexOf("|")));
                  }
                }
              } else r.skip(g & 7);
            }
          } else r.skip(f & 7);
        }
        onMessage(seen);
      } else r.skip(t & 7);
    }
  }
}

const passthrough = (b: Buffer) => b;

class Receiver {
  cursor = "";
  call: ClientReadableStream<Buffer> | undefined;
  caughtUp = false;
  constructor(
    readonly customerId: string,
    readonly md: Metadata,
  ) {}

  open(client: MessagingServiceClient, onBroken: () => void): void {
    this.caughtUp = false;
    const req = { participant: { kind: { $case: "customerId" as const, value: this.customerId } }, resumeCursor: this.cursor };
    const call = client.makeServerStreamRequest<StreamInboxRequest, Buffer>(
      "/kontor.messaging.v1.MessagingService/StreamInbox",
      (r) => Buffer.from(StreamInboxRequest.encode(r).finish()),
      passthrough,
      req,
      this.md,
    );
    this.call = call;
    const onMessage = (m: Seen) => {
      this.cursor = m.cursor;
      if (received.has(m.id)) {
        duplicates++;
        return;
      }
      received.add(m.id);
      receivedCount++;
      if (measuring && !Number.isNaN(m.sentAt)) {
        latencies.push(nowMs() - m.sentAt);
        if (series) series.push([Math.round(m.sentAt), Math.round((nowMs() - m.sentAt) * 10) / 10]);
      }
    };
    call.on("data", (b: Buffer) => scanInbox(b, onMessage, () => (this.caughtUp = true)));
    call.on("error", () => {
      if (this.call === call) onBroken();
    });
  }
}

/**
 * Inbox streams on the no-op relay (the no-op server delivering each send to
 * its recipient's stream): counted apart, since nothing there is stored.
 */
const relayed = { received: 0, latencies: [] as number[], measuring: false };

function openRelayInboxes(port: number): { close(): void } {
  const clients = Array.from({ length: 4 }, (_, k) => new MessagingServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), { ...CHANNEL_OPTIONS, "kontor.inbox": k }));
  const onMessage = (m: Seen) => {
    relayed.received++;
    if (relayed.measuring && !Number.isNaN(m.sentAt)) relayed.latencies.push(nowMs() - m.sentAt);
  };
  const calls = customers.map((id, i) => {
    const req = { participant: { kind: { $case: "customerId" as const, value: id } }, resumeCursor: "" };
    const call = clients[i % clients.length]!.makeServerStreamRequest<StreamInboxRequest, Buffer>(
      "/kontor.messaging.v1.MessagingService/StreamInbox",
      (r) => Buffer.from(StreamInboxRequest.encode(r).finish()),
      passthrough,
      req,
      new Metadata(),
    );
    call.on("data", (b: Buffer) => scanInbox(b, onMessage, () => undefined));
    call.on("error", () => undefined);
    return call;
  });
  return {
    close() {
      for (const c of calls) c.cancel();
      for (const c of clients) c.close();
    },
  };
}

const round1 = (x: number) => round(x, 1);
function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

// ---- phases -----------------------------------------------------------------------

/** Closed loop: each sender keeps UNARY_CONCURRENCY calls in flight. */
async function unaryMax(ms: number, tag: string): Promise<{ perS: number; acked: number; errors: number }> {
  let stop = false;
  let acked = 0;
  let errors = 0;
  const start = nowMs();
  const loops = senders.flatMap((s, i) =>
    Array.from({ length: UNARY_CONCURRENCY }, async () => {
      while (!stop) {
        try {
          await unary(s, makeRequest(s, i, tag));
          acked++;
          if (countingAcks) ackedTotal++;
        } catch (err) {
          errors++;
          const reason = (err as { details?: string }).details ?? "unknown";
          errorReasons.set(reason, (errorReasons.get(reason) ?? 0) + 1);
        }
      }
    }),
  );
  await sleep(ms);
  stop = true;
  const elapsed = nowMs() - start;
  const at = acked;
  await Promise.all(loops);
  return { perS: (at / elapsed) * 1000, acked, errors };
}

/** One SendMessageStream per sender; closed loop with a window, or open loop at a fixed total rate. */
async function streamPhase(ms: number, tag: string, ratePerS?: number): Promise<{ perS: number; acked: number; errors: number }> {
  let acked = 0;
  let errors = 0;
  let stop = false;
  const start = nowMs();
  let ackedAtStop = 0;
  const streams = senders.map((s, i) => {
    const call: ClientDuplexStream<SendMessageStreamRequest, SendMessageStreamResponse> = s.client.sendMessageStream(s.md);
    let inFlight = 0;
    let ref = 0;
    const done = new Promise<void>((res) => {
      call.on("end", res);
      call.on("error", () => res());
    });
    const write = () => {
      inFlight++;
      call.write({ ref: String(ref++), message: makeRequest(s, i, tag) });
    };
    call.on("data", (r: SendMessageStreamResponse) => {
      for (const x of r.results) {
        inFlight--;
        if (x.outcome?.$case === "result") {
          acked++;
          if (countingAcks) ackedTotal++;
        } else {
          errors++;
          const reason = x.outcome?.value.detail?.reason ?? "unknown";
          errorReasons.set(reason, (errorReasons.get(reason) ?? 0) + 1);
        }
      }
      if (!ratePerS && !stop) while (inFlight < STREAM_WINDOW) write();
      if (stop && inFlight === 0) call.end();
    });
    return { call, write, done, inFlight: () => inFlight };
  });
  let timer: NodeJS.Timeout | undefined;
  if (ratePerS) {
    let issued = 0;
    timer = setInterval(() => {
      const due = Math.floor(((nowMs() - start) / 1000) * ratePerS) - issued;
      for (let k = 0; k < due; k++) streams[(issued + k) % streams.length]!.write();
      issued += Math.max(0, due);
    }, 1);
  } else {
    for (const st of streams) for (let k = 0; k < STREAM_WINDOW; k++) st.write();
  }
  await sleep(ms);
  stop = true;
  if (timer) clearInterval(timer);
  ackedAtStop = acked;
  const elapsed = nowMs() - start;
  for (const st of streams) if (st.inFlight() === 0) st.call.end();
  await Promise.all(streams.map((st) => st.done));
  return { perS: (ackedAtStop / elapsed) * 1000, acked, errors };
}

/**
 * The transport's own ceiling on this machine: the same channels, concurrency
 * and windows, bytes passed through (no protobuf), the server acking each
 * item. Diagnostics beside the no-op limits, which use the generated code.
 */
async function rawTransport(port: number): Promise<Record<string, number>> {
  const Raw = makeGenericClientConstructor(rawDefinition as never, "Raw");
  const clients = senders.map((_, i) => new Raw(`127.0.0.1:${port}`, credentials.createInsecure(), { ...CHANNEL_OPTIONS, "kontor.raw": i }) as unknown as RawClient);
  const body = Buffer.from(SendMessageRequest.encode(makeRequest(senders[0]!, 0, "raw")).finish());
  const cpu0 = process.cpuUsage();
  let done = 0;
  let stop = false;
  let start = nowMs();
  await Promise.all(
    clients.flatMap((c) =>
      Array.from({ length: UNARY_CONCURRENCY }, async () => {
        while (!stop) {
          await new Promise<void>((res, rej) => c.unary(body, (err) => (err ? rej(err) : res())));
          done++;
        }
      }),
    ).concat([sleep(3000).then(() => void (stop = true))]),
  );
  const unaryPerS = (done / (nowMs() - start)) * 1000;
  const unaryCpu = process.cpuUsage(cpu0);
  const cpu1 = process.cpuUsage();
  let acked = 0;
  stop = false;
  start = nowMs();
  const calls = clients.map((c) => {
    const call = c.stream();
    let inFlight = 0;
    call.on("data", (b: Buffer) => {
      const n = b.length / 60;
      inFlight -= n;
      acked += n;
      if (!stop) while (inFlight < STREAM_WINDOW) (inFlight++, call.write(body));
    });
    call.on("error", () => undefined);
    for (; inFlight < STREAM_WINDOW; inFlight++) call.write(body);
    return call;
  });
  await sleep(3000);
  stop = true;
  const streamPerS = (acked / (nowMs() - start)) * 1000;
  const streamCpu = process.cpuUsage(cpu1);
  for (const call of calls) call.cancel();
  for (const c of clients) c.close();
  return {
    raw_transport_unary_per_s: Math.round(unaryPerS),
    raw_transport_stream_per_s: Math.round(streamPerS),
    raw_transport_client_cpu_us_per_unary: round((unaryCpu.user + unaryCpu.system) / done, 1),
    raw_transport_client_cpu_us_per_streamed: round((streamCpu.user + streamCpu.system) / acked, 1),
  };
}

interface RawClient {
  unary(body: Buffer, cb: (err: Error | null) => void): void;
  stream(): ClientDuplexStream<Buffer, Buffer>;
  close(): void;
}

/**
 * Open loop: unary sends at a fixed offered rate, each reporting its send → ack time (ms) or
 * its failure to the callbacks.
 */
async function offerAtRate(ms: number, ratePerS: number, tag: string, ok: (ackMs: number) => void, failed: () => void): Promise<void> {
  const pending: Promise<void>[] = [];
  const start = nowMs();
  let issued = 0;
  await new Promise<void>((res) => {
    const timer = setInterval(() => {
      const elapsed = nowMs() - start;
      if (elapsed >= ms) {
        clearInterval(timer);
        res();
        return;
      }
      const due = Math.floor((elapsed / 1000) * ratePerS) - issued;
      for (let k = 0; k < due; k++) {
        const i = (issued + k) % senders.length;
        const s = senders[i]!;
        const sentAt = nowMs();
        pending.push(unary(s, makeRequest(s, i, tag)).then(() => ok(nowMs() - sentAt), failed));
      }
      issued += Math.max(0, due);
    }, 1);
  });
  await Promise.all(pending);
}

async function unaryAtRate(ms: number, ratePerS: number, tag: string): Promise<{ acked: number; errors: number }> {
  let acked = 0;
  let errors = 0;
  const ok = (ackMs: number) => {
    if (measuring) ackLatencies.push(ackMs);
    acked++;
    ackedTotal++;
  };
  await offerAtRate(ms, ratePerS, tag, ok, () => void errors++);
  return { acked, errors };
}

/** Unary sends at a fixed rate to the no-op server: send → ack percentiles (nothing counted as sent). */
async function noopAckProbe(port: number, ms: number, ratePerS: number): Promise<{ p50: number; p99: number; loopP50: number; loopP99: number }> {
  useServer(port, false);
  const acks: number[] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  await offerAtRate(ms, ratePerS, "noop-low", (ackMs) => void acks.push(ackMs), () => undefined);
  loop.disable();
  acks.sort((a, b) => a - b);
  return { p50: round(percentile(acks, 50)), p99: round(percentile(acks, 99)), loopP50: round(loop.percentile(50) / 1e6, 2), loopP99: round(loop.percentile(99) / 1e6, 2) };
}

/** Unary sends at a fixed rate through the no-op relay: send → received percentiles, the delivery floor. */
async function relayProbe(port: number, ms: number, ratePerS: number): Promise<{ p50: number; p99: number; n: number }> {
  useServer(port, false);
  const before = relayed.received;
  let acked = 0;
  relayed.latencies = [];
  relayed.measuring = true;
  await offerAtRate(ms, ratePerS, "relay-low", () => void acked++, () => undefined);
  const deadline = Date.now() + 10_000;
  while (relayed.received < before + acked && Date.now() < deadline) await sleep(20);
  relayed.measuring = false;
  const sorted = relayed.latencies.sort((a, b) => a - b);
  relayed.latencies = [];
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), n: sorted.length };
}

async function waitReceived(target: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (receivedCount < target && Date.now() < deadline) await sleep(20);
}

function latencySummary(): { p50: number; p99: number; n: number; ackP50: number; ackP99: number } {
  if (series) {
    appendFileSync(process.env.BENCH_SERIES!, JSON.stringify(series) + "\n");
    series.length = 0;
  }
  const sorted = latencies.slice().sort((a, b) => a - b);
  const acks = ackLatencies.slice().sort((a, b) => a - b);
  latencies = [];
  ackLatencies = [];
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), n: sorted.length, ackP50: round(percentile(acks, 50)), ackP99: round(percentile(acks, 99)) };
}

// ---- restart variant ------------------------------------------------------------------

/**
 * Streamed sends at a fixed rate; the server is SIGKILLed mid-run and
 * restarted. Senders resend everything unacked with the same client ids,
 * receivers resume from their cursors.
 */
async function restartVariant(env: TestEnv, serverEnv: Record<string, string>, server: { current: ServerProc }, receivers: Receiver[], ratePerS: number) {
  const unacked = senders.map(() => new Map<string, SendMessageStreamRequest>());
  const allIds = new Set<string>();
  const ackedIds = new Set<string>();
  let up = true;
  let refSeq = 0;
  const streams: (ClientDuplexStream<SendMessageStreamRequest, SendMessageStreamResponse> | undefined)[] = senders.map(() => undefined);
  const open = (i: number) => {
    const s = senders[i]!;
    const call = s.client.sendMessageStream(s.md);
    streams[i] = call;
    call.on("data", (r: SendMessageStreamResponse) => {
      for (const x of r.results) {
        const req = unacked[i]!.get(x.ref);
        if (x.outcome?.$case === "result" && req) {
          unacked[i]!.delete(x.ref);
          ackedIds.add(req.message!.clientMessageId);
        }
      }
    });
    call.on("error", () => {
      if (streams[i] === call) streams[i] = undefined;
    });
    for (const req of unacked[i]!.values()) call.write(req); // resend, same client ids
  };
  senders.forEach((_, i) => open(i));
  const start = nowMs();
  let issued = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((nowMs() - start) / 1000) * ratePerS) - issued;
    for (let k = 0; k < due; k++) {
      const i = (issued + k) % senders.length;
      const s = senders[i]!;
      const req = { ref: String(refSeq++), message: makeRequest(s, i, "restart") };
      unacked[i]!.set(req.ref, req);
      allIds.add(req.message.clientMessageId);
      if (up && streams[i]) streams[i]!.write(req);
    }
    issued += Math.max(0, due);
  }, 1);
  await sleep(2000);
  log("restart: SIGKILL the server");
  up = false;
  await stopServer(server.current, "SIGKILL");
  closeClients(server.current.port);
  server.current = await startServer("messaging", serverEnv);
  useServer(server.current.port, true);
  up = true;
  senders.forEach((_, i) => open(i));
  for (const r of receivers) r.open(senders[0]!.client, () => undefined);
  log(`restart: back on port ${server.current.port}`);
  await sleep(3000);
  clearInterval(timer);
  const deadline = Date.now() + 30_000;
  while (ackedIds.size < allIds.size && Date.now() < deadline) {
    await sleep(200);
    senders.forEach((_, i) => {
      if (!streams[i]) open(i);
    });
  }
  for (const st of streams) st?.end();
  void env;
  return { sent: allIds.size, acked: ackedIds.size };
}

// ---- main ---------------------------------------------------------------------------------

async function main() {
  const loadBefore = loadavg()[0]!;
  const env = await createTestEnv();
  const serverEnv = env.env({
    MESSAGE_MASTER_KEY: randomBytes(32).toString("base64"),
    LOG_LEVEL: "warn",
    DB_POOL_MAX: "8",
    ...(process.env.SEND_BATCH_MAX ? { SEND_BATCH_MAX: process.env.SEND_BATCH_MAX } : {}),
    ...(process.env.SEND_PIPELINE ? { SEND_PIPELINE: process.env.SEND_PIPELINE } : {}),
    // The routing phases measure the path without the policy rules; the rules phases run a second
    // service with every rule on (and limits high enough not to refuse) beside it.
    MESSAGING_POLICY: "off",
  });
  const rulesEnv = { ...serverEnv, MESSAGING_POLICY: "enforce", THROUGHPUT_PER_SECOND: "1000000000", PAIR_INTERVAL_MS: "0.001", PAIR_BURST_MAX: "1000000", MESSAGING_REPLICAS: "1" };
  const metrics: Record<string, number> = {};
  const limits: Record<string, number> = {};
  const extra: Record<string, number | string> = {};
  try {
    senders = await Promise.all(
      Array.from({ length: SENDERS }, async (_, i) => {
        const businessId = `bench_biz_${i}`;
        const md = new Metadata();
        md.set("authorization", `Bearer ${await env.token({ kind: "business", businessId })}`);
        return { businessId, phoneNumberId: `bench_pn_${i}`, md, client: undefined as unknown as MessagingServiceClient, seq: 0 };
      }),
    );
    for (let i = 0; i < RECIPIENTS; i++) customers.push(`bench_c_${i}`);
    // A business number no customer wrote to: every free-form send of it is refused (131047).
    const coldMd = new Metadata();
    coldMd.set("authorization", `Bearer ${await env.token({ kind: "business", businessId: "bench_biz_cold" })}`);
    const cold: Sender = { businessId: "bench_biz_cold", phoneNumberId: "bench_pn_cold", md: coldMd, client: undefined as unknown as MessagingServiceClient, seq: 0 };

    // 1. Two servers side by side: the no-op (the same service definition doing nothing) and the service.
    const noop = await startServer("noop", serverEnv);
    // A second no-op with every customer's inbox stream open on it: it relays each send there.
    const relay = await startServer("noop", serverEnv);
    useServer(noop.port, false);
    Object.assign(extra, await rawTransport(noop.port));
    log(`raw transport ${JSON.stringify(extra)}`);
    const server = { current: await startServer("messaging", serverEnv) };
    useServer(server.current.port, true);
    // The service's directory events for its business numbers, and its registered customers.
    const nc = await env.nats();
    const js = nc.jetstream();
    for (const s of [...senders, cold]) {
      const eventId = randomUUID();
      const business = BusinessSnapshot.fromPartial({
        businessId: s.businessId,
        displayName: s.businessId,
        phoneNumbers: [{ phoneNumberId: s.phoneNumberId, e164: `+4930${String(s === cold ? 99 : senders.indexOf(s)).padStart(8, "0")}`, displayName: "" }],
        version: "1",
      });
      await js.publish(`${env.natsPrefix}kontor.directory.business.registered.v1`, BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId: s.businessId }, business }).finish(), { msgID: eventId });
    }
    const serviceMd = new Metadata();
    serviceMd.set("authorization", `Bearer ${await env.token({ kind: "service", service: "onboarding" })}`);
    const admin = senders[0]!.client;
    await Promise.all(
      customers.map(
        (id, i) =>
          new Promise<void>((res, rej) =>
            admin.upsertCustomer({ customerId: id, e164: `+4917${String(i).padStart(8, "0")}`, profileName: id, settings: undefined }, serviceMd, (err) => (err ? rej(err) : res())),
          ),
      ),
    );
    // Wait until every business number is known (the directory consumer has run).
    for (const [i, s] of senders.entries()) {
      for (let tries = 0; ; tries++) {
        try {
          await unary(s, makeRequest(s, i, "probe"));
          ackedTotal++;
          break;
        } catch (err) {
          if (tries > 200) throw err;
          await sleep(50);
        }
      }
    }
    const receivers = await Promise.all(
      customers.map(async (id) => {
        const md = new Metadata();
        md.set("authorization", `Bearer ${await env.token({ kind: "customer", customerId: id })}`);
        return new Receiver(id, md);
      }),
    );
    // Inbox streams share a few channels, like devices behind a gateway.
    const inboxClients = Array.from({ length: 4 }, (_, k) => new MessagingServiceClient(`127.0.0.1:${server.current.port}`, credentials.createInsecure(), { ...CHANNEL_OPTIONS, "kontor.inbox": k }));
    receivers.forEach((r, i) => r.open(inboxClients[i % inboxClients.length]!, () => undefined));
    await waitReceived(SENDERS);
    const relayInboxes = openRelayInboxes(relay.port);

    // 2. Throughput, closed loop, in rounds: each round measures the no-op and the service back
    // to back (unary, then streamed), so a ratio compares phases seconds apart. This machine's
    // speed drifts by tens of percent within minutes; the medians of the rounds are reported.
    const pid = server.current.child.pid!;
    const noopPid = noop.child.pid!;
    const relayPid = relay.child.pid!;
    const skipUnary = process.env.BENCH_SKIP_UNARY === "1"; // profiling the stream phase alone
    const skipStream = process.env.BENCH_SKIP_STREAM === "1"; // profiling the unary phase alone
    const phase = async <T>(port: number, real: boolean, run: () => Promise<T>) => {
      useServer(port, real);
      return run();
    };
    // BENCH_ONLY=low: only the light-load phases (and the loss count), for iterating on latency.
    const lowOnly = process.env.BENCH_ONLY === "low";
    if (!skipUnary) {
      await phase(noop.port, false, () => unaryMax(1000, "warm"));
      await phase(server.current.port, true, () => unaryMax(1000, "warm-u"));
    }
    if (!skipStream) {
      await phase(noop.port, false, () => streamPhase(1000, "warm"));
      await phase(relay.port, false, () => streamPhase(1000, "warm-r"));
      await phase(server.current.port, true, () => streamPhase(1000, "warm-s"));
    }
    // Rates per round: no-op and service, unary (U) and streamed (S).
    const r = { noopU: [] as number[], realU: [] as number[], noopS: [] as number[], relayS: [] as number[], realS: [] as number[] };
    let relaySent = 0;
    const relayReceivedBefore = relayed.received;
    let cpuU = 0, ackU = 0, cpuS = 0, ackS = 0;
    // What the service's stream phases stored in its JetStream stream (events and bytes).
    const inStream = { bytes: 0, events: 0, msgs: 0, ms: 0 };
    let errors = 0; // send errors over all phases
    // One kind of phase, back to back: the no-op, then the service, each with every party's CPU.
    const measurePair = async (kind: "unary" | "stream", run: (ms: number, tag: string) => Promise<{ perS: number; acked: number; errors: number }>, tag: string) => {
      const n0 = cpuSnapshot(noopPid);
      const noopRun = await phase(noop.port, false, () => run(PHASE_MS, `noop-${tag[0]}`));
      addCpu(`noop_${kind}`, n0, noopPid, noopRun.acked);
      // Streamed: the no-op relay too, between the two (receive, ack and deliver; nothing stored).
      let relayRun: { perS: number; acked: number } | undefined;
      if (kind === "stream") {
        const r0 = cpuSnapshot(relayPid);
        relayRun = await phase(relay.port, false, () => run(PHASE_MS, `relay-${tag[0]}`));
        addCpu("noop_relay_stream", r0, relayPid, relayRun.acked);
        relaySent += relayRun.acked;
      }
      const c0 = processCpuUs(pid);
      const st0 = kind === "stream" ? await streamState(env) : undefined;
      const m0 = cpuSnapshot(pid);
      const real = await phase(server.current.port, true, () => run(PHASE_MS, tag));
      addCpu(kind, m0, pid, real.acked);
      if (st0) {
        const st1 = await streamState(env);
        inStream.bytes += st1.bytes - st0.bytes;
        inStream.events += st1.messages - st0.messages;
        inStream.msgs += real.acked;
        inStream.ms += PHASE_MS;
      }
      errors += real.errors;
      return { noop: noopRun.perS, relay: relayRun?.perS ?? 0, real: real.perS, acked: real.acked, serverCpu: processCpuUs(pid) - c0 };
    };
    for (let round = 1; round <= (lowOnly ? 0 : ROUNDS); round++) {
      if (!skipUnary) {
        const u = await measurePair("unary", unaryMax, `u${round}`);
        r.noopU.push(u.noop);
        r.realU.push(u.real);
        cpuU += u.serverCpu;
        ackU += u.acked;
      }
      let streamCpu = 0;
      if (!skipStream) {
        const st = await measurePair("stream", (ms, tag) => streamPhase(ms, tag), `s${round}`);
        r.noopS.push(st.noop);
        r.relayS.push(st.relay);
        r.realS.push(st.real);
        streamCpu = st.serverCpu / st.acked;
        cpuS += st.serverCpu;
        ackS += st.acked;
      }
      log(`round ${round}: unary ${Math.round(r.realU.at(-1) ?? 0)}/s vs no-op ${Math.round(r.noopU.at(-1) ?? 0)}/s; stream ${Math.round(r.realS.at(-1) ?? 0)}/s vs no-op ${Math.round(r.noopS.at(-1) ?? 0)}/s (relaying ${Math.round(r.relayS.at(-1) ?? 0)}/s); server ${round1(streamCpu)} µs/msg`);
    }
    useServer(server.current.port, true);
    limits.grpc_noop_unary_per_s = Math.round(median(r.noopU));
    limits.grpc_noop_stream_per_s = Math.round(median(r.noopS));
    metrics.unary_send_per_s = Math.round(median(r.realU));
    metrics.stream_send_per_s = Math.round(median(r.realS));
    metrics.server_cpu_us_per_msg = round(cpuS / ackS, 1);
    extra.server_cpu_us_per_unary_msg = round(cpuU / Math.max(1, ackU), 1);
    metrics.unary_ratio = round(median(r.realU.map((x, i) => x / r.noopU[i]!)), 3);
    metrics.stream_ratio = round(median(r.realS.map((x, i) => x / r.noopS[i]!)), 3);
    // Where each message's CPU went, and the best rate the rest of the machine allows: all cores
    // busy with the load generator, PostgreSQL, NATS and the kernel, and a server costing nothing.
    const perMsg = cpuPerMsg();
    extra.cpu_us_per_msg = JSON.stringify(perMsg);
    // The service's CPU per streamed message ÷ the no-op server's (the same client code and windows), and nats-server's.
    metrics.server_cpu_per_noop_server_cpu_stream = perMsg.stream?.server && perMsg.noop_stream?.server ? round(perMsg.stream.server / perMsg.noop_stream.server, 3) : 0;
    metrics.nats_cpu_us_per_msg_stream = round(perMsg.stream?.nats ?? 0, 2);
    if (inStream.msgs > 0) {
      extra.nats_stored_bytes_per_msg_stream = round1(inStream.bytes / inStream.msgs);
      extra.nats_events_per_s_stream = Math.round((inStream.events / inStream.ms) * 1000);
      // The floor beside it: nats-server storing events of that size at that rate, a commit's
      // events in one write, and nothing else (no reader, no other client).
      await waitConsumersIdle(env, 30_000);
      const eventsPerS = (inStream.events / inStream.ms) * 1000;
      const eventBytes = inStream.bytes / Math.max(1, inStream.events);
      const perMsg = (probe: { natsUs: number; ms: number }) => round(probe.natsUs / (probe.ms / 1000) / (inStream.msgs / (inStream.ms / 1000)), 2);
      limits.nats_cpu_us_per_msg_stream_store_floor = perMsg(await natsFloorProbe(env, eventsPerS, eventBytes, LOW_MS, false));
      limits.nats_cpu_us_per_msg_stream_floor = perMsg(await natsFloorProbe(env, eventsPerS, eventBytes, LOW_MS, true));
      log(`nats-server: ${metrics.nats_cpu_us_per_msg_stream} µs/msg streamed, ${extra.nats_stored_bytes_per_msg_stream} B/msg stored in ${extra.nats_events_per_s_stream} events/s; floor ${limits.nats_cpu_us_per_msg_stream_store_floor} µs/msg stored, ${limits.nats_cpu_us_per_msg_stream_floor} with a reader`);
    }
    // The floor of a server that delivers: the no-op relay's rate and CPU against the plain no-op's.
    // No implementation that also stores, encrypts and publishes events does better than these.
    if (r.relayS.length > 0) {
      // The relay writes a turn's frames after its acks: let the last ones arrive before counting them.
      const deadline = Date.now() + 5000;
      while (relayed.received - relayReceivedBefore < relaySent && Date.now() < deadline) await sleep(20);
      limits.grpc_noop_relay_stream_per_s = Math.round(median(r.relayS));
      limits.noop_relay_ratio_stream = round(median(r.relayS.map((x, i) => x / r.noopS[i]!)), 3);
      limits.noop_relay_server_cpu_per_noop_server_cpu_stream = perMsg.noop_relay_stream?.server && perMsg.noop_stream?.server ? round(perMsg.noop_relay_stream.server / perMsg.noop_stream.server, 3) : 0;
      extra.server_cpu_per_noop_relay_server_cpu_stream = perMsg.stream?.server && perMsg.noop_relay_stream?.server ? round(perMsg.stream.server / perMsg.noop_relay_stream.server, 3) : 0;
      extra.noop_relay_delivered = relayed.received - relayReceivedBefore;
      extra.noop_relay_acked = relaySent;
    }
    // `serverCost`: what the service's own process is allowed per message (0, or the no-op server's).
    const bound = (k: string, serverCost: number) => {
      const c = perMsg[k];
      return c ? Math.round((cpus().length * 1e6) / Math.max(1, c.machine! - c.server! + serverCost)) : 0;
    };
    extra.unary_per_s_bound_if_server_free = bound("unary", 0);
    extra.unary_per_s_bound_if_server_cost_noop = bound("unary", perMsg.noop_unary?.server ?? 0);
    extra.stream_per_s_bound_if_server_free = bound("stream", 0);
    extra.stream_per_s_bound_if_server_cost_noop = bound("stream", perMsg.noop_stream?.server ?? 0);
    extra.stream_per_s_bound_if_server_cost_noop_relay = bound("stream", perMsg.noop_relay_stream?.server ?? 0);
    // The best stream_ratio a service costing what the relay costs could show in this run: the
    // other parties' CPU as measured, and each phase's own share of the cores kept busy (no
    // phase keeps both cores busy all the time, the no-op's included).
    const ns = perMsg.noop_stream, ss = perMsg.stream, rs = perMsg.noop_relay_stream;
    if (ns && ss && rs) {
      const rateAt = (c: Record<string, number>, server: number) => (c.cores_busy! * 1e6) / (c.machine! - c.server! + server);
      limits.stream_ratio_bound_if_server_cost_noop_relay = round(rateAt(ss, rs.server!) / rateAt(ns, ns.server!), 3);
      log(`stream_ratio ${metrics.stream_ratio}; at the relay's cost at most ${limits.stream_ratio_bound_if_server_cost_noop_relay}`);
    }
    // The service's CPU per µs of the load generator's, for the same messages: both run the same
    // code whatever the host's speed, so this compares builds across runs better than rates do.
    const perLoad = (k: string) => (perMsg[k]?.client ? round(perMsg[k]!.server! / perMsg[k]!.client!, 3) : 0);
    extra.service_cpu_per_load_cpu_unary = perLoad("unary");
    extra.service_cpu_per_load_cpu_stream = perLoad("stream");
    extra.per_round = JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.map((x) => Math.round(x))])));
    log(`CPU µs per message by party: ${extra.cpu_us_per_msg}`);

    // 2b. The policy rules' cost: the same load against a second service with every rule on, in
    // rounds alternating with the routing-only service (so drift hits both alike). Each customer
    // first writes to each business number, so every send is inside its customer service window.
    if (!lowOnly) Object.assign(metrics, await rulesRounds(env, receivers, server.current, rulesEnv, cold));

    if (process.env.BENCH_STOP_AFTER === "stream") {
      relayInboxes.close();
      await stopServer(relay);
      await stopServer(noop);
      await stopServer(server.current);
      throw new Error("stopped after the throughput rounds (BENCH_STOP_AFTER)");
    }

    // Let everything sent so far arrive, so the latency phases start clean.
    const ackedSoFar = await countStored(env);
    await waitReceived(ackedSoFar);

    // 3. Latency at fixed offered load: unary at 5,000/s, streamed at 20,000/s.
    measuring = true;
    const before5 = receivedCount;
    const e = lowOnly ? { acked: 0, errors: 0 } : await unaryAtRate(PHASE_MS, 5000, "e2e-u");
    await waitReceived(before5 + e.acked);
    const lu = latencySummary();
    metrics.e2e_p50_ms = lu.p50;
    metrics.e2e_p99_ms = lu.p99;
    log(`unary e2e p50 ${lu.p50} p99 ${lu.p99} (n=${lu.n})`);
    const before20 = receivedCount;
    const es = lowOnly ? { acked: 0, errors: 0 } : await streamPhase(PHASE_MS, "e2e-s", 20_000);
    await waitReceived(before20 + es.acked);
    const ls = latencySummary();
    metrics.stream_e2e_p50_ms = ls.p50;
    metrics.stream_e2e_p99_ms = ls.p99;
    log(`stream e2e p50 ${ls.p50} p99 ${ls.p99} (n=${ls.n})`);
    // The latency a person feels: unary at 1,000/s and streamed at a quarter of this run's streamed
    // capacity, beside the floor: a one-row durable commit on the same database at the same moment.
    // A light load means a steady one: the service's own consumers (analytics, flows) first work
    // through what the phases above queued, as they would after any burst.
    const settle = await waitConsumersIdle(env, 120_000);
    extra.consumers_settle_ms = settle;
    const floor = await commitProbe(env, LOW_MS, 1000);
    limits.pg_commit_p50_ms = floor.p50;
    limits.pg_commit_p99_ms = floor.p99;
    // The other floor: the same client at the same rate against the no-op server (send → ack), the
    // transport and both event loops with no storage at all.
    const transport = await noopAckProbe(noop.port, LOW_MS, 1000);
    limits.noop_ack_p50_ms_at_1000_per_s = transport.p50;
    limits.noop_ack_p99_ms_at_1000_per_s = transport.p99;
    extra.load_generator_loop_delay_p50_ms_noop = transport.loopP50;
    extra.load_generator_loop_delay_p99_ms_noop = transport.loopP99;
    // And send → received through the no-op relay at the same rate: the delivery floor of the e2e targets.
    const relayFloor = await relayProbe(relay.port, LOW_MS, 1000);
    limits.noop_relay_e2e_p50_ms_at_1000_per_s = relayFloor.p50;
    limits.noop_relay_e2e_p99_ms_at_1000_per_s = relayFloor.p99;
    // The no-op and the relay stay up (idle) until the light-load phases are over: stopping them
    // here delayed the phase's first sends by up to 0.4 s.
    useServer(server.current.port, true);
    const beforeLow = receivedCount;
    const stagesBefore = await scrapeStages(server.current.metricsPort);
    // The load generator's own event-loop delay in this phase: a late turn delays both the send and the reading of its ack.
    const clientLoop = monitorEventLoopDelay({ resolution: 1 });
    clientLoop.enable();
    const el = await unaryAtRate(LOW_MS, 1000, "e2e-u-low");
    clientLoop.disable();
    extra.load_generator_loop_delay_p50_ms_at_1000_per_s = round(clientLoop.percentile(50) / 1e6, 2);
    extra.load_generator_loop_delay_p99_ms_at_1000_per_s = round(clientLoop.percentile(99) / 1e6, 2);
    await waitReceived(beforeLow + el.acked);
    const ll = latencySummary();
    extra.stages_at_1000_per_s = JSON.stringify(stageQuantiles(stagesBefore, await scrapeStages(server.current.metricsPort)));
    metrics.e2e_p50_ms_at_1000_per_s = ll.p50;
    metrics.e2e_p99_ms_at_1000_per_s = ll.p99;
    extra.ack_p50_ms_at_1000_per_s = ll.ackP50;
    extra.ack_p99_ms_at_1000_per_s = ll.ackP99;
    const quarter = lowOnly ? benchKnob("BENCH_LOW_STREAM_RATE", 2500) : Math.max(100, Math.round((metrics.stream_send_per_s ?? 0) / 4));
    const beforeLowS = receivedCount;
    const stagesBeforeS = await scrapeStages(server.current.metricsPort);
    const esl = await streamPhase(LOW_MS, "e2e-s-low", quarter);
    await waitReceived(beforeLowS + esl.acked);
    const lsl = latencySummary();
    extra.stages_stream_at_quarter_capacity = JSON.stringify(stageQuantiles(stagesBeforeS, await scrapeStages(server.current.metricsPort)));
    metrics.stream_e2e_p50_ms_at_quarter_capacity = lsl.p50;
    metrics.stream_e2e_p99_ms_at_quarter_capacity = lsl.p99;
    extra.stream_quarter_capacity_per_s = quarter;
    measuring = false;
    log(`low-load e2e: unary@1000/s p50 ${ll.p50} p99 ${ll.p99} (send→ack p50 ${ll.ackP50} p99 ${ll.ackP99}), stream@${quarter}/s p50 ${lsl.p50} p99 ${lsl.p99}; one-row commit p50 ${floor.p50} p99 ${floor.p99}`);
    await stopServer(noop);
    closeClients(noop.port);
    relayInboxes.close();
    await stopServer(relay);
    closeClients(relay.port);
    errors += e.errors + es.errors + el.errors + esl.errors;

    // 4. Loss over all phases: everything acked must be stored and received once.
    const stored = await countStored(env);
    await waitReceived(ackedTotal);
    // Every acknowledged send must be stored and received exactly once.
    metrics.lost = Math.max(0, ackedTotal - receivedCount) + Math.max(0, ackedTotal - stored);
    extra.acked = ackedTotal;
    extra.event_rows_unrelayed_after_phases = await eventBacklog(env);
    extra.stored = stored;
    extra.received = receivedCount;
    extra.duplicates_received = duplicates;
    extra.send_errors = errors;

    // 5. Restart variant: SIGKILL mid-run; clients reconnect with cursors and resend unacked.
    if (process.env.BENCH_SKIP_RESTART === "1") {
      await stopServer(server.current);
      throw new Error("restart variant skipped (BENCH_SKIP_RESTART=1)");
    }
    const storedBefore = stored;
    const receivedBefore = receivedCount;
    const restart = lowOnly ? { sent: 0, acked: 0 } : await restartVariant(env, serverEnv, server, receivers, 5000);
    const storedAfter = await countStored(env);
    await waitReceived(storedAfter, 30_000);
    const restartStored = storedAfter - storedBefore;
    const restartReceived = receivedCount - receivedBefore;
    metrics.lost_restart = restart.sent - restart.acked + Math.max(0, restart.sent - restartStored) + Math.max(0, restart.sent - restartReceived);
    extra.restart_sent = restart.sent;
    extra.restart_stored = restartStored;
    extra.restart_received = restartReceived;
    extra.duplicates_received = duplicates;
    metrics.lost += metrics.lost_restart;
    for (const rc of receivers) rc.call?.cancel();
    for (const c of inboxClients) c.close();
    for (const s of senders) s.client.close();
    await stopServer(server.current);
  } finally {
    await env.cleanup().catch(() => undefined);
  }
  const result = {
    bench: "messaging",
    metrics: { ...metrics, "limits.grpc_noop_unary_per_s": limits.grpc_noop_unary_per_s, "limits.grpc_noop_stream_per_s": limits.grpc_noop_stream_per_s },
    limits,
    extra,
    env: { cpus: cpus().length, node: process.version, recipients: RECIPIENTS, senders: SENDERS, phase_ms: PHASE_MS, rounds: ROUNDS, server: "child process", server_malloc: allocatorEnv(process.env).LD_PRELOAD ?? "glibc", loadavg_1m_before: round(loadBefore), loadavg_1m_after: round(loadavg()[0]!) },
  };
  reportBench("messaging", result);
  clearTimeout(budget);
  process.exit(0);
}

/**
 * Rules on vs off: service CPU per streamed and unary message with every
 * policy rule applied ÷ without, measured back to back in each round
 * (medians reported), and a flood of refused sends (a number no customer
 * wrote to: 131047) against accepted ones on the rules service.
 */
async function rulesRounds(env: TestEnv, receivers: Receiver[], off: ServerProc, rulesEnv: Record<string, string>, cold: Sender): Promise<Record<string, number>> {
  const rules = await startServer("messaging", rulesEnv);
  const rulesPid = rules.child.pid!;
  const offPid = off.child.pid!;
  try {
    useServer(rules.port, true);
    // Every customer writes to every business number once: the windows are open (their echoes reach the receivers).
    const rulesClient = senders[0]!.client;
    for (let from = 0; from < receivers.length; from += 100) {
      await Promise.all(
        receivers.slice(from, from + 100).flatMap((rc) =>
          senders.map(
            (s) =>
              new Promise<void>((res, rej) =>
                rulesClient.sendMessage(
                  SendMessageRequest.fromPartial({ sender: { kind: { $case: "customerId", value: rc.customerId } }, recipient: { kind: { $case: "phoneNumberId", value: s.phoneNumberId } }, content: { kind: { $case: "text", value: { body: "hi", previewUrl: false } } } }),
                  rc.md,
                  (err) => (err ? rej(err) : (ackedTotal++, res())),
                ),
              ),
          ),
        ),
      );
    }
    const ratios = { stream: [] as number[], unary: [] as number[] };
    const cpuPer = async (port: number, pid: number, real: boolean, run: () => Promise<{ acked: number; errors: number }>) => {
      useServer(port, real);
      const c0 = processCpuUs(pid);
      const r = await run();
      return { perMsg: (processCpuUs(pid) - c0) / Math.max(1, r.acked), ...r };
    };
    const ms = Math.min(PHASE_MS, 3000);
    await cpuPer(rules.port, rulesPid, true, () => streamPhase(1000, "warm-r"));
    let rulesErrors = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const so = await cpuPer(off.port, offPid, true, () => streamPhase(ms, `ro-s${round}`));
      const sr = await cpuPer(rules.port, rulesPid, true, () => streamPhase(ms, `rr-s${round}`));
      const uo = await cpuPer(off.port, offPid, true, () => unaryMax(ms, `ro-u${round}`));
      const ur = await cpuPer(rules.port, rulesPid, true, () => unaryMax(ms, `rr-u${round}`));
      rulesErrors += sr.errors + ur.errors;
      if (sr.errors + ur.errors > 0) log(`rules round ${round}: errors ${JSON.stringify(Object.fromEntries(errorReasons))}`);
      errorReasons.clear();
      ratios.stream.push(sr.perMsg / so.perMsg);
      ratios.unary.push(ur.perMsg / uo.perMsg);
      log(`rules round ${round}: service µs/msg streamed ${round1(sr.perMsg)} vs ${round1(so.perMsg)} without rules, unary ${round1(ur.perMsg)} vs ${round1(uo.perMsg)}`);
    }
    // The refusal flood: streamed sends of the cold number, every one refused before storing.
    const saved = senders;
    cold.client = new MessagingServiceClient(`127.0.0.1:${rules.port}`, credentials.createInsecure(), { ...CHANNEL_OPTIONS, "kontor.cold": 1 });
    senders = [cold];
    const c0 = processCpuUs(rulesPid);
    const t0 = nowMs();
    const flood = await streamPhase(ms, "refused");
    const refusedCpu = (processCpuUs(rulesPid) - c0) / Math.max(1, flood.errors);
    const refusedPerS = (flood.errors / (nowMs() - t0)) * 1000;
    senders = saved;
    cold.client.close();
    useServer(rules.port, true);
    const accepted = await cpuPer(rules.port, rulesPid, true, () => streamPhase(ms, "accepted"));
    log(`refused flood: ${Math.round(refusedPerS)}/s at ${round1(refusedCpu)} µs each; accepted ${round1(accepted.perMsg)} µs each`);
    return {
      rules_cost_ratio: round(median(ratios.stream), 3),
      rules_cost_ratio_unary: round(median(ratios.unary), 3),
      rules_send_errors: rulesErrors,
      refused_per_s: Math.round(refusedPerS),
      refused_cpu_us_per_send: round1(refusedCpu),
      refused_cost_ratio: round(refusedCpu / accepted.perMsg, 3),
      refused_accepted: flood.acked,
    };
  } finally {
    closeClients(rules.port);
    useServer(off.port, true);
    await stopServer(rules);
  }
}

/** Events committed but not yet relayed to JetStream (each row holds one commit's events). */
/**
 * The floor under the service's latency: one-row durable commits (INSERT in
 * autocommit, synchronous_commit on, as the group commit's) on the service's
 * database, one after another from one connection, started at most
 * `ratePerS` a second for `ms`; p50 and p99 of each commit's round trip. Never
 * more than one in flight, so a slow commit is measured, not a queue behind it.
 */
async function commitProbe(env: TestEnv, ms: number, ratePerS: number): Promise<{ p50: number; p99: number }> {
  const { db, pool } = createDb({ url: env.databaseUrl, schema: "messaging", max: 1 });
  try {
    await pool.query("CREATE TABLE IF NOT EXISTS bench_commit_probe (id bigint PRIMARY KEY, at timestamptz NOT NULL)");
    const times: number[] = [];
    const start = nowMs();
    const interval = 1000 / ratePerS;
    for (let id = 1; nowMs() - start < ms; id++) {
      const t = nowMs();
      await pool.query({ name: "probe", text: "INSERT INTO bench_commit_probe (id, at) VALUES ($1, now())", values: [id] });
      times.push(nowMs() - t);
      const wait = t + interval - nowMs();
      if (wait >= 1) await sleep(wait);
    }
    await pool.query("DROP TABLE bench_commit_probe");
    times.sort((a, b) => a - b);
    return { p50: round(percentile(times, 50)), p99: round(percentile(times, 99)) };
  } finally {
    await db.destroy();
  }
}

/** Waits until every durable consumer of messaging's stream has nothing pending or unacked; returns how long it took (ms). */
async function streamState(env: TestEnv): Promise<{ bytes: number; messages: number }> {
  const jsm = await (await env.nats()).jetstreamManager();
  const info = await jsm.streams.info(domainStream(env.natsPrefix, "messaging").name);
  return { bytes: info.state.bytes, messages: info.state.messages };
}

/**
 * nats-server's CPU for the routing path's events and nothing else: a scratch
 * stream on the same server gets `eventsPerS` events of `eventBytes` each,
 * SENDERS at a time in one write (a group commit's events, one per business
 * number; the relay waits for their acks). With `reader`, one pull consumer
 * reads them as analytics does: a fetch of whatever is pending once a second,
 * acked together.
 */
async function natsFloorProbe(env: TestEnv, eventsPerS: number, eventBytes: number, ms: number, reader: boolean): Promise<{ natsUs: number; ms: number }> {
  const nc = await env.nats();
  const jsm = await nc.jetstreamManager();
  const name = `${env.natsPrefix.replace(/\W/g, "_")}BENCH_FLOOR`;
  await jsm.streams.add({ name, subjects: [`${env.natsPrefix}bench.floor.>`] });
  let reading = reader;
  let read: Promise<void> = Promise.resolve();
  try {
    if (reader) {
      await jsm.consumers.add(name, { durable_name: "reader", ack_policy: AckPolicy.Explicit });
      const consumer = await nc.jetstream().consumers.get(name, "reader");
      read = (async () => {
        while (reading) {
          await sleep(1000);
          const pending = (await consumer.info(false)).num_pending;
          if (pending === 0) continue;
          const batch = await consumer.fetch({ max_messages: Math.min(512, pending), expires: 1000 });
          for await (const m of batch) m.ack();
        }
      })();
    }
    const js = nc.jetstream();
    const payload = new Uint8Array(Math.max(1, Math.round(eventBytes)));
    const pids = natsPids ?? pidsNamed(["nats-server"]).get("nats-server") ?? [];
    const c0 = sumProcessCpuUs(pids);
    const start = nowMs();
    let n = 0;
    while (nowMs() - start < ms) {
      await Promise.all(Array.from({ length: SENDERS }, (_, k) => js.publish(`${env.natsPrefix}bench.floor.e`, payload, { msgID: `f${n}.${k}` })));
      n += SENDERS;
      const wait = start + (n / eventsPerS) * 1000 - nowMs();
      if (wait > 0) await sleep(wait);
    }
    const elapsed = nowMs() - start;
    const natsUs = sumProcessCpuUs(pids) - c0;
    return { natsUs, ms: elapsed };
  } finally {
    reading = false;
    await read.catch(() => undefined);
    await jsm.streams.delete(name).catch(() => undefined);
  }
}

async function waitConsumersIdle(env: TestEnv, ms: number): Promise<number> {
  const jsm = await (await env.nats()).jetstreamManager();
  const stream = domainStream(env.natsPrefix, "messaging").name;
  const start = nowMs();
  while (nowMs() - start < ms) {
    let busy = 0;
    for await (const c of jsm.consumers.list(stream)) busy += c.num_pending + c.num_ack_pending;
    if (busy === 0) break;
    await sleep(200);
  }
  return Math.round(nowMs() - start);
}

type StageBuckets = Map<string, Map<number, number>>;

/** The service's per-stage histogram (kontor_messaging_send_stage_seconds): cumulative counts by stage and bucket bound. */
async function scrapeStages(metricsPort: number): Promise<StageBuckets> {
  const out: StageBuckets = new Map();
  if (!metricsPort) return out;
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  for (const line of text.split("\n")) {
    const m = /^kontor_messaging_send_stage_seconds_bucket\{(.*)\} (\d+)/.exec(line);
    if (!m) continue;
    const le = /le="([^"]+)"/.exec(m[1]!)?.[1];
    const stage = /stage="([^"]+)"/.exec(m[1]!)?.[1];
    if (!le || !stage) continue;
    if (!out.has(stage)) out.set(stage, new Map());
    out.get(stage)!.set(le === "+Inf" ? Infinity : Number(le), Number(m[2]));
  }
  return out;
}

/**
 * Per stage, the bucket bounds (ms) under which 50% and 99% of the group
 * commits between two scrapes fell: where a send's time went (send-service.ts).
 */
function stageQuantiles(before: StageBuckets, after: StageBuckets): Record<string, { p50_ms: number; p99_ms: number; n: number }> {
  const out: Record<string, { p50_ms: number; p99_ms: number; n: number }> = {};
  for (const [stage, buckets] of after) {
    const bounds = [...buckets.keys()].sort((a, b) => a - b);
    const delta = bounds.map((b) => buckets.get(b)! - (before.get(stage)?.get(b) ?? 0));
    const n = delta.at(-1) ?? 0;
    const at = (q: number) => {
      const i = delta.findIndex((c) => c >= q * n);
      const b = bounds[i] ?? Infinity;
      return Number.isFinite(b) ? b * 1000 : -1;
    };
    out[stage] = { p50_ms: at(0.5), p99_ms: at(0.99), n };
  }
  return out;
}

async function eventBacklog(env: TestEnv): Promise<number> {
  const { db, pool } = createDb({ url: env.databaseUrl, schema: "messaging", max: 1 });
  try {
    const r = await pool.query<{ n: string }>("SELECT (SELECT count(*) FROM outbox_batch) + (SELECT count(*) FROM send_outbox) AS n");
    return Number(r.rows[0]!.n);
  } finally {
    await db.destroy();
  }
}

async function countStored(env: TestEnv): Promise<number> {
  const { db, pool } = createDb({ url: env.databaseUrl, schema: "messaging", max: 1 });
  try {
    const r = await pool.query<{ n: string }>("SELECT count(*) AS n FROM message");
    return Number(r.rows[0]!.n);
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

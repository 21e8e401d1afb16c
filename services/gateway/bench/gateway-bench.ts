/**
 * npm run bench:gateway — Cloud API sends through HTTP → gateway → messaging
 * gRPC, against the limits measured in the same run with the same
 * concurrency: fastify answering a fixed body (`http_noop_per_s`) and
 * messaging's own unary SendMessage (`messaging_unary_send_per_s`); p99 at
 * half the measured rate; webhook deliveries per second to a local receiver;
 * each party's CPU per operation. Prints one JSON line (bench-results/gateway.json).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { Agent, createServer, request } from "node:http";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials, Metadata } from "@grpc/grpc-js";
import { BusinessRegistered } from "@kontor/proto/directory/v1/events";
import { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import { MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { MessagingServiceClient, type SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { allocatorEnv } from "@kontor/service-kit/allocator";
import { generateSigningKeys } from "@kontor/service-kit/auth";
import { benchKnob, machineBusyUs, pidsNamed, processCpuUs, reportBench, sumProcessCpuUs } from "@kontor/service-kit/bench";
import { createTestEnv } from "@kontor/testkit/env";

const here = dirname(fileURLToPath(import.meta.url));
const SENDERS = benchKnob("BENCH_SENDERS", 4);
const PER_SENDER = benchKnob("BENCH_CONCURRENCY", 32); // requests in flight per sender (business number)
const PHASE_MS = benchKnob("BENCH_PHASE_MS", 4000);
const ROUNDS = benchKnob("BENCH_ROUNDS", 3);
const RECIPIENTS = benchKnob("BENCH_RECIPIENTS", 200);
const WEBHOOKS = benchKnob("BENCH_WEBHOOKS", 20_000);
/** BENCH_ONLY=webhooks: only the webhook drain (and the idle CPU), no send phases; the send metrics are then absent. */
const ONLY_WEBHOOKS = process.env.BENCH_ONLY === "webhooks";
const CONVERSATIONS = 200;
const budget = setTimeout(() => (process.stderr.write("bench: giving up after 4.5 minutes\n"), process.exit(2)), 270_000);

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? 0;
const r1 = (x: number) => Math.round(x * 10) / 10;

// ---- child processes ---------------------------------------------------------

const children = new Set<ChildProcess>();
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, () => process.exit(130));

/** Starts a server script that prints {"ready":true,"port":N}; its logs go to stderr. */
function startChild(script: string, args: string[], cwd: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [...nodeArgs, "--conditions=@kontor/source", "--import", "tsx", script, ...args], {
    cwd,
    env: { ...process.env, ...allocatorEnv(process.env), ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return new Promise((res, rej) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString();
      const line = buf.split("\n").find((l) => l.startsWith('{"ready"'));
      if (!line) return;
      child.stdout!.off("data", onData);
      child.stdout!.on("data", (more: Buffer) => process.stderr.write(more));
      res({ child, port: (JSON.parse(line) as { port: number }).port });
    };
    child.stdout!.on("data", onData);
    child.on("exit", (code) => rej(new Error(`${script} ${args.join(" ")} exited with ${code}`)));
  });
}

// ---- CPU per party -------------------------------------------------------------

type Parties = Record<string, number>;
function cpuNow(pids: Record<string, number>): Parties {
  const named = pidsNamed(["postgres", "nats-server"]);
  const own = process.cpuUsage();
  const out: Parties = { load: own.user + own.system, postgres: sumProcessCpuUs(named.get("postgres")!), nats: sumProcessCpuUs(named.get("nats-server")!), machine: machineBusyUs() };
  for (const [name, pid] of Object.entries(pids)) out[name] = processCpuUs(pid);
  return out;
}
/** µs of CPU per operation by party between two snapshots. */
function perOp(a: Parties, b: Parties, ops: number): Parties {
  const out: Parties = {};
  for (const k of Object.keys(a)) out[k] = r1((b[k]! - a[k]!) / Math.max(1, ops));
  return out;
}

// ---- load ------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: SENDERS * PER_SENDER });
let token = "";
const phoneIds: string[] = [];
const customerNumbers: string[] = [];
let seq = 0;
const pad = "x".repeat(100);

function sendBody(): string {
  const to = customerNumbers[seq++ % customerNumbers.length]!;
  return JSON.stringify({ messaging_product: "whatsapp", to, type: "text", text: { body: pad } });
}

function httpSend(port: number, sender: number): Promise<number> {
  const body = sendBody();
  return new Promise((res, rej) => {
    const req = request(
      { agent, host: "127.0.0.1", port, method: "POST", path: `/v23.0/${phoneIds[sender]}/messages`, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${token}` } },
      (r) => {
        r.resume();
        r.on("end", () => res(r.statusCode ?? 0));
        r.on("error", rej);
      },
    );
    req.on("error", rej);
    req.end(body);
  });
}

let grpcClients: MessagingServiceClient[] = [];
const grpcMd: Metadata[] = [];
function grpcSend(sender: number): Promise<number> {
  const to = customerNumbers[seq++ % customerNumbers.length]!;
  const req: SendMessageRequest = {
    sender: { kind: { $case: "phoneNumberId", value: phoneIds[sender]! } },
    recipient: undefined,
    to,
    clientMessageId: "",
    content: { kind: { $case: "text", value: { body: pad, previewUrl: false } } },
    context: undefined,
    bizOpaqueCallbackData: "",
    referral: undefined,
  };
  return new Promise((res) => grpcClients[sender]!.sendMessage(req, grpcMd[sender]!, (err) => res(err ? 500 : 200)));
}

/** Closed loop: PER_SENDER in flight per sender for `ms`; ops/s of 200 answers, and the errors. */
async function closedLoop(ms: number, send: (sender: number) => Promise<number>): Promise<{ perS: number; ok: number; errors: number }> {
  let ok = 0;
  let errors = 0;
  const t0 = nowMs();
  const until = t0 + ms;
  const worker = async (sender: number) => {
    while (nowMs() < until) {
      const status = await send(sender).catch(() => 0);
      if (status === 200) ok++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: SENDERS * PER_SENDER }, (_, i) => worker(i % SENDERS)));
  return { perS: (ok * 1000) / (nowMs() - t0), ok, errors };
}

/** Open loop at `rate`/s for `ms`: every request's latency. */
async function openLoop(rate: number, ms: number, send: (sender: number) => Promise<number>): Promise<{ latencies: number[]; errors: number; ok: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const t0 = nowMs();
  let sent = 0;
  while (nowMs() - t0 < ms) {
    const due = Math.floor(((nowMs() - t0) * rate) / 1000);
    for (; sent < due; sent++) {
      const start = nowMs();
      pending.push(
        send(sent % SENDERS)
          .then((s) => (s === 200 ? latencies.push(nowMs() - start) : errors++))
          .catch(() => errors++)
          .then(() => undefined),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  return { latencies, errors, ok: latencies.length };
}

// ---- webhook receiver ------------------------------------------------------------

function startReceiver(appSecret: string, verifyToken: string) {
  const seen = new Set<string>();
  let posts = 0;
  let badSignatures = 0;
  let lastAt = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET") {
      const ok = url.searchParams.get("hub.verify_token") === verifyToken;
      res.writeHead(ok ? 200 : 403).end(ok ? url.searchParams.get("hub.challenge") : "no");
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      if (req.headers["x-hub-signature-256"] !== `sha256=${createHmac("sha256", appSecret).update(raw).digest("hex")}`) badSignatures++;
      posts++;
      const body = JSON.parse(raw.toString()) as { entry: { changes: { value: { statuses?: { id: string; status: string }[] } }[] }[] };
      for (const e of body.entry) for (const c of e.changes) for (const s of c.value.statuses ?? []) seen.add(`${s.id}:${s.status}`);
      lastAt = nowMs();
      res.writeHead(200).end();
    });
  });
  return {
    server,
    seen,
    stats: () => ({ posts, badSignatures, lastAt }),
    listen: () => new Promise<number>((r) => server.listen(0, "127.0.0.1", () => r((server.address() as { port: number }).port))),
  };
}

async function graphCall(port: number, method: string, path: string, json?: unknown): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/v23.0${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(json ? { "content-type": "application/json" } : {}) }, body: json ? JSON.stringify(json) : undefined });
  return { status: res.status, body: await res.text() };
}

// ---- main ---------------------------------------------------------------------------

async function main() {
  const env = await createTestEnv();
  const gwKeys = await generateSigningKeys(`gw-bench-${randomBytes(3).toString("hex")}`);
  const keys = JSON.stringify([...(JSON.parse(env.authPublicKeys) as object[]), gwKeys.publicJwk]);
  const common = { AUTH_PUBLIC_KEYS: keys, LOG_LEVEL: "warn" };
  try {
    // Messaging as its own bench runs it (its script, its node flags), routing only: the gateway's path, not the rules.
    const messaging = await startChild(resolve(here, "../../messaging/bench/server.ts"), ["messaging"], resolve(here, "../../messaging"), env.env({ ...common, MESSAGE_MASTER_KEY: randomBytes(32).toString("base64"), DB_POOL_MAX: "8", MESSAGING_POLICY: "off" }), ["--max-semi-space-size=64", ...(process.env.BENCH_MESSAGING_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_MESSAGING_PROFILE}`] : [])]);
    token = randomBytes(32).toString("base64url");
    const appSecret = randomBytes(16).toString("hex");
    const verifyToken = randomBytes(8).toString("hex");
    const businesses = Array.from({ length: SENDERS + 1 }, (_, i) => ({ businessId: `bench_biz_${i}`, wabaId: `10000000000000${i}`, phoneNumberId: `20000000000000${i}` }));
    const hooks = businesses[SENDERS]!; // the webhook phase's number: the only subscribed WABA
    const seed = [{ id: "bench-partner", name: "Bench BSP", appSecret, verifyToken, tokenSha256: createHash("sha256").update(token).digest("hex"), businesses: businesses.map(({ businessId, wabaId }) => ({ businessId, wabaId })) }];
    // BENCH_GATEWAY_PROFILE=<dir>: a CPU profile of the gateway, written when the bench stops it.
    const profile = process.env.BENCH_GATEWAY_PROFILE;
    const gateway = await startChild(
      resolve(here, "server.ts"),
      ["gateway"],
      resolve(here, ".."),
      env.env({ ...common, GATEWAY_SIGNING_KEY: JSON.stringify(gwKeys.privateJwk), MESSAGING_ADDRESS: `127.0.0.1:${messaging.port}`, HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", GATEWAY_SEED: JSON.stringify(seed), GRPC_PORT: "0", METRICS_PORT: "0", ...(process.env.BENCH_GATEWAY_LOG_LEVEL ? { LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL } : {}), ...(process.env.MESSAGING_SENDS ? { MESSAGING_SENDS: process.env.MESSAGING_SENDS } : {}) }),
      // BENCH_GATEWAY_NODE_ARGS: more node flags for the gateway (an A/B of --max-semi-space-size, say).
      [...(process.env.BENCH_GATEWAY_NODE_ARGS ?? "").split(" ").filter(Boolean), ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [])],
    );
    const noop = await startChild(resolve(here, "server.ts"), ["noop"], resolve(here, ".."), {});
    const pids = { gateway: gateway.child.pid!, messaging: messaging.child.pid!, noop: noop.child.pid! };

    // Directory's events for the business numbers; customers registered in messaging.
    const js = (await env.nats()).jetstream();
    for (const [i, b] of businesses.entries()) {
      const business = BusinessSnapshot.fromPartial({ businessId: b.businessId, displayName: b.businessId, country: "DE", phoneNumbers: [{ phoneNumberId: b.phoneNumberId, e164: `+4930${String(i).padStart(8, "0")}`, displayName: "" }], version: "1" });
      const eventId = randomUUID();
      await js.publish(`${env.natsPrefix}kontor.directory.business.registered.v1`, BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId: b.businessId }, business }).finish(), { msgID: eventId });
      phoneIds.push(b.phoneNumberId);
    }
    phoneIds.pop();
    grpcClients = phoneIds.map((_, i) => new MessagingServiceClient(`127.0.0.1:${messaging.port}`, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "kontor.sender": i }));
    for (const b of businesses.slice(0, SENDERS)) {
      const md = new Metadata();
      md.set("authorization", `Bearer ${await env.token({ kind: "business", businessId: b.businessId })}`);
      grpcMd.push(md);
    }
    const serviceMd = new Metadata();
    serviceMd.set("authorization", `Bearer ${await env.token({ kind: "service", service: "onboarding" })}`);
    for (let i = 0; i < RECIPIENTS; i++) {
      const e164 = `+4917${String(i).padStart(8, "0")}`;
      customerNumbers.push(e164);
      await new Promise<void>((res, rej) => grpcClients[0]!.upsertCustomer({ customerId: `bench_c_${i}`, e164, profileName: `C${i}`, settings: undefined }, serviceMd, (err) => (err ? rej(err) : res())));
    }
    // Ready when both know every number: a send through the gateway answers 200 for each.
    for (let s = 0; s < SENDERS; s++) {
      for (let tries = 0; (await httpSend(gateway.port, s)) !== 200; tries++) {
        if (tries > 400) throw new Error("the gateway never accepted a send");
        await sleep(50);
      }
    }
    log("stack ready");

    // What each process burns with no load (consumers' pulls, pollers): part of every per-op figure at low rates.
    const idle0 = cpuNow(pids);
    const idleStart = nowMs();
    await sleep(3000);
    const idle = perOp(idle0, cpuNow(pids), (nowMs() - idleStart) / 1000);
    // Warm-up, then rounds: each measures the three back to back, so a ratio compares phases seconds apart.
    const sendRounds = ONLY_WEBHOOKS ? 0 : ROUNDS;
    if (!ONLY_WEBHOOKS) await closedLoop(1500, (s) => httpSend(noop.port, s));
    if (!ONLY_WEBHOOKS) await closedLoop(1500, grpcSend);
    if (!ONLY_WEBHOOKS) await closedLoop(1500, (s) => httpSend(gateway.port, s));
    const rates = { noop: [] as number[], messaging: [] as number[], gateway: [] as number[] };
    const cpu: Record<string, Parties[]> = { noop: [], messaging: [], gateway: [] };
    let sendErrors = 0;
    const phase = async (kind: "noop" | "messaging" | "gateway", send: (s: number) => Promise<number>) => {
      const a = cpuNow(pids);
      const r = await closedLoop(PHASE_MS, send);
      cpu[kind]!.push(perOp(a, cpuNow(pids), r.ok));
      rates[kind].push(r.perS);
      if (kind === "gateway") sendErrors += r.errors;
    };
    for (let round = 1; round <= sendRounds; round++) {
      await phase("noop", (s) => httpSend(noop.port, s));
      await phase("messaging", grpcSend);
      await phase("gateway", (s) => httpSend(gateway.port, s));
      log(`round ${round}: gateway ${Math.round(rates.gateway.at(-1)!)}/s, messaging ${Math.round(rates.messaging.at(-1)!)}/s, http no-op ${Math.round(rates.noop.at(-1)!)}/s`);
    }
    const sendsPerS = ONLY_WEBHOOKS ? 0 : median(rates.gateway);
    // Latency at half the measured rate (open loop).
    const half = ONLY_WEBHOOKS ? { latencies: [0], errors: 0 } : await openLoop(sendsPerS / 2, PHASE_MS, (s) => httpSend(gateway.port, s));
    log(`half load ${Math.round(sendsPerS / 2)}/s: p50 ${r1(pct(half.latencies, 50))} ms, p99 ${r1(pct(half.latencies, 99))} ms`);
    // The same rate both ways (open loop): each party's CPU per send when neither path is saturated, so a
    // difference is what the path costs and not how well a batch amortizes at a higher rate.
    const equalRate = Math.max(20, Math.round(Math.min(sendsPerS, median(rates.messaging)) * 0.6));
    const equal = { direct: [] as Parties[], gateway: [] as Parties[] };
    const equalLatency = { direct: [] as number[], gateway: [] as number[] };
    for (let round = 0; round < (ONLY_WEBHOOKS ? 0 : 2); round++) {
      for (const [kind, send] of [["direct", grpcSend], ["gateway", (s: number) => httpSend(gateway.port, s)]] as const) {
        const a = cpuNow(pids);
        const r = await openLoop(equalRate, PHASE_MS / 2, send);
        equal[kind].push(perOp(a, cpuNow(pids), r.ok));
        equalLatency[kind].push(...r.latencies);
      }
    }

    // Webhooks: status events (as messaging publishes them) for the subscribed number, to a local receiver.
    const receiver = startReceiver(appSecret, verifyToken);
    const receiverPort = await receiver.listen();
    const sub = await graphCall(gateway.port, "POST", `/${hooks.wabaId}/subscribed_apps`, { override_callback_uri: `http://127.0.0.1:${receiverPort}/hook`, verify_token: verifyToken });
    if (sub.status !== 200) throw new Error(`subscribe failed: ${sub.body}`);
    // The gateway is paused while the events are published, so the phase measures its drain of a burst,
    // not how fast this process can publish; its NATS connection outlives the pause.
    process.kill(pids.gateway, "SIGSTOP");
    const publishStart = nowMs();
    const subject = `${env.natsPrefix}kontor.messaging.message.status.v1`;
    for (let i = 0; i < WEBHOOKS; i += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, WEBHOOKS - i) }, (_, k) => {
          const n = i + k;
          const eventId = randomUUID();
          const e = MessageStatusChanged.fromPartial({
            meta: { eventId, occurredAt: new Date(), businessId: hooks.businessId },
            messageId: `wamid.bench${n}`,
            conversationId: `bench-conv-${n % CONVERSATIONS}`,
            sender: { kind: { $case: "phoneNumberId", value: hooks.phoneNumberId } },
            recipient: { kind: { $case: "customerId", value: `bench_c_${n % CONVERSATIONS}` } },
            status: MessageStatus.MESSAGE_STATUS_DELIVERED,
            phoneNumberId: hooks.phoneNumberId,
            customerId: `bench_c_${n % CONVERSATIONS}`,
            customerE164: customerNumbers[n % customerNumbers.length]!,
          });
          return js.publish(subject, MessageStatusChanged.encode(e).finish(), { msgID: eventId });
        }),
      );
    }
    const publishMs = nowMs() - publishStart;
    const a = cpuNow(pids);
    const hooksStart = nowMs();
    process.kill(pids.gateway, "SIGCONT");
    const deadline = Date.now() + 120_000;
    while (receiver.seen.size < WEBHOOKS && Date.now() < deadline) await sleep(20);
    const hooksMs = receiver.stats().lastAt - hooksStart;
    const hooksCpu = perOp(a, cpuNow(pids), receiver.seen.size);
    const stats = receiver.stats();
    receiver.server.close();

    const mean = (list: Parties[], k: string) => r1(list.reduce((s, p) => s + p[k]!, 0) / list.length);
    const parties = (list: Parties[]) => Object.fromEntries(Object.keys(list[0]!).map((k) => [k, mean(list, k)]));
    const none = (): Parties[] => [Object.fromEntries(Object.keys(idle).map((k) => [k, 0]))];
    if (ONLY_WEBHOOKS) for (const k of ["gateway", "messaging", "noop"]) if (cpu[k]!.length === 0) cpu[k] = none();
    if (ONLY_WEBHOOKS) for (const k of ["direct", "gateway"] as const) if (equal[k].length === 0) equal[k] = none();
    const gw = parties(cpu.gateway!);
    const direct = parties(cpu.messaging!);
    const ncpu = cpus().length;
    const result = {
      bench: "gateway",
      metrics: {
        sends_per_s: Math.round(sendsPerS),
        sends_ratio_to_messaging: Math.round(median(rates.gateway.map((g, i) => g / rates.messaging[i]!)) * 1000) / 1000,
        p99_ms_at_half_load: r1(pct(half.latencies, 99)),
        p50_ms_at_half_load: r1(pct(half.latencies, 50)),
        webhooks_per_s: Math.round((receiver.seen.size * 1000) / Math.max(1, hooksMs)),
        webhooks_delivered: receiver.seen.size,
        webhooks_lost: WEBHOOKS - receiver.seen.size,
        gateway_cpu_us_per_send: gw.gateway!,
        gateway_cpu_us_per_webhook: hooksCpu.gateway!,
      },
      limits: {
        http_noop_per_s: Math.round(median(rates.noop)),
        messaging_unary_send_per_s: Math.round(median(rates.messaging)),
      },
      extra: {
        concurrency: SENDERS * PER_SENDER,
        send_errors: sendErrors,
        half_load_per_s: Math.round(sendsPerS / 2),
        half_load_errors: half.errors,
        per_round: rates,
        cpu_us_per_send_via_gateway: gw,
        cpu_us_per_send_direct: direct,
        equal_rate_per_s: equalRate,
        cpu_us_per_send_at_equal_rate: { direct: parties(equal.direct), via_gateway: parties(equal.gateway) },
        // Messaging's own durable-ack latency at that rate is the floor under the gateway's.
        p99_ms_at_equal_rate: { direct: r1(pct(equalLatency.direct, 99)), via_gateway: r1(pct(equalLatency.gateway, 99)) },
        p50_ms_at_equal_rate: { direct: r1(pct(equalLatency.direct, 50)), via_gateway: r1(pct(equalLatency.gateway, 50)) },
        cpu_us_per_http_noop: parties(cpu.noop!),
        cpu_us_per_webhook: hooksCpu,
        idle_cpu_us_per_s: idle,
        webhook_posts: stats.posts,
        webhook_bad_signatures: stats.badSignatures,
        webhook_publish_ms: Math.round(publishMs),
        // Every core busy with the rest of a send's work as measured, and the gateway's process costing nothing
        // (or what the HTTP no-op costs per request): the best any gateway could reach on this machine.
        sends_per_s_bound_if_gateway_free: Math.round((ncpu * 1e6) / Math.max(1, gw.machine! - gw.gateway!)),
        sends_per_s_bound_if_gateway_cost_noop: Math.round((ncpu * 1e6) / Math.max(1, gw.machine! - gw.gateway! + parties(cpu.noop!).noop!)),
        messaging_direct_machine_us_per_send: direct.machine!,
      },
      env: { cpus: ncpu, node: process.version },
    };
    reportBench("gateway", result);
    for (const c of grpcClients) c.close();
    agent.destroy();
    for (const c of [gateway, noop, messaging]) {
      c.child.kill("SIGTERM");
      await new Promise((r) => c.child.once("exit", r));
    }
  } finally {
    await env.cleanup();
    clearTimeout(budget);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

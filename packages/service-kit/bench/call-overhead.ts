/**
 * npm run bench:kit — what the service kit's call wrapper adds to a unary
 * call: the same probe answered by a plain grpc-js server and through the
 * kit (token check, context, metrics, logging), each in its own process,
 * driven by the same client in alternating rounds. Reports server CPU per
 * call and bytes promoted to the old generation per call (--trace-gc-nvp),
 * prints one JSON line and writes bench-results/kit.json. See BENCHMARKS.md.
 */
import { fork, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { createTokenSigner, generateSigningKeys } from "../src/auth.js";
import { benchKnob, reportBench } from "../src/bench.js";
import { probeDefinition } from "./probe.js";

const here = dirname(fileURLToPath(import.meta.url));
const PHASE_MS = benchKnob("BENCH_PHASE_MS", 4000);
const ROUNDS = benchKnob("BENCH_ROUNDS", 3);
const CHANNELS = 4;
const IN_FLIGHT = 64; // per channel, as the messaging bench's unary phase
const budget = setTimeout(() => {
  process.stderr.write("bench: giving up after 3 minutes\n");
  process.exit(2);
}, 180_000);

const keys = await generateSigningKeys("bench");
const token = await (await createTokenSigner(keys.privateJwk)).sign({ kind: "service", service: "bench" });
const md = new Metadata();
md.set("authorization", `Bearer ${token}`);

interface Running {
  child: ChildProcess;
  port: number;
  gcLog: string;
}

async function start(mode: "raw" | "kit"): Promise<Running> {
  const child = fork(resolve(here, "call-server.ts"), [mode], {
    execArgv: ["--max-semi-space-size=64", "--trace-gc-nvp", "--conditions=@kontor/source", "--import", "tsx"],
    env: { ...process.env, AUTH_PUBLIC_KEYS: JSON.stringify(keys.publicJwk) },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const running: Running = { child, port: 0, gcLog: "" };
  child.stdout!.on("data", (d: Buffer) => (running.gcLog += d.toString()));
  running.port = await new Promise<number>((res) => child.once("message", (m: { port: number }) => res(m.port)));
  return running;
}

/** Bytes V8 promoted in scavenges logged since `from` (an offset into the GC log). */
function promotedSince(r: Running, from: number): number {
  let sum = 0;
  for (const line of r.gcLog.slice(from).split("\n")) {
    if (!/ gc=s /.test(line)) continue;
    sum += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return sum;
}

function cpuBetween(r: Running, phase: () => Promise<number>): Promise<{ calls: number; cpuUs: number }> {
  return new Promise((res, rej) => {
    r.child.send("start");
    phase().then((calls) => {
      r.child.once("message", (m: { cpuUs: number }) => res({ calls, cpuUs: m.cpuUs }));
      r.child.send("stop");
    }, rej);
  });
}

/** Closed loop: CHANNELS × IN_FLIGHT calls in flight for `ms`; resolves with the calls answered. */
async function drive(clients: Client[], ms: number): Promise<number> {
  let done = 0;
  let stop = false;
  const req = Buffer.alloc(160);
  let open = 0;
  await new Promise<void>((finished) => {
    const one = (c: Client) => {
      if (stop) {
        if (--open === 0) finished();
        return;
      }
      c.makeUnaryRequest(probeDefinition.call.path, (b: Buffer) => b, (b: Buffer) => b, req, md, (err) => {
        if (err) throw err;
        done++;
        one(c);
      });
    };
    for (const c of clients) for (let i = 0; i < IN_FLIGHT; i++, open++) one(c);
    setTimeout(() => (stop = true), ms);
  });
  return done;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number) => Math.round(x * 10) / 10;

const servers = { raw: await start("raw"), kit: await start("kit") };
const clients = Object.fromEntries(
  Object.entries(servers).map(([k, s]) => [k, Array.from({ length: CHANNELS }, (_, i) => new Client(`127.0.0.1:${s.port}`, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "bench.channel": i }))]),
) as Record<"raw" | "kit", Client[]>;
for (const mode of ["raw", "kit"] as const) await drive(clients[mode], 1000); // warm-up

const perRound: Record<"raw" | "kit", { perS: number; cpuUs: number; promoted: number }[]> = { raw: [], kit: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ["raw", "kit"] as const) {
    const s = servers[mode];
    const gcFrom = s.gcLog.length;
    const t0 = performance.now();
    const { calls, cpuUs } = await cpuBetween(s, () => drive(clients[mode], PHASE_MS));
    const seconds = (performance.now() - t0) / 1000;
    perRound[mode].push({ perS: calls / seconds, cpuUs: cpuUs / calls, promoted: promotedSince(s, gcFrom) / calls });
  }
  process.stderr.write(`bench: round ${round + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(perRound).map(([k, v]) => [k, v.at(-1)])))}\n`);
}
for (const c of [...clients.raw, ...clients.kit]) c.close();
for (const s of Object.values(servers)) s.child.disconnect();

const m = (mode: "raw" | "kit", k: "perS" | "cpuUs" | "promoted") => median(perRound[mode].map((r) => r[k]));
// Per round, kit minus raw measured seconds apart; the median of those differences.
const overhead = median(perRound.kit.map((r, i) => r.cpuUs - perRound.raw[i]!.cpuUs));
const result = {
  bench: "kit",
  metrics: {
    kit_unary_server_cpu_us_per_call: round1(m("kit", "cpuUs")),
    kit_overhead_us_per_call: round1(overhead),
    kit_promoted_bytes_per_call: Math.round(m("kit", "promoted")),
    kit_unary_per_s: Math.round(m("kit", "perS")),
  },
  limits: {
    raw_unary_server_cpu_us_per_call: round1(m("raw", "cpuUs")),
    raw_promoted_bytes_per_call: Math.round(m("raw", "promoted")),
    raw_unary_per_s: Math.round(m("raw", "perS")),
  },
  env: { cpus: cpus().length, node: process.version, phase_ms: PHASE_MS, rounds: ROUNDS, channels: CHANNELS, in_flight_per_channel: IN_FLIGHT },
};
reportBench("kit", result);
clearTimeout(budget);

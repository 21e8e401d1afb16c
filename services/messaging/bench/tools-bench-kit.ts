/**
 * What messaging's benchmarks (messaging-bench.ts, broadcast-bench.ts,
 * analytics-bench.ts) share: the service (or the no-op server) as a child process started by
 * bench/server.ts, and CPU per party from /proc, so each phase says where its
 * cost is paid and what the machine allows at best.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { allocatorEnv } from "@kontor/service-kit/allocator";
import { machineBusyUs, pidsNamed, processCpuUs, sumProcessCpuUs } from "@kontor/service-kit/bench";

const here = dirname(fileURLToPath(import.meta.url));
/** As in services/messaging/package.json's start script; BENCH_SERVER_NODE_ARGS replaces them (a CPU profile, an A/B of flags). */
const SERVICE_NODE_ARGS = "--max-semi-space-size=64";

export const log = (bench: string, msg: string) => process.stderr.write(`${bench}: ${msg}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface ServerProc {
  child: ChildProcess;
  port: number;
  /** The service's Prometheus endpoint (0 for the no-op server). */
  metricsPort: number;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
// Killed from outside (Ctrl-C, `timeout`): exit through the handler above, so no server is left behind.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => process.exit(130));

/** bench/server.ts in its own process: "messaging" (the service from `env`) or "noop" (grpc-js doing nothing). */
export function startServer(mode: "messaging" | "noop", env: Record<string, string>): Promise<ServerProc> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? SERVICE_NODE_ARGS).split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, "--conditions=@kontor/source", "--import", "tsx", resolve(here, "server.ts"), mode], {
    cwd: resolve(here, ".."),
    // Both servers get the malloc the local launcher gives services (jemalloc when installed).
    env: { ...process.env, ...allocatorEnv(process.env), ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return new Promise((resolvePort, reject) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString();
      const line = buf.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        child.stdout!.off("data", onData);
        // Keep draining: the service logs to stdout, and a full pipe would stall it.
        child.stdout!.on("data", (more: Buffer) => process.stderr.write(more));
        const ready = JSON.parse(line) as { port: number; metricsPort?: number };
        resolvePort({ child, port: ready.port, metricsPort: ready.metricsPort ?? 0 });
      }
    };
    child.stdout!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`server (${mode}) exited with ${code}`)));
  });
}

export async function stopServer(s: ServerProc, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once("exit", r));
  s.child.kill(signal);
  await exited;
}

interface CpuSnapshot {
  client: number;
  server: number;
  /** CPU per PostgreSQL backend of the bench's database, by pid. */
  postgres: Map<number, number>;
  nats: number;
  machine: number;
  wall: number;
}

/**
 * CPU (µs) used so far by this process, the server, the PostgreSQL backends
 * serving the bench's `database` (by their command line; other work on the
 * shared server and its background writers are not counted), nats-server
 * and the whole machine.
 */
export function cpuSnapshot(serverPid: number, database: string): CpuSnapshot {
  const pids = pidsNamed(["postgres", "nats-server"]);
  const own = process.cpuUsage();
  let server = 0;
  try {
    server = processCpuUs(serverPid);
  } catch {
    server = 0; // exited (a killed server)
  }
  const postgres = new Map<number, number>();
  for (const pid of pids.get("postgres")!) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(` ${database} `)) postgres.set(pid, processCpuUs(pid));
    } catch {
      // exited meanwhile
    }
  }
  return { client: own.user + own.system, server, postgres, nats: sumProcessCpuUs(pids.get("nats-server")!), machine: machineBusyUs(), wall: nowMs() * 1000 };
}

/** The backends' CPU between two snapshots (a backend that started since counts from 0; one that exited, nothing). */
function postgresBetween(from: Map<number, number>, to: Map<number, number>): number {
  let total = 0;
  for (const [pid, us] of to) total += us - (from.get(pid) ?? 0);
  return total;
}

/** The database a connection string names. */
export const databaseOf = (url: string) => new URL(url).pathname.slice(1);

/**
 * µs of CPU per operation by party between two snapshots, what the rest of
 * the machine used, its busy cores, and the rate the machine's cores would
 * allow if every operation cost what these did (`machine_bound_per_s`, the
 * machine's other work included; `parties_bound_per_s`, only the parties').
 */
export function cpuPerOp(from: CpuSnapshot, to: CpuSnapshot, ops: number, cores: number): Record<string, number> {
  const n = Math.max(1, ops);
  const d = { client: to.client - from.client, server: to.server - from.server, postgres: postgresBetween(from.postgres, to.postgres), nats: to.nats - from.nats, machine: to.machine - from.machine };
  const machinePerOp = d.machine / n;
  return {
    client_us: round(d.client / n, 1),
    server_us: round(d.server / n, 1),
    postgres_us: round(d.postgres / n, 1),
    nats_us: round(d.nats / n, 1),
    other_us: round((d.machine - d.client - d.server - d.postgres - d.nats) / n, 1),
    machine_us: round(machinePerOp, 1),
    cores_busy: round(d.machine / (to.wall - from.wall), 2),
    machine_bound_per_s: machinePerOp > 0 ? Math.round((cores * 1e6) / machinePerOp) : 0,
    // The rate these parties' own costs allow on all cores, were nothing else running (a busy machine's other work excluded).
    parties_bound_per_s: Math.round((cores * 1e6) / Math.max(1, (d.client + d.server + d.postgres + d.nats) / n)),
  };
}

import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is packages/service-kit/{src,dist}/bench.*). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * A whole-number knob of a benchmark (`BENCH_*`), at least `min`. Anything
 * else stops the benchmark with one line naming the variable.
 */
export function benchKnob(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`bench: ${name} must be a whole number of at least ${min}, got "${raw}"\n`);
    process.exit(2);
  }
  return n;
}

/** Prints a benchmark's one JSON line and writes it to bench-results/<name>.json at the repository root. */
export function reportBench(name: string, result: unknown): void {
  const line = JSON.stringify(result);
  mkdirSync(resolve(repoRoot, "bench-results"), { recursive: true });
  writeFileSync(resolve(repoRoot, "bench-results", `${name}.json`), `${line}\n`);
  process.stdout.write(`${line}\n`);
}

/** /proc counts CPU time in ticks of 10 ms (USER_HZ = 100 on Linux). */
const TICK_US = 10_000;

/** CPU time (user + system) a process has used, in µs, from /proc. Throws once it has exited. */
export function processCpuUs(pid: number): number {
  // The command name in field 2 may hold spaces; the fields after its ") " do not.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/** The pids of every running process named (`/proc/<pid>/comm`) one of `names`, by name. */
export function pidsNamed(names: string[]): Map<string, number[]> {
  const out = new Map(names.map((n) => [n, [] as number[]]));
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      out.get(readFileSync(`/proc/${d}/comm`, "utf8").trim())?.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * The processes listening on this TCP port (e.g. the nats-server a bench
 * talks to, when the machine runs more than one), from /proc/net/tcp{,6}.
 */
export function listenerPids(port: number): number[] {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; field 9 is the inode.
      if (f.length > 9 && f[3] === "0A" && parseInt(f[1]!.split(":")[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  const pids: number[] = [];
  if (inodes.size === 0) return pids;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      for (const fd of readdirSync(`/proc/${d}/fd`)) {
        const link = readlinkSync(`/proc/${d}/fd/${fd}`);
        if (link.startsWith("socket:[") && inodes.has(link.slice(8, -1))) {
          pids.push(Number(d));
          break;
        }
      }
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/** The CPU time of these processes together, in µs; one that has exited counts nothing (its last ticks are lost). */
export function sumProcessCpuUs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += processCpuUs(pid);
    } catch {
      // exited
    }
  }
  return total;
}

/** The whole machine's busy CPU time in µs (every state of /proc/stat's cpu line but idle and iowait). */
export function machineBusyUs(): number {
  // cpu  user nice system idle iowait irq softirq steal ...
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * TICK_US;
}

/** The p-th percentile (nearest rank) of ascending numbers, rounded to hundredths; 0 when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, idx)]! * 100) / 100;
}

/** CPU time so far (µs) of each party of a benchmark, and the wall clock. */
export interface CpuSnapshot {
  /** This load generator. */
  client: number;
  /** The service under test (0 without one). */
  server: number;
  /** The PostgreSQL backends serving the benchmark's own database, by pid. */
  backends: Map<number, number>;
  /** nats-server (shared with everything else on the host). */
  nats: number;
  machine: number;
  wallUs: number;
}

/**
 * Per-party CPU accounting for a benchmark: snapshots of this process, the
 * service, the PostgreSQL backends of the database `pool` is connected to
 * (other databases on a shared server are someone else's), nats-server and
 * the machine, and µs per operation between two of them.
 */
export function createCpuMeter(pool: { query(q: string): Promise<{ rows: { pid: number }[] }> }) {
  return {
    async snapshot(serverPid: number): Promise<CpuSnapshot> {
      const { rows } = await pool.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
      const backends = new Map<number, number>();
      for (const { pid } of rows) {
        try {
          backends.set(pid, processCpuUs(pid));
        } catch {
          // ended meanwhile
        }
      }
      const own = process.cpuUsage();
      return {
        client: own.user + own.system,
        server: serverPid > 0 ? processCpuUs(serverPid) : 0,
        backends,
        nats: sumProcessCpuUs(pidsNamed(["nats-server"]).get("nats-server")!),
        machine: machineBusyUs(),
        wallUs: Number(process.hrtime.bigint() / 1000n),
      };
    },
    /** µs of CPU per operation by party between two snapshots, and how many cores the whole machine kept busy. */
    perOp(from: CpuSnapshot, to: CpuSnapshot, ops: number): Record<string, number> {
      const n = Math.max(1, ops);
      // A backend that ended during the phase loses its ticks; one that started counts from zero.
      let pg = 0;
      for (const [pid, us] of to.backends) pg += us - (from.backends.get(pid) ?? 0);
      const per = (us: number) => Math.round(us / n);
      const client = per(to.client - from.client);
      const server = per(to.server - from.server);
      const postgres = per(pg);
      return {
        client,
        server,
        postgres,
        nats: per(to.nats - from.nats),
        // What the benchmark's own processes spent (nats-server is shared, so it stays out).
        own: client + server + postgres,
        machine: per(to.machine - from.machine),
        cores_busy: Math.round(((to.machine - from.machine) / (to.wallUs - from.wallUs)) * 100) / 100,
      };
    },
  };
}

/** The machine's PostgreSQL (admin database), NATS, and a benchmark's own database on that server. */
export function benchUrls(dbName: string): { adminUrl: string; natsUrl: string; benchUrl: string } {
  const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return { adminUrl, natsUrl: process.env.NATS_URL ?? "nats://127.0.0.1:4222", benchUrl: u.toString() };
}

/**
 * Starts a benchmark's server script in a child process of its own (its own
 * core and event loop, as in production) and resolves with the first JSON
 * line it prints (at least its port), its pid and a stop().
 */
export async function startBenchServer<R extends { port: number }>(
  script: string,
  env: Record<string, string>,
  options: { args?: string[]; nodeArgs?: string[] } = {},
): Promise<R & { pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--conditions=@kontor/source", "--import", "tsx", script, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const ready = await new Promise<R>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line) as R);
    });
    child.on("exit", (code) => reject(new Error(`the service exited during start (${code})`)));
  });
  return {
    ...ready,
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

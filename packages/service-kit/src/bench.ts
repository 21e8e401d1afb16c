import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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

import { mkdirSync, writeFileSync } from "node:fs";
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

import { existsSync } from "node:fs";

/**
 * Where distributions put jemalloc's shared library (Debian/Ubuntu's
 * `libjemalloc2` on x86_64 and arm64, Fedora/RHEL's `jemalloc`, source builds).
 */
export const JEMALLOC_PATHS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
  "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
  "/usr/lib64/libjemalloc.so.2",
  "/usr/lib/libjemalloc.so.2",
  "/usr/local/lib/libjemalloc.so.2",
];

/**
 * The environment a service process should start with to use jemalloc instead
 * of glibc's malloc: `{ LD_PRELOAD: <library> }`, or nothing.
 *
 * Why: Node allocates natively for every HTTP/2 stream and frame, every
 * crypto call's output and every off-heap typed array. Under glibc that takes
 * ~16% of messaging's CPU in its streamed benchmark: malloc's slow paths
 * (`malloc_consolidate`, `unlink_chunk`) and V8's array-buffer sweeper. With
 * jemalloc preloaded the service spends 6–8% less CPU per message
 * (messaging's BENCHMARKS.md, "Design choices").
 *
 * `KONTOR_ALLOCATOR` decides: `auto` (default) preloads jemalloc when the
 * library is installed and keeps glibc otherwise; `system` keeps glibc;
 * an absolute path names the library to preload (an error if it is missing).
 * An `LD_PRELOAD` that is already set is the operator's and stays as it is.
 * Only Linux is considered.
 */
export function allocatorEnv(
  env: Record<string, string | undefined> = process.env,
  options: { candidates?: readonly string[]; platform?: NodeJS.Platform } = {},
): Record<string, string> {
  const { candidates = JEMALLOC_PATHS, platform = process.platform } = options;
  const choice = env.KONTOR_ALLOCATOR?.trim() || "auto";
  if (choice === "system" || platform !== "linux" || env.LD_PRELOAD) return {};
  if (choice === "auto") {
    const found = candidates.find((path) => existsSync(path));
    return found ? { LD_PRELOAD: found } : {};
  }
  if (!choice.startsWith("/")) throw new Error(`KONTOR_ALLOCATOR must be "auto", "system" or an absolute path to a malloc library, got "${choice}"`);
  if (!existsSync(choice)) throw new Error(`KONTOR_ALLOCATOR names ${choice}, which does not exist`);
  return { LD_PRELOAD: choice };
}

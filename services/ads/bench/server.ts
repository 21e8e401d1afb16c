/**
 * The benchmark's server process: the real ads service from env config, in
 * its own process so the load generator's event loop and garbage collector
 * do not sit in the service's latency. Prints one line,
 * {"port": <n>, "metricsPort": <n>, "activeAds": <n>}, once serving; stops on SIGTERM.
 * BENCH_HEAP_PROF=<file>: samples what the service allocates once serving
 * (garbage included) and writes a .heapprofile there when it stops.
 * BENCH_GC_LOG=1: every collection of 5 ms or more goes to stderr, with
 * what the young generation holds after it (the survivors) and the old
 * generation's size.
 */
import { writeFileSync } from "node:fs";
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { Session } from "node:inspector/promises";
import { loadConfig } from "../src/config.js";
import { createAds } from "../src/app.js";

if (process.env.BENCH_GC_LOG) {
  const kinds: Record<number, string> = { 1: "scavenge", 2: "mark-compact", 4: "incremental", 8: "weak" };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration < 5) continue;
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, Math.round(x.space_used_size / 1e6)]));
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      process.stderr.write(`[gc] ${kinds[kind] ?? kind} ${e.duration.toFixed(1)} ms new ${spaces.new_space} MB old ${spaces.old_space} MB large ${spaces.large_object_space} MB\n`);
    }
  }).observe({ entryTypes: ["gc"] });
}
const app = await createAds(loadConfig());
const { port, metricsPort } = await app.start();
const heapProf = process.env.BENCH_HEAP_PROF;
const profiler = heapProf ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post("HeapProfiler.startSampling", { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
}
process.stdout.write(`${JSON.stringify({ port, metricsPort, activeAds: app.serving.index.size })}\n`);
const stop = async () => {
  if (profiler) {
    const { profile } = (await profiler.post("HeapProfiler.stopSampling")) as { profile: unknown };
    writeFileSync(heapProf!, JSON.stringify(profile));
  }
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

/**
 * The benchmark's server process: the real ads service from env config, in
 * its own process so the load generator's event loop and garbage collector
 * do not sit in the service's latency. Prints one line,
 * {"port": <n>, "metricsPort": <n>, "activeAds": <n>}, once serving; stops on SIGTERM.
 * BENCH_HEAP_PROF=<file>: samples what the service allocates once serving
 * (garbage included) and writes a .heapprofile there when it stops.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadConfig } from "../src/config.js";
import { createAds } from "../src/app.js";

const app = await createAds(loadConfig());
const { port, metricsPort } = await app.start();
const heapProf = process.env.BENCH_HEAP_PROF;
const session = heapProf ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post("HeapProfiler.startSampling", { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
}
process.stdout.write(`${JSON.stringify({ port, metricsPort, activeAds: app.serving.index.size })}\n`);
const stop = async () => {
  if (session) {
    const { profile } = (await session.post("HeapProfiler.stopSampling")) as { profile: unknown };
    writeFileSync(heapProf!, JSON.stringify(profile));
  }
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

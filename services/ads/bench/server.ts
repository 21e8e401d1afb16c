/**
 * The benchmark's server process: the real ads service from env config, in
 * its own process so the load generator's event loop and garbage collector
 * do not sit in the service's latency. Prints one line,
 * {"port": <n>, "activeAds": <n>}, once serving; stops on SIGTERM.
 */
import { loadConfig } from "../src/config.js";
import { createAds } from "../src/app.js";

const app = await createAds(loadConfig());
const { port } = await app.start();
process.stdout.write(`${JSON.stringify({ port, activeAds: app.serving.index.size })}\n`);
const stop = async () => {
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

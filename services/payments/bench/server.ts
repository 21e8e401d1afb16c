/**
 * The benchmark's server process: the real payments service from env
 * config, in its own process so the load generator's event loop does not
 * sit in the service's latency. Prints {"port": <n>} once serving; stops on
 * SIGTERM.
 */
import { loadConfig } from "../src/config.js";
import { createPayments } from "../src/app.js";

const app = await createPayments(loadConfig());
const { port } = await app.start();
process.stdout.write(`${JSON.stringify({ port })}\n`);
const stop = async () => {
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

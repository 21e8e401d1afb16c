import { runMain } from "@kontor/service-kit/shutdown";
import { loadConfig } from "./config.js";
import { createPayments } from "./app.js";

await runMain("payments", async () => {
  const app = await createPayments(loadConfig());
  await app.start();
  return { app, log: app.log };
});

import { runMain } from "@kontor/service-kit/shutdown";
import { loadConfig } from "./config.js";
import { createGateway } from "./app.js";

await runMain("gateway", async () => {
  const app = await createGateway(loadConfig());
  await app.start();
  return { app, log: app.log };
});

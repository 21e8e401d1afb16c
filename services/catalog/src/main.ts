import { runMain } from "@kontor/service-kit/shutdown";
import { loadConfig } from "./config.js";
import { createCatalog } from "./app.js";

await runMain("catalog", async () => {
  const app = await createCatalog(loadConfig());
  await app.start();
  return { app, log: app.log };
});

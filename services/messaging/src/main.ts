import { runMain } from "@kontor/service-kit/shutdown";
import { loadConfig } from "./config.js";
import { createMessaging } from "./app.js";

await runMain("messaging", async () => {
  const app = await createMessaging(loadConfig());
  await app.start();
  return { app, log: app.log };
});

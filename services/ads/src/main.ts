import { runMain } from "@kontor/service-kit/shutdown";
import { loadConfig } from "./config.js";
import { createAds } from "./app.js";

await runMain("ads", async () => {
  const app = await createAds(loadConfig());
  await app.start();
  return { app, log: app.log };
});

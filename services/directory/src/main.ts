import { runMain } from "@kontor/service-kit/shutdown";
import { loadConfig } from "./config.js";
import { createDirectory } from "./app.js";

await runMain("directory", async () => {
  const app = await createDirectory(loadConfig());
  await app.start();
  return { app, log: app.log };
});

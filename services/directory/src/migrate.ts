import { createDb, migrateToLatest } from "@kontor/service-kit/db";
import { createLogger } from "@kontor/service-kit/log";
import { runMain } from "@kontor/service-kit/shutdown";
import { loadConfig } from "./config.js";
import { migrations } from "./store/migrations/index.js";

// Operators: `npm run migrate -w services/directory` runs what start() runs.
await runMain("directory-migrate", async () => {
  const config = loadConfig();
  const log = createLogger("directory", config.LOG_LEVEL);
  const schema = config.DB_SCHEMA ?? "directory";
  const { db } = createDb({ url: config.DATABASE_URL, schema, log });
  await migrateToLatest(db, schema, migrations, log);
  await db.destroy();
  return { app: { stop: async () => undefined }, log };
});
process.exit(0);

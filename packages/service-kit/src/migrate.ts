import type { Migration } from "kysely";
import type { BaseConfig } from "./config.js";
import { createDb, migrateToLatest } from "./db.js";
import { createLogger } from "./log.js";
import { runMain } from "./shutdown.js";

/**
 * A service's `npm run migrate`: runs what start() runs first (the kit's
 * migrations, then the service's, in its schema) and exits 0, or prints one
 * line and exits 1. Each service's migrate.ts only names its migrations.
 */
export async function runMigrations(name: string, loadConfig: () => BaseConfig, migrations: Record<string, Migration>): Promise<never> {
  await runMain(`${name}-migrate`, async () => {
    const config = loadConfig();
    const log = createLogger(name, config.LOG_LEVEL);
    const schema = config.DB_SCHEMA ?? name;
    const { db } = createDb({ url: config.DATABASE_URL, schema, log });
    try {
      await migrateToLatest(db, schema, migrations, log);
    } finally {
      await db.destroy();
    }
    return { app: { stop: async () => undefined }, log };
  });
  process.exit(0);
}

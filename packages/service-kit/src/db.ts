import pg from "pg";
import { Kysely, Migrator, PostgresDialect, sql, type Migration, type MigrationProvider } from "kysely";
import type { Logger } from "./log.js";
import { kitMigrations } from "./kit-migrations.js";

export { sql };
export type { Migration };

// int8 → string keeps 64-bit values exact; numeric stays a string too.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export interface DbOptions {
  url: string;
  /** The service's own schema; every connection's search_path points at it. */
  schema: string;
  max?: number;
  log?: Logger;
  applicationName?: string;
  /**
   * Settings every connection starts with (`SET name = value`), e.g.
   * `{ jit: "off" }`; sent as startup options, so they hold before the first query.
   */
  sessionSettings?: Record<string, string>;
}

export interface PoolOptions extends DbOptions {
  /**
   * Pipeline mode: each query is written at once, without waiting for the
   * previous one's answer (each still has its own Sync, so one failing does
   * not fail the next). Queries awaited one by one behave as before; a
   * caller that issues several before awaiting saves their round trips.
   * Cursors (the `rows` option) are refused in this mode.
   */
  pipeline?: boolean;
  /**
   * How long an idle connection stays open (pg's default: 10 s; 0 keeps it).
   * A hot path keeps its connections: a new one costs a connect, a login and
   * cold plan and catalog caches in the backend, which the first statements
   * after a quiet spell would wait for.
   */
  idleTimeoutMs?: number;
}

const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/;
const SETTING_VALUE = /^[A-Za-z0-9_.,:+-]+$/;

/** `-c name=value` startup options; names and values are checked, since they are not quoted. */
function startupOptions(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      if (!SETTING_NAME.test(name) || !SETTING_VALUE.test(value)) throw new Error(`invalid session setting ${name}=${value}`);
      return `-c ${name}=${value}`;
    })
    .join(" ");
}

/** A pg pool bound to one schema (search_path), with the kit's settings. */
export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? options.schema,
    options: startupOptions({ ...options.sessionSettings, search_path: `${options.schema},public` }),
    connectionTimeoutMillis: 10_000,
    pipeline: options.pipeline ?? false,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMillis: options.idleTimeoutMs } : {}),
  });
  // Idle clients can die with the server; without a listener that error would crash the process.
  pool.on("error", (err) => options.log?.warn({ err: { message: err.message } }, "idle pg client error"));
  return pool;
}

export interface Db<DB> {
  db: Kysely<DB>;
  pool: pg.Pool;
  schema: string;
}

/** A pg pool + Kysely bound to one schema. SQL is logged at debug with duration, never parameters. */
export function createDb<DB>(options: DbOptions): Db<DB> {
  const pool = createPool(options);
  const log = options.log;
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    log: log
      ? (event) => {
          if (event.level === "error") log.debug({ sql: event.query.sql, duration_ms: event.queryDurationMillis }, "query failed");
          else if (log.isLevelEnabled("trace")) log.trace({ sql: event.query.sql, duration_ms: event.queryDurationMillis }, "query");
        }
      : undefined,
  });
  return { db, pool, schema: options.schema };
}

/**
 * Creates the schema and runs the kit's migrations (outbox, processed events)
 * followed by the service's own, under Kysely's migration lock so concurrent
 * replicas are safe. Throws on the first failure.
 */
export async function migrateToLatest(
  db: Kysely<any>, // any: migrations are frozen in time and must not depend on today's table types
  schema: string,
  migrations: Record<string, Migration>,
  log?: Logger,
): Promise<void> {
  await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(db);
  const all: Record<string, Migration> = { ...kitMigrations(schema), ...migrations };
  const provider: MigrationProvider = { getMigrations: async () => all };
  const migrator = new Migrator({
    db: db.withSchema(schema),
    provider,
    migrationTableSchema: schema,
  });
  const { error, results } = await migrator.migrateToLatest();
  for (const r of results ?? []) {
    if (r.status === "Success") log?.info({ migration: r.migrationName }, "migration applied");
    else if (r.status === "Error") log?.error({ migration: r.migrationName }, "migration failed");
  }
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

export type Executor<DB> = Kysely<DB>;

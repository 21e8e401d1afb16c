import type { Kysely } from "kysely";
import type { Migration } from "kysely";
import type { NatsConnection } from "nats";
import type { BaseConfig } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { createTokenVerifier } from "./auth.js";
import { createKitServer, type KitServer } from "./grpc-server.js";
import type { AccessTable } from "./access.js";
import type { InputBounds } from "./input.js";
import { createDb, migrateToLatest, type Db } from "./db.js";
import { connectNats, domainStream, ensureStream, startConsumer, type ConsumerSpec, type RunningConsumer } from "./nats.js";
import { createOutboxRelay, enqueue, type OutboxEvent, type OutboxRelay } from "./outbox.js";
import { createOpsServer } from "./http.js";

export interface RuntimeOptions {
  /** Service name: log field, default schema, NATS client name. */
  name: string;
  /** The domain whose stream this service produces into (kontor.<domain>.>). */
  domain: string;
  config: BaseConfig;
  migrations: Record<string, Migration>;
  /** Who may call each RPC (the service's rpc/access.ts). */
  access: AccessTable;
  log?: Logger;
  /** Log successful RPCs at this level (hot paths use debug). */
  okLogLevel?: "info" | "debug" | "trace";
  /** Settings every pool connection starts with (see DbOptions.sessionSettings). */
  sessionSettings?: Record<string, string>;
  /** The service's overrides of the kit's input limits (input.ts), by field path. */
  bounds?: InputBounds;
  /** Test hook passed to the outbox relay. */
  afterPublish?: (eventIds: string[]) => Promise<void>;
}

export interface Runtime<DB> {
  name: string;
  config: BaseConfig;
  log: Logger;
  metrics: Metrics;
  db: Kysely<DB>;
  database: Db<DB>;
  schema: string;
  nc: NatsConnection;
  /** Subject prefix for raw NATS use (live subjects). */
  prefix: string;
  grpc: KitServer;
  outbox: OutboxRelay;
  /** Writes events in the caller's transaction. */
  enqueue(trx: Kysely<DB>, events: OutboxEvent[]): Promise<void>;
  /** Registers a durable consumer, started by start(). */
  consume<T>(spec: Omit<ConsumerSpec<T>, "stream" | "filterSubject"> & { domain: string; subject: string }): void;
  /** Adds work to run at start (after migrations, before serving) and at stop. */
  onStart(fn: () => Promise<void>): void;
  onStop(fn: () => Promise<void>): void;
  start(): Promise<{ port: number; metricsPort: number }>;
  stop(): Promise<void>;
}

/**
 * The composition every service shares. Start: migrate → streams → outbox
 * relay → consumers → gRPC + ops listeners → SERVING. Stop (STYLE §11):
 * NOT_SERVING → consumers → gRPC drain → relay → NATS drain → pool.
 */
export async function createRuntime<DB>(options: RuntimeOptions): Promise<Runtime<DB>> {
  const { config, name } = options;
  const log = options.log ?? createLogger(name, config.LOG_LEVEL);
  const metrics = createMetrics(name);
  const schema = config.DB_SCHEMA ?? name;
  const prefix = config.NATS_PREFIX;
  const database = createDb<DB>({ url: config.DATABASE_URL, schema, max: config.DB_POOL_MAX, log, applicationName: `kontor-${name}`, sessionSettings: options.sessionSettings });
  let nc: NatsConnection;
  try {
    nc = await connectNats({ url: config.NATS_URL, name: `kontor-${name}`, log });
  } catch (err) {
    await database.db.destroy();
    throw new Error(`cannot reach NATS at NATS_URL (${(err as Error).message})`);
  }
  const grpc = createKitServer({ service: name, access: options.access, log, metrics, verifier: createTokenVerifier(config.AUTH_PUBLIC_KEYS), okLogLevel: options.okLogLevel ?? "debug", bounds: options.bounds });
  const outbox = createOutboxRelay({ pool: database.pool, schema, nc, prefix, log, metrics, afterPublish: options.afterPublish });
  const consumerSpecs: ConsumerSpec<unknown>[] = [];
  const running: RunningConsumer[] = [];
  const startHooks: (() => Promise<void>)[] = [];
  const stopHooks: (() => Promise<void>)[] = [];
  let serving = false;
  const ops = createOpsServer(metrics.registry, () => serving);
  let started = false;

  const runtime: Runtime<DB> = {
    name,
    config,
    log,
    metrics,
    db: database.db,
    database,
    schema,
    nc,
    prefix,
    grpc,
    outbox,
    enqueue: (trx, events) => enqueue(trx, schema, events),
    consume(spec) {
      const { domain, subject, ...rest } = spec;
      consumerSpecs.push({ ...(rest as Omit<ConsumerSpec<unknown>, "stream" | "filterSubject">), stream: domainStream(prefix, domain), filterSubject: prefix + subject });
    },
    onStart(fn) {
      startHooks.push(fn);
    },
    onStop(fn) {
      stopHooks.push(fn);
    },
    async start() {
      try {
        await migrateToLatest(database.db, schema, options.migrations, log);
      } catch (err) {
        const e = err as { code?: string; message?: string };
        throw new Error(`cannot migrate the database at DATABASE_URL (${e.code ?? ""} ${e.message ?? ""})`.trim());
      }
      const jsm = await nc.jetstreamManager();
      await ensureStream(jsm, domainStream(prefix, options.domain));
      for (const hook of startHooks) await hook();
      await outbox.start();
      for (const spec of consumerSpecs) running.push(await startConsumer(nc, spec, log, metrics));
      const port = await grpc.listen(config.GRPC_HOST, config.GRPC_PORT);
      const metricsPort = await ops.listen(config.GRPC_HOST, config.METRICS_PORT);
      serving = true;
      started = true;
      grpc.setServing(true);
      log.info({ port, metrics_port: metricsPort, schema }, `${name} serving`);
      return { port, metricsPort };
    },
    async stop() {
      serving = false;
      grpc.setServing(false);
      let timer: NodeJS.Timeout | undefined;
      const overdue = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not stop within SHUTDOWN_LIMIT_MS (${config.SHUTDOWN_LIMIT_MS} ms)`)), config.SHUTDOWN_LIMIT_MS);
      });
      const inOrder = async () => {
        for (const c of running.splice(0)) await c.stop().catch(() => undefined);
        if (started) await grpc.shutdown(config.SHUTDOWN_GRACE_MS);
        else grpc.server.forceShutdown();
        for (const hook of stopHooks.reverse()) await hook().catch((err: unknown) => log.warn({ err }, "stop hook failed"));
        await outbox.stop();
        await ops.close().catch(() => undefined);
        await nc.drain().catch(() => undefined);
        await database.db.destroy();
      };
      try {
        await Promise.race([inOrder(), overdue]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return runtime;
}

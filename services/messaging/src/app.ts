import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import { connectNats } from "@kontor/service-kit/nats";
import { createPool } from "@kontor/service-kit/db";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { MessagingDatabase } from "./store/database.js";
import { createKeyring } from "./store/keyring.js";
import { createSendWriter } from "./store/send-writer.js";
import { loadBusinessNumbers, rowToBusinessNumber } from "./store/business-number-store.js";
import { deriveIdKey, parseMasterKey } from "./domain/crypto.js";
import { createDirectoryCache } from "./domain/directory.js";
import { createMessagingService, type MessagingService, type PendingItem } from "./domain/messaging-service.js";
import { registerDirectoryConsumer } from "./events/consumers.js";
import { createLiveHub } from "./events/live.js";
import { registerMessagingServer } from "./rpc/messaging-server.js";
import { bounds } from "./rpc/bounds.js";
import { createMessagingMetrics } from "./metrics.js";

/** Composition root: build everything from config; start() returns the bound port. */
export async function createMessaging(config: Config, overrides: Partial<Pick<RuntimeOptions, "log" | "afterPublish">> = {}) {
  const master = parseMasterKey(config.MESSAGE_MASTER_KEY);
  const rt = await createRuntime<MessagingDatabase>({ name: "messaging", domain: "messaging", config, migrations, okLogLevel: "trace", bounds, ...overrides });
  const keyring = createKeyring(rt.db, master);
  const directory = createDirectoryCache();
  registerDirectoryConsumer(rt, directory);
  // The send writer's own connections, in pipeline mode (send-writer.ts), so
  // reads (history, backlogs, the sweep) never queue group commits behind them.
  const writerPool = createPool({ url: config.DATABASE_URL, schema: rt.schema, max: config.SEND_PIPELINE + 2, pipeline: true, log: rt.log, applicationName: "kontor-messaging-writer" });
  const writer = createSendWriter<PendingItem>(writerPool, rt.schema, { trace: config.MESSAGING_TRACE_WRITER === "1" });
  // The hub reads through the service (decryption); the service publishes through the hub.
  let messaging: MessagingService | undefined;
  // Gauges read the service and the hub when scraped (both exist by then).
  const metrics = createMessagingMetrics(rt.metrics.registry, { queued: () => messaging?.queued() ?? 0, sessions: () => hub.sessions() });
  // Live delivery has its own connection without echo: this replica hands its
  // own publishes to its sessions directly (see createLiveHub).
  const liveNc = await connectNats({ url: config.NATS_URL, name: "kontor-messaging-live", log: rt.log, noEcho: true });
  const hub = createLiveHub({
    nc: liveNc,
    prefix: rt.prefix,
    log: rt.log,
    sweepMs: config.INBOX_SWEEP_MS,
    counts: metrics.live,
    reader: {
      read: (...args) => messaging!.reader.read(...args),
      heads: (keys) => messaging!.reader.heads(keys),
    },
  });
  messaging = createMessagingService({
    db: rt.db,
    // The send path writes its commits' events itself (send-writer.ts); the rest go through the kit.
    enqueue: (trx, events) => rt.enqueue(trx, events),
    writer,
    keyring,
    directory,
    hub,
    nc: rt.nc,
    prefix: rt.prefix,
    idKey: deriveIdKey(master),
    log: rt.log,
    batchMax: config.SEND_BATCH_MAX,
    queueMax: config.SEND_QUEUE_MAX,
    pipeline: config.SEND_PIPELINE,
    metrics,
  });
  const service = messaging;
  registerMessagingServer(rt.grpc, service, hub, config.MAX_PAGE_SIZE);

  let refresh: NodeJS.Timeout | undefined;
  let stopErasures: (() => void) | undefined;
  rt.onStart(async () => {
    let newest = new Date(0);
    const apply = (rows: Awaited<ReturnType<typeof loadBusinessNumbers>>) => {
      for (const r of rows) {
        directory.apply(rowToBusinessNumber(r));
        if (r.updated_at > newest) newest = r.updated_at;
      }
    };
    apply(await loadBusinessNumbers(rt.db));
    // Another replica's consumer may have applied a directory event: re-read recent changes
    // (with overlap, since a transaction's now() can be older than its commit).
    refresh = setInterval(() => {
      loadBusinessNumbers(rt.db, new Date(newest.getTime() - 10_000)).then(apply, (err: unknown) =>
        rt.log.warn({ err: { message: (err as Error).message } }, "business number refresh failed"),
      );
    }, config.DIRECTORY_REFRESH_MS);
    refresh.unref();
    stopErasures = service.listenForErasures();
  });
  rt.onStop(async () => {
    if (refresh) clearInterval(refresh);
    stopErasures?.();
    hub.stop();
    await service.idle();
    await liveNc.drain().catch(() => undefined);
    await writerPool.end().catch(() => undefined);
  });
  return {
    log: rt.log,
    runtime: rt,
    messaging: service,
    directory,
    /** Live delivery of this replica (tests simulate lost publishes through it). */
    live: hub,
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type MessagingApp = Awaited<ReturnType<typeof createMessaging>>;

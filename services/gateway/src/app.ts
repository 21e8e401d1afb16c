import { createTokenSigner } from "@kontor/service-kit/auth";
import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import { createServiceClients } from "./clients/services.js";
import type { Config } from "./config.js";
import { registerDirectoryConsumer } from "./events/directory-consumer.js";
import { createDeliverer } from "./events/webhook-deliverer.js";
import { createRetentionSweep } from "./events/webhook-retention.js";
import { registerWebhookConsumers, WebhookTargets } from "./events/webhook-consumers.js";
import { registerWebhookRoutes } from "./http/webhook-routes.js";
import { registerManagementRoutes } from "./http/management-routes.js";
import { registerMediaRoutes, mediaUrlKey, type MediaDeps } from "./http/media-routes.js";
import { registerMessagesRoute } from "./http/messages-route.js";
import { registerProfileRoutes } from "./http/profile-routes.js";
import { registerBlockRoutes } from "./http/block-routes.js";
import { registerCommerceRoutes } from "./http/commerce-routes.js";
import { registerAnalyticsRoutes } from "./http/analytics-routes.js";
import { registerOpenApi } from "./http/openapi.js";
import { LocalDiskMediaStore } from "./media/media-store.js";
import { S3MediaStore } from "./media/s3-media-store.js";
import { createHttpServer } from "./http/server.js";
import { migrations } from "./store/migrations/index.js";
import { applySeed, parseSeed } from "./store/seed.js";
import type { GatewayDatabase } from "./store/tables.js";

/**
 * Composition root. The kit's runtime gives the database (schema `gateway`),
 * NATS, the durable consumers and a gRPC port that serves only health and
 * reflection (the gateway has no RPCs of its own); the Cloud API is HTTP.
 */
export async function createGateway(config: Config, overrides: Partial<Pick<RuntimeOptions, "log">> = {}) {
  const seed = parseSeed(config.GATEWAY_SEED);
  const rt = await createRuntime<GatewayDatabase>({ name: "gateway", domain: "gateway", config, migrations, access: {}, ...overrides });
  const signer = await createTokenSigner(JSON.parse(config.GATEWAY_SIGNING_KEY));
  const clients = createServiceClients({ directoryAddress: config.DIRECTORY_ADDRESS, catalogAddress: config.CATALOG_ADDRESS, messagingAddress: config.MESSAGING_ADDRESS, signer, timeoutMs: config.CALL_TIMEOUT_MS, channels: config.MESSAGING_CHANNELS, sends: config.MESSAGING_SENDS });
  const http = createHttpServer({ db: rt.db, log: rt.log, bodyLimit: config.BODY_LIMIT_BYTES, authCacheMs: config.AUTH_CACHE_MS,
    managementCallsPerHour: config.MANAGEMENT_CALLS_PER_HOUR,
    sendsPerSecond: config.SENDS_PER_SECOND_PER_NUMBER,
    templateCreationsPerHour: config.TEMPLATE_CREATIONS_PER_HOUR,
  });
  registerOpenApi(http, config.PUBLIC_URL);
  registerMessagesRoute(http, { db: rt.db, clients, log: rt.log });
  if (config.MEDIA_STORE === "s3" && !config.MEDIA_S3_BUCKET) throw new Error("MEDIA_S3_BUCKET is required with MEDIA_STORE=s3");
  const store =
    config.MEDIA_STORE === "s3"
      ? new S3MediaStore({
          bucket: config.MEDIA_S3_BUCKET,
          endpoint: config.MEDIA_S3_ENDPOINT,
          region: config.MEDIA_S3_REGION,
          forcePathStyle: config.MEDIA_S3_FORCE_PATH_STYLE,
          accessKeyId: config.MEDIA_S3_ACCESS_KEY_ID,
          secretAccessKey: config.MEDIA_S3_SECRET_ACCESS_KEY,
          prefix: config.MEDIA_S3_PREFIX,
        })
      : new LocalDiskMediaStore(config.MEDIA_DIR);
  const media: MediaDeps = { db: rt.db, store, urlKey: mediaUrlKey(config.GATEWAY_SIGNING_KEY), publicUrl: config.PUBLIC_URL };
  await registerMediaRoutes(http, media);
  registerProfileRoutes(http, { db: rt.db, clients, log: rt.log });
  registerBlockRoutes(http, { db: rt.db, clients, log: rt.log, publicUrl: config.PUBLIC_URL });
  registerCommerceRoutes(http, { db: rt.db, clients, log: rt.log });
  registerAnalyticsRoutes(http, { db: rt.db, clients, log: rt.log });
  registerManagementRoutes(http, { db: rt.db, clients, log: rt.log, publicUrl: config.PUBLIC_URL, media });
  const deliverer = createDeliverer({
    db: rt.db,
    log: rt.log,
    retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
    retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
    maxAgeMs: config.WEBHOOK_MAX_AGE_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    pollMs: config.WEBHOOK_POLL_MS,
    maxBatch: config.WEBHOOK_MAX_BATCH,
    lingerMs: config.WEBHOOK_LINGER_MS,
    maxInFlight: config.WEBHOOK_MAX_IN_FLIGHT,
    targetCacheMs: config.AUTH_CACHE_MS,
  });
  const retention = createRetentionSweep({ db: rt.db, log: rt.log, retentionMs: config.WEBHOOK_RETENTION_MS, intervalMs: config.WEBHOOK_SWEEP_INTERVAL_MS });
  const targets = new WebhookTargets(rt.db, config.AUTH_CACHE_MS);
  registerWebhookRoutes(http, {
    db: rt.db,
    requireHttps: config.WEBHOOK_REQUIRE_HTTPS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    replayMax: config.WEBHOOK_REPLAY_MAX,
    retentionMs: config.WEBHOOK_RETENTION_MS,
    wake: () => deliverer.wake(),
    subscriptionsChanged: () => {
      targets.clear();
      deliverer.forgetTargets();
    },
  });
  registerDirectoryConsumer(rt, () => targets.clear());
  registerWebhookConsumers(rt, targets, () => deliverer.wake());
  rt.onStart(() => applySeed(rt.db, seed));
  let httpPort = 0;

  return {
    log: rt.log,
    runtime: rt,
    retention,
    db: rt.db,
    http,
    get httpPort() {
      return httpPort;
    },
    async start() {
      const started = await rt.start();
      deliverer.start();
      retention.start();
      await http.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
      const address = http.server.address();
      httpPort = typeof address === "object" && address ? address.port : config.HTTP_PORT;
      rt.log.info({ http_port: httpPort }, "gateway Cloud API listening");
      return { ...started, httpPort };
    },
    async stop() {
      await http.close().catch(() => undefined);
      await deliverer.stop();
      await retention.stop();
      try {
        await rt.stop();
      } finally {
        clients.close();
        if (store instanceof S3MediaStore) store.close();
      }
    },
  };
}

export type GatewayApp = Awaited<ReturnType<typeof createGateway>>;

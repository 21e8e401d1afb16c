import { randomBytes, randomUUID } from "node:crypto";
import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import { connectNats } from "@kontor/service-kit/nats";
import { createPool } from "@kontor/service-kit/db";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { MessagingDatabase } from "./store/database.js";
import { createKeyring } from "./store/keyring.js";
import { createMessagingStore } from "./store/messaging-store.js";
import { eraseBusinessKeys } from "./store/key-erasure-store.js";
import { createSendWriter, SEND_OUTBOX_TABLE } from "./store/send-writer.js";
import { createOutboxRelay } from "@kontor/service-kit/outbox";
import { loadBusinessNumbers, rowToBusinessNumber } from "./store/business-number-store.js";
import { deriveIdKey, parseMasterKey } from "./domain/crypto.js";
import { createDirectoryCache } from "./domain/directory.js";
import { createCustomerCache } from "./domain/customers.js";
import { createMessageOpener } from "./domain/message.js";
import { createInboxService } from "./domain/inbox-service.js";
import { createSendService, type PendingItem } from "./domain/send-service.js";
import { createReceiptService } from "./domain/receipt-service.js";
import { createHistoryService } from "./domain/history-service.js";
import { createAdminService } from "./domain/admin-service.js";
import { registerDirectoryConsumer } from "./events/consumers.js";
import { registerKeyErasureConsumer } from "./events/key-erasure.js";
import { createLiveHub } from "./events/live.js";
import { registerMessagingServer } from "./rpc/messaging-server.js";
import { messagingAccess, templateAccess, toolsAccess } from "./rpc/access.js";
import { registerToolsServer } from "./rpc/tools-server.js";
import { createToolsService } from "./domain/tools/tools-service.js";
import { createToolsStore } from "./store/tools-store.js";
import { createBroadcastService } from "./domain/tools/broadcast-service.js";
import { createBroadcastStore } from "./store/broadcast-store.js";
import { createFollowStore } from "./store/follow-store.js";
import { registerFollowConsumer } from "./events/follows.js";
import { templateRefusal } from "./domain/template-cache.js";
import { createAnalyticsStore } from "./store/analytics-store.js";
import { createAnalyticsReader } from "./store/analytics-read.js";
import { registerAnalyticsConsumer } from "./events/analytics.js";
import { createFlowStore } from "./store/flow-store.js";
import { createCatalogProducts } from "./domain/catalog-products.js";
import { registerCatalogProductsConsumer } from "./events/catalog-products.js";
import { createCatalogProductStore } from "./store/catalog-product-store.js";
import { createFlowService } from "./domain/tools/flow-service.js";
import { createEffectRunner, registerFlowConsumer } from "./events/flows.js";
import { createAutoReplyService } from "./domain/tools/auto-replies.js";
import { createAutoReplyStore } from "./store/auto-reply-store.js";
import { registerBusinessHoursConsumer } from "./events/business-hours.js";
import { conversationAssignedEvent } from "./events/outbox.js";
import { registerTemplateServer } from "./rpc/template-server.js";
import { createTemplateService } from "./domain/templates/template-service.js";
import { bounds } from "./rpc/bounds.js";
import { createMessagingMetrics } from "./metrics.js";
import { createConsentCache } from "./domain/consent-cache.js";
import { createConsentService } from "./domain/consent-service.js";
import { keywordTable } from "./domain/policy/consent.js";
import { createConsentStore } from "./store/consent-store.js";
import { registerConsentCacheConsumer, registerKeywordConsumer } from "./events/consent.js";
import { createExportService } from "./domain/export-service.js";
import { createExportStore } from "./store/export-store.js";
import { createPolicyStore } from "./store/policy-store.js";
import { createTemplateCache } from "./domain/template-cache.js";
import { registerTemplateCacheConsumer } from "./events/template-cache.js";
import { createSendPolicy, DEFAULT_POLICY_OPTIONS } from "./domain/send-policy.js";
import { createLimitsService } from "./domain/limits-service.js";
import { createQualityJob } from "./domain/quality-job.js";
import { DEFAULT_PAIR_CONFIG } from "./domain/policy/limits.js";
import { createBlockCache, type QualitySignals } from "./domain/block-cache.js";
import { createBlockService } from "./domain/block-service.js";
import { createBlockStore } from "./store/block-store.js";
import { registerBlockConsumers } from "./events/blocks.js";
import { registerUserBlockConsumer } from "./events/user-blocks.js";
import { createUserBlockStore } from "./store/user-block-store.js";
import { createUserBlockService } from "./domain/user-block-service.js";
import { createErasureService } from "./domain/erasure-service.js";
import { createErasureStore } from "./store/erasure-store.js";
import { registerCustomerErasureConsumer } from "./events/customer-erasure.js";
import { registerOrderNotifications } from "./events/order-notifications.js";

/** Composition root: build everything from config, each part after what it uses; start() returns the bound port. */
/**
 * How old a send_outbox row must be before the relay's passes take it without a handoff: above the
 * relay's ack timeout (10 s), so a row whose handoff is still publishing is never taken twice.
 */
const SEND_OUTBOX_SETTLE_MS = 15_000;

export async function createMessaging(config: Config, overrides: Partial<Pick<RuntimeOptions, "log" | "afterPublish">> & { quality?: QualitySignals } = {}) {
  const master = parseMasterKey(config.MESSAGE_MASTER_KEY);
  const { quality, ...runtimeOverrides } = overrides;
  const rt = await createRuntime<MessagingDatabase>({ name: "messaging", domain: "messaging", config, migrations, access: { ...messagingAccess, ...templateAccess, ...toolsAccess }, okLogLevel: "trace", bounds, ...runtimeOverrides });
  const metrics = createMessagingMetrics(rt.metrics.registry);

  // State and adapters.
  const keyring = createKeyring(rt.db, master, rt.log);
  const directory = createDirectoryCache();
  registerDirectoryConsumer(rt, directory);
  registerKeyErasureConsumer(rt, keyring);
  // The send path writes its commits' events itself (send-writer.ts); the other use cases through the kit.
  const store = createMessagingStore(rt.db, (trx, events) => rt.enqueue(trx, events));
  const customers = createCustomerCache(store);
  // Consent (rules 2 and 7): the store, this replica's marketing cache fresh from the consent events, the keyword path.
  const consentStore = createConsentStore(rt.db, (trx, events) => rt.enqueue(trx, events));
  const consentCache = createConsentCache(consentStore);
  registerConsentCacheConsumer(rt, consentCache);
  registerKeywordConsumer(rt, keywordTable(config.CONSENT_KEYWORDS), consentStore.recordKeyword);
  const consent = createConsentService({ store: consentStore, cache: consentCache, now: Date.now });
  // Blocks and reports (rule 3): every block in this replica's memory (loaded at start, fresh from the
  // block events) for the send path; blocks and reports feed the quality port (none yet unless given).
  const blockStore = createBlockStore(rt.db, (trx, events) => rt.enqueue(trx, events));
  const blocks = createBlockCache();
  // The policy rules on the send path (send-policy.ts): windows, templates, consent, blocks, limits, from memory.
  const policyStore = createPolicyStore(rt.db);
  const templateCache = createTemplateCache(policyStore.templates);
  registerTemplateCacheConsumer(rt, templateCache, new Date(Date.now() - 60_000));
  const policy = createSendPolicy({
    clock: { now: Date.now },
    windows: policyStore,
    tiers: policyStore,
    templates: templateCache,
    consent: consentCache,
    blocks,
    options: {
      ...DEFAULT_POLICY_OPTIONS,
      enforce: config.MESSAGING_POLICY === "enforce",
      pricingModel: config.PRICING_MODEL,
      throughputPerSecond: config.THROUGHPUT_PER_SECOND,
      replicas: config.MESSAGING_REPLICAS,
      pair: { ...DEFAULT_PAIR_CONFIG, intervalMs: config.PAIR_INTERVAL_MS, burstMax: config.PAIR_BURST_MAX, burstWindowMs: config.PAIR_INTERVAL_MS },
    },
  });
  rt.onStart(async () => {
    if (!policy.options.enforce) return;
    await templateCache.loadAll();
    // Free entry points outlive the service window by up to 72 h: load every conversation a customer wrote in within 96 h.
    policy.preload(await policyStore.loadRecentWindows(new Date(Date.now() - 4 * 24 * 3600_000)));
  });

  registerBlockConsumers(rt, blocks, quality ?? policy.quality);
  rt.onStart(async () => blocks.load(await blockStore.allBlocks()));
  const blocking = createBlockService({ store: blockStore, cache: blocks, now: Date.now, newId: randomUUID });
  // The business's side (block_users): in the same cache, per number; the send path refuses both ways.
  const userBlockStore = createUserBlockStore(rt.db, (trx, events) => rt.enqueue(trx, events));
  registerUserBlockConsumer(rt, blocks);
  rt.onStart(async () => blocks.loadUsers(await userBlockStore.allUserBlocks()));
  const opener = createMessageOpener(keyring);
  // The send writer's own connections, in pipeline mode (send-writer.ts), so
  // reads (history, backlogs, the sweep) never queue group commits behind them.
  // They stay open when idle: after pg's default 10 s of quiet, the next batch
  // would wait for a new backend to log in (~13 ms here) and plan its statements.
  const writerPool = createPool({ url: config.DATABASE_URL, schema: rt.schema, max: config.SEND_PIPELINE + 2, pipeline: true, idleTimeoutMs: 0, log: rt.log, applicationName: "kontor-messaging-writer" });
  // The send path's events: handed to their own relay in memory after each COMMIT (SEND_EVENTS=handoff);
  // its passes read send_outbox only for what a crash or a failed publish left behind.
  const sendRelay =
    config.SEND_EVENTS === "handoff"
      ? createOutboxRelay({ pool: rt.database.pool, schema: rt.schema, nc: rt.nc, prefix: rt.prefix, log: rt.log, metrics: rt.metrics, table: SEND_OUTBOX_TABLE, handoffSettleMs: SEND_OUTBOX_SETTLE_MS })
      : undefined;
  const writer = createSendWriter<PendingItem>(writerPool, rt.schema, {
    trace: config.MESSAGING_TRACE_WRITER === "1" || config.MESSAGING_TRACE_WRITER === "pg",
    handoff: sendRelay && ((id, events) => sendRelay.handoff(id, events)),
    rememberConversations: config.SEND_COMMIT === "one_round_trip",
  });
  if (sendRelay) rt.onStart(() => sendRelay.start());
  // MESSAGING_TRACE_WRITER=pg: PostgreSQL also logs each writer statement's own duration (superuser only), to set beside the round trips.
  if (config.MESSAGING_TRACE_WRITER === "pg") writerPool.on("connect", (c) => void c.query("SET log_min_duration_statement = 0").catch(() => undefined));

  // The inbox reads; the hub streams what it reads and what the use cases below publish.
  const inbox = createInboxService({ store, opener });
  // Live delivery has its own connection without echo: this replica hands its
  // own publishes to its sessions directly (see createLiveHub).
  const liveNc = await connectNats({ url: config.NATS_URL, name: "kontor-messaging-live", log: rt.log, noEcho: true });
  const hub = createLiveHub({ nc: liveNc, prefix: rt.prefix, log: rt.log, sweepMs: config.INBOX_SWEEP_MS, interestMs: config.LIVE_INTEREST_MS, counts: metrics.live, reader: inbox.reader });

  // Catalog products for product messages: one consumer of catalog's product events keeps their rows.
  const catalogProductStore = createCatalogProductStore(rt.db);
  registerCatalogProductsConsumer(rt, catalogProductStore);
  const catalogProducts = createCatalogProducts(catalogProductStore);

  const sends = createSendService({
    writer,
    policy,
    catalog: catalogProducts,
    keys: keyring,
    directory,
    customers,
    messages: store,
    live: hub,
    metrics,
    log: rt.log,
    idKey: deriveIdKey(master),
    batchMax: config.SEND_BATCH_MAX,
    queueMax: config.SEND_QUEUE_MAX,
    pipeline: config.SEND_PIPELINE,
    statusEventsPerCommit: config.STATUS_EVENTS === "per_commit",
  });
  const receipts = createReceiptService({ store, customers, opener, live: hub, quality: policy.options.enforce ? policy : undefined, statusEventsPerCommit: config.STATUS_EVENTS === "per_commit" });
  const history = createHistoryService({ store, opener });
  const exports = createExportService({ store: createExportStore(rt.db), opener, pageSize: config.EXPORT_PAGE_SIZE });
  // Customer erasure (rule 9): every replica forgets an erased customer through its own consumer of the event.
  const erasure = createErasureService({ store: createErasureStore(rt.db, (trx, events) => rt.enqueue(trx, events)), customers, consent: consentCache, now: () => new Date() });
  registerCustomerErasureConsumer(rt, (customerId) => erasure.forget(customerId).then(() => undefined));
  const admin = createAdminService({ store, keys: { erase: (e) => eraseBusinessKeys(keyring, (trx, events) => rt.enqueue(trx, events), e) }, customers, opener, live: hub });
  metrics.watch({ queued: () => sends.queued(), sessions: () => hub.sessions() });

  const userBlocks = createUserBlockService({ store: userBlockStore, customers, cache: blocks, now: Date.now });
  const limits = createLimitsService({ store: policyStore, directory, policy, now: Date.now });
  registerMessagingServer(rt.grpc, { sends, inbox, receipts, history, admin, hub, directory, customers, consent, exports, limits, erasure, blocks: blocking, userBlocks }, config.MAX_PAGE_SIZE);
  const templates = createTemplateService({ store, limits: { standard: config.TEMPLATE_LIMIT, verified: config.TEMPLATE_LIMIT_VERIFIED }, clock: () => new Date(), newId: randomUUID });
  registerTemplateServer(rt.grpc, templates, config.MAX_PAGE_SIZE);
  // Business tools (quick replies, labels, assignment) for the business's agents.
  const tools = createToolsService({ store: createToolsStore(rt.db, (trx, events) => rt.enqueue(trx, events)), assignedEvent: conversationAssignedEvent, now: () => new Date(), newId: randomUUID });
  // Broadcasts: stored with their recipients, sent by every replica's sender pass through the send path.
  const broadcastStore = createBroadcastStore(rt.db);
  // Who follows the business (directory's follow events): the followers segment.
  registerFollowConsumer(rt, createFollowStore(rt.db));
  const broadcasts = {
    ...createBroadcastService({
      store: broadcastStore,
      checkTemplate: async (businessId, name, language) => {
        const found = templateCache.get(businessId, name, language);
        const refusal = templateRefusal(found instanceof Promise ? await found : found, name, language, Date.now());
        if (refusal) throw refusal;
      },
      send: (req, phoneNumberId) => sends.send(req, { kind: "business", id: phoneNumberId }, "business"),
      now: () => new Date(),
      newId: randomUUID,
    }),
    listRecipients: broadcastStore.listRecipients,
  };
  // Analytics: counts per day from the events, by a consumer the replicas share.
  const analyticsStore = createAnalyticsStore(rt.db);
  if (config.MESSAGING_ANALYTICS === "on") registerAnalyticsConsumer(rt, analyticsStore, config.ANALYTICS_POLL_MS);
  // Chatbot flows: versions in the store, one shared consumer steps each customer message and carries out the effects.
  const flowStore = createFlowStore(rt.db);
  const flows = createFlowService({
    store: flowStore,
    effects: createEffectRunner({
      send: (req, phoneNumberId) => sends.send(req, { kind: "business", id: phoneNumberId }, "business"),
      label: (businessId, conversationId, labelId) => tools.setConversationLabels(businessId, conversationId, [labelId], []),
      secret: (businessId, name) => flowStore.secret(businessId, name),
      fetch: globalThis.fetch,
      log: rt.log,
      now: Date.now,
    }),
    now: Date.now,
    newSecret: () => randomBytes(32).toString("base64url"),
  });
  // Greeting and away messages: decided by the flows' consumer after the flow; hours kept from directory's events.
  const autoReplyStore = createAutoReplyStore(rt.db);
  registerBusinessHoursConsumer(rt, autoReplyStore);
  const autoReplies = createAutoReplyService({
    store: autoReplyStore,
    send: (req, phoneNumberId) => sends.send(req, { kind: "business", id: phoneNumberId }, "business"),
    ownsNumber: (businessId, phoneNumberId) => directory.get(phoneNumberId)?.businessId === businessId,
    log: rt.log,
    now: () => new Date(),
  });
  registerFlowConsumer(rt, flows, autoReplies);
  // Order notifications: catalog's order events become an automated message to the customer, through the send path.
  registerOrderNotifications(rt, {
    send: (req, phoneNumberId) => sends.send(req, { kind: "business", id: phoneNumberId }, "business"),
    isBlocked: (customerId, businessId) => blocks.isBlocked(customerId, businessId),
    numbersOf: (businessId) => directory.numbersOf(businessId).map((n) => n.phoneNumberId),
  });
  const conversationOwner = async (id: string) => (await rt.db.selectFrom("conversation").select("business_id").where("id", "=", id).executeTakeFirst())?.business_id;
  registerToolsServer(rt.grpc, tools, broadcasts, directory, config.MAX_PAGE_SIZE, createAnalyticsReader(rt.db), flows, conversationOwner, autoReplies);
  const qualityJob = createQualityJob({ policy, templates: templateCache, applyQuality: templates.applyQuality, tiers: policyStore, clock: { now: Date.now }, log: rt.log });

  let refresh: NodeJS.Timeout | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let evaluation: NodeJS.Timeout | undefined;
  let broadcastTimer: NodeJS.Timeout | undefined;
  let broadcastPass: Promise<unknown> = Promise.resolve();
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
    sweep = setInterval(() => policy.sweep(), 60_000);
    sweep.unref();
    // Up to BROADCAST_PASSES passes at once: one claims and records while another's sends are in flight.
    const passes = new Set<Promise<unknown>>();
    broadcastTimer = setInterval(() => {
      if (passes.size >= config.BROADCAST_PASSES) return;
      const pass: Promise<unknown> = broadcasts
        .sendPass(config.BROADCAST_BATCH)
        .catch((err: unknown) => rt.log.warn({ err: { message: (err as Error).message } }, "broadcast pass failed"))
        .finally(() => passes.delete(pass));
      passes.add(pass);
      broadcastPass = Promise.all(passes);
    }, config.BROADCAST_INTERVAL_MS);
    broadcastTimer.unref();
    if (policy.options.enforce) {
      evaluation = setInterval(() => {
        qualityJob.run().catch((err: unknown) => rt.log.warn({ err: { message: (err as Error).message } }, "policy evaluation failed"));
      }, config.POLICY_EVALUATION_MS);
      evaluation.unref();
    }
  });
  rt.onStop(async () => {
    if (refresh) clearInterval(refresh);
    if (sweep) clearInterval(sweep);
    if (evaluation) clearInterval(evaluation);
    if (broadcastTimer) clearInterval(broadcastTimer);
    await broadcastPass;
    hub.stop();
    await sends.idle();
    await sendRelay?.stop();
    await liveNc.drain().catch(() => undefined);
    await writerPool.end().catch(() => undefined);
  });
  return {
    log: rt.log,
    runtime: rt,
    services: { sends, inbox, receipts, history, admin, templates, tools, broadcasts, consent, erasure, blocks: blocking },
    /** This replica's marketing consent (the send path's MARKETING rule reads it). */
    consentCache,
    /** This replica's policy state (windows, limits) on the send path. */
    policy,
    templateCache,
    /** Quality's template pauses and tier upgrades (run every POLICY_EVALUATION_MS; tests run it at once). */
    qualityJob,
    /** This replica's blocks (the send path refuses a blocked business's messages from it: isBlocked, undeliverable). */
    blocks,
    directory,
    /** Live delivery of this replica (tests simulate lost publishes through it). */
    live: hub,
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type MessagingApp = Awaited<ReturnType<typeof createMessaging>>;

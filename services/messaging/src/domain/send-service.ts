import type { KeyObject } from "node:crypto";
import { LRUCache } from "lru-cache";
import { MessageContext, MessageStatus, type Message } from "@kontor/proto/messaging/v1/message";
import type { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { DependencyDown, InvalidInput, KontorError, NotFound, OverLimit, PolicyRefused, fromPgError } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { billedEvent, conversationOpenedEvent, receivedEvent, statusEvents, type StatusEventInput } from "../events/outbox.js";
import { contentBytes as encodeContent, messageFrameBytes, statusFrameBytes, storedBodyBytes } from "../events/wire.js";
import { validateContent, validateEnvelope } from "./content.js";
import { keyErasedRefusal, messageIdFor, seal } from "./crypto.js";
import type { CustomerCache } from "./customers.js";
import type { BusinessNumber, DirectoryCache } from "./directory.js";
import type { LiveFrame, LivePublisher } from "./inbox-service.js";
import type { MessageInConversation } from "./message.js";
import { countryOfE164, keyToPb, normalizeE164, parseParticipant, partyKey, type Party } from "./participant.js";
import { contentNames, type ContentCase } from "./status.js";
import type { Referral } from "@kontor/proto/messaging/v1/message";
import { SERVICE_WINDOW_MS } from "./policy/window.js";
import { CATEGORIES, conversationBillable, openedAt, priceMessage, type ConversationWindows, type Pricing, type PricingCategory } from "./policy/pricing.js";
import type { PolicyDecision, SendPolicy, TemplateBilling } from "./send-policy.js";
import type { CatalogProducts } from "./catalog-products.js";

// ---- the group commit's port (store/send-writer.ts implements it) ---------

/** One message ready to store: validated, authorized, encrypted. */
export interface SendItem {
  id: string;
  senderKey: string;
  recipientKey: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  clientMessageId: string;
  contentType: number;
  keyId: number;
  body: Buffer;
  /** Number it in the sender's inbox too, so the sender's other devices receive it. */
  echo: boolean;
  /** What the commit updates in the conversation row (policy/pricing.ts POLICY bits); 0 = nothing. */
  policy: number;
}

/** The windows of the conversations a commit updated, by `<phone number id>\0<customer id>`, as the store left them. */
export type WindowRows = Map<string, ConversationWindows>;

export interface Stored {
  conversationId: string;
  seq: number;
  /** The recipient's inbox sequence number. */
  rseq: number;
  /** The sender's inbox sequence number when the item echoes, else 0. */
  senderRseq: number;
  createdAt: Date;
  status: number;
  errorCode: number;
  duplicate: boolean;
}

export interface OpenedConversation<T extends SendItem = SendItem> {
  conversationId: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  /** The first item of the batch that opened it. */
  first: T;
}

/** Builds the outbox events of the newly stored items (in the same transaction). */
export type EventBuilder<T extends SendItem = SendItem> = (stored: { item: T; stored: Stored }[], opened: OpenedConversation<T>[], windows: WindowRows) => OutboxEvent[];

/**
 * Pipelining: while one batch commits the next may start, but it takes its
 * conversation locks only after the previous batch holds all of its own (and
 * the same for inbox locks). A conversation (or recipient) shared by both is
 * then locked by the earlier batch first, so numbers follow arrival order.
 */
export interface Gates {
  beforeConversations: Promise<void>;
  conversationsLocked(): void;
  beforeInbox: Promise<void>;
  inboxLocked(): void;
}

/** Stores a batch in one transaction; resolves once COMMIT returned (durable). */
export interface GroupCommit<T extends SendItem> {
  write(items: T[], buildEvents: EventBuilder<T>, gates?: Gates): Promise<{ results: Stored[]; fresh: { item: T; stored: Stored }[]; windows: WindowRows }>;
}

// ---- the send path ---------------------------------------------------------

/** A send on its way to the group commit: row fields plus what events and live delivery need. */
export interface PendingItem extends SendItem {
  /**
   * The request as received, kept only for customer sends (their received
   * event carries the whole Message); a business send drops it at once, so
   * the thousands in flight do not keep their decoded content alive.
   */
  req: SendMessageRequest | undefined;
  bizOpaqueCallbackData: string;
  kind: ContentCase;
  customerE164: string;
  /** The customer's profile name (its received event's contacts). */
  customerName: string;
  contentBytes: Uint8Array | undefined;
  contextBytes: Uint8Array | undefined;
  /** A template send's billing facts (the policy's decision). */
  billing: TemplateBilling | undefined;
  /** A customer's message: the click-to-chat referral it carries (its received event). */
  referral: Referral | undefined;
}

export interface SendOutcome {
  stored: Stored;
  messageId: string;
  recipient: Party;
}

/** Who sends, for the content rules: only Kontor services send `system` content. */
export type SenderRole = "business" | "customer" | "service";

/** What happened to sends, counted where they end (the send and its group commit). */
export interface SendCounts {
  /** Stored and numbered (durable). */
  accepted: number;
  /** Retries answered with the stored original. */
  duplicate: number;
  /** Refused before storing: bad input, not allowed, unknown recipient, queue full. */
  refused: number;
  /** The group commit failed (store unavailable). */
  failed: number;
}

/** The send path's metrics (metrics.ts): plain counters and one observation per commit. */
export interface SendMetrics {
  sends: SendCounts;
  /** One group commit: its size and the time from dispatch to durable. */
  commit(messages: number, seconds: number): void;
  /**
   * Where a group commit's oldest send spent its time, in seconds: queued
   * until its batch was dispatched, dispatch to COMMIT returned, waiting for
   * the batch ahead to be delivered (live order is commit order), and handing
   * the frames to the recipients' streams.
   */
  stages(queued: number, commit: number, ordered: number, delivered: number): void;
  /** One send refused before storing, by its reason. */
  refused(reason: string): void;
}

/** A business's active data key for sealing (the keyring; created on first use). */
export interface SealingKeys {
  /** Throws PolicyRefused BUSINESS_KEY_ERASED for an erased business. */
  forBusiness(businessId: string): { keyId: number; key: KeyObject } | Promise<{ keyId: number; key: KeyObject }>;
  /**
   * When a group commit failed because the store refused keys erased on
   * another replica before this one heard: the refused key ids (now known
   * as erased here). Otherwise undefined.
   */
  refusedByCommit(err: unknown): Set<number> | undefined;
}

export interface SendPorts {
  writer: GroupCommit<PendingItem>;
  /** The policy rules (send-policy.ts), from memory. */
  policy: SendPolicy;
  /** Catalog products a product message may name (catalog-products.ts). */
  catalog: Pick<CatalogProducts, "check">;
  keys: SealingKeys;
  directory: Pick<DirectoryCache, "get" | "byE164">;
  customers: CustomerCache;
  /** A reaction's target. */
  messages: { findMessage(id: string): Promise<MessageInConversation | undefined> };
  live: Pick<LivePublisher, "publishItems" | "publishStatusFrames">;
  metrics: SendMetrics;
  log: Logger;
  idKey: Buffer;
  batchMax: number;
  queueMax: number;
  /** Batches in flight at once (1 = strictly serial group commit). */
  pipeline: number;
  /** One message.status event per commit and business number (STATUS_EVENTS=per_commit), else one per message. */
  statusEventsPerCommit: boolean;
}

/** A refusal's stable reason for the metric (the kit's errors carry one). */
const reasonOf = (err: unknown): string => (err instanceof KontorError ? err.reason : "OTHER");

/** `at`: when the send joined the queue (performance.now()), for the stage timings. */
type Waiter = { item: PendingItem; at: number; resolve: (s: Stored) => void; reject: (e: unknown) => void };

const S = MessageStatus;

/** Accepted sends with a client id each replica remembers for retries the policy would refuse. */
const RECENT_ACCEPTED_MAX = 100_000;

/** Cloud API 131026 (message undeliverable): the gateway answers an unknown recipient with it. */
function recipientNotFound(what: string): NotFound {
  return new NotFound(what, "RECIPIENT_NOT_FOUND", 131026);
}

/**
 * The send path: resolve and check the recipient, validate, seal, then the
 * adaptive group commit and, after it, live delivery. The sender is parsed
 * and authorized before (rpc/authorize.ts).
 */
export function createSendService(ports: SendPorts) {
  const { writer, keys, directory, customers, live, log } = ports;
  const counts = ports.metrics.sends;

  function numberOrThrow(id: string, what = "business number"): BusinessNumber {
    const n = directory.get(id);
    if (!n) throw new NotFound(what);
    return n;
  }

  // ---- group commit -------------------------------------------------------

  /**
   * Sends with a client id this replica accepted lately: a retry the policy
   * would refuse (its pair rate spent, its template paused since) answers
   * its original from here. Memory only, so a flood of refusals reads no
   * store; a retry that reaches another replica while refused gets the
   * refusal, and its next retry the original.
   */
  const recent = new LRUCache<string, Stored>({ max: RECENT_ACCEPTED_MAX });

  const queue: Waiter[] = [];
  let inFlight = 0;
  /** Sends in the batches of `inFlight`. */
  let inFlightItems = 0;
  let scheduled = false;
  // Gates and publish order of the batch started last (see Gates).
  let convGate: Promise<void> = Promise.resolve();
  let inboxGate: Promise<void> = Promise.resolve();
  let publishChain: Promise<void> = Promise.resolve();
  /** idle() callers, resolved when nothing is queued or in flight. */
  let idleWaiters: (() => void)[] = [];

  function isIdle(): boolean {
    return inFlight === 0 && !scheduled && queue.length === 0;
  }

  function submit(item: PendingItem): Promise<Stored> {
    if (queue.length >= ports.queueMax) {
      counts.refused++;
      ports.metrics.refused("SEND_QUEUE_FULL");
      throw new OverLimit("SEND_QUEUE_FULL", "too many sends in flight on this replica, retry shortly", 130429);
    }
    return new Promise<Stored>((resolve, reject) => {
      queue.push({ item, at: performance.now(), resolve, reject });
      if (inFlight < ports.pipeline && !scheduled) {
        scheduled = true;
        // One turn of the event loop lets a burst (a stream's chunk, many unary calls) join the batch.
        setImmediate(pump);
      }
    });
  }

  /**
   * Adaptive group commit: up to `pipeline` batches in flight; each takes
   * whatever queued while the previous ones ran, up to batchMax.
   */
  function pump(): void {
    scheduled = false;
    while (inFlight < ports.pipeline && queue.length > 0) {
      const batch = queue.splice(0, ports.batchMax);
      inFlight++;
      inFlightItems += batch.length;
      const dispatched = performance.now();
      const prevConv = convGate;
      const prevInbox = inboxGate;
      const prevPublish = publishChain;
      let convDone!: () => void;
      let inboxDone!: () => void;
      let published!: () => void;
      convGate = new Promise((r) => (convDone = r));
      inboxGate = new Promise((r) => (inboxDone = r));
      publishChain = new Promise((r) => (published = r));
      writer
        .write(
          batch.map((w) => w.item),
          buildEvents,
          { beforeConversations: prevConv, conversationsLocked: convDone, beforeInbox: prevInbox, inboxLocked: inboxDone },
        )
        .then(
          async ({ results, fresh, windows }) => {
            const committed = performance.now();
            ports.metrics.commit(batch.length, (committed - dispatched) / 1000);
            for (const { item, stored } of fresh) if (item.clientMessageId !== "") recent.set(item.id, stored);
            if (ports.policy.options.enforce) {
              for (const { item, stored } of fresh) {
                if (item.senderKey.startsWith("b_")) ports.policy.sent(item.businessId, item.phoneNumberId, item.customerId, item.billing, stored.createdAt.getTime());
              }
            }
            for (const [key, w] of windows) {
              const cut = key.indexOf("\u0000");
              ports.policy.committed(key.slice(0, cut), key.slice(cut + 1), w);
            }
            counts.accepted += fresh.length;
            counts.duplicate += results.length - fresh.length;
            await prevPublish; // live order per recipient = commit order
            const ordered = performance.now();
            publishFresh(fresh);
            published();
            ports.metrics.stages((dispatched - batch[0]!.at) / 1000, (committed - dispatched) / 1000, (ordered - committed) / 1000, (performance.now() - ordered) / 1000);
            for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
          },
          async (err: unknown) => {
            await prevPublish;
            published();
            // Keys erased on another replica before this one heard: refuse their sends, redo the others first.
            const erased = ports.keys.refusedByCommit(err);
            if (erased) {
              for (const w of batch) {
                if (!erased.has(w.item.keyId)) continue;
                counts.refused++;
                ports.metrics.refused("BUSINESS_KEY_ERASED");
                w.reject(keyErasedRefusal());
              }
              queue.unshift(...batch.filter((w) => !erased.has(w.item.keyId)));
              return;
            }
            counts.failed += batch.length;
            const failure = commitFailure(err);
            for (const w of batch) w.reject(failure);
          },
        )
        .finally(() => {
          inFlight--;
          inFlightItems -= batch.length;
          pump();
          if (idleWaiters.length > 0 && isIdle()) {
            const waiters = idleWaiters;
            idleWaiters = [];
            for (const resolve of waiters) resolve();
          }
        });
    }
  }

  /**
   * Every send was checked before its batch, so a failed commit is the
   * store's: the batch is not stored and a retry is safe (client message
   * ids make it idempotent). A known PostgreSQL condition keeps its kind
   * (a lost race is ABORTED); anything else, the connection's loss included,
   * is the store being unavailable.
   */
  function commitFailure(err: unknown): unknown {
    const known = fromPgError(err);
    if (!known) log.error({ err }, "group commit failed");
    return known && !(known instanceof DependencyDown) ? known : new DependencyDown("the message store is unavailable, retry");
  }

  const model = ports.policy.options.pricingModel;

  /**
   * The commit's events: per business message its status (with its pricing
   * category), per template its pricing (message.billed), per window the
   * commit opened conversation.opened; per customer message its received
   * event. Windows come from the rows the commit updated (`windows`), so they
   * are the same whichever replica commits.
   */
  function buildEvents(stored: { item: PendingItem; stored: Stored }[], _opened: OpenedConversation<PendingItem>[], windows: WindowRows): OutboxEvent[] {
    const events: OutboxEvent[] = [];
    const statuses: StatusEventInput[] = [];
    /** Windows already announced in this batch, by pair key + category. */
    let announced: Set<string> | undefined;
    for (const { item, stored: s } of stored) {
      if (!item.senderKey.startsWith("b_")) {
        events.push(
          receivedEvent(completeMessage(item, s, true), item.businessId, item.phoneNumberId, { id: item.customerId, e164: item.customerE164, profileName: item.customerName }, contentNames[item.contentType] ?? "", item.referral),
        );
        continue;
      }
      const category: PricingCategory | "" = item.billing?.category ?? (item.kind === "system" ? "" : "service");
      // Free-form replies are free service messages; a template's price needs the windows the commit left.
      let pricing: Pricing | undefined = category === "service" && ports.policy.options.enforce ? { category, model, billable: false, type: "free_customer_service" } : undefined;
      if (item.policy !== 0) {
        const key = `${item.phoneNumberId}\u0000${item.customerId}`;
        const w = windows.get(key);
        if (w) {
          const at = s.createdAt.getTime();
          const opened = openedAt(w, at);
          const announce = (what: PricingCategory | "referral_conversion", until: number) => {
            announced ??= new Set();
            const k = `${key}\u0000${what}`;
            if (announced.has(k)) return;
            announced.add(k);
            events.push(
              conversationOpenedEvent({
                conversationId: s.conversationId,
                businessId: item.businessId,
                phoneNumberId: item.phoneNumberId,
                customerId: item.customerId,
                customerCountry: countryOfE164(item.customerE164),
                category: what,
                origin: what === "referral_conversion" ? "referral" : at < w.lastInboundAt + SERVICE_WINDOW_MS ? "user_initiated" : "business_initiated",
                pricingModel: model,
                billable: conversationBillable(model, what),
                at: s.createdAt,
                expiresAt: new Date(until),
                messageId: item.id,
              }),
            );
          };
          if (opened.freeEntry) announce("referral_conversion", w.freeEntryUntil);
          if (category !== "" && opened.categories.includes(category)) announce(category, w.categoryUntil[CATEGORIES.indexOf(category)]!);
          if (item.billing) {
            pricing = priceMessage(model, item.billing.category, w, at);
            events.push(billedEvent({ item, stored: s, billing: item.billing, pricing, customerCountry: countryOfE164(item.customerE164) }));
          }
        }
      }
      statuses.push({
        messageId: item.id,
        conversationId: s.conversationId,
        seq: s.seq,
        senderKey: item.senderKey,
        recipientKey: item.recipientKey,
        status: S.MESSAGE_STATUS_SENT,
        errorCode: 0,
        businessId: item.businessId,
        phoneNumberId: item.phoneNumberId,
        customerId: item.customerId,
        bizOpaqueCallbackData: item.bizOpaqueCallbackData,
        pricingCategory: category,
        pricingType: pricing?.type ?? "",
        pricingModel: pricing?.model ?? "",
        billable: pricing?.billable ?? false,
        customerE164: item.customerE164,
        at: s.createdAt,
      });
    }
    if (statuses.length > 0) events.push(...statusEvents(statuses, ports.statusEventsPerCommit));
    return events;
  }

  function completeMessage(item: PendingItem, s: Stored, forSender: boolean): Message {
    const req = item.req!; // customer sends keep it (see PendingItem)
    return {
      id: item.id,
      conversationId: s.conversationId,
      seq: String(s.seq),
      sender: req.sender,
      recipient: keyToPb(item.recipientKey),
      content: req.content,
      context: req.context,
      bizOpaqueCallbackData: forSender ? req.bizOpaqueCallbackData : "",
      clientMessageId: forSender ? req.clientMessageId : "",
      status: s.status,
      errorCode: 0,
      createdAt: s.createdAt,
      contentErased: false,
    };
  }

  /**
   * After commit: one live publish per participant with new inbox items (the
   * recipients, and customers whose own sends echo to their other devices),
   * then one status publish per sender.
   */
  function publishFresh(fresh: { item: PendingItem; stored: Stored }[]): void {
    const toInboxes = new Map<string, LiveFrame[]>();
    const toSenders = new Map<string, Uint8Array[]>();
    const push = (key: string, rseq: number, frame: Uint8Array) => {
      let r = toInboxes.get(key);
      if (!r) toInboxes.set(key, (r = []));
      r.push({ rseq, frame });
    };
    for (const { item, stored } of fresh) {
      const frame = {
        id: item.id,
        conversationId: stored.conversationId,
        seq: stored.seq,
        senderKey: item.senderKey,
        recipientKey: item.recipientKey,
        content: item.contentBytes,
        context: item.contextBytes,
        // The recipient's view: no callback data, no client id (see completeMessage).
        bizOpaqueCallbackData: "",
        clientMessageId: "",
        status: stored.status,
        errorCode: 0,
        createdAt: stored.createdAt,
      };
      push(item.recipientKey, stored.rseq, messageFrameBytes(frame, stored.rseq));
      if (stored.senderRseq > 0) {
        // The sender's own view, with its client id: the device that sent it matches it by that.
        const own = { ...frame, bizOpaqueCallbackData: item.bizOpaqueCallbackData, clientMessageId: item.clientMessageId };
        push(item.senderKey, stored.senderRseq, messageFrameBytes(own, stored.senderRseq));
      }
      let s = toSenders.get(item.senderKey);
      if (!s) toSenders.set(item.senderKey, (s = []));
      s.push(statusFrameBytes({ messageId: item.id, conversationId: stored.conversationId, seq: stored.seq, status: S.MESSAGE_STATUS_SENT, errorCode: 0, at: stored.createdAt }));
    }
    for (const [key, items] of toInboxes) live.publishItems(key, items);
    for (const [key, frames] of toSenders) live.publishStatusFrames(key, frames);
  }

  /** Resolves the recipient, validates and seals one send: everything before the group commit. */

  type Prepared = { item: PendingItem; original?: undefined; id?: undefined; recipient: Party } | { item: undefined; original: Stored; id: string; recipient: Party };

  async function prepare(req: SendMessageRequest, sender: Party, role: SenderRole): Promise<Prepared> {
    let recipient: Party;
    if (req.recipient?.kind && req.to) throw new InvalidInput("to", "give either recipient or to, not both");
    if (req.to) {
      const e164 = normalizeE164(req.to);
      if (!e164) throw new InvalidInput("to", "must be a phone number in E.164 form");
      if (sender.kind === "business") {
        const c = await customers.byE164(e164);
        if (!c) throw recipientNotFound("recipient");
        recipient = { kind: "customer", id: c.id };
      } else {
        const n = directory.byE164(e164);
        if (!n) throw recipientNotFound("recipient");
        recipient = { kind: "business", id: n.phoneNumberId };
      }
    } else {
      recipient = parseParticipant(req.recipient, "recipient");
    }
    if (recipient.kind === sender.kind) {
      throw new InvalidInput("recipient", sender.kind === "business" ? "a business number messages customers" : "a customer messages business numbers");
    }
    const number = numberOrThrow(sender.kind === "business" ? sender.id : recipient.id, sender.kind === "business" ? "business number" : "recipient");
    const customerId = sender.kind === "customer" ? sender.id : recipient.id;
    const customer = customers.cached(customerId) ?? (await customers.byId(customerId));
    if (!customer) throw recipientNotFound(sender.kind === "customer" ? "customer" : "recipient");

    const valid = validateContent(req.content, role);
    const contextId = req.context?.messageId ?? "";
    validateEnvelope({ clientMessageId: req.clientMessageId, bizOpaqueCallbackData: req.bizOpaqueCallbackData, contextMessageId: contextId, kind: valid.kind });
    const senderKey = partyKey(sender);
    const recipientKey = partyKey(recipient);
    if (valid.kind === "reaction" && req.content?.kind?.$case === "reaction") {
      const target = await ports.messages.findMessage(req.content.kind.value.messageId);
      if (!target || target.phoneNumberId !== number.phoneNumberId || target.customerId !== customer.id || target.contentType === 5) {
        throw new PolicyRefused("REACTION_TARGET_INVALID", "a reaction must target a non-reaction message of this conversation", 131009);
      }
    }

    // A product message names products of the business's catalog (learnt from catalog's events): a rule with the policy's.
    const action = ports.policy.options.enforce && req.content?.kind?.$case === "interactive" ? req.content.kind.value.action : undefined;
    if (sender.kind === "business" && action?.$case === "product") {
      await ports.catalog.check(number.businessId, action.value.catalogId, [{ id: action.value.productRetailerId, field: "content.interactive.product.product_retailer_id" }], "content.interactive.product.catalog_id");
    } else if (sender.kind === "business" && action?.$case === "productList") {
      const products = action.value.sections.flatMap((section, i) => section.productRetailerIds.map((id, j) => ({ id, field: `content.interactive.product_list.sections[${i}].product_retailer_ids[${j}]` })));
      await ports.catalog.check(number.businessId, action.value.catalogId, products, "content.interactive.product_list.catalog_id");
    }

    // The policy rules (send-policy.ts): a refusal throws; a template send is rendered into its content here.
    if (req.referral && sender.kind !== "customer") throw new InvalidInput("referral", "only a customer's message carries a referral");
    const id = messageIdFor(ports.idKey, senderKey, recipientKey, req.clientMessageId);
    let decision: PolicyDecision;
    try {
      if (sender.kind === "business") {
        const d = ports.policy.checkBusinessSend(number, customer.id, { kind: valid.kind, template: req.content?.kind?.$case === "template" ? req.content.kind.value : undefined });
        decision = d instanceof Promise ? await d : d;
      } else {
        decision = ports.policy.checkCustomerSend(number, req.referral !== undefined, customer.id);
      }
    } catch (err) {
      // A retry of a send that was accepted (its pair rate now spent, its template since paused …)
      // answers the original, as every retry does: the client must not think it failed.
      const original = req.clientMessageId ? recent.get(id) : undefined;
      if (original) return { item: undefined, original: { ...original, duplicate: true }, id, recipient };
      throw err;
    }

    const dk = keys.forBusiness(number.businessId);
    const { keyId, key } = "then" in dk ? await dk : dk;
    // Content and context are encoded once: the stored body and the live frame splice these bytes.
    const contentBytes = req.content ? encodeContent(req.content) : undefined;
    const contextBytes = req.context ? MessageContext.encode(req.context).finish() : undefined;
    const plaintext = storedBodyBytes(contentBytes, contextBytes, req.bizOpaqueCallbackData);
    const item: PendingItem = {
      id,
      senderKey,
      recipientKey,
      businessId: number.businessId,
      phoneNumberId: number.phoneNumberId,
      customerId: customer.id,
      clientMessageId: req.clientMessageId,
      contentType: valid.contentType,
      keyId,
      body: seal(key, plaintext, Buffer.from(id)),
      // A customer's other devices get its own sends; business numbers get status updates instead.
      echo: sender.kind === "customer",
      kind: valid.kind,
      customerE164: customer.e164,
      customerName: sender.kind === "customer" ? customer.profileName : "",
      contentBytes,
      contextBytes,
      req: sender.kind === "customer" ? req : undefined,
      bizOpaqueCallbackData: req.bizOpaqueCallbackData,
      policy: decision.flags,
      billing: decision.billing,
      referral: sender.kind === "customer" ? req.referral : undefined,
    };
    return { item, recipient };
  }

  return {
    /**
     * Stores one send (resolves once durable). `sender` is parsed from
     * req.sender and authorized by the caller; `role` decides the content rules.
     */
    send(req: SendMessageRequest, sender: Party, role: SenderRole): Promise<SendOutcome> {
      // prepare()'s frame ends before the commit: a suspended frame would keep the request alive until then.
      return prepare(req, sender, role).then(
        (p) => {
          if (p.original) {
            counts.duplicate++;
            return { stored: p.original, messageId: p.id, recipient: p.recipient };
          }
          const item = p.item;
          return submit(item).then((stored) => ({ stored, messageId: item.id, recipient: p.recipient }));
        },
        (err: unknown) => {
          counts.refused++;
          ports.metrics.refused(reasonOf(err));
          throw err;
        },
      );
    },

    /** A send refused before it reached send() (its sender bad or not allowed): counted with the others. */
    refuse(err: unknown): Promise<never> {
      counts.refused++;
      ports.metrics.refused(reasonOf(err));
      return Promise.reject(err);
    },

    /** Sends accepted for storing and not yet committed (queued or in a batch in flight). */
    queued(): number {
      return queue.length + inFlightItems;
    },

    /** Waits for sends in flight (shutdown). */
    idle(): Promise<void> {
      if (isIdle()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}

export type SendService = ReturnType<typeof createSendService>;

import type { Kysely } from "kysely";
import type { NatsConnection } from "nats";
import { StoredBody } from "@kontor/proto/messaging/v1/live";
import { MessageContext, MessageStatus, type Message } from "@kontor/proto/messaging/v1/message";
import type { SendMessageRequest, StatusUpdate } from "@kontor/proto/messaging/v1/messaging_service";
import { canActForBusiness, type Principal } from "@kontor/service-kit/auth";
import { DependencyDown, InvalidInput, NotFound, NotYours, OverLimit, PolicyRefused, fromPgError } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { MessagingDatabase } from "../store/database.js";
import { keyErasedRefusal, type Keyring } from "../store/keyring.js";
import type { SendItem, SendWriter, Stored, OpenedConversation } from "../store/send-writer.js";
import type { MessageRow } from "../store/tables.js";
import * as messages from "../store/message-store.js";
import { findCustomer, upsertCustomer } from "../store/customer-store.js";
import { conversationOpenedEvent, receivedEvent, statusEvent } from "../events/outbox.js";
import { keyErasedEvent } from "../events/key-erasure.js";
import type { InboxReader, LiveFrame, LiveHub } from "../events/live.js";
import type { MessagingMetrics } from "../metrics.js";
import { contentBytes as encodeContent, messageFrameBytes, statusFrameBytes, storedBodyBytes } from "../events/wire.js";
import { validateContent, validateEnvelope } from "./content.js";
import { messageIdFor, seal } from "./crypto.js";
import type { DirectoryCache, BusinessNumber } from "./directory.js";
import { countryOfE164, isValidId, keyToPb, normalizeE164, parseParticipant, partyFromKey, partyKey, partyToPb, type Party } from "./participant.js";
import { contentNames, type ContentCase } from "./status.js";

export interface MessagingPorts {
  db: Kysely<MessagingDatabase>;
  enqueue(trx: Kysely<MessagingDatabase>, events: OutboxEvent[]): Promise<void>;
  writer: SendWriter<PendingItem>;
  keyring: Keyring;
  directory: DirectoryCache;
  hub: LiveHub;
  nc: NatsConnection;
  prefix: string;
  idKey: Buffer;
  log: Logger;
  batchMax: number;
  queueMax: number;
  /** Batches in flight at once (1 = strictly serial group commit). */
  pipeline: number;
  metrics: Pick<MessagingMetrics, "sends" | "commit">;
}

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
  contentBytes: Uint8Array | undefined;
  contextBytes: Uint8Array | undefined;
}

export interface SendOutcome {
  stored: Stored;
  messageId: string;
  recipient: Party;
}

export interface CustomerInfo {
  id: string;
  e164: string;
  readReceipts: boolean;
}

type Waiter = { item: PendingItem; resolve: (s: Stored) => void; reject: (e: unknown) => void };

const S = MessageStatus;

export function createMessagingService(ports: MessagingPorts) {
  const { db, writer, keyring, directory, hub, log } = ports;
  const counts = ports.metrics.sends;
  const customers = new Map<string, CustomerInfo>();
  const customersByE164 = new Map<string, string>();

  /** Customers cached per replica; beyond this the oldest entries are dropped (and re-read on use). */
  const CUSTOMER_CACHE_MAX = 500_000;

  function remember(c: CustomerInfo): void {
    if (customers.size >= CUSTOMER_CACHE_MAX && !customers.has(c.id)) {
      const oldest = customers.values().next().value;
      if (oldest) {
        customers.delete(oldest.id);
        if (customersByE164.get(oldest.e164) === oldest.id) customersByE164.delete(oldest.e164);
      }
    }
    const old = customers.get(c.id);
    if (old && old.e164 !== c.e164) customersByE164.delete(old.e164);
    customers.set(c.id, c);
    customersByE164.set(c.e164, c.id);
  }

  async function customerById(id: string): Promise<CustomerInfo | undefined> {
    const hit = customers.get(id);
    if (hit) return hit;
    const row = await findCustomer(db, { id });
    if (!row) return undefined;
    const info = { id: row.id, e164: row.e164, readReceipts: row.read_receipts };
    remember(info);
    return info;
  }

  async function customerByE164(e164: string): Promise<CustomerInfo | undefined> {
    const id = customersByE164.get(e164);
    if (id) return customers.get(id);
    const row = await findCustomer(db, { e164 });
    if (!row) return undefined;
    const info = { id: row.id, e164: row.e164, readReceipts: row.read_receipts };
    remember(info);
    return info;
  }

  function numberOrThrow(id: string, what = "business number"): BusinessNumber {
    const n = directory.get(id);
    if (!n) throw new NotFound(what);
    return n;
  }

  /** May this principal act as this participant (send as it, read its inbox)? */
  function requireActsAs(principal: Principal, party: Party): void {
    if (party.kind === "customer") {
      if (principal.kind === "service" || (principal.kind === "customer" && principal.customerId === party.id)) return;
      throw new NotYours("this principal may not act for that customer");
    }
    const n = numberOrThrow(party.id);
    if (!canActForBusiness(principal, n.businessId)) throw new NotYours("this principal may not act for that business number");
  }

  // ---- group commit -------------------------------------------------------

  const queue: Waiter[] = [];
  let inFlight = 0;
  /** Sends in the batches of `inFlight`. */
  let inFlightItems = 0;
  let scheduled = false;
  // Gates and publish order of the batch started last (see Gates in send-writer).
  let convGate: Promise<void> = Promise.resolve();
  let inboxGate: Promise<void> = Promise.resolve();
  let publishChain: Promise<void> = Promise.resolve();

  function submit(item: PendingItem): Promise<Stored> {
    if (queue.length >= ports.queueMax) {
      counts.refused++;
      throw new OverLimit("SEND_QUEUE_FULL", "too many sends in flight on this replica, retry shortly", 130429);
    }
    return new Promise<Stored>((resolve, reject) => {
      queue.push({ item, resolve, reject });
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
          async ({ results, fresh }) => {
            ports.metrics.commit(batch.length, (performance.now() - dispatched) / 1000);
            counts.accepted += fresh.length;
            counts.duplicate += results.length - fresh.length;
            await prevPublish; // live order per recipient = commit order
            publishFresh(fresh);
            published();
            for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
          },
          async (err: unknown) => {
            await prevPublish;
            published();
            // Keys erased on another replica before this one heard: refuse their sends, redo the others first.
            const erased = keyring.refusedByCommit(err);
            if (erased) {
              for (const w of batch) {
                if (!erased.has(w.item.keyId)) continue;
                counts.refused++;
                w.reject(keyErasedRefusal());
              }
              queue.unshift(...batch.filter((w) => !erased.has(w.item.keyId)));
              return;
            }
            counts.failed += batch.length;
            const mapped = fromPgError(err);
            const failure = mapped instanceof DependencyDown || isConnectionError(err) ? new DependencyDown("the message store is unavailable, retry") : err;
            if (!mapped) log.error({ err }, "group commit failed");
            for (const w of batch) w.reject(failure);
          },
        )
        .finally(() => {
          inFlight--;
          inFlightItems -= batch.length;
          pump();
        });
    }
  }

  function isConnectionError(err: unknown): boolean {
    const code = (err as { code?: string }).code;
    return code === "ECONNREFUSED" || code === "ECONNRESET" || /Connection terminated|timeout exceeded/i.test(String((err as Error).message));
  }

  function buildEvents(stored: { item: PendingItem; stored: Stored }[], opened: OpenedConversation<PendingItem>[]): OutboxEvent[] {
    const events: OutboxEvent[] = [];
    for (const o of opened) {
      events.push(
        conversationOpenedEvent({
          conversationId: o.conversationId,
          businessId: o.businessId,
          phoneNumberId: o.phoneNumberId,
          customerId: o.customerId,
          customerCountry: countryOfE164(o.first.customerE164),
          origin: o.first.senderKey.startsWith("b_") ? "business_initiated" : "user_initiated",
          at: new Date(),
        }),
      );
    }
    for (const { item, stored: s } of stored) {
      if (item.senderKey.startsWith("b_")) {
        events.push(
          statusEvent({
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
            at: s.createdAt,
          }),
        );
      } else {
        events.push(receivedEvent(completeMessage(item, s, true), item.businessId, item.phoneNumberId, item.customerId, contentNames[item.contentType] ?? ""));
      }
    }
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
    for (const [key, items] of toInboxes) hub.publishItems(key, items);
    for (const [key, frames] of toSenders) hub.publishStatusFrames(key, frames);
  }

  /** Validates, authorizes and seals one send: everything before the group commit. */
  async function prepare(principal: Principal, req: SendMessageRequest): Promise<{ item: PendingItem; recipient: Party }> {
    const sender = parseParticipant(req.sender, "sender");
    requireActsAs(principal, sender);
    let recipient: Party;
    if (req.recipient?.kind && req.to) throw new InvalidInput("to", "give either recipient or to, not both");
    if (req.to) {
      const e164 = normalizeE164(req.to);
      if (!e164) throw new InvalidInput("to", "must be a phone number in E.164 form");
      if (sender.kind === "business") {
        const c = await customerByE164(e164);
        if (!c) throw Object.assign(new NotFound("recipient", "RECIPIENT_NOT_FOUND"), { cloudApiCode: 131026 });
        recipient = { kind: "customer", id: c.id };
      } else {
        const n = directory.byE164(e164);
        if (!n) throw Object.assign(new NotFound("recipient", "RECIPIENT_NOT_FOUND"), { cloudApiCode: 131026 });
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
    const customer = customers.get(customerId) ?? (await customerById(customerId));
    if (!customer) throw Object.assign(new NotFound(sender.kind === "customer" ? "customer" : "recipient", "RECIPIENT_NOT_FOUND"), { cloudApiCode: 131026 });

    const role = principal.kind === "service" ? "service" : sender.kind;
    const valid = validateContent(req.content, role);
    const contextId = req.context?.messageId ?? "";
    validateEnvelope({ clientMessageId: req.clientMessageId, bizOpaqueCallbackData: req.bizOpaqueCallbackData, contextMessageId: contextId, kind: valid.kind });
    const senderKey = partyKey(sender);
    const recipientKey = partyKey(recipient);
    if (valid.kind === "reaction" && req.content?.kind?.$case === "reaction") {
      const target = await messages.findMessage(db, req.content.kind.value.messageId);
      if (!target || target.phone_number_id !== number.phoneNumberId || target.customer_id !== customer.id || target.content_type === 5) {
        throw new PolicyRefused("REACTION_TARGET_INVALID", "a reaction must target a non-reaction message of this conversation", 131009);
      }
    }

    const dk = keyring.forBusiness(number.businessId);
    const { keyId, key } = "then" in dk ? await dk : dk;
    const id = messageIdFor(ports.idKey, senderKey, recipientKey, req.clientMessageId);
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
      contentBytes,
      contextBytes,
      req: sender.kind === "customer" ? req : undefined,
      bizOpaqueCallbackData: req.bizOpaqueCallbackData,
    };
    return { item, recipient };
  }

  // ---- reading rows -------------------------------------------------------

  /** undefined: the key was erased. A body failing its tag throws DataCorrupted (DATA_LOSS), logged by the keyring. */
  async function decryptRow(row: MessageRow): Promise<StoredBody | undefined> {
    const plain = await keyring.open(row.key_id, row.body, Buffer.from(row.id));
    return plain && StoredBody.decode(plain);
  }

  async function rowToMessage(row: MessageRow, viewerKey: string): Promise<Message> {
    const body = await decryptRow(row);
    const own = row.sender === viewerKey;
    return {
      id: row.id,
      conversationId: row.conversation_id,
      seq: row.seq,
      sender: partyToPb(partyFromKey(row.sender)),
      recipient: partyToPb(partyFromKey(row.recipient)),
      content: body?.content,
      context: body?.context,
      bizOpaqueCallbackData: own ? (body?.bizOpaqueCallbackData ?? "") : "",
      clientMessageId: own ? row.client_message_id : "",
      status: row.status,
      errorCode: row.error_code,
      createdAt: row.created_at,
      contentErased: !body,
    };
  }

  const reader: InboxReader = {
    async read(recipientKey, after, before, limit) {
      const rows = await messages.readInbox(db, recipientKey, after, before, limit);
      const out: { rseq: number; message: Message }[] = [];
      for (const row of rows) out.push({ rseq: Number(row.n), message: await rowToMessage(row, recipientKey) });
      return out;
    },
    heads: (keys) => messages.inboxHeads(db, keys),
  };

  async function conversationFor(principal: Principal, party: Party, conversationId: string) {
    requireActsAs(principal, party);
    const conv = await messages.findConversation(db, conversationId);
    if (!conv) throw new NotFound("conversation");
    const member = party.kind === "customer" ? conv.customer_id === party.id : conv.phone_number_id === party.id;
    if (!member) throw new NotYours("not a party of this conversation");
    return conv;
  }

  function publishStatuses(senderKey: string, statuses: StatusUpdate[]): void {
    if (statuses.length > 0) hub.publish(senderKey, { items: [], statuses, typing: undefined });
  }

  // ---- use cases ----------------------------------------------------------

  return {
    reader,
    rememberCustomer: remember,

    /** Checks the principal may read this participant's inbox; returns its key. */
    authorizeInbox(principal: Principal, party: Party): string {
      requireActsAs(principal, party);
      return partyKey(party);
    },

    send(principal: Principal, req: SendMessageRequest): Promise<SendOutcome> {
      // prepare()'s frame ends before the commit: a suspended frame would keep the request alive until then.
      return prepare(principal, req).then(
        ({ item, recipient }) => submit(item).then((stored) => ({ stored, messageId: item.id, recipient })),
        (err: unknown) => {
          counts.refused++;
          throw err;
        },
      );
    },

    async report(principal: Principal, req: { reader: Party; conversationId: string; status: MessageStatus; upToSeq: number; messageId: string }): Promise<number> {
      if (req.status !== S.MESSAGE_STATUS_DELIVERED && req.status !== S.MESSAGE_STATUS_READ) throw new InvalidInput("status", "must be DELIVERED or READ");
      const conv = await conversationFor(principal, req.reader, req.conversationId);
      const readerKey = partyKey(req.reader);
      let upTo = req.upToSeq;
      if (req.messageId) {
        const m = await messages.findMessage(db, req.messageId);
        if (!m || m.conversation_id !== conv.id || m.recipient !== readerKey) throw new NotFound("message");
        upTo = Math.max(upTo, Number(m.seq));
      }
      if (upTo <= 0) throw new InvalidInput("up_to_seq", "must be positive (or give message_id)");
      let status = req.status;
      if (status === S.MESSAGE_STATUS_READ && req.reader.kind === "customer") {
        // A customer who turned read receipts off still gets unread counts, but the business only sees DELIVERED.
        const c = await customerById(req.reader.id);
        if (c && !c.readReceipts) status = S.MESSAGE_STATUS_DELIVERED;
      }
      const at = new Date();
      const changed = await db.transaction().execute(async (trx) => {
        const rows = await messages.applyReceipt(trx, conv.id, readerKey, req.reader.kind, status, upTo, req.status === S.MESSAGE_STATUS_READ);
        const events: OutboxEvent[] = [];
        for (const r of rows) {
          const body = await decryptRow({ ...(r as unknown as MessageRow), id: r.id });
          events.push(
            statusEvent({
              messageId: r.id,
              conversationId: conv.id,
              seq: Number(r.seq),
              senderKey: r.sender,
              recipientKey: readerKey,
              status,
              errorCode: 0,
              businessId: conv.business_id,
              phoneNumberId: conv.phone_number_id,
              customerId: conv.customer_id,
              bizOpaqueCallbackData: body?.bizOpaqueCallbackData ?? "",
              at,
            }),
          );
        }
        await ports.enqueue(trx, events);
        return rows;
      });
      const bySender = new Map<string, StatusUpdate[]>();
      for (const r of changed) {
        const list = bySender.get(r.sender) ?? [];
        list.push({ messageId: r.id, conversationId: conv.id, seq: r.seq, status, errorCode: 0, occurredAt: at });
        bySender.set(r.sender, list);
      }
      for (const [key, list] of bySender) publishStatuses(key, list);
      return changed.length;
    },

    async typing(principal: Principal, sender: Party, conversationId: string): Promise<void> {
      const conv = await conversationFor(principal, sender, conversationId);
      const other = sender.kind === "customer" ? `b_${conv.phone_number_id}` : `c_${conv.customer_id}`;
      hub.publish(other, { items: [], statuses: [], typing: { conversationId: conv.id, from: partyToPb(sender) } });
    },

    async listConversations(principal: Principal, party: Party, after: { t: Date; id: string } | undefined, limit: number) {
      requireActsAs(principal, party);
      return messages.listConversations(db, party.kind, party.id, after, limit);
    },

    async listMessages(principal: Principal, party: Party, conversationId: string, afterSeq: number | undefined, newestFirst: boolean, limit: number): Promise<Message[]> {
      const conv = await conversationFor(principal, party, conversationId);
      const rows = await messages.listMessages(db, conv.id, afterSeq, newestFirst, limit);
      const key = partyKey(party);
      return Promise.all(rows.map((r) => rowToMessage(r, key)));
    },

    async getMessage(principal: Principal, party: Party, messageId: string): Promise<Message> {
      requireActsAs(principal, party);
      const key = partyKey(party);
      const row = /^wamid\.[A-Za-z0-9_-]{10,64}$/.test(messageId) ? await messages.findMessage(db, messageId) : undefined;
      if (!row) throw new NotFound("message");
      if (row.sender !== key && row.recipient !== key) throw new NotYours("not a party of this message");
      return rowToMessage(row, key);
    },

    async upsertCustomer(principal: Principal, req: { customerId: string; e164: string; profileName: string; settings: { readReceipts: boolean; locale: string } | undefined }) {
      if (!isValidId(req.customerId)) throw new InvalidInput("customer_id", "must be 1-64 characters of [A-Za-z0-9_-]");
      const e164 = req.e164 ? normalizeE164(req.e164) : undefined;
      if (req.e164 && !e164) throw new InvalidInput("e164", "must be a phone number in E.164 form");
      if (req.profileName.length > 256) throw new InvalidInput("profile_name", "must be at most 256 characters");
      if (req.settings && req.settings.locale.length > 35) throw new InvalidInput("settings.locale", "must be a BCP 47 tag");
      if (principal.kind !== "service") {
        if (principal.kind !== "customer" || principal.customerId !== req.customerId) throw new NotYours("only Kontor services register customers");
        const existing = await customerById(req.customerId);
        if (!existing) throw new NotYours("only Kontor services register customers");
        if (e164 && e164 !== existing.e164) throw new NotYours("a customer cannot change its number here");
      }
      const result = await db.transaction().execute(async (trx) => {
        const r = await upsertCustomer(trx, {
          id: req.customerId,
          e164,
          profileName: req.profileName || undefined,
          readReceipts: req.settings?.readReceipts,
          locale: req.settings?.locale,
        });
        if (r.created && !e164) throw new InvalidInput("e164", "is required for a new customer");
        return r;
      });
      remember({ id: result.row.id, e164: result.row.e164, readReceipts: result.row.read_receipts });
      return result;
    },

    async fail(principal: Principal, messageId: string, errorCode: number): Promise<{ message: Message | undefined; changed: boolean }> {
      if (principal.kind !== "service") throw new NotYours("only Kontor services fail messages");
      if (errorCode <= 0) throw new InvalidInput("error_code", "must be a Cloud API error code");
      const at = new Date();
      const row = await db.transaction().execute(async (trx) => {
        const r = await messages.failMessage(trx, messageId, errorCode);
        if (!r) return undefined;
        const body = await decryptRow(r);
        await ports.enqueue(trx, [
          statusEvent({
            messageId: r.id,
            conversationId: r.conversation_id,
            seq: Number(r.seq),
            senderKey: r.sender,
            recipientKey: r.recipient,
            status: S.MESSAGE_STATUS_FAILED,
            errorCode,
            businessId: r.business_id,
            phoneNumberId: r.phone_number_id,
            customerId: r.customer_id,
            bizOpaqueCallbackData: body?.bizOpaqueCallbackData ?? "",
            at,
          }),
        ]);
        return r;
      });
      if (!row) {
        const existing = /^wamid\./.test(messageId) ? await messages.findMessage(db, messageId) : undefined;
        if (!existing) throw new NotFound("message");
        return { message: await rowToMessage(existing, existing.sender), changed: false };
      }
      publishStatuses(row.sender, [{ messageId: row.id, conversationId: row.conversation_id, seq: row.seq, status: S.MESSAGE_STATUS_FAILED, errorCode, occurredAt: at }]);
      return { message: await rowToMessage(row, row.sender), changed: true };
    },

    async eraseBusinessKey(principal: Principal, businessId: string): Promise<number> {
      if (principal.kind !== "service") throw new NotYours("only Kontor services erase keys");
      if (!businessId) throw new InvalidInput("business_id", "is required");
      // The event goes out through the outbox with the erasure: every replica's durable consumer evicts the keys.
      const ids = await keyring.erase(businessId, (trx, keyIds) => ports.enqueue(trx, [keyErasedEvent(businessId, keyIds, new Date())]));
      return messages.countByKey(db, ids);
    },

    /** Sends accepted for storing and not yet committed (queued or in a batch in flight). */
    queued(): number {
      return queue.length + inFlightItems;
    },

    /** Waits for sends in flight (shutdown). */
    async idle(): Promise<void> {
      while (inFlight > 0 || scheduled || queue.length > 0) await new Promise((r) => setTimeout(r, 5));
    },
  };
}

export type MessagingService = ReturnType<typeof createMessagingService>;

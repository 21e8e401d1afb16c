import {
  MessagingServiceService,
  type MessagingServiceServer,
  SendItemResult,
  SendMessageResponse,
  type SendMessageRequest,
  type SendMessageStreamRequest,
  SendMessageStreamResponse,
  StreamInboxResponse,
  ExportFormat,
  ExportItem,
} from "@kontor/proto/messaging/v1/messaging_service";
import type { Principal } from "@kontor/service-kit/auth";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { DependencyDown, InvalidInput, PolicyRefused, errorDetail, toStatus } from "@kontor/service-kit/errors";
import { pageOf, readPage } from "@kontor/service-kit/paging";
import { parseCustomerUpsert, type AdminService } from "../domain/admin-service.js";
import type { CustomerCache } from "../domain/customers.js";
import type { DirectoryCache } from "../domain/directory.js";
import type { HistoryService } from "../domain/history-service.js";
import type { InboxService } from "../domain/inbox-service.js";
import { parseParticipant, type Party } from "../domain/participant.js";
import type { ReceiptService } from "../domain/receipt-service.js";
import type { SendOutcome, SendService, SenderRole } from "../domain/send-service.js";
import { InboxSession, type LiveHub } from "../events/live.js";
import { responseBytes, sendItemResultBytes, sendMessageResponseBytes } from "../events/wire.js";
import {
  authorizeEraseBusinessKey,
  authorizeFailMessage,
  authorizeGetMessage,
  authorizeListConversations,
  authorizeListMessages,
  authorizeReportReceipt,
  authorizeSendMessage,
  authorizeSendMessageStream,
  authorizeSendTyping,
  authorizeStreamInbox,
  authorizeUpsertCustomer,
  authorizeGetConsent,
  authorizeSetMarketingConsent,
  authorizeSetPrivacySettings,
  authorizeExportCustomerData,
  authorizeGetMessagingLimits,
  authorizeSetBusinessBlocked,
  authorizeReportBusiness,
  authorizeListBlockedBusinesses,
  authorizeUserBlocks,
  authorizeEraseCustomerData,
} from "./authorize.js";
import { conversationFilterOf } from "./filters.js";
import { conversationToPb, customerToPb, sendResultFields, marketingConsentToPb, privacyToPb, exportItemToPb } from "./mappers.js";
import { requireExportCustomerId, type ExportService } from "../domain/export-service.js";
import { ConsentSource as PbConsentSource } from "@kontor/proto/messaging/v1/consent";
import { requireConsentId, type ConsentService } from "../domain/consent-service.js";
import type { LimitsService } from "../domain/limits-service.js";
import { ReportReason as PbReportReason } from "@kontor/proto/messaging/v1/messaging_service";
import { requireBlockIds, type BlockService, type ReportReason } from "../domain/block-service.js";
import { REASON_FROM_PB } from "../events/blocks.js";
import type { ErasureService } from "../domain/erasure-service.js";
import type { UserBlockCursor, UserBlockService } from "../domain/user-block-service.js";

/** The use cases the handlers call, and the in-memory state authorization reads. */
export interface MessagingHandlersDeps {
  sends: SendService;
  inbox: InboxService;
  receipts: ReceiptService;
  history: HistoryService;
  admin: AdminService;
  hub: LiveHub;
  directory: DirectoryCache;
  customers: CustomerCache;
  consent: ConsentService;
  exports: ExportService;
  limits: LimitsService;
  blocks: BlockService;
  erasure: ErasureService;
  /** The business's side of blocking (block_users). */
  userBlocks: UserBlockService;
}

type ConvCursor = { t: string; id: string };
const isConvCursor = (v: unknown): v is ConvCursor => typeof v === "object" && v !== null && typeof (v as ConvCursor).t === "string" && typeof (v as ConvCursor).id === "string";
const isUserBlockCursor = (v: unknown): v is UserBlockCursor => typeof v === "object" && v !== null && typeof (v as UserBlockCursor).t === "string" && typeof (v as UserBlockCursor).c === "string" && !Number.isNaN(Date.parse((v as UserBlockCursor).t));
type SeqCursor = { s: number };
const isSeqCursor = (v: unknown): v is SeqCursor => typeof v === "object" && v !== null && Number.isSafeInteger((v as SeqCursor).s);

/**
 * The generated definition, except that three responses may be written as
 * ready bytes: live items arrive encoded and go to every device's stream
 * without being decoded and encoded again, and send results (per item on the
 * streaming send, and the unary answer) are written by hand encoders
 * (wire.ts). Both streaming responses are one repeated field 1, so
 * concatenated frames are a valid message.
 */
const wireService = {
  ...MessagingServiceService,
  sendMessage: {
    ...MessagingServiceService.sendMessage,
    responseSerialize: (value: SendMessageResponse | Buffer): Buffer => (Buffer.isBuffer(value) ? value : Buffer.from(SendMessageResponse.encode(value).finish())),
  },
  sendMessageStream: {
    ...MessagingServiceService.sendMessageStream,
    responseSerialize: (value: SendMessageStreamResponse | Buffer): Buffer => (Buffer.isBuffer(value) ? value : Buffer.from(SendMessageStreamResponse.encode(value).finish())),
  },
  streamInbox: {
    ...MessagingServiceService.streamInbox,
    responseSerialize: (value: StreamInboxResponse | Buffer): Buffer => (Buffer.isBuffer(value) ? value : Buffer.from(StreamInboxResponse.encode(value).finish())),
  },
};

/** A stream stops reading while this many of its sends are waiting for their commit. */
const STREAM_MAX_IN_FLIGHT = 4096;

/** A streamed item's failure, with the code and details the unary call would answer. */
function itemError(err: unknown): SendItemResult["outcome"] {
  const mapped = toStatus(err);
  return { $case: "error", value: { code: mapped.status.code, message: mapped.status.details ?? "", detail: errorDetail(mapped.status) } };
}

/** Thin handlers: decode → authorize (authorize.ts, against in-memory state) → use case → map. */
export function registerMessagingServer(grpc: KitServer, deps: MessagingHandlersDeps, maxPageSize: number): void {
  const { sends, inbox, receipts, history, admin, hub, directory, customers } = deps;

  /** One send, unary or streamed: parse and authorize the sender, then the send path. Never throws. */
  const send = (principal: Principal, req: SendMessageRequest, authorize: typeof authorizeSendMessage): Promise<SendOutcome> => {
    let sender: Party;
    let role: SenderRole;
    try {
      sender = parseParticipant(req.sender, "sender");
      role = authorize(principal, sender, directory);
    } catch (err) {
      return sends.refuse(err);
    }
    return sends.send(req, sender, role);
  };

  const handlers: MessagingServiceServer = {
    sendMessage: grpc.unary("SendMessage", async (req, ctx) => {
      const outcome = await send(ctx.principal, req, authorizeSendMessage);
      // Hand-encoded like the streaming answers (wire.ts): one buffer, no message object, no copy.
      return sendMessageResponseBytes(sendResultFields(outcome, req.clientMessageId)) as never;
    }),

    sendMessageStream: grpc.duplex<SendMessageStreamRequest, SendMessageStreamResponse>("SendMessageStream", (call, ctx) => {
      return new Promise<void>((resolve, reject) => {
        let inFlight = 0;
        let ended = false;
        let paused = false;
        // Encoded SendItemResult frames; the response is their concatenation (see wireService).
        let out: Uint8Array[] = [];
        let flushScheduled = false;
        // Results finished in one turn of the event loop (usually one group commit) go out in one response.
        const flush = () => {
          flushScheduled = false;
          if (out.length === 0 || call.cancelled) return;
          const frames = out;
          out = [];
          call.write(responseBytes(frames) as never);
        };
        const finishOne = (frame: Uint8Array) => {
          out.push(frame);
          inFlight--;
          if (!flushScheduled) {
            flushScheduled = true;
            setImmediate(() => {
              flush();
              if (paused && inFlight < STREAM_MAX_IN_FLIGHT / 2) {
                paused = false;
                call.resume();
              }
              if (ended && inFlight === 0) resolve();
            });
          }
        };
        const failed = (ref: string, err: unknown) => SendItemResult.encode({ ref, outcome: itemError(err) }).finish();
        call.on("data", (req: SendMessageStreamRequest) => {
          inFlight++;
          const ref = req.ref;
          const message = req.message;
          // Per-item results: a bad item fails alone, the stream goes on. The callbacks keep
          // the client id, not the request (thousands are in flight; see PendingItem.req).
          const clientMessageId = message?.clientMessageId ?? "";
          // An item's fields are named as the unary SendMessage names them (content.text.body).
          const refused = grpc.inputError("SendMessageStream", { ref }) ?? (message && grpc.inputError("SendMessage", message));
          if (refused) finishOne(failed(ref, refused));
          else if (!message) finishOne(failed(ref, new InvalidInput("message", "is required")));
          else
            send(ctx.principal, message, authorizeSendMessageStream).then(
              (o) => finishOne(sendItemResultBytes(ref, sendResultFields(o, clientMessageId))),
              (err: unknown) => finishOne(failed(ref, err)),
            );
          if (inFlight >= STREAM_MAX_IN_FLIGHT && !paused) {
            paused = true;
            call.pause();
          }
        });
        call.on("end", () => {
          ended = true;
          if (inFlight === 0 && !flushScheduled) resolve();
        });
        call.on("error", (err) => reject(err));
        call.on("cancelled", () => resolve());
      });
      // Each item is answered on its own: a bad one is refused alone (inputError above).
    }, { items: "handler" }),

    streamInbox: grpc.serverStream("StreamInbox", async (req, ctx, call) => {
      const party = parseParticipant(req.participant, "participant");
      const cursor = req.resumeCursor === "" ? 0 : /^\d{1,15}$/.test(req.resumeCursor) ? Number(req.resumeCursor) : NaN;
      if (Number.isNaN(cursor)) throw new InvalidInput("resume_cursor", "is not a cursor this service issued");
      const key = authorizeStreamInbox(ctx.principal, party, directory);
      let failure: string | undefined;
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      const session = new InboxSession(
        key,
        cursor,
        {
          // Raw bytes: see wireService above.
          write: (frames) => call.write(responseBytes(frames) as never),
          buffered: () => call.writableLength,
          fail: (reason) => {
            failure = reason;
            done();
          },
        },
        inbox.reader,
        ctx.log,
        hub.counts,
      );
      if (ctx.signal.aborted) return;
      ctx.signal.addEventListener("abort", () => done(), { once: true });
      call.on("close", () => done());
      // Subscribe first, then read the backlog: nothing published meanwhile is missed.
      hub.attach(session);
      try {
        await hub.flush();
        await session.start();
        await finished;
      } finally {
        hub.detach(session);
      }
      if (failure) throw new DependencyDown(failure, "INBOX_INTERRUPTED");
    }),

    reportReceipt: grpc.unary("ReportReceipt", async (req, ctx) => {
      const reader = parseParticipant(req.reader, "reader");
      if (!req.conversationId) throw new InvalidInput("conversation_id", "is required");
      authorizeReportReceipt(ctx.principal, reader, directory);
      const updated = await receipts.report({ reader, conversationId: req.conversationId, status: req.status, upToSeq: Number(req.upToSeq), messageId: req.messageId });
      return { updated };
    }),

    sendTyping: grpc.unary("SendTyping", async (req, ctx) => {
      const sender = parseParticipant(req.sender, "sender");
      if (!req.conversationId) throw new InvalidInput("conversation_id", "is required");
      authorizeSendTyping(ctx.principal, sender, directory);
      await receipts.typing(sender, req.conversationId);
      return {};
    }),

    listConversations: grpc.unary("ListConversations", async (req, ctx) => {
      const party = parseParticipant(req.participant, "participant");
      const { limit, take, cursor } = readPage(req.page, isConvCursor, maxPageSize, 20);
      authorizeListConversations(ctx.principal, party, directory);
      const rows = await history.listConversations(party, cursor ? { t: new Date(cursor.t), id: cursor.id } : undefined, take, conversationFilterOf(req.filter));
      const { items, page } = pageOf(rows, limit, (last) => ({ t: last.lastActivityAt.toISOString(), id: last.id }));
      return { conversations: items.map(conversationToPb), page };
    }),

    listMessages: grpc.unary("ListMessages", async (req, ctx) => {
      const party = parseParticipant(req.participant, "participant");
      if (!req.conversationId) throw new InvalidInput("conversation_id", "is required");
      const { limit, take, cursor } = readPage(req.page, isSeqCursor, maxPageSize, 50);
      authorizeListMessages(ctx.principal, party, directory);
      const list = await history.listMessages(party, req.conversationId, cursor?.s, req.newestFirst, take);
      const { items, page } = pageOf(list, limit, (last) => ({ s: Number(last.seq) }));
      return { messages: items, page };
    }),

    getMessage: grpc.unary("GetMessage", async (req, ctx) => {
      const party = parseParticipant(req.participant, "participant");
      if (!req.messageId) throw new InvalidInput("message_id", "is required");
      authorizeGetMessage(ctx.principal, party, directory);
      return { message: await history.getMessage(party, req.messageId) };
    }),

    upsertCustomer: grpc.unary("UpsertCustomer", async (req, ctx) => {
      const input = parseCustomerUpsert(req);
      await authorizeUpsertCustomer(ctx.principal, input, customers);
      const { customer, created } = await admin.upsertCustomer(input);
      return { customer: customerToPb(customer), created };
    }),

    failMessage: grpc.unary("FailMessage", async (req, ctx) => {
      if (!req.messageId) throw new InvalidInput("message_id", "is required");
      authorizeFailMessage(ctx.principal);
      return admin.fail(req.messageId, req.errorCode);
    }),

    eraseBusinessKey: grpc.unary("EraseBusinessKey", async (req, ctx) => {
      const erasedBy = authorizeEraseBusinessKey(ctx.principal);
      const n = await admin.eraseBusinessKey({ businessId: req.businessId, reason: req.reason, erasedBy });
      return { shreddedMessages: String(n) };
    }),

    getConsent: grpc.unary("GetConsent", async (req, ctx) => {
      requireConsentId(req.customerId, "customer_id");
      if (req.businessId) requireConsentId(req.businessId, "business_id");
      const { withPrivacy } = authorizeGetConsent(ctx.principal, req.customerId, req.businessId);
      const { privacy, marketing } = await deps.consent.get(req.customerId, req.businessId, withPrivacy);
      return { customerId: req.customerId, privacy: privacy && privacyToPb(privacy), marketing: marketing.map(marketingConsentToPb) };
    }),

    setMarketingConsent: grpc.unary("SetMarketingConsent", async (req, ctx) => {
      requireConsentId(req.customerId, "customer_id");
      requireConsentId(req.businessId, "business_id");
      const source = rpcSource(req.source);
      const by = authorizeSetMarketingConsent(ctx.principal, req.customerId, req.businessId, req.optIn, req.proof);
      const { consent, changed } = await deps.consent.setMarketing({ customerId: req.customerId, businessId: req.businessId, optIn: req.optIn, source, proof: req.proof, by });
      return { marketing: marketingConsentToPb({ businessId: req.businessId, consent }), changed };
    }),

    setPrivacySettings: grpc.unary("SetPrivacySettings", async (req, ctx) => {
      requireConsentId(req.customerId, "customer_id");
      const by = authorizeSetPrivacySettings(ctx.principal, req.customerId);
      const privacy = await deps.consent.setPrivacy({ customerId: req.customerId, adPersonalization: req.adPersonalization, dataSharingOptOut: req.dataSharingOptOut, by });
      return { privacy: privacyToPb(privacy) };
    }),

    exportCustomerData: grpc.serverStream("ExportCustomerData", async (req, ctx, call) => {
      requireExportCustomerId(req.customerId);
      const json = exportFormat(req.format);
      const by = authorizeExportCustomerData(ctx.principal, req.customerId);
      const customer = await deps.exports.start(req.customerId);
      if (by.startsWith("staff:")) ctx.log.info({ customer_id: req.customerId, by }, "customer data exported by an operator");
      const signal = ctx.signal;
      for await (const exported of deps.exports.items(customer, signal)) {
        if (signal.aborted) return;
        const item = exportItemToPb(exported);
        // The stream's backpressure holds the next store page back (items() is pulled).
        if (!call.write({ item, json: json ? JSON.stringify(ExportItem.toJSON(item)) : "" })) await drained(call, signal);
      }
    }),
    eraseCustomerData: grpc.unary("EraseCustomerData", async (req, ctx) => {
      requireConsentId(req.customerId, "customer_id");
      const erasedBy = authorizeEraseCustomerData(ctx.principal, req.customerId, req.reason);
      const { erasedMessages, erasedAt } = await deps.erasure.erase({ customerId: req.customerId, reason: req.reason, erasedBy });
      return { erasedMessages: String(erasedMessages), erasedAt };
    }),
    setBusinessBlocked: grpc.unary("SetBusinessBlocked", async (req, ctx) => {
      requireBlockIds(req.customerId, req.businessId);
      authorizeSetBusinessBlocked(ctx.principal, req.customerId, req.businessId, directory);
      const state = await deps.blocks.setBlocked(req.customerId, req.businessId, req.blocked);
      return { blocked: state.blocked, changedAt: state.at === undefined ? undefined : new Date(state.at) };
    }),
    reportBusiness: grpc.unary("ReportBusiness", async (req, ctx) => {
      requireBlockIds(req.customerId, req.businessId, req.phoneNumberId);
      const reason = reportReason(req.reason);
      authorizeReportBusiness(ctx.principal, req.customerId, req.businessId, req.phoneNumberId, directory);
      return deps.blocks.report({ customerId: req.customerId, businessId: req.businessId, phoneNumberId: req.phoneNumberId, reason, comment: req.comment, block: req.block });
    }),
    listBlockedBusinesses: grpc.unary("ListBlockedBusinesses", async (req, ctx) => {
      requireBlockIds(req.customerId);
      authorizeListBlockedBusinesses(ctx.principal, req.customerId);
      return { businesses: await deps.blocks.list(req.customerId) };
    }),
    blockUsers: grpc.unary("BlockUsers", async (req, ctx) => {
      const businessId = authorizeUserBlocks(ctx.principal, req.phoneNumberId, directory);
      const { applied, failed } = await deps.userBlocks.block(req.phoneNumberId, businessId, req.users);
      return { added: applied, failed: failed.map((f) => ({ input: f.input, cloudApiCode: f.code, message: f.message })) };
    }),
    unblockUsers: grpc.unary("UnblockUsers", async (req, ctx) => {
      const businessId = authorizeUserBlocks(ctx.principal, req.phoneNumberId, directory);
      const { applied, failed } = await deps.userBlocks.unblock(req.phoneNumberId, businessId, req.users);
      return { removed: applied, failed: failed.map((f) => ({ input: f.input, cloudApiCode: f.code, message: f.message })) };
    }),
    listBlockedUsers: grpc.unary("ListBlockedUsers", async (req, ctx) => {
      authorizeUserBlocks(ctx.principal, req.phoneNumberId, directory);
      const { limit, take, cursor } = readPage(req.page, isUserBlockCursor, maxPageSize, 20);
      const rows = await deps.userBlocks.list(req.phoneNumberId, take, cursor);
      const { items, page } = pageOf(rows, limit, (last) => ({ t: last.blockedAt.toISOString(), c: last.customerId }));
      return { users: items.map((u) => ({ customerId: u.customerId, e164: u.e164, blockedAt: u.blockedAt })), page };
    }),
    // Placeholder until its use case lands: refused as not implemented.
    getMessagingLimits: grpc.unary("GetMessagingLimits", async (req, ctx) => {
      requireConsentId(req.businessId, "business_id");
      authorizeGetMessagingLimits(ctx.principal, req.businessId);
      const l = await deps.limits.get(req.businessId);
      return {
        tier: l.tier,
        uniqueCustomers24h: String(l.used),
        limit: String(l.limit),
        numbers: l.numbers.map((n) => ({ phoneNumberId: n.phoneNumberId, qualityRating: n.quality, throughputPerSecond: n.throughputPerSecond })),
      };
    }),
  };
  grpc.addService(wireService, handlers);
}

/** True for JSON lines beside the items; PROTOBUF (the default) is the items alone. */
function exportFormat(format: ExportFormat): boolean {
  if (format === ExportFormat.EXPORT_FORMAT_UNSPECIFIED || format === ExportFormat.EXPORT_FORMAT_PROTOBUF) return false;
  if (format === ExportFormat.EXPORT_FORMAT_JSON) return true;
  throw new InvalidInput("format", "must be EXPORT_FORMAT_PROTOBUF or EXPORT_FORMAT_JSON");
}

/** Resolves when the call's buffer has drained, or at once when the call is cancelled. */
function drained(call: { once(event: "drain", l: () => void): unknown; off(event: "drain", l: () => void): unknown }, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A report's reason; UNSPECIFIED (or a number this build does not know) is refused. */
function reportReason(reason: PbReportReason): ReportReason {
  const known = REASON_FROM_PB.get(reason);
  if (!known) throw new InvalidInput("reason", "must be one of SPAM, SCAM, OFFENSIVE, NOT_SIGNED_UP, OTHER");
  return known;
}

/** An RPC records RPC (the default) or IMPORT consent; KEYWORD is the inbound-message path's own. */
function rpcSource(source: PbConsentSource): "rpc" | "import" {
  if (source === PbConsentSource.CONSENT_SOURCE_UNSPECIFIED || source === PbConsentSource.CONSENT_SOURCE_RPC) return "rpc";
  if (source === PbConsentSource.CONSENT_SOURCE_IMPORT) return "import";
  throw new InvalidInput("source", "must be CONSENT_SOURCE_RPC or CONSENT_SOURCE_IMPORT");
}

import { status as grpcStatus } from "@grpc/grpc-js";
import {
  MessagingServiceService,
  type MessagingServiceServer,
  SendItemResult,
  SendMessageResponse,
  type SendMessageStreamRequest,
  SendMessageStreamResponse,
  StreamInboxResponse,
} from "@kontor/proto/messaging/v1/messaging_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { InvalidInput, KontorError, toStatus } from "@kontor/service-kit/errors";
import { decodeCursor, encodeCursor, pageSize } from "@kontor/service-kit/paging";
import { ErrorDetail } from "@kontor/proto/common/v1/error";
import type { MessagingService } from "../domain/messaging-service.js";
import { parseParticipant } from "../domain/participant.js";
import { InboxSession, type LiveHub } from "../events/live.js";
import { responseBytes, sendItemResultBytes, sendMessageResponseBytes } from "../events/wire.js";
import { conversationToPb, customerToPb, sendResultFields } from "./mappers.js";

type ConvCursor = { t: string; id: string };
const isConvCursor = (v: unknown): v is ConvCursor => typeof v === "object" && v !== null && typeof (v as ConvCursor).t === "string" && typeof (v as ConvCursor).id === "string";
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

function itemError(err: unknown): SendItemResult["outcome"] {
  const mapped = toStatus(err);
  const raw = mapped.status.metadata?.get("kontor-error-bin")[0];
  const detail = raw && typeof raw !== "string" ? ErrorDetail.decode(raw) : undefined;
  return { $case: "error", value: { code: mapped.status.code, message: mapped.status.details ?? "", detail } };
}

/** Thin handlers: decode → authorize (in the domain, against in-memory state) → domain → map. */
export function registerMessagingServer(grpc: KitServer, messaging: MessagingService, hub: LiveHub, maxPageSize: number): void {
  const handlers: MessagingServiceServer = {
    sendMessage: grpc.unary("SendMessage", async (req, ctx) => {
      const outcome = await messaging.send(ctx.principal, req);
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
            messaging.send(ctx.principal, message).then(
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
      const key = messaging.authorizeInbox(ctx.principal, party);
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
        messaging.reader,
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
      if (failure) throw new KontorErrorUnavailable(failure);
    }),

    reportReceipt: grpc.unary("ReportReceipt", async (req, ctx) => {
      const reader = parseParticipant(req.reader, "reader");
      if (!req.conversationId) throw new InvalidInput("conversation_id", "is required");
      const updated = await messaging.report(ctx.principal, { reader, conversationId: req.conversationId, status: req.status, upToSeq: Number(req.upToSeq), messageId: req.messageId });
      return { updated };
    }),

    sendTyping: grpc.unary("SendTyping", async (req, ctx) => {
      const sender = parseParticipant(req.sender, "sender");
      if (!req.conversationId) throw new InvalidInput("conversation_id", "is required");
      await messaging.typing(ctx.principal, sender, req.conversationId);
      return {};
    }),

    listConversations: grpc.unary("ListConversations", async (req, ctx) => {
      const party = parseParticipant(req.participant, "participant");
      const limit = pageSize(req.page?.pageSize, 20, maxPageSize);
      const cursor = decodeCursor(req.page?.pageToken ?? "", isConvCursor);
      const rows = await messaging.listConversations(ctx.principal, party, cursor ? { t: new Date(cursor.t), id: cursor.id } : undefined, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        conversations: page.map(conversationToPb),
        page: { nextPageToken: rows.length > limit && last ? encodeCursor({ t: last.last_activity_at.toISOString(), id: last.id }) : "" },
      };
    }),

    listMessages: grpc.unary("ListMessages", async (req, ctx) => {
      const party = parseParticipant(req.participant, "participant");
      if (!req.conversationId) throw new InvalidInput("conversation_id", "is required");
      const limit = pageSize(req.page?.pageSize, 50, maxPageSize);
      const cursor = decodeCursor(req.page?.pageToken ?? "", isSeqCursor);
      const list = await messaging.listMessages(ctx.principal, party, req.conversationId, cursor?.s, req.newestFirst, limit + 1);
      const page = list.slice(0, limit);
      const last = page[page.length - 1];
      return { messages: page, page: { nextPageToken: list.length > limit && last ? encodeCursor({ s: Number(last.seq) }) : "" } };
    }),

    getMessage: grpc.unary("GetMessage", async (req, ctx) => {
      const party = parseParticipant(req.participant, "participant");
      if (!req.messageId) throw new InvalidInput("message_id", "is required");
      return { message: await messaging.getMessage(ctx.principal, party, req.messageId) };
    }),

    upsertCustomer: grpc.unary("UpsertCustomer", async (req, ctx) => {
      const { row, created } = await messaging.upsertCustomer(ctx.principal, {
        customerId: req.customerId,
        e164: req.e164,
        profileName: req.profileName,
        settings: req.settings,
      });
      return { customer: customerToPb(row), created };
    }),

    failMessage: grpc.unary("FailMessage", async (req, ctx) => {
      if (!req.messageId) throw new InvalidInput("message_id", "is required");
      return messaging.fail(ctx.principal, req.messageId, req.errorCode);
    }),

    eraseBusinessKey: grpc.unary("EraseBusinessKey", async (req, ctx) => {
      const n = await messaging.eraseBusinessKey(ctx.principal, req.businessId);
      return { shreddedMessages: String(n) };
    }),
  };
  grpc.addService(wireService, handlers);
}

class KontorErrorUnavailable extends KontorError {
  readonly grpcCode = grpcStatus.UNAVAILABLE;
  constructor(message: string) {
    super("INBOX_INTERRUPTED", message);
  }
}

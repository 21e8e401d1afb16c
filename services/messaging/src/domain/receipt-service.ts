import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import type { StatusUpdate } from "@kontor/proto/messaging/v1/messaging_service";
import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { statusEvents, type StatusEventInput } from "../events/outbox.js";
import type { CustomerCache } from "./customers.js";
import type { LivePublisher } from "./inbox-service.js";
import { conversationOf, type ConversationLookup, type MessageInConversation, type MessageOpener, type SealedBody } from "./message.js";
import { partyKey, partyToPb, type Party } from "./participant.js";

const S = MessageStatus;

/** A message a receipt moved forward. */
export interface ReceiptChange extends SealedBody {
  seq: string;
  sender: string;
}

/** One transaction: what it writes and the events it enqueues commit together. */
export interface ReceiptTransaction {
  /**
   * Moves messages to `reader` forward to `status` up to `upToSeq` (reactions
   * get no receipts, FAILED stays FAILED); READ also moves the reader's read mark.
   */
  applyReceipt(conversationId: string, reader: string, side: "customer" | "business", status: number, upToSeq: number, moveReadMark: boolean): Promise<ReceiptChange[]>;
  enqueue(events: OutboxEvent[]): Promise<void>;
}

export interface ReceiptPorts {
  store: ConversationLookup & {
    findMessage(id: string): Promise<MessageInConversation | undefined>;
    transaction<T>(work: (tx: ReceiptTransaction) => Promise<T>): Promise<T>;
  };
  customers: CustomerCache;
  opener: MessageOpener;
  live: Pick<LivePublisher, "publishStatuses" | "publishTyping">;
  /** The quality rating's read signal (send-policy.ts): business messages a customer read. */
  quality?: { read(numberId: string, at: number, count: number): void };
  /** One message.status event for a receipt's statuses (STATUS_EVENTS=per_commit), else one per message. */
  statusEventsPerCommit?: boolean;
}

export interface ReceiptRequest {
  reader: Party;
  conversationId: string;
  status: MessageStatus;
  upToSeq: number;
  messageId: string;
}

/** Receipts and statuses: DELIVERED and READ from recipients, typing indicators. */
export function createReceiptService(ports: ReceiptPorts) {
  const { store, customers, opener, live } = ports;

  return {
    /** Reports DELIVERED or READ up to a seq (or a message); returns how many messages moved. */
    async report(req: ReceiptRequest): Promise<number> {
      if (req.status !== S.MESSAGE_STATUS_DELIVERED && req.status !== S.MESSAGE_STATUS_READ) throw new InvalidInput("status", "must be DELIVERED or READ");
      const conv = await conversationOf(store, req.reader, req.conversationId);
      const readerKey = partyKey(req.reader);
      let upTo = req.upToSeq;
      if (req.messageId) {
        const m = await store.findMessage(req.messageId);
        if (!m || m.conversationId !== conv.id || m.recipient !== readerKey) throw new NotFound("message");
        upTo = Math.max(upTo, Number(m.seq));
      }
      if (upTo <= 0) throw new InvalidInput("up_to_seq", "must be positive (or give message_id)");
      let status = req.status;
      if (status === S.MESSAGE_STATUS_READ && req.reader.kind === "customer") {
        // A customer who turned read receipts off still gets unread counts, but the business only sees DELIVERED.
        const c = await customers.byId(req.reader.id);
        if (c && !c.readReceipts) status = S.MESSAGE_STATUS_DELIVERED;
      }
      const at = new Date();
      // The status events name the customer's number (the webhook's recipient_id).
      const customerE164 = (customers.cached(conv.customerId) ?? (await customers.byId(conv.customerId)))?.e164 ?? "";
      const changed = await store.transaction(async (tx) => {
        const rows = await tx.applyReceipt(conv.id, readerKey, req.reader.kind, status, upTo, req.status === S.MESSAGE_STATUS_READ);
        const statuses: StatusEventInput[] = [];
        for (const r of rows) {
          const body = await opener.body(r);
          statuses.push({
            messageId: r.id,
            conversationId: conv.id,
            seq: Number(r.seq),
            senderKey: r.sender,
            recipientKey: readerKey,
            status,
            errorCode: 0,
            businessId: conv.businessId,
            phoneNumberId: conv.phoneNumberId,
            customerId: conv.customerId,
            bizOpaqueCallbackData: body?.bizOpaqueCallbackData ?? "",
            pricingCategory: "",
            pricingType: "",
            pricingModel: "",
            billable: false,
            customerE164: customerE164,
            at,
          });
        }
        await tx.enqueue(statusEvents(statuses, ports.statusEventsPerCommit ?? false));
        return rows;
      });
      const bySender = new Map<string, StatusUpdate[]>();
      for (const r of changed) {
        const list = bySender.get(r.sender) ?? [];
        list.push({ messageId: r.id, conversationId: conv.id, seq: r.seq, status, errorCode: 0, occurredAt: at });
        bySender.set(r.sender, list);
      }
      for (const [key, list] of bySender) live.publishStatuses(key, list);
      // The customer read them, whether or not its settings tell the business.
      if (req.status === S.MESSAGE_STATUS_READ && req.reader.kind === "customer" && changed.length > 0) ports.quality?.read(conv.phoneNumberId, at.getTime(), changed.length);
      return changed.length;
    },

    /** Shows the conversation's other party that `sender` is typing (live only, nothing stored). */
    async typing(sender: Party, conversationId: string): Promise<void> {
      const conv = await conversationOf(store, sender, conversationId);
      const other = sender.kind === "customer" ? `b_${conv.phoneNumberId}` : `c_${conv.customerId}`;
      live.publishTyping(other, { conversationId: conv.id, from: partyToPb(sender) });
    },
  };
}

export type ReceiptService = ReturnType<typeof createReceiptService>;

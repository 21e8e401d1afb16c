import type { Conversation, Customer } from "@kontor/proto/messaging/v1/messaging_service";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import type { SendOutcome } from "../domain/messaging-service.js";
import { partyKey } from "../domain/participant.js";
import type { SendResultInput } from "../events/wire.js";
import type { ConversationListRow } from "../store/message-store.js";
import type { CustomerRow } from "../store/tables.js";

/** The synchronous answer: ACCEPTED (durable), whatever happened since; a retry reports how far the original got. */
export function sendResultFields(o: SendOutcome, clientMessageId: string): SendResultInput {
  return {
    messageId: o.messageId,
    conversationId: o.stored.conversationId,
    seq: o.stored.seq,
    status: o.stored.duplicate && o.stored.status > MessageStatus.MESSAGE_STATUS_SENT ? o.stored.status : MessageStatus.MESSAGE_STATUS_ACCEPTED,
    clientMessageId,
    duplicate: o.stored.duplicate,
    acceptedAt: o.stored.createdAt,
    recipientKey: partyKey(o.recipient),
  };
}

export function conversationToPb(r: ConversationListRow): Conversation {
  return {
    id: r.id,
    businessId: r.business_id,
    phoneNumberId: r.phone_number_id,
    customerId: r.customer_id,
    lastSeq: r.last_seq,
    lastActivityAt: r.last_activity_at,
    unreadCount: r.unread,
    createdAt: r.created_at,
    counterpartName: r.counterpart_name,
    verified: r.verified,
  };
}

export function customerToPb(r: CustomerRow): Customer {
  return {
    id: r.id,
    e164: r.e164,
    profileName: r.profile_name,
    settings: { readReceipts: r.read_receipts, locale: r.locale },
    createdAt: r.created_at,
  };
}

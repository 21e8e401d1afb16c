import { MessageReceived, ConversationOpened } from "@kontor/proto/messaging/v1/events";
import type { Message, MessageStatus } from "@kontor/proto/messaging/v1/message";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { subjects } from "./subjects.js";
import { statusChangedBytes } from "./wire.js";

export interface StatusEventInput {
  messageId: string;
  conversationId: string;
  seq: number;
  senderKey: string;
  recipientKey: string;
  status: MessageStatus;
  errorCode: number;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  bizOpaqueCallbackData: string;
  at: Date;
}

/** Event ids are (message, status): the outbox, NATS and consumers all dedupe on them. */
export function statusEvent(e: StatusEventInput): OutboxEvent {
  const eventId = `${e.messageId}:s${e.status}`;
  return {
    eventId,
    subject: subjects.messageStatus,
    // Hand-encoded (one per sent message); same bytes as MessageStatusChanged.encode, see wire.test.ts.
    payload: statusChangedBytes(e, eventId),
  };
}

export function receivedEvent(message: Message, businessId: string, phoneNumberId: string, customerId: string, type: string): OutboxEvent {
  const eventId = `${message.id}:received`;
  return {
    eventId,
    subject: subjects.messageReceived,
    payload: MessageReceived.encode({ meta: { eventId, occurredAt: message.createdAt, businessId }, message, phoneNumberId, customerId, type, referral: undefined }).finish(),
  };
}

export function conversationOpenedEvent(input: {
  conversationId: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  customerCountry: string;
  origin: string;
  at: Date;
}): OutboxEvent {
  const eventId = `${input.conversationId}:opened`;
  return {
    eventId,
    subject: subjects.conversationOpened,
    payload: ConversationOpened.encode({
      meta: { eventId, occurredAt: input.at, businessId: input.businessId },
      conversationId: input.conversationId,
      phoneNumberId: input.phoneNumberId,
      customerId: input.customerId,
      customerCountry: input.customerCountry,
      businessId: input.businessId,
      pricingModel: "",
      billable: false,
      openedAt: input.at,
      expiresAt: undefined,
      messageId: "",
      windowId: "",
      category: "",
      origin: input.origin,
    }).finish(),
  };
}

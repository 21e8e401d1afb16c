import { MessageReceived, MessageStatusChanged, ConversationOpened } from "@kontor/proto/messaging/v1/events";
import type { Message, MessageStatus } from "@kontor/proto/messaging/v1/message";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { keyToPb } from "../domain/participant.js";
import { subjects } from "./subjects.js";

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
    payload: MessageStatusChanged.encode({
      meta: { eventId, occurredAt: e.at, businessId: e.businessId },
      messageId: e.messageId,
      conversationId: e.conversationId,
      sender: keyToPb(e.senderKey),
      recipient: keyToPb(e.recipientKey),
      status: e.status,
      errorCode: e.errorCode,
      pricingCategory: "",
      bizOpaqueCallbackData: e.bizOpaqueCallbackData,
      phoneNumberId: e.phoneNumberId,
      customerId: e.customerId,
      seq: String(e.seq),
    }).finish(),
  };
}

export function receivedEvent(message: Message, businessId: string, phoneNumberId: string, customerId: string, type: string): OutboxEvent {
  const eventId = `${message.id}:received`;
  return {
    eventId,
    subject: subjects.messageReceived,
    payload: MessageReceived.encode({ meta: { eventId, occurredAt: message.createdAt, businessId }, message, phoneNumberId, customerId, type }).finish(),
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
      category: "",
      origin: input.origin,
    }).finish(),
  };
}

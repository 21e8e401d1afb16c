import { MessageReceived, ConversationOpened, MessageBilled, ConversationAssigned } from "@kontor/proto/messaging/v1/events";
import type { Message, MessageStatus, Referral } from "@kontor/proto/messaging/v1/message";
import type { Pricing } from "../domain/policy/pricing.js";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { subjects } from "./subjects.js";
import { statusBatchBytes, statusChangedBytes } from "./wire.js";

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
  /** service, marketing, utility, authentication; empty for Kontor's system notices. */
  pricingCategory: string;
  /** The Cloud API's pricing type and model, and whether it is billed; empty when not priced (customer messages, policy off). */
  pricingType: string;
  pricingModel: string;
  billable: boolean;
  customerE164: string;
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

/** Statuses per packed event at most: a packed status is ~100 bytes, ~700 with callback data of its own; NATS's payload limit is 1 MB. */
export const STATUSES_PER_EVENT = 500;

/**
 * A commit's status events (STATUS_EVENTS=per_commit): one message.status
 * event per business number holding all its statuses (EVENTS.md), so a
 * business send costs nats-server and the relay a share of one publish
 * instead of one each. Fields the statuses share are written once
 * (wire.ts statusBatchBytes); every status keeps its own event id, written or
 * derived (`<message id>:s<status>`); the batch's id names its first status
 * and its size, so a relayed row keeps the same Nats-Msg-Id. A lone status
 * keeps the single form.
 */
export function statusEvents(inputs: readonly StatusEventInput[], perCommit: boolean): OutboxEvent[] {
  if (!perCommit || inputs.length === 1) return inputs.map(statusEvent);
  const byNumber = new Map<string, StatusEventInput[]>();
  for (const e of inputs) {
    const list = byNumber.get(e.phoneNumberId);
    if (list) list.push(e);
    else byNumber.set(e.phoneNumberId, [e]);
  }
  const out: OutboxEvent[] = [];
  for (const list of byNumber.values()) {
    for (let i = 0; i < list.length; i += STATUSES_PER_EVENT) {
      const part = list.slice(i, i + STATUSES_PER_EVENT);
      if (part.length === 1) {
        out.push(statusEvent(part[0]!));
        continue;
      }
      const first = part[0]!;
      const eventId = `${first.messageId}:s${first.status}+${part.length}`;
      out.push({
        eventId,
        subject: subjects.messageStatus,
        payload: statusBatchBytes(eventId, part),
      });
    }
  }
  return out;
}

export function receivedEvent(
  message: Message,
  businessId: string,
  phoneNumberId: string,
  customer: { id: string; e164: string; profileName: string },
  type: string,
  referral: Referral | undefined,
): OutboxEvent {
  const eventId = `${message.id}:received`;
  return {
    eventId,
    subject: subjects.messageReceived,
    payload: MessageReceived.encode({ meta: { eventId, occurredAt: message.createdAt, businessId }, message, phoneNumberId, customerId: customer.id, type, referral, customerE164: customer.e164, customerProfileName: customer.profileName }).finish(),
  };
}

/** A conversation window the commit opened: one event per window (its id names the conversation, category and opening instant). */
export function conversationOpenedEvent(input: {
  conversationId: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  customerCountry: string;
  category: string;
  origin: string;
  pricingModel: string;
  billable: boolean;
  at: Date;
  expiresAt: Date;
  messageId: string;
}): OutboxEvent {
  const windowId = `${input.conversationId}:${input.category}:${input.at.getTime()}`;
  const eventId = `${windowId}:opened`;
  return {
    eventId,
    subject: subjects.conversationOpened,
    payload: ConversationOpened.encode({
      meta: { eventId, occurredAt: input.at, businessId: input.businessId },
      conversationId: input.conversationId,
      phoneNumberId: input.phoneNumberId,
      customerId: input.customerId,
      customerCountry: input.customerCountry,
      category: input.category,
      origin: input.origin,
      businessId: input.businessId,
      pricingModel: input.pricingModel,
      billable: input.billable,
      openedAt: input.at,
      expiresAt: input.expiresAt,
      messageId: input.messageId,
      windowId,
    }).finish(),
  };
}

/** One template message's pricing (message.billed.v1), written with the message; event id `<message id>:billed`. */
export function billedEvent(input: {
  item: { id: string; businessId: string; phoneNumberId: string; customerId: string };
  stored: { conversationId: string; createdAt: Date };
  billing: { templateId: string; name: string; language: string };
  pricing: Pricing;
  customerCountry: string;
}): OutboxEvent {
  const eventId = `${input.item.id}:billed`;
  return {
    eventId,
    subject: subjects.messageBilled,
    payload: MessageBilled.encode({
      meta: { eventId, occurredAt: input.stored.createdAt, businessId: input.item.businessId },
      messageId: input.item.id,
      conversationId: input.stored.conversationId,
      phoneNumberId: input.item.phoneNumberId,
      customerId: input.item.customerId,
      businessId: input.item.businessId,
      category: input.pricing.category,
      customerCountry: input.customerCountry,
      pricingModel: input.pricing.model,
      billable: input.pricing.billable,
      pricingType: input.pricing.type,
      templateId: input.billing.templateId,
      templateName: input.billing.name,
      templateLanguage: input.billing.language,
      sentAt: input.stored.createdAt,
    }).finish(),
  };
}

/** A conversation's assignment changed (business tools); its id names the conversation and the instant. */
export function conversationAssignedEvent(e: {
  conversation: { id: string; businessId: string; phoneNumberId: string; customerId: string };
  agentId: string;
  previousAgentId: string;
  assignedBy: string;
  at: Date;
}): OutboxEvent {
  const eventId = `${e.conversation.id}:assigned:${e.at.getTime()}`;
  return {
    eventId,
    subject: subjects.conversationAssigned,
    payload: ConversationAssigned.encode({
      meta: { eventId, occurredAt: e.at, businessId: e.conversation.businessId },
      conversationId: e.conversation.id,
      businessId: e.conversation.businessId,
      phoneNumberId: e.conversation.phoneNumberId,
      customerId: e.conversation.customerId,
      agentId: e.agentId,
      previousAgentId: e.previousAgentId,
      assignedBy: e.assignedBy,
      at: e.at,
    }).finish(),
  };
}

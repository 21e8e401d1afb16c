import { MessageDirection, type Conversation, type Customer, type ExportItem } from "@kontor/proto/messaging/v1/messaging_service";
import type { ExportedItem } from "../domain/export-service.js";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import type { ConversationSummary, Customer as CustomerRecord } from "../domain/message.js";
import { partyKey } from "../domain/participant.js";
import type { SendOutcome } from "../domain/send-service.js";
import type { SendResultInput } from "../events/wire.js";
import type { ConsentRecord as PbConsentRecord, MarketingConsent as PbMarketingConsent, PrivacySettings as PbPrivacySettings } from "@kontor/proto/messaging/v1/consent";
import type { MarketingConsentEntry, PrivacySettings, StoredConsent } from "../domain/consent-service.js";
import { optedIn } from "../domain/policy/consent.js";
import { SOURCE_TO_PB } from "../events/consent.js";

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

export function conversationToPb(c: ConversationSummary): Conversation {
  return {
    id: c.id,
    businessId: c.businessId,
    phoneNumberId: c.phoneNumberId,
    customerId: c.customerId,
    lastSeq: c.lastSeq,
    lastActivityAt: c.lastActivityAt,
    unreadCount: c.unread,
    createdAt: c.createdAt,
    counterpartName: c.counterpartName,
    verified: c.verified,
    labelIds: c.labelIds,
    assignedAgentId: c.assignedAgentId,
  };
}

export function customerToPb(c: CustomerRecord): Customer {
  return {
    id: c.id,
    e164: c.e164,
    profileName: c.profileName,
    settings: { readReceipts: c.readReceipts, locale: c.locale },
    createdAt: c.createdAt,
  };
}

/** Consent records for the RPCs (domain/consent-service.ts ⇄ consent.proto). */
export function consentRecordToPb(r: StoredConsent["optIn"]): PbConsentRecord | undefined {
  return r ? { at: new Date(r.at), source: SOURCE_TO_PB[r.source], proof: r.proof, recordedBy: r.by } : undefined;
}

export function marketingConsentToPb(e: MarketingConsentEntry): PbMarketingConsent {
  return { businessId: e.businessId, optIn: consentRecordToPb(e.consent.optIn), optOut: consentRecordToPb(e.consent.optOut), optedIn: optedIn(e.consent) };
}

export function privacyToPb(p: PrivacySettings): PbPrivacySettings {
  return { adPersonalization: p.adPersonalization, dataSharingOptOut: p.dataSharingOptOut, updatedAt: p.updatedAt };
}

/** One export item (domain/export-service.ts) as the stream carries it. */
export function exportItemToPb(item: ExportedItem): ExportItem {
  switch (item.kind) {
    case "customer":
      return { kind: { $case: "customer", value: customerToPb(item.customer) } };
    case "privacy":
      return { kind: { $case: "privacy", value: privacyToPb(item.privacy) } };
    case "marketing":
      return { kind: { $case: "marketingConsent", value: marketingConsentToPb(item.entry) } };
    case "message":
      return {
        kind: {
          $case: "message",
          value: {
            message: item.message,
            businessId: item.conversation.businessId,
            phoneNumberId: item.conversation.phoneNumberId,
            direction: item.inbound ? MessageDirection.MESSAGE_DIRECTION_INBOUND : MessageDirection.MESSAGE_DIRECTION_OUTBOUND,
            statusAt: item.statusAt,
          },
        },
      };
  }
}

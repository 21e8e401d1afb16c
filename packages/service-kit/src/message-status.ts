import type { MessageStatusChanged } from "@kontor/proto/messaging/v1/events";

/**
 * The statuses a message.status event carries, each whole. An event holds
 * one status, or several in `statuses` (one event per group commit or
 * receipt and business number). Those entries are compact: a field every
 * status of the event shares is written once in the enclosing event and
 * left at its default in the entries, so an entry's field wins when set and
 * the enclosing event's fills it otherwise. An entry without meta happened
 * at the enclosing event's time, and its event id is `<message id>:s<status>`
 * (the id consumers dedupe on). Older events, whose entries are whole, read
 * the same way.
 */
export function expandStatuses(e: MessageStatusChanged): MessageStatusChanged[] {
  if (e.statuses.length === 0) return [e];
  return e.statuses.map((s) => {
    const status = s.status || e.status;
    return {
      meta: {
        eventId: s.meta?.eventId || `${s.messageId}:s${status}`,
        occurredAt: s.meta?.occurredAt ?? e.meta?.occurredAt,
        businessId: s.meta?.businessId || (e.meta?.businessId ?? ""),
      },
      messageId: s.messageId,
      conversationId: s.conversationId || e.conversationId,
      sender: s.sender ?? e.sender,
      recipient: s.recipient ?? e.recipient,
      status,
      errorCode: s.errorCode || e.errorCode,
      pricingCategory: s.pricingCategory || e.pricingCategory,
      bizOpaqueCallbackData: s.bizOpaqueCallbackData || e.bizOpaqueCallbackData,
      phoneNumberId: s.phoneNumberId || e.phoneNumberId,
      customerId: s.customerId || e.customerId,
      seq: s.seq !== "0" && s.seq !== "" ? s.seq : e.seq,
      customerE164: s.customerE164 || e.customerE164,
      pricingType: s.pricingType || e.pricingType,
      pricingModel: s.pricingModel || e.pricingModel,
      billable: s.billable || e.billable,
      statuses: [],
    };
  });
}

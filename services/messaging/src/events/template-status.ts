import { randomUUID } from "node:crypto";
import { TemplateStatusChanged } from "@kontor/proto/messaging/v1/events";
import type { TemplateStatus } from "@kontor/proto/messaging/v1/template";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { subjects } from "./subjects.js";

/** kontor.messaging.template.status.v1 for one status change, written through the outbox with the change. */
export function templateStatusEvent(
  t: { id: string; businessId: string; name: string; language: string; category: number },
  from: TemplateStatus,
  to: TemplateStatus,
  reason: string,
  at: Date,
): OutboxEvent {
  const eventId = randomUUID();
  return {
    eventId,
    subject: subjects.templateStatus,
    payload: TemplateStatusChanged.encode({
      meta: { eventId, occurredAt: at, businessId: t.businessId },
      templateId: t.id,
      businessId: t.businessId,
      name: t.name,
      language: t.language,
      category: t.category,
      oldStatus: from,
      newStatus: to,
      reason,
      changedAt: at,
    }).finish(),
  };
}


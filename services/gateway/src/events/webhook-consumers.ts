import { MessageReceived, MessageStatusChanged, TemplateStatusChanged } from "@kontor/proto/messaging/v1/events";
import { TemplateCategory, TemplateStatus } from "@kontor/proto/messaging/v1/template";
import { once } from "@kontor/service-kit/nats";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { Kysely } from "kysely";
import { categoryName, statusName as templateStatusName } from "../domain/template-mapping.js";
import { inboundNotification, statusName, statusNotification, templateStatusNotification, webhookBytes } from "../domain/webhook-payload.js";
import { customerWaId, findNumber } from "../store/directory-store.js";
import { wabaOfBusiness } from "../store/partner-store.js";
import type { GatewayDatabase } from "../store/tables.js";
import { enqueueDelivery, getSubscription } from "../store/webhook-store.js";
import { subjects } from "./subjects.js";

type Db = Kysely<GatewayDatabase>;

/** The WABA a business's notifications belong to, when its partner subscribed the app to it. */
async function subscribedWaba(db: Db, businessId: string): Promise<{ partnerId: string; wabaId: string } | undefined> {
  const waba = await wabaOfBusiness(db, businessId);
  if (!waba) return undefined;
  return (await getSubscription(db, waba.wabaId)) ? waba : undefined;
}

/**
 * Messaging's events → queued webhook notifications. Each event is turned
 * into its notification and queued in one transaction with its event id
 * recorded (the kit's once), so a redelivered event queues nothing twice;
 * the delivery loop sends the queue. One durable consumer per subject.
 */
export function registerWebhookConsumers(rt: Runtime<GatewayDatabase>, wake: () => void): void {
  rt.consume<MessageReceived>({
    durable: "gateway-webhook-received",
    domain: "messaging",
    subject: subjects.messageReceived,
    decode: (data) => MessageReceived.decode(data),
    async handle(e) {
      const eventId = e.meta?.eventId ?? "";
      const message = e.message;
      if (!eventId || !message) return "term";
      const outcome = await once(rt.db, "gateway-webhook-received", eventId, async (trx) => {
        const number = await findNumber(trx, e.phoneNumberId);
        const waba = number ? await subscribedWaba(trx, number.businessId) : undefined;
        if (!number || !waba) return;
        // The event names the customer's number and profile name; older events only the id.
        const waId = e.customerE164 ? e.customerE164.replace(/^\+/, "") : ((await customerWaId(trx, e.customerId)) ?? e.customerId);
        const body = webhookBytes(inboundNotification({ wabaId: waba.wabaId, number, message, waId, profileName: e.customerProfileName || undefined, referral: e.referral }));
        await enqueueDelivery(trx, { partnerId: waba.partnerId, wabaId: waba.wabaId, eventId, orderKey: message.conversationId, body });
      });
      wake();
      return outcome;
    },
  });

  rt.consume<MessageStatusChanged>({
    durable: "gateway-webhook-status",
    domain: "messaging",
    subject: subjects.messageStatus,
    decode: (data) => MessageStatusChanged.decode(data),
    async handle(e) {
      const eventId = e.meta?.eventId ?? "";
      if (!eventId) return "term";
      // Statuses of the business's own sends only: a customer's messages are reported to the business as inbound messages.
      if (e.sender?.kind?.$case !== "phoneNumberId" || !statusName(e.status)) return "ack";
      const outcome = await once(rt.db, "gateway-webhook-status", eventId, async (trx) => {
        const number = await findNumber(trx, e.phoneNumberId);
        const waba = number ? await subscribedWaba(trx, number.businessId) : undefined;
        if (!number || !waba) return;
        const waId = e.customerE164 ? e.customerE164.replace(/^\+/, "") : ((await customerWaId(trx, e.customerId)) ?? e.customerId);
        const payload = statusNotification({
          wabaId: waba.wabaId,
          number,
          messageId: e.messageId,
          status: e.status,
          at: e.meta?.occurredAt,
          waId,
          errorCode: e.errorCode,
          pricingCategory: e.pricingCategory,
          pricing: e.pricingType ? { type: e.pricingType, model: e.pricingModel, billable: e.billable } : undefined,
          bizOpaqueCallbackData: e.bizOpaqueCallbackData,
        });
        if (payload) await enqueueDelivery(trx, { partnerId: waba.partnerId, wabaId: waba.wabaId, eventId, orderKey: e.conversationId, body: webhookBytes(payload) });
      });
      wake();
      return outcome;
    },
  });

  rt.consume<TemplateStatusChanged>({
    durable: "gateway-webhook-template",
    domain: "messaging",
    subject: subjects.templateStatus,
    decode: (data) => TemplateStatusChanged.decode(data),
    async handle(e) {
      const eventId = e.meta?.eventId ?? "";
      if (!eventId) return "term";
      if (e.newStatus === TemplateStatus.TEMPLATE_STATUS_UNSPECIFIED) return "ack";
      const outcome = await once(rt.db, "gateway-webhook-template", eventId, async (trx) => {
        const waba = await subscribedWaba(trx, e.businessId || e.meta?.businessId || "");
        if (!waba) return;
        const body = webhookBytes(
          templateStatusNotification({
            wabaId: waba.wabaId,
            templateId: e.templateId,
            name: e.name,
            language: e.language,
            category: e.category === TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED ? "" : categoryName(e.category),
            event: templateStatusName(e.newStatus),
            reason: e.reason,
            at: e.changedAt,
          }),
        );
        await enqueueDelivery(trx, { partnerId: waba.partnerId, wabaId: waba.wabaId, eventId, orderKey: `template:${e.templateId}`, body });
      });
      wake();
      return outcome;
    },
  });
}

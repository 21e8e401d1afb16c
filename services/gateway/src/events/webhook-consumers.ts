import { MessageReceived, MessageStatusChanged, TemplateStatusChanged } from "@kontor/proto/messaging/v1/events";
import { TemplateCategory, TemplateStatus } from "@kontor/proto/messaging/v1/template";
import type { Outcome } from "@kontor/service-kit/nats";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { Kysely } from "kysely";
import { categoryName, statusName as templateStatusName } from "../domain/template-mapping.js";
import { inboundNotification, statusName, statusNotification, templateStatusNotification, webhookBytes } from "../domain/webhook-payload.js";
import { customerWaId, findNumber, type NumberRecord } from "../store/directory-store.js";
import { wabaOfBusiness } from "../store/partner-store.js";
import type { GatewayDatabase } from "../store/tables.js";
import { enqueueDeliveries, getSubscription, type NewDelivery } from "../store/webhook-store.js";
import { TtlCache } from "../domain/ttl-cache.js";
import { createBatcher } from "./batcher.js";
import { subjects } from "./subjects.js";
import { expandStatuses } from "@kontor/service-kit/message-status";

type Db = Kysely<GatewayDatabase>;

/**
 * Where a number's notifications go: its record and the WABA its partner
 * subscribed (null: none), remembered for `ttlMs` so most events cost no
 * query; a subscription change in this process forgets them at once, one in
 * another replica is seen at most `ttlMs` late.
 */
export class WebhookTargets {
  private numbers: TtlCache<Promise<NumberRecord | null>>;
  private wabas: TtlCache<Promise<{ partnerId: string; wabaId: string } | null>>;
  constructor(
    private db: Db,
    ttlMs: number,
  ) {
    this.numbers = new TtlCache(ttlMs);
    this.wabas = new TtlCache(ttlMs);
  }
  async number(phoneNumberId: string): Promise<NumberRecord | undefined> {
    let p = this.numbers.get(phoneNumberId);
    if (!p) {
      p = findNumber(this.db, phoneNumberId).then((n) => n ?? null);
      this.numbers.set(phoneNumberId, p);
      p.catch(() => this.numbers.clear());
    }
    return (await p) ?? undefined;
  }
  /** The WABA a business's notifications belong to, when its partner subscribed the app to it. */
  async waba(businessId: string): Promise<{ partnerId: string; wabaId: string } | undefined> {
    let p = this.wabas.get(businessId);
    if (!p) {
      p = (async () => {
        const waba = await wabaOfBusiness(this.db, businessId);
        if (!waba) return null;
        return (await getSubscription(this.db, waba.wabaId)) ? waba : null;
      })();
      this.wabas.set(businessId, p);
      p.catch(() => this.wabas.clear());
    }
    return (await p) ?? undefined;
  }
  clear(): void {
    this.numbers.clear();
    this.wabas.clear();
  }
}

/** Turns one event into its notification (or nothing: no subscribed WABA), with the batch's lookups. */
type Render<T> = (e: T, look: WebhookTargets) => Promise<NewDelivery | undefined>;

/** Events gathered for a batch (up to this many, or this long after the first). */
const BATCH_MAX = 500;
const BATCH_LINGER_MS = 5;

/**
 * A durable consumer whose events are rendered and queued in batches: one
 * INSERT per batch (none when no event has a subscribed WABA); the queue's unique (WABA, event id)
 * makes a redelivered event queue nothing twice.
 */
function consumeBatched<T extends { meta?: { eventId: string } | undefined }>(
  rt: Runtime<GatewayDatabase>,
  spec: {
    durable: string;
    subject: string;
    decode: (data: Uint8Array) => T;
    /** The events one delivery holds (a message.status event may carry many statuses); itself by default. */
    expand?: (e: T) => T[];
    skip?: (e: T) => boolean;
    render: Render<T>;
  },
  targets: WebhookTargets,
  wake: () => void,
): void {
  const batcher = createBatcher<T, Outcome>({
    max: BATCH_MAX,
    lingerMs: BATCH_LINGER_MS,
    async flush(events) {
      const out: NewDelivery[] = [];
      // In arrival order: the queue's order is each conversation's order.
      for (const e of events) {
        const d = await spec.render(e, targets);
        if (d) out.push(d);
      }
      // One statement: the batch is queued whole or not at all.
      await enqueueDeliveries(rt.db, out);
      if (out.length) wake();
      return events.map(() => "ack" as const);
    },
  });
  rt.consume<T>({
    durable: spec.durable,
    domain: "messaging",
    subject: spec.subject,
    decode: spec.decode,
    batch: BATCH_MAX * 2,
    inFlight: BATCH_MAX * 2,
    async handle(e) {
      const events = spec.expand ? spec.expand(e) : [e];
      if (events.some((one) => !one.meta?.eventId)) return "term";
      const todo = spec.skip ? events.filter((one) => !spec.skip!(one)) : events;
      if (todo.length === 0) return "ack";
      if (todo.length === 1) return batcher.add(todo[0]!);
      // Acked once every status it holds is queued; a failure redelivers it whole (the queue's unique key drops repeats).
      const outcomes = await Promise.all(todo.map((one) => batcher.add(one)));
      return outcomes.find((o) => o !== "ack") ?? "ack";
    },
  });
}

/**
 * Messaging's events → queued webhook notifications (the delivery loop sends
 * the queue). One durable consumer per subject.
 */
export function registerWebhookConsumers(rt: Runtime<GatewayDatabase>, targets: WebhookTargets, wake: () => void): void {
  consumeBatched<MessageReceived>(
    rt,
    {
      durable: "gateway-webhook-received",
      subject: subjects.messageReceived,
      decode: (data) => MessageReceived.decode(data),
      skip: (e) => !e.message,
      async render(e, look) {
        const message = e.message!;
        const number = await look.number(e.phoneNumberId);
        const waba = number ? await look.waba(number.businessId) : undefined;
        if (!number || !waba) return undefined;
        // The event names the customer's number and profile name; older events only the id.
        const waId = e.customerE164 ? e.customerE164.replace(/^\+/, "") : ((await customerWaId(rt.db, e.customerId)) ?? e.customerId);
        const body = webhookBytes(inboundNotification({ wabaId: waba.wabaId, number, message, waId, profileName: e.customerProfileName || undefined, referral: e.referral }));
        return { partnerId: waba.partnerId, wabaId: waba.wabaId, eventId: e.meta!.eventId, orderKey: message.conversationId, body };
      },
    },
    targets,
    wake,
  );

  consumeBatched<MessageStatusChanged>(
    rt,
    {
      durable: "gateway-webhook-status",
      subject: subjects.messageStatus,
      decode: (data) => MessageStatusChanged.decode(data),
      // One status per event, or several in `statuses` sharing fields with the event (messaging README).
      expand: expandStatuses,
      // Statuses of the business's own sends only: a customer's messages are reported to the business as inbound messages.
      skip: (e) => e.sender?.kind?.$case !== "phoneNumberId" || !statusName(e.status),
      async render(e, look) {
        const number = await look.number(e.phoneNumberId);
        const waba = number ? await look.waba(number.businessId) : undefined;
        if (!number || !waba) return undefined;
        const waId = e.customerE164 ? e.customerE164.replace(/^\+/, "") : ((await customerWaId(rt.db, e.customerId)) ?? e.customerId);
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
        return payload ? { partnerId: waba.partnerId, wabaId: waba.wabaId, eventId: e.meta!.eventId, orderKey: e.conversationId, body: webhookBytes(payload) } : undefined;
      },
    },
    targets,
    wake,
  );

  consumeBatched<TemplateStatusChanged>(
    rt,
    {
      durable: "gateway-webhook-template",
      subject: subjects.templateStatus,
      decode: (data) => TemplateStatusChanged.decode(data),
      skip: (e) => e.newStatus === TemplateStatus.TEMPLATE_STATUS_UNSPECIFIED,
      async render(e, look) {
        const waba = await look.waba(e.businessId || e.meta?.businessId || "");
        if (!waba) return undefined;
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
        return { partnerId: waba.partnerId, wabaId: waba.wabaId, eventId: e.meta!.eventId, orderKey: `template:${e.templateId}`, body };
      },
    },
    targets,
    wake,
  );
}

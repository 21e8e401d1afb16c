import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import type { Runtime } from "@kontor/service-kit/runtime";
import { once } from "@kontor/service-kit/nats";
import { ConsentChanged, MessageReceived, MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { ConsentSetting } from "@kontor/proto/messaging/v1/consent";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { OrderPlaced } from "@kontor/proto/catalog/v1/events";
import { CampaignUpdated, ClickRecorded, SpendRecorded } from "@kontor/proto/ads/v1/events";
import { BusinessRegistered, FollowChanged } from "@kontor/proto/directory/v1/events";
import type { AdsDatabase } from "../store/database.js";
import type { ServingEngine } from "../serving/serving-engine.js";
import type { Attribution } from "../domain/attribution-service.js";
import { consumed, subjects } from "./subjects.js";
import { expandStatuses } from "@kontor/service-kit/message-status";

/** A replica's own consumers disappear this long after the replica does. */
const ABANDONED_AFTER_MS = 3600 * 1000;

/** A durable name only this replica uses: every replica must see every event for its memory. */
function replicaDurable(purpose: string): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40);
  return `ads-${purpose}-${host}-${randomBytes(4).toString("hex")}`;
}

export const CONSENT_CONSUMER = "ads-consent";
export const MESSAGES_CONSUMER = "ads-messages";
export const ORDERS_CONSUMER = "ads-orders";
export const STATUS_CONSUMER = "ads-sponsored-status";
export const BUSINESS_CONSUMER = "ads-directory-business";
export const FOLLOW_CONSUMER = "ads-follows";

type Ads = Runtime<AdsDatabase>;

const statusNames = new Map<MessageStatus, "delivered" | "read" | "failed">([
  [MessageStatus.MESSAGE_STATUS_DELIVERED, "delivered"],
  [MessageStatus.MESSAGE_STATUS_READ, "read"],
  [MessageStatus.MESSAGE_STATUS_FAILED, "failed"],
]);

/**
 * What ads learns from messaging and catalog. Shared consumers write the
 * tables once per event (consent, interactions, conversions, sponsored
 * message statuses); each replica's own consumers keep its serving memory
 * fresh from the same events, merging by time so replays change nothing.
 */
export function registerConsumers(rt: Ads, serving: ServingEngine, attribution: Attribution): void {
  // Consent: the table (for the next start) and this replica's memory, at once.
  const applyConsent = (e: ConsentChanged): "ack" | "term" => {
    if (!e.customerId) return "term";
    if (e.setting === ConsentSetting.CONSENT_SETTING_AD_PERSONALIZATION) serving.setPersonalization(e.customerId, e.value, (e.at ?? e.meta?.occurredAt ?? new Date(0)).getTime());
    return "ack";
  };
  rt.consume<ConsentChanged>({
    durable: CONSENT_CONSUMER,
    domain: "messaging",
    subject: consumed.consentChanged,
    decode: (data) => ConsentChanged.decode(data),
    async handle(e) {
      if (applyConsent(e) === "term") return "term";
      const at = e.at ?? e.meta?.occurredAt ?? new Date();
      if (e.setting === ConsentSetting.CONSENT_SETTING_AD_PERSONALIZATION) {
        await rt.db
          .insertInto("customer_consent")
          .values({ customer_id: e.customerId, ad_personalization: e.value, changed_at: at })
          .onConflict((oc) => oc.column("customer_id").doUpdateSet({ ad_personalization: e.value, changed_at: at }).where("customer_consent.changed_at", "<=", at))
          .execute();
      } else if (e.setting === ConsentSetting.CONSENT_SETTING_MARKETING && e.businessId) {
        await rt.db
          .insertInto("marketing_consent")
          .values({ customer_id: e.customerId, business_id: e.businessId, opted_in: e.value, changed_at: at })
          .onConflict((oc) => oc.columns(["customer_id", "business_id"]).doUpdateSet({ opted_in: e.value, changed_at: at }).where("marketing_consent.changed_at", "<=", at))
          .execute();
      }
      return "ack";
    },
  });
  rt.consume<ConsentChanged>({
    durable: replicaDurable("consent"),
    domain: "messaging",
    subject: consumed.consentChanged,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => ConsentChanged.decode(data),
    handle: async (e) => applyConsent(e),
  });

  // Inbound messages: "messaged within N days", and conversations from a click-to-chat referral.
  const applyMessage = (e: MessageReceived): void => {
    const businessId = e.meta?.businessId;
    if (businessId && e.customerId) serving.noteInteraction(e.customerId, businessId, "messaged", (e.meta?.occurredAt ?? new Date()).getTime());
  };
  rt.consume<MessageReceived>({
    durable: MESSAGES_CONSUMER,
    domain: "messaging",
    subject: consumed.messageReceived,
    decode: (data) => MessageReceived.decode(data),
    async handle(e) {
      const eventId = e.meta?.eventId;
      const businessId = e.meta?.businessId;
      if (!eventId) return "term";
      if (!businessId || !e.customerId) return "ack";
      applyMessage(e);
      const at = e.meta?.occurredAt ?? new Date();
      return once(rt.db, MESSAGES_CONSUMER, eventId, async (trx) => {
        await upsertInteraction(trx, e.customerId, businessId, "last_messaged_at", at);
        const clickId = e.referral?.ctwaClid ?? "";
        if (clickId) await attribution.conversation(trx, { clickId, conversationId: e.message?.conversationId || e.message?.id || eventId, businessId, atMs: at.getTime() });
        // A reply to a sponsored message (a button tap, or a quoted reply) is that message's click; the first one counts.
        const repliedTo = e.message?.context?.messageId ?? "";
        if (repliedTo) {
          await trx
            .updateTable("sponsored_send")
            .set({ clicked_at: at })
            .where("message_id", "=", repliedTo)
            .where("customer_id", "=", e.customerId)
            .where("clicked_at", "is", null)
            .execute();
        }
      });
    },
  });
  rt.consume<MessageReceived>({
    durable: replicaDurable("messages"),
    domain: "messaging",
    subject: consumed.messageReceived,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => MessageReceived.decode(data),
    handle: async (e) => {
      applyMessage(e);
      return "ack";
    },
  });

  // Orders: "ordered within N days", and the order's attribution to the last click.
  const applyOrder = (e: OrderPlaced): void => {
    const o = e.order;
    if (o?.businessId && o.customerId) serving.noteInteraction(o.customerId, o.businessId, "ordered", (o.createdAt ?? e.meta?.occurredAt ?? new Date()).getTime());
  };
  rt.consume<OrderPlaced>({
    durable: ORDERS_CONSUMER,
    domain: "catalog",
    subject: consumed.orderPlaced,
    decode: (data) => OrderPlaced.decode(data),
    async handle(e) {
      const eventId = e.meta?.eventId;
      const o = e.order;
      if (!eventId || !o?.id || !o.businessId) return "term";
      if (!o.customerId) return "ack";
      applyOrder(e);
      const at = o.createdAt ?? e.meta?.occurredAt ?? new Date();
      return once(rt.db, ORDERS_CONSUMER, eventId, async (trx) => {
        await upsertInteraction(trx, o.customerId, o.businessId, "last_ordered_at", at);
        await attribution.order(trx, { orderId: o.id, businessId: o.businessId, customerId: o.customerId, atMs: at.getTime(), totalMinor: o.total?.amountMinor ?? "0", currency: o.total?.currency ?? "" });
      });
    },
  });
  rt.consume<OrderPlaced>({
    durable: replicaDurable("orders"),
    domain: "catalog",
    subject: consumed.orderPlaced,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => OrderPlaced.decode(data),
    handle: async (e) => {
      applyOrder(e);
      return "ack";
    },
  });

  // Sponsored messages' delivery and read: only ever forward (sent → delivered → read; failed from any).
  rt.consume<MessageStatusChanged>({
    durable: STATUS_CONSUMER,
    domain: "messaging",
    subject: consumed.messageStatus,
    decode: (data) => MessageStatusChanged.decode(data),
    async handle(event) {
      // One status per event, or a commit's statuses in `statuses` (messaging README): one statement per status kind.
      const byStatus = new Map<"delivered" | "read" | "failed", string[]>();
      for (const e of expandStatuses(event)) {
        const status = statusNames.get(e.status);
        if (!status || !e.messageId) continue;
        const ids = byStatus.get(status);
        if (ids) ids.push(e.messageId);
        else byStatus.set(status, [e.messageId]);
      }
      for (const [status, ids] of byStatus) {
        const from = status === "read" ? ["sent", "delivered"] : status === "delivered" ? ["sent"] : ["pending", "sent"];
        await rt.db
          .updateTable("sponsored_send")
          .set({ status })
          .where("message_id", "in", ids)
          .where("status", "in", from as ("sent" | "delivered" | "pending")[])
          .execute();
      }
      return "ack";
    },
  });

  // Directory: the number a business sends from (every business event carries the whole snapshot in field 2).
  rt.consume<BusinessRegistered>({
    durable: BUSINESS_CONSUMER,
    domain: "directory",
    subject: consumed.directoryBusiness,
    // registered, updated, verified and revoked share the layout (meta, snapshot); rejected has no snapshot and is skipped.
    decode: (data, subject) => (subject.endsWith(".verification_rejected.v1") ? BusinessRegistered.fromPartial({}) : BusinessRegistered.decode(data)),
    async handle(e) {
      const b = e.business;
      const number = b?.phoneNumbers[0]?.phoneNumberId;
      if (!b?.businessId || !number) return "ack";
      const at = e.meta?.occurredAt ?? new Date();
      await rt.db
        .insertInto("business_number")
        .values({ business_id: b.businessId, phone_number_id: number, updated_at: at })
        .onConflict((oc) => oc.column("business_id").doUpdateSet({ phone_number_id: number, updated_at: at }).where("business_number.updated_at", "<=", at))
        .execute();
      return "ack";
    },
  });
  rt.consume<FollowChanged>({
    durable: FOLLOW_CONSUMER,
    domain: "directory",
    subject: consumed.followChanged,
    decode: (data) => FollowChanged.decode(data),
    async handle(e) {
      if (!e.businessId || !e.customerId) return "term";
      const at = e.meta?.occurredAt ?? new Date();
      await rt.db
        .insertInto("follower")
        .values({ business_id: e.businessId, customer_id: e.customerId, following: e.following, changed_at: at })
        .onConflict((oc) => oc.columns(["business_id", "customer_id"]).doUpdateSet({ following: e.following, changed_at: at }).where("follower.changed_at", "<=", at))
        .execute();
      return "ack";
    },
  });

  // Ads' own events: campaign changes reload the index; spend and clicks feed every replica's CTR estimates.
  rt.consume<{ subject: string; data: Uint8Array }>({
    durable: replicaDurable("own"),
    domain: "ads",
    subject: consumed.ownEvents,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data, subject) => ({ subject: subject.slice(rt.prefix.length), data }),
    async handle({ subject, data }) {
      if (subject === subjects.campaignUpdated) {
        const e = CampaignUpdated.decode(data);
        if (e.campaignId) await serving.loadCampaign(e.campaignId);
      } else if (subject === subjects.spendRecorded) {
        const e = SpendRecorded.decode(data);
        if (e.campaignId) serving.addStats(e.campaignId, Number(e.impressions), 0);
      } else if (subject === subjects.clickRecorded) {
        const e = ClickRecorded.decode(data);
        if (e.campaignId) serving.addStats(e.campaignId, 0, 1);
      }
      return "ack";
    },
  });
}

async function upsertInteraction(trx: Parameters<Parameters<typeof once<AdsDatabase>>[3]>[0], customerId: string, businessId: string, column: "last_messaged_at" | "last_ordered_at", at: Date): Promise<void> {
  await trx
    .insertInto("interaction")
    .values({ customer_id: customerId, business_id: businessId, last_messaged_at: column === "last_messaged_at" ? at : null, last_ordered_at: column === "last_ordered_at" ? at : null })
    .onConflict((oc) => oc.columns(["customer_id", "business_id"]).doUpdateSet({ [column]: sql`GREATEST(interaction.${sql.ref(column)}, excluded.${sql.ref(column)})` }))
    .execute();
}

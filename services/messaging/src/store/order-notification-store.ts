import { sql, type Kysely } from "kysely";
import { TemplateCategory, TemplateStatus } from "@kontor/proto/messaging/v1/template";
import { ORDER_UPDATE_TEMPLATE, type NotificationKey, type NotificationOutcome, type OrderNotificationStore } from "../domain/order-notifications.js";
import type { MessagingDatabase } from "./database.js";

type Db = Kysely<MessagingDatabase>;

/** Order notifications' reads and their record, in the consumer's transaction (a refused order message: its id as order_id, state rejected). */
export function createOrderNotificationStore(): OrderNotificationStore<Db> {
  return {
    async latestNumber(businessId, customerId, trx) {
      const row = await trx
        .selectFrom("conversation")
        .select("phone_number_id")
        .where("business_id", "=", businessId)
        .where("customer_id", "=", customerId)
        .orderBy("last_activity_at", "desc")
        .limit(1)
        .executeTakeFirst();
      return row?.phone_number_id;
    },

    async orderUpdateLanguage(businessId, trx) {
      const row = await trx
        .selectFrom("template")
        .select("language")
        .where("business_id", "=", businessId)
        .where("name", "=", ORDER_UPDATE_TEMPLATE)
        .where("category", "=", TemplateCategory.TEMPLATE_CATEGORY_UTILITY)
        .where("status", "=", TemplateStatus.TEMPLATE_STATUS_APPROVED)
        .orderBy(sql`language LIKE 'en%'`, "desc")
        .orderBy("language")
        .limit(1)
        .executeTakeFirst();
      return row?.language;
    },

    async record(c: NotificationKey, o: NotificationOutcome, trx) {
      await trx
        .insertInto("order_notification")
        .values({
          order_id: c.orderId,
          state: c.state,
          business_id: c.businessId,
          customer_id: c.customerId,
          phone_number_id: o.phoneNumberId,
          outcome: o.outcome,
          via: o.outcome === "sent" ? o.via : "",
          message_id: o.outcome === "sent" ? o.messageId : "",
          reason: o.outcome === "not_sent" ? o.reason : "",
          event_id: c.eventId,
        })
        .onConflict((oc) => oc.columns(["order_id", "state"]).doNothing())
        .execute();
    },
  };
}

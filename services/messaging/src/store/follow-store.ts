import { sql, type Kysely } from "kysely";
import type { MessagingDatabase } from "./database.js";

/** One follow.changed event, decoded (events/follows.ts). */
export interface FollowChange {
  eventId: string;
  businessId: string;
  customerId: string;
  following: boolean;
  at: Date;
}

/** Follows from directory's events: each pair keeps the latest change by (time, event id). */
export function createFollowStore(db: Kysely<MessagingDatabase>) {
  return {
    /**
     * Applies a change unless the pair's stored one is as late or later (a
     * redelivery, a replay, an event overtaken by a newer one), and never for
     * a customer whose data was erased (directory's unfollows that follow an
     * erasure would otherwise leave the customer's businesses behind).
     */
    async apply(c: FollowChange): Promise<void> {
      await sql`
        INSERT INTO customer_follow (business_id, customer_id, following, changed_at, event_id)
        SELECT ${c.businessId}, ${c.customerId}, ${c.following}, ${c.at}, ${c.eventId}
        WHERE NOT EXISTS (SELECT 1 FROM customer WHERE id = ${c.customerId} AND erased_at IS NOT NULL)
        ON CONFLICT (business_id, customer_id) DO UPDATE
          SET following = EXCLUDED.following, changed_at = EXCLUDED.changed_at, event_id = EXCLUDED.event_id
          WHERE (customer_follow.changed_at, customer_follow.event_id) < (EXCLUDED.changed_at, EXCLUDED.event_id)`.execute(db);
    },
  };
}

export type FollowStore = ReturnType<typeof createFollowStore>;

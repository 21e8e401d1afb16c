import { sql, type Kysely } from "kysely";
import type { ConversationWindows } from "../domain/policy/pricing.js";
import { DEFAULT_TIER_OPTIONS, TIERS, type TierOptions } from "../domain/policy/tiers.js";
import type { TierAnswer, TierRequest } from "../domain/send-policy.js";
import type { TemplateRecord } from "../domain/templates/template-service.js";
import type { MessagingDatabase } from "./database.js";
import { findTemplate, findTemplateByName, loadSendableTemplates } from "./template-store.js";

const msOf = (d: Date | null) => (d ? d.getTime() : 0);

const WINDOW_COLUMNS = [
  "phone_number_id",
  "customer_id",
  "last_inbound_at",
  "referral_reply_by",
  "free_entry_until",
  "service_window_until",
  "marketing_window_until",
  "utility_window_until",
  "authentication_window_until",
] as const;

/** A conversation row's windows, as queries and the group commit's update return them. */
export type WindowRow = { [K in (typeof WINDOW_COLUMNS)[number]]: K extends "phone_number_id" | "customer_id" ? string : Date | null };

export function toWindows(r: WindowRow): ConversationWindows {
  return {
    lastInboundAt: msOf(r.last_inbound_at),
    referralReplyBy: msOf(r.referral_reply_by),
    freeEntryUntil: msOf(r.free_entry_until),
    categoryUntil: [msOf(r.service_window_until), msOf(r.marketing_window_until), msOf(r.utility_window_until), msOf(r.authentication_window_until)],
  };
}

/** Tier limits as count_business_initiated() takes them: 0 = unlimited. */
const TIER_LIMITS = `{${TIERS.map((t) => (Number.isFinite(t.limit) ? t.limit : 0)).join(",")}}`;

/** The send policy's store port (domain/send-policy.ts): windows, the messaging limit, templates. */
export function createPolicyStore(db: Kysely<MessagingDatabase>, tiers: TierOptions = DEFAULT_TIER_OPTIONS) {
  return {
    async loadWindows(phoneNumberId: string, customerId: string): Promise<ConversationWindows | undefined> {
      const r = await db.selectFrom("conversation").select(WINDOW_COLUMNS).where("phone_number_id", "=", phoneNumberId).where("customer_id", "=", customerId).executeTakeFirst();
      return r && toWindows(r as WindowRow);
    },

    /** Conversations whose windows may still matter (a customer message within `sinceMs`): loaded by a replica at start. */
    async loadRecentWindows(since: Date): Promise<{ phoneNumberId: string; customerId: string; windows: ConversationWindows }[]> {
      const rows = await db.selectFrom("conversation").select(WINDOW_COLUMNS).where("last_inbound_at", ">", since).execute();
      return rows.map((r) => ({ phoneNumberId: r.phone_number_id, customerId: r.customer_id, windows: toWindows(r as WindowRow) }));
    },

    async countBusinessInitiated(requests: TierRequest[], at: number): Promise<TierAnswer[]> {
      const { rows } = await sql<{ ord: number; allowed: boolean; tier: number; used: number }>`
        SELECT ord, allowed, tier, used FROM count_business_initiated(
          ${requests.map((r) => r.businessId)}::text[], ${requests.map((r) => r.customerId)}::text[], ${requests.map((r) => r.verified)}::boolean[],
          ${new Date(at)}, ${tiers.windowMs}, ${tiers.upgradeShare}, ${TIER_LIMITS}::int[])`.execute(db);
      const answers: TierAnswer[] = new Array(requests.length);
      for (const r of rows) answers[r.ord - 1] = { allowed: r.allowed, tier: r.tier, used: r.used };
      return answers;
    },

    /** A business's tier and its unique customers in the window ending at `at`. */
    async readLimits(businessId: string, at: number): Promise<{ tier: number; used: number; shareReachedAt: number }> {
      const horizon = new Date(at - tiers.windowMs);
      const [limit, usage] = await Promise.all([
        db.selectFrom("messaging_limit").select(["tier", "share_reached_at"]).where("business_id", "=", businessId).executeTakeFirst(),
        db.selectFrom("messaging_limit_usage").select((eb) => eb.fn.countAll<string>().as("n")).where("business_id", "=", businessId).where("counted_at", ">", horizon).executeTakeFirstOrThrow(),
      ]);
      return { tier: limit?.tier ?? 0, used: Number(usage.n), shareReachedAt: msOf(limit?.share_reached_at ?? null) };
    },

    /**
     * One step up for every business whose use stood at half its limit
     * within the lookback and whose numbers are not RED (tiers.ts's
     * evaluateUpgrade, as one statement: any replica may run it, a second
     * run finds nothing, since an upgrade clears share_reached_at).
     * TIER_250 rises by verification only; TIER_UNLIMITED has nowhere to go.
     */
    async evaluateUpgrades(held: string[], at: number): Promise<{ businessId: string; tier: number }[]> {
      const rows = await db
        .updateTable("messaging_limit")
        .set((eb) => ({ tier: eb("tier", "+", 1), share_reached_at: null, tier_changed_at: new Date(at) }))
        .where("tier", ">=", 1)
        .where("tier", "<", TIERS.length - 1)
        .where("share_reached_at", ">", new Date(at - tiers.upgradeLookbackMs))
        .$if(held.length > 0, (q) => q.where("business_id", "not in", held))
        .returning(["business_id", "tier"])
        .execute();
      return rows.map((r) => ({ businessId: r.business_id, tier: r.tier }));
    },

    /** The template loader of the send path's cache (domain/template-cache.ts). */
    templates: {
      loadAll: (): Promise<TemplateRecord[]> => loadSendableTemplates(db),
      loadOne: (businessId: string, name: string, language: string) => findTemplateByName(db, businessId, name, language),
      loadById: (id: string) => findTemplate(db, id),
    },
  };
}

export type PolicyStore = ReturnType<typeof createPolicyStore>;


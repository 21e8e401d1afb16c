import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { ConsentSetting } from "@kontor/proto/messaging/v1/consent";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import {
  DEFAULT_PRIVACY,
  type MarketingConsentEntry,
  type MarketingUpdate,
  type PrivacySettings,
  type PrivacyUpdate,
  type StoredConsent,
} from "../domain/consent-service.js";
import { recordOptIn, recordOptOut, type ConsentSource, type MarketingConsent } from "../domain/policy/consent.js";
import { consentChangedEvent } from "../events/consent.js";
import type { MessagingDatabase } from "./database.js";
import type { MarketingConsentRow } from "./marketing-consent.table.js";
import type { CustomerPrivacyRow } from "./customer-privacy.table.js";

type Enqueue = (trx: Kysely<MessagingDatabase>, events: OutboxEvent[]) => Promise<void>;

function rowToConsent(row: MarketingConsentRow | undefined): StoredConsent {
  if (!row) return { optIn: undefined, optOut: undefined };
  return {
    optIn: row.opt_in_at ? { at: row.opt_in_at.getTime(), source: row.opt_in_source as ConsentSource, proof: row.opt_in_proof ?? "", by: row.opt_in_by ?? "" } : undefined,
    optOut: row.opt_out_at ? { at: row.opt_out_at.getTime(), source: row.opt_out_source as ConsentSource, proof: row.opt_out_proof ?? "", by: row.opt_out_by ?? "" } : undefined,
  };
}

function rowToPrivacy(row: CustomerPrivacyRow | undefined): PrivacySettings {
  if (!row) return DEFAULT_PRIVACY;
  return { adPersonalization: row.ad_personalization, dataSharingOptOut: row.data_sharing_opt_out, updatedAt: row.updated_at };
}

export async function marketingOf(db: Kysely<MessagingDatabase>, customerId: string, businessId: string | undefined): Promise<MarketingConsentEntry[]> {
  let q = db.selectFrom("marketing_consent").selectAll().where("customer_id", "=", customerId);
  if (businessId !== undefined) q = q.where("business_id", "=", businessId);
  const rows = await q.orderBy("business_id").execute();
  return rows.map((r) => ({ businessId: r.business_id, consent: rowToConsent(r) }));
}

/** The cache's loader: one customer × business as the policy rule reads it. */
export async function loadMarketing(db: Kysely<MessagingDatabase>, customerId: string, businessId: string): Promise<MarketingConsent> {
  const row = await db.selectFrom("marketing_consent").selectAll().where("customer_id", "=", customerId).where("business_id", "=", businessId).executeTakeFirst();
  return rowToConsent(row);
}

export async function privacyOf(db: Kysely<MessagingDatabase>, customerId: string): Promise<PrivacySettings> {
  return rowToPrivacy(await db.selectFrom("customer_privacy").selectAll().where("customer_id", "=", customerId).executeTakeFirst());
}

/**
 * Records an opt-in or opt-out inside `trx` (the row locked, merged by the
 * policy rule: a record older than the kept one of its kind changes nothing)
 * and, when it changed, its ConsentChanged event through the outbox.
 */
export async function recordMarketing(trx: Kysely<MessagingDatabase>, enqueue: Enqueue, u: MarketingUpdate, eventId: string = randomUUID()): Promise<{ consent: StoredConsent; changed: boolean }> {
  await trx.insertInto("marketing_consent").values({ customer_id: u.customerId, business_id: u.businessId }).onConflict((oc) => oc.columns(["customer_id", "business_id"]).doNothing()).execute();
  const row = await trx.selectFrom("marketing_consent").selectAll().where("customer_id", "=", u.customerId).where("business_id", "=", u.businessId).forUpdate().executeTakeFirstOrThrow();
  const before = rowToConsent(row);
  const record = { at: u.at, source: u.source, proof: u.proof, by: u.by };
  const after = (u.optIn ? recordOptIn(before, record) : recordOptOut(before, record)) as StoredConsent;
  if (after === before) return { consent: before, changed: false };
  const at = new Date(u.at);
  await trx
    .updateTable("marketing_consent")
    .set(u.optIn ? { opt_in_at: at, opt_in_source: u.source, opt_in_proof: u.proof, opt_in_by: u.by } : { opt_out_at: at, opt_out_source: u.source, opt_out_proof: u.proof, opt_out_by: u.by })
    .where("customer_id", "=", u.customerId)
    .where("business_id", "=", u.businessId)
    .execute();
  await enqueue(trx, [
    consentChangedEvent({ eventId, customerId: u.customerId, businessId: u.businessId, setting: ConsentSetting.CONSENT_SETTING_MARKETING, value: u.optIn, source: u.source, at, proof: u.proof, messageId: u.messageId ?? "" }),
  ]);
  return { consent: after, changed: true };
}

/** Changes the given privacy settings, with one ConsentChanged event per setting whose value changed. */
export async function setPrivacy(trx: Kysely<MessagingDatabase>, enqueue: Enqueue, u: PrivacyUpdate): Promise<PrivacySettings> {
  await trx
    .insertInto("customer_privacy")
    .values({ customer_id: u.customerId, updated_at: u.at, updated_by: u.by })
    .onConflict((oc) => oc.column("customer_id").doNothing())
    .execute();
  const before = rowToPrivacy(await trx.selectFrom("customer_privacy").selectAll().where("customer_id", "=", u.customerId).forUpdate().executeTakeFirstOrThrow());
  const after: PrivacySettings = {
    adPersonalization: u.adPersonalization ?? before.adPersonalization,
    dataSharingOptOut: u.dataSharingOptOut ?? before.dataSharingOptOut,
    updatedAt: u.at,
  };
  const events: OutboxEvent[] = [];
  const base = { customerId: u.customerId, businessId: "", source: "rpc" as const, at: u.at, proof: "", messageId: "" };
  if (after.adPersonalization !== before.adPersonalization) {
    events.push(consentChangedEvent({ ...base, eventId: randomUUID(), setting: ConsentSetting.CONSENT_SETTING_AD_PERSONALIZATION, value: after.adPersonalization }));
  }
  if (after.dataSharingOptOut !== before.dataSharingOptOut) {
    events.push(consentChangedEvent({ ...base, eventId: randomUUID(), setting: ConsentSetting.CONSENT_SETTING_DATA_SHARING_OPT_OUT, value: after.dataSharingOptOut }));
  }
  if (events.length === 0) return before;
  await trx
    .updateTable("customer_privacy")
    .set({ ad_personalization: after.adPersonalization, data_sharing_opt_out: after.dataSharingOptOut, updated_at: u.at, updated_by: u.by })
    .where("customer_id", "=", u.customerId)
    .execute();
  await enqueue(trx, events);
  return after;
}

/** The consent use case's store port (domain/consent-service.ts). */
export function createConsentStore(db: Kysely<MessagingDatabase>, enqueue: Enqueue) {
  return {
    marketingOf: (customerId: string, businessId: string | undefined) => marketingOf(db, customerId, businessId),
    privacyOf: (customerId: string) => privacyOf(db, customerId),
    loadMarketing: (customerId: string, businessId: string) => loadMarketing(db, customerId, businessId),
    recordMarketing: (u: MarketingUpdate) => db.transaction().execute((trx) => recordMarketing(trx, enqueue, u)),
    setPrivacy: (u: PrivacyUpdate) => db.transaction().execute((trx) => setPrivacy(trx, enqueue, u)),
    /** The keyword consumer's write, inside its once() transaction. */
    recordKeyword: (trx: Kysely<MessagingDatabase>, u: MarketingUpdate, eventId: string) => recordMarketing(trx, enqueue, u, eventId),
  };
}

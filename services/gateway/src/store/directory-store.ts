import type { Kysely } from "kysely";
import type { GatewayDatabase } from "./tables.js";

type Db = Kysely<GatewayDatabase>;

export interface BusinessSnapshotInput {
  businessId: string;
  displayName: string;
  verified: boolean;
  verifiedName: string;
  version: number;
  numbers: { phoneNumberId: string; e164: string; displayName: string }[];
}

/**
 * Applies directory's snapshot of a business: its name, badge and numbers.
 * A snapshot older than the one stored changes nothing; numbers it no
 * longer lists are deactivated.
 */
export async function applyBusinessSnapshot(trx: Db, s: BusinessSnapshotInput): Promise<boolean> {
  const stored = await trx.selectFrom("business").select("version").where("business_id", "=", s.businessId).forUpdate().executeTakeFirst();
  if (stored && Number(stored.version) > s.version) return false;
  await trx
    .insertInto("business")
    .values({ business_id: s.businessId, display_name: s.displayName, verified: s.verified, verified_name: s.verifiedName, version: s.version })
    .onConflict((oc) => oc.column("business_id").doUpdateSet({ display_name: s.displayName, verified: s.verified, verified_name: s.verifiedName, version: s.version }))
    .execute();
  await trx.updateTable("business_number").set({ active: false }).where("business_id", "=", s.businessId).execute();
  for (const n of s.numbers) {
    await trx
      .insertInto("business_number")
      .values({ phone_number_id: n.phoneNumberId, business_id: s.businessId, e164: n.e164, display_name: n.displayName, active: true })
      .onConflict((oc) => oc.column("phone_number_id").doUpdateSet({ business_id: s.businessId, e164: n.e164, display_name: n.displayName, active: true }))
      .execute();
  }
  return true;
}

export interface NumberRecord {
  phoneNumberId: string;
  businessId: string;
  e164: string;
  displayName: string;
  verifiedName: string;
  businessName: string;
}

const numberColumns = ["n.phone_number_id", "n.business_id", "n.e164", "n.display_name", "b.verified_name", "b.display_name as business_name"] as const;

function toNumber(r: { phone_number_id: string; business_id: string; e164: string; display_name: string; verified_name: string | null; business_name: string | null }): NumberRecord {
  return {
    phoneNumberId: r.phone_number_id,
    businessId: r.business_id,
    e164: r.e164,
    displayName: r.display_name,
    verifiedName: r.verified_name ?? "",
    businessName: r.business_name ?? "",
  };
}

export async function findNumber(db: Db, phoneNumberId: string): Promise<NumberRecord | undefined> {
  const r = await db
    .selectFrom("business_number as n")
    .leftJoin("business as b", "b.business_id", "n.business_id")
    .select(numberColumns)
    .where("n.phone_number_id", "=", phoneNumberId)
    .where("n.active", "=", true)
    .executeTakeFirst();
  return r ? toNumber(r) : undefined;
}

export async function numbersOfBusiness(db: Db, businessId: string): Promise<NumberRecord[]> {
  const rows = await db
    .selectFrom("business_number as n")
    .leftJoin("business as b", "b.business_id", "n.business_id")
    .select(numberColumns)
    .where("n.business_id", "=", businessId)
    .where("n.active", "=", true)
    .orderBy("n.phone_number_id")
    .execute();
  return rows.map(toNumber);
}

export async function businessName(db: Db, businessId: string): Promise<string | undefined> {
  const r = await db.selectFrom("business").select(["display_name", "verified_name"]).where("business_id", "=", businessId).executeTakeFirst();
  return r ? r.verified_name || r.display_name : undefined;
}

/** Remembers a customer's number as the gateway learned it (a send's `to`), for webhooks' wa_id. */
export async function rememberCustomer(db: Db, customerId: string, waId: string): Promise<void> {
  await db
    .insertInto("customer_contact")
    .values({ customer_id: customerId, wa_id: waId })
    .onConflict((oc) => oc.column("customer_id").doUpdateSet({ wa_id: waId, updated_at: new Date() }))
    .execute();
}

export async function customerWaId(db: Db, customerId: string): Promise<string | undefined> {
  const r = await db.selectFrom("customer_contact").select("wa_id").where("customer_id", "=", customerId).executeTakeFirst();
  return r?.wa_id;
}

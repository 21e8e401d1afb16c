import { sql, type Insertable, type Kysely } from "kysely";
import { isUuid } from "@kontor/service-kit/ids";
import type { PaymentsDatabase } from "./database.js";
import type { InvoiceLineRow, InvoiceRow, UsageLineTable } from "./payments.table.js";

type Db = Kysely<PaymentsDatabase>;

/** One line per billing event; a repeat of the event adds nothing. */
export async function insertUsageLine(db: Db, row: Insertable<UsageLineTable>): Promise<void> {
  await db.insertInto("usage_line").values(row).onConflict((oc) => oc.column("event_id").doNothing()).execute();
}

/** Businesses with usage not yet invoiced up to and including the period. */
export async function businessesToInvoice(db: Db, period: string): Promise<string[]> {
  const rows = await db.selectFrom("usage_line").select("business_id").distinct().where("invoice_id", "is", null).where("period", "<=", period).execute();
  return rows.map((r) => r.business_id);
}

/** Locks the business's open usage up to the period, grouped into invoice lines. */
export async function openUsage(db: Db, businessId: string, period: string) {
  return sql<{ kind: string; category: string; country: string; currency: string; unit_price_minor: string; quantity: string; event_ids: string[] }>`
    WITH open AS (
      SELECT * FROM usage_line WHERE business_id = ${businessId} AND invoice_id IS NULL AND period <= ${period} FOR UPDATE
    )
    SELECT kind, category, country, currency, unit_price_minor::text, count(*)::text AS quantity, array_agg(event_id) AS event_ids
    FROM open GROUP BY kind, category, country, currency, unit_price_minor ORDER BY kind, category, country, unit_price_minor`
    .execute(db)
    .then((r) => r.rows);
}

export async function insertInvoice(db: Db, row: Insertable<PaymentsDatabase["invoice"]>): Promise<InvoiceRow | undefined> {
  return db.insertInto("invoice").values(row).onConflict((oc) => oc.columns(["business_id", "period"]).doNothing()).returningAll().executeTakeFirst();
}

export async function insertInvoiceLines(db: Db, rows: Insertable<PaymentsDatabase["invoice_line"]>[]): Promise<void> {
  if (rows.length > 0) await db.insertInto("invoice_line").values(rows).execute();
}

export async function markInvoiced(db: Db, eventIds: string[], invoiceId: string): Promise<void> {
  if (eventIds.length > 0) await db.updateTable("usage_line").set({ invoice_id: invoiceId }).where("event_id", "in", eventIds).execute();
}

export async function findInvoice(db: Db, id: string): Promise<InvoiceRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom("invoice").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function invoiceLines(db: Db, ids: string[]): Promise<InvoiceLineRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom("invoice_line").selectAll().where("invoice_id", "in", ids).orderBy("kind").orderBy("category").orderBy("country").execute();
}

/** A business's invoices, newest period first, after the cursor's period. */
export async function listInvoices(db: Db, businessId: string, beforePeriod: string | undefined, take: number): Promise<InvoiceRow[]> {
  let q = db.selectFrom("invoice").selectAll().where("business_id", "=", businessId);
  if (beforePeriod) q = q.where("period", "<", beforePeriod);
  return q.orderBy("period", "desc").limit(take).execute();
}

/**
 * Open invoices, oldest first, whose business wallet now covers them,
 * locked for paying: invoices another replica is paying right now are
 * skipped, so each is paid once and replicas work on different ones.
 */
export async function lockPayableInvoices(db: Db, businessId: string | undefined, limit: number): Promise<InvoiceRow[]> {
  let q = db
    .selectFrom("invoice as i")
    .innerJoin("ledger_account as a", (j) => j.on("a.owner_kind", "=", "business").onRef("a.owner_id", "=", "i.business_id").onRef("a.currency", "=", "i.currency"))
    .selectAll("i")
    .where("i.state", "=", "open")
    .where(sql<boolean>`a.balance_minor - a.pending_debits_minor >= i.total_minor`);
  if (businessId !== undefined) q = q.where("i.business_id", "=", businessId);
  return q.orderBy("i.issued_at").limit(limit).forUpdate("i").skipLocked().execute();
}

export async function markInvoicePaid(db: Db, id: string, transferId: string | null, at: Date): Promise<InvoiceRow> {
  return db.updateTable("invoice").set({ state: "paid", paid_at: at, transfer_id: transferId }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}

import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { NotFound } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import type { InvoiceLineRow, InvoiceRow } from "../store/payments.table.js";
import {
  businessesToInvoice,
  findInvoice,
  insertInvoice,
  insertInvoiceLines,
  insertUsageLine,
  invoiceLines,
  listInvoices,
  lockPayableInvoices,
  markInvoicePaid,
  markInvoiced,
  openUsage,
} from "../store/billing-store.js";
import { findAccountByOwner } from "../store/ledger-store.js";
import { invoiceIssuedEvent, invoicePaidEvent } from "../events/outbox.js";
import { applyTransfers } from "./ledger-engine.js";
import { SYSTEM_ACCOUNTS, type LedgerService } from "./ledger-service.js";
import type { Invoice } from "./invoice.js";
import { periodOf, unitPrice, validateClosedPeriod, type RateCard } from "./billing.js";

type Db = Kysely<PaymentsDatabase>;



export interface Usage {
  eventId: string;
  businessId: string;
  kind: "message" | "conversation";
  category: string;
  country: string;
  at: Date;
}

export interface BillingPorts {
  db: Db;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  rates: RateCard;
  ledger: LedgerService;
}

function toInvoice(row: InvoiceRow, lines: InvoiceLineRow[]): Invoice {
  return {
    id: row.id,
    businessId: row.business_id,
    period: row.period,
    currency: row.currency,
    totalMinor: BigInt(row.total_minor),
    issuedAt: row.issued_at,
    state: row.state,
    paidAt: row.paid_at,
    transferId: row.transfer_id ?? "",
    lines: lines
      .filter((l) => l.invoice_id === row.id)
      .map((l) => ({ kind: l.kind, category: l.category, country: l.country, quantity: BigInt(l.quantity), unitPriceMinor: BigInt(l.unit_price_minor), amountMinor: BigInt(l.amount_minor) })),
  };
}

/**
 * The platform's bill for messaging: a usage line per billable message or
 * conversation (priced when it happens, by the rate card then), and a
 * monthly invoice per business that sums its open lines.
 */
export function createBillingService(ports: BillingPorts) {
  /**
   * Pays a locked open invoice from the business wallet when it covers it:
   * the transfer to the platform's revenue, the invoice marked paid and
   * invoice.paid commit together. A wallet that cannot pay leaves it open.
   */
  async function payLocked(trx: Db, row: InvoiceRow): Promise<boolean> {
    const total = BigInt(row.total_minor);
    let transferId: string | null = null;
    if (total > 0n) {
      const wallet = await findAccountByOwner(trx, "business", row.business_id, row.currency);
      if (!wallet) return false;
      const revenue = await ports.ledger.ensureAccount(SYSTEM_ACCOUNTS.fees.owner, SYSTEM_ACCOUNTS.fees.kind, row.currency, trx);
      const [outcome] = await applyTransfers(trx, [
        {
          caller: "payments",
          idempotencyKey: `invoice:${row.id}`,
          fromAccountId: wallet.id,
          toAccountId: revenue.id,
          amount: { amountMinor: total, currency: row.currency },
          note: `messaging ${row.period}`,
          reason: "invoice",
          reference: row.id,
        },
      ]);
      if (!outcome!.ok) return false;
      transferId = outcome!.transfer.id;
    }
    const paid = await markInvoicePaid(trx, row.id, transferId, ports.now());
    await ports.enqueue(trx, [invoicePaidEvent(toInvoice(paid, await invoiceLines(trx, [row.id])))]);
    return true;
  }

  return {
    /**
     * Pays open invoices the business wallets now cover (one business's, or
     * anyone's), oldest first; returns how many. Replicas skip each other's.
     */
    async payOpen(businessId?: string, limit = 100): Promise<number> {
      return ports.db.transaction().execute(async (trx) => {
        let paid = 0;
        for (const row of await lockPayableInvoices(trx, businessId, limit)) if (await payLocked(trx, row)) paid += 1;
        return paid;
      });
    },

    /** Records one billable event in the caller's transaction (the consumer's `once`). */
    async recordUsage(trx: Db, usage: Usage): Promise<void> {
      await insertUsageLine(trx, {
        event_id: usage.eventId,
        business_id: usage.businessId,
        kind: usage.kind,
        category: usage.category,
        country: usage.country,
        currency: ports.rates.currency,
        unit_price_minor: unitPrice(ports.rates, usage.kind, usage.category, usage.country).toString(),
        period: periodOf(usage.at),
        occurred_at: usage.at,
      });
    },

    /**
     * Issues the period's invoices: every business with open usage up to the
     * period gets one (usage that arrived after its month was invoiced goes
     * on the next). A business already invoiced for the period is skipped.
     */
    async issue(period: string): Promise<number> {
      let issued = 0;
      for (const businessId of await businessesToInvoice(ports.db, period)) {
        await ports.db.transaction().execute(async (trx) => {
          const groups = await openUsage(trx, businessId, period);
          if (groups.length === 0) return;
          const id = randomUUID();
          const lines = groups.map((g) => ({ ...g, amount: BigInt(g.unit_price_minor) * BigInt(g.quantity) }));
          const total = lines.reduce((sum, l) => sum + l.amount, 0n);
          const row = await insertInvoice(trx, { id, business_id: businessId, period, currency: ports.rates.currency, total_minor: total.toString() });
          if (!row) return;
          const lineRows = lines.map((l) => ({ invoice_id: id, kind: l.kind, category: l.category, country: l.country, quantity: l.quantity, unit_price_minor: l.unit_price_minor, amount_minor: l.amount.toString() }));
          await insertInvoiceLines(trx, lineRows);
          await markInvoiced(trx, lines.flatMap((l) => l.event_ids), id);
          const invoice = toInvoice(row, lineRows);
          await ports.enqueue(trx, [invoiceIssuedEvent(invoice)]);
          // Paid at once when the wallet covers it (the new row is this transaction's).
          await payLocked(trx, row);
          issued += 1;
        });
      }
      return issued;
    },

    /** Issues a period asked for by name: it must be a month that has ended by the service's clock. */
    async issueClosed(period: string): Promise<number> {
      return this.issue(validateClosedPeriod(period, ports.now()));
    },

    async get(id: string): Promise<Invoice> {
      const row = await findInvoice(ports.db, id);
      if (!row) throw new NotFound("invoice");
      return toInvoice(row, await invoiceLines(ports.db, [row.id]));
    },

    async list(businessId: string, beforePeriod: string | undefined, take: number): Promise<Invoice[]> {
      const rows = await listInvoices(ports.db, businessId, beforePeriod, take);
      const lines = await invoiceLines(
        ports.db,
        rows.map((r) => r.id),
      );
      return rows.map((r) => toInvoice(r, lines));
    },
  };
}

export type BillingService = ReturnType<typeof createBillingService>;

export type { Invoice };

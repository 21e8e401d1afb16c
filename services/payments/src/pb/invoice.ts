import { InvoiceState, type Invoice as InvoicePb } from "@kontor/proto/payments/v1/payments_service";
import type { Invoice } from "../domain/invoice.js";

// Proto mapping of an invoice, shared by rpc/ (GetInvoice) and events/ (invoice.issued).
export function invoiceToPb(i: Invoice): InvoicePb {
  const money = (m: bigint) => ({ amountMinor: m.toString(), currency: i.currency });
  return {
    id: i.id,
    businessId: i.businessId,
    period: i.period,
    total: money(i.totalMinor),
    lines: i.lines.map((l) => ({ kind: l.kind, category: l.category, country: l.country, quantity: l.quantity.toString(), unitPrice: money(l.unitPriceMinor), amount: money(l.amountMinor) })),
    issuedAt: i.issuedAt,
    state: i.state === "paid" ? InvoiceState.INVOICE_STATE_PAID : InvoiceState.INVOICE_STATE_OPEN,
    paidAt: i.paidAt ?? undefined,
    transferId: i.transferId,
  };
}

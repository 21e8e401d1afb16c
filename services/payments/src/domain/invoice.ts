/** A monthly messaging invoice, as the domain, the events and the API see it. */
export interface InvoiceLine {
  kind: string;
  category: string;
  country: string;
  quantity: bigint;
  unitPriceMinor: bigint;
  amountMinor: bigint;
}

export interface Invoice {
  id: string;
  businessId: string;
  period: string;
  currency: string;
  totalMinor: bigint;
  lines: InvoiceLine[];
  issuedAt: Date;
  state: "open" | "paid";
  paidAt: Date | null;
  transferId: string;
}

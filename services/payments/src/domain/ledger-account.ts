import { InvalidInput } from "@kontor/service-kit/errors";

export type OwnerKind = "business" | "customer" | "system";

/** Who an account belongs to; `id` is a business id, a customer id or a system account's purpose. */
export interface AccountOwner {
  kind: OwnerKind;
  id: string;
}

export type AccountStatus = "open" | "frozen" | "closed";

/**
 * What an account is for. Only bank clearing accounts (money the banks hold
 * for us) and system accounts a ledger admin opened that way may go negative.
 */
export type AccountKind = "customer_wallet" | "business_wallet" | "platform_fee_revenue" | "bank_clearing" | "refunds_in_flight" | "system";

/** The kind an account gets when its owner opens it through OpenAccount. */
export function kindForOwner(owner: AccountOwner): AccountKind {
  return owner.kind === "customer" ? "customer_wallet" : owner.kind === "business" ? "business_wallet" : "system";
}

export interface LedgerAccount {
  id: string;
  owner: AccountOwner;
  kind: AccountKind;
  currency: string;
  /** Credits minus debits, in the currency's minor units. */
  balanceMinor: bigint;
  /** Reserved by pending transfers out of this account; the available balance is balance - pending. */
  pendingDebitsMinor: bigint;
  allowNegativeBalance: boolean;
  status: AccountStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface OpenAccountInput {
  owner: AccountOwner | undefined;
  currency: string;
  allowNegativeBalance: boolean;
}

export interface ValidOpenAccount {
  owner: AccountOwner;
  currency: string;
  allowNegativeBalance: boolean;
}

/** Proto field of each owner kind, for error paths. */
export const ownerField: Record<OwnerKind, string> = {
  business: "owner.business_id",
  customer: "owner.customer_id",
  system: "owner.system",
};

const currencies = new Set(Intl.supportedValuesOf("currency"));
const SYSTEM_NAME = /^[a-z][a-z0-9_.-]{0,62}$/;
const MAX_OWNER_ID = 128;

export function isCurrency(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && currencies.has(code);
}

/** Checks an OpenAccount request; each problem names its field. */
export function validateOpenAccount(input: OpenAccountInput): ValidOpenAccount {
  const owner = input.owner;
  if (!owner) throw new InvalidInput("owner", "is required: one of business_id, customer_id, system");
  const field = ownerField[owner.kind];
  if (!owner.id) throw new InvalidInput(field, "is required");
  if (owner.id.length > MAX_OWNER_ID) throw new InvalidInput(field, `must be at most ${MAX_OWNER_ID} characters`);
  if (owner.kind === "system" && !SYSTEM_NAME.test(owner.id)) throw new InvalidInput(field, "must be a lower-case name such as settlement");
  if (!isCurrency(input.currency)) throw new InvalidInput("currency", "must be an ISO 4217 code such as EUR");
  return { owner, currency: input.currency, allowNegativeBalance: input.allowNegativeBalance };
}

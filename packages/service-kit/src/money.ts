import { InvalidInput } from "./errors.js";

const currencies = new Set(Intl.supportedValuesOf("currency"));

/** Minor-unit digits per ISO 4217 (JPY 0, EUR 2, BHD 3), from the runtime's ICU data. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

export interface MoneyValue {
  amountMinor: bigint;
  currency: string;
}

/**
 * Validates a proto Money (amount as int64 string) and returns it with a
 * bigint amount; `field` names the field in the error.
 */
export function parseMoney(field: string, money: { amountMinor: string; currency: string } | undefined, options: { allowNegative?: boolean } = {}): MoneyValue {
  if (!money) throw new InvalidInput(field, "is required");
  if (!/^[A-Z]{3}$/.test(money.currency) || !currencies.has(money.currency)) {
    throw new InvalidInput(`${field}.currency`, "must be an ISO 4217 code such as EUR");
  }
  let amount: bigint;
  try {
    amount = BigInt(money.amountMinor);
  } catch {
    throw new InvalidInput(`${field}.amount_minor`, "must be an integer");
  }
  if (!options.allowNegative && amount < 0n) throw new InvalidInput(`${field}.amount_minor`, "must not be negative");
  return { amountMinor: amount, currency: money.currency };
}

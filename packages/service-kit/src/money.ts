import { InvalidInput } from "./errors.js";

const currencies = new Set(Intl.supportedValuesOf("currency"));

/** Minor-unit digits per ISO 4217 (JPY 0, EUR 2, BHD 3), from the runtime's ICU data. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Checks an ISO 4217 code (upper case, known to the runtime's ICU data). */
export function parseCurrency(field: string, code: string): string {
  if (!/^[A-Z]{3}$/.test(code) || !currencies.has(code)) throw new InvalidInput(field, "must be an ISO 4217 code such as EUR");
  return code;
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
  parseCurrency(`${field}.currency`, money.currency);
  let amount: bigint;
  try {
    amount = BigInt(money.amountMinor);
  } catch {
    throw new InvalidInput(`${field}.amount_minor`, "must be an integer");
  }
  if (!options.allowNegative && amount < 0n) throw new InvalidInput(`${field}.amount_minor`, "must not be negative");
  return { amountMinor: amount, currency: money.currency };
}

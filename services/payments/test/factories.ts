import type { OpenAccountRequest, PostTransferRequest } from "@kontor/proto/payments/v1/payments_service";

let n = 0;

/** A fresh id, so each test owns its data. */
export function uniqueId(prefix: string): string {
  n += 1;
  return `${prefix}_${n}_${Math.random().toString(36).slice(2, 8)}`;
}

export function buildOpenCustomerAccount(customerId: string, overrides: Partial<OpenAccountRequest> = {}): OpenAccountRequest {
  return { owner: { owner: { $case: "customerId", value: customerId } }, currency: "EUR", allowNegativeBalance: false, ...overrides };
}

export function buildOpenBusinessAccount(businessId: string, overrides: Partial<OpenAccountRequest> = {}): OpenAccountRequest {
  return { owner: { owner: { $case: "businessId", value: businessId } }, currency: "EUR", allowNegativeBalance: false, ...overrides };
}

export function buildPostTransfer(fromAccountId: string, toAccountId: string, overrides: Partial<PostTransferRequest> = {}): PostTransferRequest {
  return {
    idempotencyKey: uniqueId("key"),
    fromAccountId,
    toAccountId,
    amount: { amountMinor: "2500", currency: "EUR" },
    note: "Clay mug",
    pin: "",
    ...overrides,
  };
}

/** The service's config for tests: cheap PINs, a data key, an instant sandbox bank. */
export function testEnv(env: { env(extra?: Record<string, string>): Record<string, string> }, extra: Record<string, string> = {}): Record<string, string> {
  return env.env({ PIN_SCRYPT_COST: "10", BANK_DATA_KEY: Buffer.alloc(32, 7).toString("base64"), BANK_SANDBOX_LATENCY_MS: "0", SWEEP_INTERVAL_MS: "3600000", ...extra });
}

export const TEST_PIN = "482916";

/** An IBAN with the right check digits for a country and BBAN. */
export function ibanOf(country: string, bban: string): string {
  const digits = [...`${bban}${country}00`].map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c)).join("");
  let r = 0;
  for (const d of digits) r = (r * 10 + Number(d)) % 97;
  return `${country}${String(98 - r).padStart(2, "0")}${bban}`;
}

import { describe, expect, it } from "vitest";
import { InvalidInput, PolicyRefused } from "@kontor/service-kit/errors";
import type { LedgerAccount } from "./ledger-account.js";
import { INT64_MAX, isSameTransfer, planTransfer, validateTransfer, type TransferInput, type ValidTransfer } from "./transfer.js";

const input: TransferInput = {
  idempotencyKey: "pay-1",
  fromAccountId: "a",
  toAccountId: "b",
  amount: { amountMinor: "2500", currency: "EUR" },
  note: "dinner",
};

function account(overrides: Partial<LedgerAccount> = {}): LedgerAccount {
  return {
    id: "a",
    owner: { kind: "customer", id: "cus_1" },
    kind: "customer_wallet",
    currency: "EUR",
    balanceMinor: 10_000n,
    pendingDebitsMinor: 0n,
    allowNegativeBalance: false,
    status: "open",
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...overrides,
  };
}

function failure(fn: () => unknown): { field: string; reason: string; type: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInput || err instanceof PolicyRefused) return { field: err.field, reason: err.reason, type: err.name };
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("validateTransfer", () => {
  it("when the input is valid, then the amount is in minor units", () => {
    expect(validateTransfer(input).amount).toEqual({ amountMinor: 2500n, currency: "EUR" });
  });

  it("when a field is bad, then the error names that field", () => {
    expect(failure(() => validateTransfer({ ...input, idempotencyKey: "" })).field).toBe("idempotency_key");
    expect(failure(() => validateTransfer({ ...input, idempotencyKey: "has space" })).field).toBe("idempotency_key");
    expect(failure(() => validateTransfer({ ...input, idempotencyKey: "k".repeat(201) })).field).toBe("idempotency_key");
    expect(failure(() => validateTransfer({ ...input, fromAccountId: "" })).field).toBe("from_account_id");
    expect(failure(() => validateTransfer({ ...input, toAccountId: "" })).field).toBe("to_account_id");
    expect(failure(() => validateTransfer({ ...input, toAccountId: "a" })).field).toBe("to_account_id");
    expect(failure(() => validateTransfer({ ...input, amount: undefined })).field).toBe("amount");
    expect(failure(() => validateTransfer({ ...input, amount: { amountMinor: "0", currency: "EUR" } })).field).toBe("amount.amount_minor");
    expect(failure(() => validateTransfer({ ...input, amount: { amountMinor: "-5", currency: "EUR" } })).field).toBe("amount.amount_minor");
    expect(failure(() => validateTransfer({ ...input, amount: { amountMinor: (INT64_MAX + 1n).toString(), currency: "EUR" } })).field).toBe("amount.amount_minor");
    expect(failure(() => validateTransfer({ ...input, amount: { amountMinor: "5", currency: "EURO" } })).field).toBe("amount.currency");
    expect(failure(() => validateTransfer({ ...input, note: "x".repeat(281) })).field).toBe("note");
  });
});

describe("planTransfer", () => {
  const request: ValidTransfer = validateTransfer(input);

  it("when the source has the funds, then one debit and one credit that sum to zero", () => {
    const entries = planTransfer(account(), account({ id: "b", balanceMinor: 0n }), request);
    expect(entries).toEqual([
      { accountId: "a", amountMinor: -2500n },
      { accountId: "b", amountMinor: 2500n },
    ]);
    expect(entries.reduce((sum, e) => sum + e.amountMinor, 0n)).toBe(0n);
  });

  it("when the source would go negative, then INSUFFICIENT_FUNDS unless the account allows it", () => {
    expect(failure(() => planTransfer(account({ balanceMinor: 2499n }), account({ id: "b" }), request)).reason).toBe("INSUFFICIENT_FUNDS");
    expect(planTransfer(account({ balanceMinor: 2500n }), account({ id: "b" }), request)).toHaveLength(2);
    expect(planTransfer(account({ balanceMinor: 0n, allowNegativeBalance: true }), account({ id: "b" }), request)).toHaveLength(2);
  });

  it("when currencies differ, then the request is refused naming the field", () => {
    expect(failure(() => planTransfer(account(), account({ id: "b", currency: "USD" }), request))).toMatchObject({ reason: "CURRENCY_MISMATCH", field: "to_account_id" });
    const usd = validateTransfer({ ...input, amount: { amountMinor: "1", currency: "USD" } });
    expect(failure(() => planTransfer(account(), account({ id: "b" }), usd))).toMatchObject({ type: "InvalidInput", field: "amount.currency" });
  });

  it("when an account is not open, then ACCOUNT_NOT_OPEN", () => {
    expect(failure(() => planTransfer(account({ status: "frozen" }), account({ id: "b" }), request))).toMatchObject({ reason: "ACCOUNT_NOT_OPEN", field: "from_account_id" });
    expect(failure(() => planTransfer(account(), account({ id: "b", status: "closed" }), request))).toMatchObject({ reason: "ACCOUNT_NOT_OPEN", field: "to_account_id" });
  });

  it("when money is reserved by pending transfers, then only the rest is available", () => {
    expect(failure(() => planTransfer(account({ balanceMinor: 3000n, pendingDebitsMinor: 501n }), account({ id: "b" }), request)).reason).toBe("INSUFFICIENT_FUNDS");
    expect(planTransfer(account({ balanceMinor: 3000n, pendingDebitsMinor: 500n }), account({ id: "b" }), request)).toHaveLength(2);
  });

  it("when a balance would leave int64, then BALANCE_LIMIT", () => {
    expect(failure(() => planTransfer(account(), account({ id: "b", balanceMinor: INT64_MAX - 10n }), request)).reason).toBe("BALANCE_LIMIT");
  });
});

describe("isSameTransfer", () => {
  it("when a retry asks for anything different, then it is not the same transfer", () => {
    const request = validateTransfer(input);
    const made = { ...request, id: "t1", createdAt: new Date(0) };
    expect(isSameTransfer(made, request)).toBe(true);
    expect(isSameTransfer(made, { ...request, amount: { amountMinor: 2501n, currency: "EUR" } })).toBe(false);
    expect(isSameTransfer(made, { ...request, toAccountId: "c" })).toBe(false);
    expect(isSameTransfer(made, { ...request, note: "lunch" })).toBe(false);
  });
});

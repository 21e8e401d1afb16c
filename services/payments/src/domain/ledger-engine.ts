import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { KontorError, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { MoneyValue } from "@kontor/service-kit/money";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import type { LedgerAccountRow } from "../store/ledger-account.table.js";
import type { LedgerTransferRow, NewLedgerTransferRow } from "../store/ledger-transfer.table.js";
import type { NewLedgerEntryRow } from "../store/ledger-entry.table.js";
import { findTransfersByKeys, insertEntries, insertTransfers, lockAccounts, lockTransfer, resolveTransfer, setBalances } from "../store/ledger-store.js";
import type { LedgerAccount } from "./ledger-account.js";
import { idempotencyKeyReused, isSameTransfer, planTransfer, type Transfer } from "./transfer.js";

type Db = Kysely<PaymentsDatabase>;

/** What a use case asks the ledger to do: one two-legged transfer, posted at once or reserved. */
export interface TransferSpec {
  /** Who: the principal label, or "payments" for the service's own postings. */
  caller: string;
  /** Unique per caller: a second spec with the same key is a retry. */
  idempotencyKey: string;
  fromAccountId: string;
  toAccountId: string;
  amount: MoneyValue;
  note: string;
  /** Why: transfer, p2p, collect, topup, payout, capture, fee, refund, fee_refund. */
  reason: string;
  reference: string;
  /** Reserve only (two-phase): the amount is held on the source until posted, voided or this time passes. */
  pendingUntil?: Date;
}

export type TransferOutcome = { ok: true; transfer: Transfer; replayed: boolean; from: LedgerAccount; to: LedgerAccount } | { ok: false; error: KontorError };

export function accountRowToAccount(row: LedgerAccountRow): LedgerAccount {
  return {
    id: row.id,
    owner: { kind: row.owner_kind, id: row.owner_id },
    kind: row.kind,
    currency: row.currency,
    balanceMinor: BigInt(row.balance_minor),
    pendingDebitsMinor: BigInt(row.pending_debits_minor),
    allowNegativeBalance: row.allow_negative_balance,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function transferRowToTransfer(row: LedgerTransferRow): Transfer {
  return {
    id: row.id,
    caller: row.caller,
    reason: row.reason,
    reference: row.reference,
    state: row.state,
    timeoutAt: row.timeout_at,
    fromAccountId: row.from_account_id,
    toAccountId: row.to_account_id,
    amount: { amountMinor: BigInt(row.amount_minor), currency: row.currency },
    note: row.note,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
  };
}

function refused(reason: string, message: string, field = ""): PolicyRefused {
  return new PolicyRefused(reason, message, 0, field);
}

const pairKey = (caller: string, key: string) => `${caller}\u0000${key}`;

/**
 * Applies many transfers in the caller's transaction, in order, each on its
 * own: one that is refused (funds, currency, status, a reused key) leaves
 * the others. Every account involved is locked once, in id order, before
 * anything is decided; balances are kept in memory and written once per
 * account. This is how one commit carries a batch, and how a hot account
 * is locked once per batch instead of once per transfer.
 */
export async function applyTransfers(trx: Db, specs: TransferSpec[]): Promise<TransferOutcome[]> {
  const locked = await lockAccounts(
    trx,
    specs.flatMap((s) => [s.fromAccountId, s.toAccountId]),
  );
  const accounts = new Map(locked.map((r) => [r.id, accountRowToAccount(r)]));
  const made = new Map<string, Transfer>();
  for (const row of await findTransfersByKeys(
    trx,
    specs.map((s) => ({ caller: s.caller, key: s.idempotencyKey })),
  )) {
    made.set(pairKey(row.caller, row.idempotency_key), transferRowToTransfer(row));
  }
  const touched = new Set<string>();
  const transfers: NewLedgerTransferRow[] = [];
  const entries: NewLedgerEntryRow[] = [];
  const outcomes: TransferOutcome[] = [];
  for (const spec of specs) {
    const from = accounts.get(spec.fromAccountId);
    const to = accounts.get(spec.toAccountId);
    if (!from || !to) {
      outcomes.push({ ok: false, error: Object.assign(new NotFound("account"), { field: from ? "to_account_id" : "from_account_id" }) });
      continue;
    }
    const earlier = made.get(pairKey(spec.caller, spec.idempotencyKey));
    if (earlier) {
      outcomes.push(isSameTransfer(earlier, spec) ? { ok: true, transfer: earlier, replayed: true, from, to } : { ok: false, error: idempotencyKeyReused() });
      continue;
    }
    let planned;
    try {
      planned = planTransfer(from, to, spec);
    } catch (err) {
      if (err instanceof KontorError) {
        outcomes.push({ ok: false, error: err });
        continue;
      }
      throw err;
    }
    const id = randomUUID();
    const now = new Date();
    const pending = spec.pendingUntil !== undefined;
    transfers.push({
      id,
      caller: spec.caller,
      idempotency_key: spec.idempotencyKey,
      from_account_id: from.id,
      to_account_id: to.id,
      amount_minor: spec.amount.amountMinor.toString(),
      currency: from.currency,
      note: spec.note,
      reason: spec.reason,
      reference: spec.reference,
      state: pending ? "pending" : "posted",
      timeout_at: spec.pendingUntil ?? null,
      resolved_at: null,
    });
    if (pending) {
      from.pendingDebitsMinor += spec.amount.amountMinor;
    } else {
      for (const e of planned) {
        const account = e.accountId === from.id ? from : to;
        account.balanceMinor += e.amountMinor;
        entries.push({ transfer_id: id, account_id: account.id, amount_minor: e.amountMinor.toString(), currency: from.currency, balance_after_minor: account.balanceMinor.toString() });
      }
      touched.add(to.id);
    }
    touched.add(from.id);
    const transfer: Transfer = {
      id,
      caller: spec.caller,
      reason: spec.reason,
      reference: spec.reference,
      state: pending ? "pending" : "posted",
      timeoutAt: spec.pendingUntil ?? null,
      fromAccountId: from.id,
      toAccountId: to.id,
      amount: { amountMinor: spec.amount.amountMinor, currency: from.currency },
      note: spec.note,
      idempotencyKey: spec.idempotencyKey,
      createdAt: now,
    };
    made.set(pairKey(spec.caller, spec.idempotencyKey), transfer);
    outcomes.push({ ok: true, transfer, replayed: false, from: { ...from }, to: { ...to } });
  }
  const inserted = await insertTransfers(trx, transfers);
  const createdAt = new Map(inserted.map((r) => [r.id, r.created_at]));
  for (const o of outcomes) if (o.ok && !o.replayed) o.transfer.createdAt = createdAt.get(o.transfer.id) ?? o.transfer.createdAt;
  await insertEntries(trx, entries);
  await setBalances(
    trx,
    [...touched].map((id) => {
      const a = accounts.get(id)!;
      return { id, balance: a.balanceMinor, pending: a.pendingDebitsMinor };
    }),
  );
  return outcomes;
}

/** One transfer in the caller's transaction; a refusal throws. */
export async function applyTransfer(trx: Db, spec: TransferSpec): Promise<Extract<TransferOutcome, { ok: true }>> {
  const [outcome] = await applyTransfers(trx, [spec]);
  if (!outcome!.ok) throw outcome!.error;
  return outcome!;
}

/**
 * Completes a pending transfer: its entries are written now and the
 * reservation released. A pending transfer past its timeout is voided
 * instead (PENDING_EXPIRED). Posting a posted transfer again is a no-op.
 */
export async function postPending(trx: Db, transferId: string, now: Date): Promise<Transfer> {
  const row = await lockTransfer(trx, transferId);
  if (!row) throw new NotFound("pending transfer");
  if (row.state === "posted") return transferRowToTransfer(row);
  if (row.state === "voided") throw refused("PENDING_VOIDED", "the pending transfer was voided");
  if (row.timeout_at && row.timeout_at <= now) {
    await voidPending(trx, transferId, now);
    throw refused("PENDING_EXPIRED", "the pending transfer timed out and was voided");
  }
  const [a, b] = (await lockAccounts(trx, [row.from_account_id, row.to_account_id])).map(accountRowToAccount);
  const from = [a, b].find((x) => x?.id === row.from_account_id)!;
  const to = [a, b].find((x) => x?.id === row.to_account_id)!;
  const amount = BigInt(row.amount_minor);
  from.pendingDebitsMinor -= amount;
  from.balanceMinor -= amount;
  to.balanceMinor += amount;
  await insertEntries(trx, [
    { transfer_id: row.id, account_id: from.id, amount_minor: (-amount).toString(), currency: row.currency, balance_after_minor: from.balanceMinor.toString() },
    { transfer_id: row.id, account_id: to.id, amount_minor: amount.toString(), currency: row.currency, balance_after_minor: to.balanceMinor.toString() },
  ]);
  await setBalances(trx, [
    { id: from.id, balance: from.balanceMinor, pending: from.pendingDebitsMinor },
    { id: to.id, balance: to.balanceMinor, pending: to.pendingDebitsMinor },
  ]);
  return transferRowToTransfer(await resolveTransfer(trx, row.id, "posted", now));
}

/** Releases a pending transfer's reservation; voiding a voided one is a no-op, a posted one is refused. */
export async function voidPending(trx: Db, transferId: string, now: Date): Promise<Transfer> {
  const row = await lockTransfer(trx, transferId);
  if (!row) throw new NotFound("pending transfer");
  if (row.state === "voided") return transferRowToTransfer(row);
  if (row.state === "posted") throw refused("PENDING_POSTED", "the pending transfer was already posted");
  const [fromRow] = await lockAccounts(trx, [row.from_account_id]);
  const from = accountRowToAccount(fromRow!);
  await setBalances(trx, [{ id: from.id, balance: from.balanceMinor, pending: from.pendingDebitsMinor - BigInt(row.amount_minor) }]);
  return transferRowToTransfer(await resolveTransfer(trx, row.id, "voided", now));
}

/** The outbox events of an applied batch, by the use case that asked. */
export type EventsOf = (outcome: Extract<TransferOutcome, { ok: true }>, spec: TransferSpec) => OutboxEvent[];

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
 * Transfers decided together in one transaction (TigerBeetle's batch):
 * every account involved is locked once, in id order, when the batch
 * opens; balances are then kept in memory, each transfer decided on its
 * own (a refusal leaves the others), and flush() writes the transfers,
 * entries and one balance update per account. This is how one commit
 * carries many transfers and a hot account is locked once per batch.
 */
export class LedgerBatch {
  private readonly transfers: NewLedgerTransferRow[] = [];
  private readonly entries: NewLedgerEntryRow[] = [];
  private readonly touched = new Set<string>();
  private readonly outcomes: Extract<TransferOutcome, { ok: true }>[] = [];

  private constructor(
    private readonly accounts: Map<string, LedgerAccount>,
    private readonly made: Map<string, Transfer>,
  ) {}

  /** Locks the accounts and looks up the (caller, key) pairs already used. */
  static async open(trx: Db, accountIds: string[], keys: { caller: string; key: string }[]): Promise<LedgerBatch> {
    const locked = await lockAccounts(trx, accountIds);
    const made = new Map<string, Transfer>();
    for (const row of await findTransfersByKeys(trx, keys)) made.set(pairKey(row.caller, row.idempotency_key), transferRowToTransfer(row));
    return new LedgerBatch(new Map(locked.map((r) => [r.id, accountRowToAccount(r)])), made);
  }

  account(id: string): LedgerAccount | undefined {
    return this.accounts.get(id);
  }

  /** Decides one transfer against the batch's balances; a refusal is returned, not thrown. */
  apply(spec: TransferSpec): TransferOutcome {
    const from = this.accounts.get(spec.fromAccountId);
    const to = this.accounts.get(spec.toAccountId);
    if (!from || !to) return { ok: false, error: Object.assign(new NotFound("account"), { field: from ? "to_account_id" : "from_account_id" }) };
    const earlier = this.made.get(pairKey(spec.caller, spec.idempotencyKey));
    if (earlier) return isSameTransfer(earlier, spec) ? { ok: true, transfer: earlier, replayed: true, from, to } : { ok: false, error: idempotencyKeyReused() };
    let planned;
    try {
      planned = planTransfer(from, to, spec);
    } catch (err) {
      if (err instanceof KontorError) return { ok: false, error: err };
      throw err;
    }
    const id = randomUUID();
    const pending = spec.pendingUntil !== undefined;
    this.transfers.push({
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
        this.entries.push({ transfer_id: id, account_id: account.id, amount_minor: e.amountMinor.toString(), currency: from.currency, balance_after_minor: account.balanceMinor.toString() });
      }
      this.touched.add(to.id);
    }
    this.touched.add(from.id);
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
      createdAt: new Date(),
    };
    this.made.set(pairKey(spec.caller, spec.idempotencyKey), transfer);
    const outcome = { ok: true as const, transfer, replayed: false, from: { ...from }, to: { ...to } };
    this.outcomes.push(outcome);
    return outcome;
  }

  /**
   * Linked transfers (TigerBeetle's "linked" flag): all of them or none.
   * When one is refused, the ones before it are taken back.
   */
  applyLinked(specs: TransferSpec[]): TransferOutcome[] {
    const saved = { transfers: this.transfers.length, entries: this.entries.length, outcomes: this.outcomes.length, touched: new Set(this.touched) };
    const balances = new Map([...this.accounts].map(([id, a]) => [id, { balance: a.balanceMinor, pending: a.pendingDebitsMinor }]));
    const outcomes: TransferOutcome[] = [];
    for (const spec of specs) {
      const o = this.apply(spec);
      outcomes.push(o);
      if (!o.ok) {
        for (const t of this.transfers.splice(saved.transfers)) this.made.delete(pairKey(t.caller, t.idempotency_key));
        this.entries.splice(saved.entries);
        this.outcomes.splice(saved.outcomes);
        this.touched.clear();
        for (const id of saved.touched) this.touched.add(id);
        for (const [id, b] of balances) {
          const a = this.accounts.get(id)!;
          a.balanceMinor = b.balance;
          a.pendingDebitsMinor = b.pending;
        }
        return outcomes.map((x) => (x.ok && !x.replayed ? { ok: false, error: o.error } : x));
      }
    }
    return outcomes;
  }

  /** Writes what was decided: the transfers, their entries and each touched account's balance once. */
  async flush(trx: Db): Promise<void> {
    const inserted = await insertTransfers(trx, this.transfers);
    const createdAt = new Map(inserted.map((r) => [r.id, r.created_at]));
    for (const o of this.outcomes) o.transfer.createdAt = createdAt.get(o.transfer.id) ?? o.transfer.createdAt;
    await insertEntries(trx, this.entries);
    await setBalances(
      trx,
      [...this.touched].map((id) => {
        const a = this.accounts.get(id)!;
        return { id, balance: a.balanceMinor, pending: a.pendingDebitsMinor };
      }),
    );
  }
}

/** Applies many transfers in the caller's transaction, in order, each on its own (see LedgerBatch). */
export async function applyTransfers(trx: Db, specs: TransferSpec[]): Promise<TransferOutcome[]> {
  const batch = await LedgerBatch.open(
    trx,
    specs.flatMap((s) => [s.fromAccountId, s.toAccountId]),
    specs.map((s) => ({ caller: s.caller, key: s.idempotencyKey })),
  );
  const outcomes = specs.map((s) => batch.apply(s));
  await batch.flush(trx);
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

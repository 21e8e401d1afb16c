import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";
import type { MoneyValue } from "@kontor/service-kit/money";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import type { BankAccountRow, BankOperationRow } from "../store/payments.table.js";
import {
  findBankAccount,
  findBankAccountByHmac,
  findBankOperation,
  claimUnsubmittedOperations,
  insertBankAccount,
  insertBankOperation,
  listBankAccounts,
  updateBankOperation,
} from "../store/payments-store.js";
import { payoutEvent } from "../events/outbox.js";
import type { BankAccount, BankOperation } from "./bank-operation.js";
import { maskBankNumber, numberHmac, openNumber, sealNumber, type BankNumber } from "./bank.js";
import { verifyCallback, type BankRail, type RailOutcome } from "./bank-rail.js";
import { idempotent } from "./idempotency.js";
import type { AccountOwner, LedgerAccount } from "./ledger-account.js";
import { accountRowToAccount, applyTransfer, postPending, voidPending } from "./ledger-engine.js";
import { clearingOwner, type LedgerService } from "./ledger-service.js";
import { findAccount } from "../store/ledger-store.js";

type Db = Kysely<PaymentsDatabase>;



export interface BankPorts {
  db: Db;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  ledger: LedgerService;
  rail: BankRail;
  /** AES-256-GCM key for bank numbers at rest; undefined disables linking. */
  dataKey: Buffer | undefined;
  webhookSecret: string;
  /** How long a payout's reservation holds before it is voided if the bank never answers. */
  payoutTimeoutMs: number;
  /** How long a submitted order may go unanswered before it is submitted again. */
  askAgainAfterMs: number;
  log: Logger;
  /** Runs after a top-up settled into an account (the business's open invoices are paid from it). */
  afterTopUp?(account: LedgerAccount): Promise<void>;
}

function bankAccountRowToBankAccount(row: BankAccountRow): BankAccount {
  return { id: row.id, owner: { kind: row.owner_kind, id: row.owner_id }, currency: row.currency, scheme: row.scheme, masked: row.masked, holderName: row.holder_name, createdAt: row.created_at };
}

function operationRowToOperation(row: BankOperationRow, masked = ""): BankOperation {
  return {
    id: row.id,
    kind: row.kind,
    accountId: row.account_id,
    bankAccountId: row.bank_account_id,
    bankAccountMasked: masked,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
    state: row.state,
    failureReason: row.failure_reason,
    railReference: row.rail_reference,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface MoveRequest {
  idempotencyKey: string;
  account: LedgerAccount;
  bankAccountId: string;
  amount: MoneyValue;
}

/** How long a replica submitting a bank order holds it before another may. */
const SUBMIT_LEASE_MS = 60_000;

/** Linked bank accounts, top-ups and payouts over a bank rail. */
export function createBankService(ports: BankPorts) {
  function key(): Buffer {
    if (!ports.dataKey) throw new PolicyRefused("BANK_LINKING_DISABLED", "this installation has no BANK_DATA_KEY configured");
    return ports.dataKey;
  }

  async function bankAccountFor(request: MoveRequest): Promise<BankAccountRow> {
    const bank = await findBankAccount(ports.db, request.bankAccountId);
    if (!bank || bank.owner_kind !== request.account.owner.kind || bank.owner_id !== request.account.owner.id) throw Object.assign(new NotFound("bank account"), { field: "bank_account_id" });
    if (bank.currency !== request.account.currency) throw new PolicyRefused("CURRENCY_MISMATCH", "the bank account holds another currency than the wallet", 0, "bank_account_id");
    if (request.amount.currency !== request.account.currency) throw new InvalidInput("amount.currency", `must be ${request.account.currency}, the account's currency`, "CURRENCY_MISMATCH");
    return bank;
  }

  async function submit(op: BankOperationRow): Promise<void> {
    const bank = await findBankAccount(ports.db, op.bank_account_id);
    if (!bank) return;
    const number: BankNumber = openNumber(key(), bank.number_sealed, bank.id);
    const { railReference } = await ports.rail.submit({
      reference: op.id,
      direction: op.kind === "topup" ? "pull" : "push",
      account: number,
      amount: { amountMinor: BigInt(op.amount_minor), currency: op.currency },
    });
    await updateBankOperation(ports.db, op.id, { rail_reference: railReference, submitted_at: ports.now() });
  }

  async function load(id: string): Promise<BankOperation> {
    const row = await findBankOperation(ports.db, id);
    if (!row) throw new NotFound("bank operation");
    const bank = await findBankAccount(ports.db, row.bank_account_id);
    return operationRowToOperation(row, bank?.masked ?? "");
  }

  /** Applies a verified outcome once: a second callback for a finished operation changes nothing. */
  async function settle(outcome: RailOutcome): Promise<void> {
    const toppedUp = await ports.db.transaction().execute(async (trx): Promise<LedgerAccount | undefined> => {
      const op = await findBankOperation(trx, outcome.reference, true);
      if (!op || op.state !== "pending") return undefined;
      const now = ports.now();
      const accountRow = await findAccount(trx, op.account_id);
      const account = accountRowToAccount(accountRow!);
      const clearing = await ports.ledger.ensureAccount(clearingOwner(op.rail), "bank_clearing", op.currency, trx);
      let state: "settled" | "failed" = outcome.status;
      let transferId = op.transfer_id;
      if (op.kind === "topup" && state === "settled") {
        const posted = await applyTransfer(trx, {
          caller: `payments:bank:${op.rail}`,
          idempotencyKey: `topup:${op.id}`,
          fromAccountId: clearing.id,
          toAccountId: op.account_id,
          amount: { amountMinor: BigInt(op.amount_minor), currency: op.currency },
          note: "",
          reason: "topup",
          reference: op.id,
        });
        transferId = posted.transfer.id;
      } else if (op.kind === "refund") {
        // The refund waited in refunds-in-flight: out to the bank, or back to the customer's wallet.
        const bank = await findBankAccount(trx, op.bank_account_id);
        const to = state === "settled" ? clearing : await ports.ledger.ensureAccount({ kind: "customer", id: bank!.owner_id }, "customer_wallet", op.currency, trx);
        const moved = await applyTransfer(trx, {
          caller: "payments",
          idempotencyKey: `${state === "settled" ? "refund_out" : "refund_back"}:${op.id}`,
          fromAccountId: op.account_id,
          toAccountId: to.id,
          amount: { amountMinor: BigInt(op.amount_minor), currency: op.currency },
          note: "",
          reason: state === "settled" ? "refund_out" : "refund_back",
          reference: op.id,
        });
        transferId = moved.transfer.id;
      } else if (op.kind === "payout" && op.transfer_id) {
        if (state === "settled") {
          try {
            await postPending(trx, op.transfer_id, now);
          } catch (err) {
            // The reservation timed out before the bank answered: the money stayed in the wallet.
            if (!(err instanceof PolicyRefused)) throw err;
            state = "failed";
            outcome = { ...outcome, reason: err.reason };
          }
        } else {
          await voidPending(trx, op.transfer_id, now);
        }
      }
      const updated = await updateBankOperation(trx, op.id, {
        state,
        transfer_id: transferId,
        failure_reason: state === "failed" ? outcome.reason || "BANK_DECLINED" : "",
        rail_reference: outcome.railReference || op.rail_reference,
      });
      if (op.kind === "payout") {
        const bank = await findBankAccount(trx, op.bank_account_id);
        await ports.enqueue(trx, [payoutEvent(operationRowToOperation(updated, bank?.masked ?? ""), account, now)]);
      }
      return op.kind === "topup" && state === "settled" ? account : undefined;
    });
    // After the commit, and only a help: what it misses the sweep does.
    if (toppedUp && ports.afterTopUp) await ports.afterTopUp(toppedUp).catch((err: unknown) => ports.log.warn({ err: { message: (err as Error).message } }, "after top-up work failed"));
  }

  ports.rail.onCallback(async (body, signature) => {
    const outcome = verifyCallback(ports.webhookSecret, body, signature);
    if (!outcome) {
      ports.log.warn({ rail: ports.rail.name }, "bank callback with a bad signature ignored");
      return;
    }
    await settle(outcome);
  });

  return {
    /** Verifies and applies one callback; false when its signature does not verify. */
    async receiveCallback(body: Buffer, signature: string): Promise<boolean> {
      const outcome = verifyCallback(ports.webhookSecret, body, signature);
      if (!outcome) return false;
      await settle(outcome);
      return true;
    },

    async link(owner: AccountOwner, currency: string, number: BankNumber, holderName: string): Promise<BankAccount> {
      const k = key();
      const hmac = numberHmac(k, number);
      const id = randomUUID();
      const row =
        (await insertBankAccount(ports.db, {
          id,
          owner_kind: owner.kind,
          owner_id: owner.id,
          currency,
          scheme: number.scheme,
          number_sealed: sealNumber(k, number, id),
          number_hmac: hmac,
          masked: maskBankNumber(number),
          holder_name: holderName,
        })) ?? (await findBankAccountByHmac(ports.db, owner.kind, owner.id, currency, hmac));
      return bankAccountRowToBankAccount(row!);
    },

    async list(owner: AccountOwner): Promise<BankAccount[]> {
      return (await listBankAccounts(ports.db, owner.kind, owner.id)).map(bankAccountRowToBankAccount);
    },

    get: load,

    /** Hands an operation its use case just committed to the rail (the sweep does it after a crash). */
    async submitById(id: string): Promise<void> {
      const op = await findBankOperation(ports.db, id);
      if (op && op.state === "pending") await submit(op);
    },

    /** Bank → wallet: pending until the bank's callback; nothing moves in the ledger before. */
    async topUp(caller: string, request: MoveRequest): Promise<{ operation: BankOperation; replayed: boolean }> {
      const bank = await bankAccountFor(request);
      const result = await ports.db.transaction().execute((trx) =>
        idempotent(
          trx,
          { caller, scope: "TopUp", key: request.idempotencyKey, body: { account: request.account.id, bank: bank.id, amount: request.amount } },
          async () => {
            const row = await insertBankOperation(trx, {
              id: randomUUID(),
              kind: "topup",
              account_id: request.account.id,
              bank_account_id: bank.id,
              amount_minor: request.amount.amountMinor.toString(),
              currency: request.amount.currency,
              rail: ports.rail.name,
              transfer_id: null,
              actor: caller,
              submitted_at: null,
              // This call submits it next; the sweep takes it over only after a crash.
              submit_claimed_until: new Date(ports.now().getTime() + SUBMIT_LEASE_MS),
            });
            return { id: row.id, value: row };
          },
          async (id) => (await findBankOperation(trx, id))!,
        ),
      );
      if (!result.replayed) await submit(result.value);
      return { operation: await load(result.value.id), replayed: result.replayed };
    },

    /** Wallet → bank: the amount is reserved at once (a pending transfer), posted when the bank settles, voided when it fails. */
    async payout(caller: string, request: MoveRequest): Promise<{ operation: BankOperation; replayed: boolean }> {
      const bank = await bankAccountFor(request);
      const result = await ports.db.transaction().execute(async (trx) => {
        const clearing = await ports.ledger.ensureAccount(clearingOwner(ports.rail.name), "bank_clearing", request.account.currency, trx);
        return idempotent(
          trx,
          { caller, scope: "Payout", key: request.idempotencyKey, body: { account: request.account.id, bank: bank.id, amount: request.amount } },
          async () => {
            const id = randomUUID();
            const reserved = await applyTransfer(trx, {
              caller: "payments",
              idempotencyKey: `payout:${id}`,
              fromAccountId: request.account.id,
              toAccountId: clearing.id,
              amount: request.amount,
              note: "",
              reason: "payout",
              reference: id,
              pendingUntil: new Date(ports.now().getTime() + ports.payoutTimeoutMs),
            });
            const row = await insertBankOperation(trx, {
              id,
              kind: "payout",
              account_id: request.account.id,
              bank_account_id: bank.id,
              amount_minor: request.amount.amountMinor.toString(),
              currency: request.amount.currency,
              rail: ports.rail.name,
              transfer_id: reserved.transfer.id,
              actor: caller,
              submitted_at: null,
              // This call submits it next; the sweep takes it over only after a crash.
              submit_claimed_until: new Date(ports.now().getTime() + SUBMIT_LEASE_MS),
            });
            return { id: row.id, value: row };
          },
          async (id) => (await findBankOperation(trx, id))!,
        );
      });
      if (!result.replayed) await submit(result.value);
      return { operation: await load(result.value.id), replayed: result.replayed };
    },

    /**
     * Submits operations a crash left unsubmitted, and again those the bank
     * has not answered for a while (its callback lost; the bank dedupes by
     * our reference and answers again): each replica claims its own batch
     * (SKIP LOCKED, a lease), so replicas submit in parallel and none
     * repeats another's work.
     */
    async resubmitPending(limit = 100): Promise<number> {
      const claimed = await claimUnsubmittedOperations(ports.db, ports.now(), SUBMIT_LEASE_MS, limit, ports.askAgainAfterMs);
      for (const op of claimed) await submit(op).catch((err: unknown) => ports.log.warn({ err: { message: (err as Error).message } }, "bank submit failed"));
      return claimed.length;
    },
  };
}

export type BankService = ReturnType<typeof createBankService>;

export type { BankAccount, BankOperation };

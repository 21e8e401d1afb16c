import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { AlreadyExists, NotFound } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import type { LedgerAccountRow } from "../store/ledger-account.table.js";
import type { LedgerTransferRow } from "../store/ledger-transfer.table.js";
import { addToBalance, findAccount, findTransferByKey, insertAccount, insertEntries, insertTransfer, lockAccounts } from "../store/ledger-store.js";
import { accountOpenedEvent, transferCompletedEvent } from "../events/outbox.js";
import type { LedgerAccount, ValidOpenAccount } from "./ledger-account.js";
import { idempotencyKeyReused, isSameTransfer, planTransfer, type Transfer, type ValidTransfer } from "./transfer.js";

export interface LedgerPorts {
  db: Kysely<PaymentsDatabase>;
  enqueue(trx: Kysely<PaymentsDatabase>, events: OutboxEvent[]): Promise<void>;
}

export function accountRowToAccount(row: LedgerAccountRow): LedgerAccount {
  return {
    id: row.id,
    owner: { kind: row.owner_kind, id: row.owner_id },
    currency: row.currency,
    balanceMinor: BigInt(row.balance_minor),
    allowNegativeBalance: row.allow_negative_balance,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function transferRowToTransfer(row: LedgerTransferRow): Transfer {
  return {
    id: row.id,
    fromAccountId: row.from_account_id,
    toAccountId: row.to_account_id,
    amount: { amountMinor: BigInt(row.amount_minor), currency: row.currency },
    note: row.note,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
  };
}

/** Ledger use cases; authorization happens in the rpc layer before these run. */
export function createLedgerService(ports: LedgerPorts) {
  return {
    async openAccount(open: ValidOpenAccount): Promise<LedgerAccount> {
      return ports.db.transaction().execute(async (trx) => {
        const row = await insertAccount(trx, {
          id: randomUUID(),
          owner_kind: open.owner.kind,
          owner_id: open.owner.id,
          currency: open.currency,
          allow_negative_balance: open.allowNegativeBalance,
        });
        if (!row) throw new AlreadyExists(`an account of this owner in ${open.currency}`, "currency");
        const account = accountRowToAccount(row);
        await ports.enqueue(trx, [accountOpenedEvent(account)]);
        return account;
      });
    },

    async getAccount(id: string): Promise<LedgerAccount> {
      const row = await findAccount(ports.db, id);
      if (!row) throw new NotFound("account");
      return accountRowToAccount(row);
    },

    /**
     * Posts a transfer, or replays the one this caller already made with the
     * same key. Both accounts stay locked until commit, so concurrent
     * transfers see each other's balances and none overdraws.
     */
    async postTransfer(caller: string, request: ValidTransfer): Promise<{ transfer: Transfer; replayed: boolean }> {
      return ports.db.transaction().execute(async (trx) => {
        const locked = (await lockAccounts(trx, [request.fromAccountId, request.toAccountId])).map(accountRowToAccount);
        const from = locked.find((a) => a.id === request.fromAccountId);
        const to = locked.find((a) => a.id === request.toAccountId);
        if (!from) throw new NotFound("from_account_id");
        if (!to) throw new NotFound("to_account_id");

        const made = await findTransferByKey(trx, caller, request.idempotencyKey);
        if (made) {
          // A retry: answer with the first result, unless it asks for something else.
          const transfer = transferRowToTransfer(made);
          if (!isSameTransfer(transfer, request)) throw idempotencyKeyReused();
          return { transfer, replayed: true };
        }

        const entries = planTransfer(from, to, request);
        const inserted = await insertTransfer(trx, {
          id: randomUUID(),
          caller,
          idempotency_key: request.idempotencyKey,
          from_account_id: from.id,
          to_account_id: to.id,
          amount_minor: request.amount.amountMinor.toString(),
          currency: from.currency,
          note: request.note,
        });
        // Same-key retries lock the same accounts and are serialized above; a
        // conflict here is a concurrent, different transfer under this key.
        if (!inserted) throw idempotencyKeyReused();
        const rows = [];
        for (const entry of entries) {
          const balanceAfter = await addToBalance(trx, entry.accountId, entry.amountMinor);
          rows.push({
            transfer_id: inserted.id,
            account_id: entry.accountId,
            amount_minor: entry.amountMinor.toString(),
            currency: from.currency,
            balance_after_minor: balanceAfter,
          });
        }
        await insertEntries(trx, rows);
        const transfer = transferRowToTransfer(inserted);
        await ports.enqueue(trx, [transferCompletedEvent(transfer, from, to)]);
        return { transfer, replayed: false };
      });
    },
  };
}

export type LedgerService = ReturnType<typeof createLedgerService>;

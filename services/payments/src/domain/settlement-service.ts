import type { Kysely } from "kysely";
import { NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";
import type { MoneyValue } from "@kontor/service-kit/money";
import type { PaymentsDatabase } from "../store/database.js";
import type { SettlementScheduleRow } from "../store/payments.table.js";
import { claimDueSettlements, findBankAccount, upsertSettlementSchedule } from "../store/payments-store.js";
import type { BankService } from "./bank-service.js";
import type { LedgerService } from "./ledger-service.js";

export interface SettlementSchedule {
  businessId: string;
  bankAccountId: string;
  minimum: MoneyValue;
  enabled: boolean;
  nextRunAt: Date;
}

export interface SettlementPorts {
  db: Kysely<PaymentsDatabase>;
  now(): Date;
  ledger: LedgerService;
  bank: BankService;
  intervalMs: number;
  log: Logger;
}

function toSchedule(row: SettlementScheduleRow): SettlementSchedule {
  return { businessId: row.business_id, bankAccountId: row.bank_account_id, minimum: { amountMinor: BigInt(row.minimum_minor), currency: row.currency }, enabled: row.enabled, nextRunAt: row.next_run_at };
}

/** A business's wallet settled to its bank on a schedule, by whichever replica claims the run. */
export function createSettlementService(ports: SettlementPorts) {
  return {
    async set(businessId: string, bankAccountId: string, minimum: MoneyValue, enabled: boolean): Promise<SettlementSchedule> {
      const bank = await findBankAccount(ports.db, bankAccountId);
      if (!bank || bank.owner_kind !== "business" || bank.owner_id !== businessId) throw Object.assign(new NotFound("bank account"), { field: "bank_account_id" });
      if (bank.currency !== minimum.currency) throw new PolicyRefused("CURRENCY_MISMATCH", "the bank account holds another currency", 0, "minimum.currency");
      const row = await upsertSettlementSchedule(ports.db, {
        business_id: businessId,
        bank_account_id: bank.id,
        currency: minimum.currency,
        minimum_minor: minimum.amountMinor.toString(),
        enabled,
        next_run_at: new Date(ports.now().getTime() + ports.intervalMs),
      });
      return toSchedule(row);
    },

    /**
     * Runs the due schedules this replica claims (SKIP LOCKED; a run is
     * claimed by moving it on, so no other replica takes it): each pays out
     * what the wallet holds, when it is at least the minimum, under a key
     * derived from the run, so a repeat of the run cannot pay twice. A crash
     * after the claim skips that run; the money waits for the next.
     */
    async settleDue(limit = 50): Promise<number> {
      const now = ports.now();
      const due = await claimDueSettlements(ports.db, now, ports.intervalMs, limit);
      let paid = 0;
      for (const row of due) {
        const account = await ports.ledger.findWallet({ kind: "business", id: row.business_id }, row.currency);
        const available = account ? account.balanceMinor - account.pendingDebitsMinor : 0n;
        if (!account || available <= 0n || available < BigInt(row.minimum_minor)) continue;
        await ports.bank
          .payout("payments:settlement", { idempotencyKey: `settle:${row.business_id}:${now.getTime()}`, account, bankAccountId: row.bank_account_id, amount: { amountMinor: available, currency: row.currency } })
          .then(
            () => (paid += 1),
            (err: unknown) => ports.log.warn({ business: row.business_id, err: { message: (err as Error).message } }, "scheduled settlement not paid out"),
          );
      }
      return paid;
    },
  };
}

export type SettlementService = ReturnType<typeof createSettlementService>;

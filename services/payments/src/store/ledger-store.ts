import type { Kysely } from "kysely";
import { isUuid } from "@kontor/service-kit/ids";
import type { PaymentsDatabase } from "./database.js";
import type { LedgerAccountRow, NewLedgerAccountRow } from "./ledger-account.table.js";
import type { LedgerEntryRow, NewLedgerEntryRow } from "./ledger-entry.table.js";
import type { LedgerTransferRow, NewLedgerTransferRow } from "./ledger-transfer.table.js";

type Db = Kysely<PaymentsDatabase>;

// Ids that cannot exist are filtered here (isUuid), so pg never sees a malformed uuid.

/** Undefined when the owner already holds an account in that currency. */
export async function insertAccount(db: Db, row: NewLedgerAccountRow): Promise<LedgerAccountRow | undefined> {
  return db
    .insertInto("ledger_account")
    .values(row)
    .onConflict((oc) => oc.columns(["owner_kind", "owner_id", "currency"]).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findAccount(db: Db, id: string): Promise<LedgerAccountRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom("ledger_account").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Locks the accounts for the rest of the transaction. Rows are locked in id
 * order, so two transfers between the same pair never deadlock.
 */
export async function lockAccounts(db: Db, ids: string[]): Promise<LedgerAccountRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return db.selectFrom("ledger_account").selectAll().where("id", "in", valid).orderBy("id").forUpdate().execute();
}

/** Adds a signed amount to the balance; returns the new balance. */
export async function addToBalance(db: Db, accountId: string, deltaMinor: bigint): Promise<string> {
  const row = await db
    .updateTable("ledger_account")
    .set((eb) => ({ balance_minor: eb("balance_minor", "+", deltaMinor.toString()), updated_at: new Date() }))
    .where("id", "=", accountId)
    .returning("balance_minor")
    .executeTakeFirstOrThrow();
  return row.balance_minor;
}

/** Undefined when the caller already used this idempotency key. */
export async function insertTransfer(db: Db, row: NewLedgerTransferRow): Promise<LedgerTransferRow | undefined> {
  return db
    .insertInto("ledger_transfer")
    .values(row)
    .onConflict((oc) => oc.columns(["caller", "idempotency_key"]).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findTransferByKey(db: Db, caller: string, idempotencyKey: string): Promise<LedgerTransferRow | undefined> {
  return db.selectFrom("ledger_transfer").selectAll().where("caller", "=", caller).where("idempotency_key", "=", idempotencyKey).executeTakeFirst();
}

export async function insertEntries(db: Db, rows: NewLedgerEntryRow[]): Promise<LedgerEntryRow[]> {
  return db.insertInto("ledger_entry").values(rows).returningAll().execute();
}

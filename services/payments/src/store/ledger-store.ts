import { sql, type Kysely } from "kysely";
import { isUuid } from "@kontor/service-kit/ids";
import type { PaymentsDatabase } from "./database.js";
import type { LedgerAccountRow, NewLedgerAccountRow } from "./ledger-account.table.js";
import type { NewLedgerEntryRow } from "./ledger-entry.table.js";
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

export async function findAccountByOwner(db: Db, ownerKind: LedgerAccountRow["owner_kind"], ownerId: string, currency: string): Promise<LedgerAccountRow | undefined> {
  return db.selectFrom("ledger_account").selectAll().where("owner_kind", "=", ownerKind).where("owner_id", "=", ownerId).where("currency", "=", currency).executeTakeFirst();
}

/**
 * Locks the accounts for the rest of the transaction. Rows are locked in id
 * order in one statement, so two transactions never deadlock on accounts.
 */
export async function lockAccounts(db: Db, ids: string[]): Promise<LedgerAccountRow[]> {
  const valid = [...new Set(ids.filter(isUuid))];
  if (valid.length === 0) return [];
  return db.selectFrom("ledger_account").selectAll().where("id", "in", valid).orderBy("id").forUpdate().execute();
}

/** Writes the balances (and pending debits) of many accounts in one statement. */
export async function setBalances(db: Db, rows: { id: string; balance: bigint; pending: bigint }[]): Promise<void> {
  if (rows.length === 0) return;
  const values = sql.join(rows.map((r) => sql`(${r.id}::uuid, ${r.balance.toString()}::bigint, ${r.pending.toString()}::bigint)`));
  await sql`UPDATE ledger_account AS a SET balance_minor = v.balance, pending_debits_minor = v.pending, updated_at = now()
    FROM (VALUES ${values}) AS v(id, balance, pending) WHERE a.id = v.id`.execute(db);
}

/** Transfers already made under any of these (caller, key) pairs. */
export async function findTransfersByKeys(db: Db, pairs: { caller: string; key: string }[]): Promise<LedgerTransferRow[]> {
  if (pairs.length === 0) return [];
  // unnest keeps it one parameter per column and lets the planner probe the unique index per pair.
  const callers = pairs.map((p) => p.caller);
  const keys = pairs.map((p) => p.key);
  return db
    .selectFrom("ledger_transfer")
    .selectAll()
    .where(sql<boolean>`(caller, idempotency_key) IN (SELECT * FROM unnest(${callers}::text[], ${keys}::text[]))`)
    .execute();
}

/** Returns only what the database chose (the time): the caller has the rest. */
export async function insertTransfers(db: Db, rows: NewLedgerTransferRow[]): Promise<{ id: string; created_at: Date }[]> {
  if (rows.length === 0) return [];
  return db.insertInto("ledger_transfer").values(rows).returning(["id", "created_at"]).execute();
}

/** All entries of a transfer go in one call: the balance check runs per statement. */
export async function insertEntries(db: Db, rows: NewLedgerEntryRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto("ledger_entry").values(rows).execute();
}

export async function lockTransfer(db: Db, id: string): Promise<LedgerTransferRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom("ledger_transfer").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
}

export async function findTransfer(db: Db, id: string): Promise<LedgerTransferRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom("ledger_transfer").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function resolveTransfer(db: Db, id: string, state: "posted" | "voided", at: Date): Promise<LedgerTransferRow> {
  return db.updateTable("ledger_transfer").set({ state, resolved_at: at }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}

/** Pending transfers whose timeout passed, oldest first. */
export async function findExpiredPending(db: Db, now: Date, limit: number): Promise<string[]> {
  const rows = await db.selectFrom("ledger_transfer").select("id").where("state", "=", "pending").where("timeout_at", "<=", now).orderBy("timeout_at").limit(limit).execute();
  return rows.map((r) => r.id);
}

/** The account's balance right after its last entry before `at` ("0" when none). */
export async function balanceBefore(db: Db, accountId: string, at: Date | undefined): Promise<string> {
  let q = db.selectFrom("ledger_entry").select("balance_after_minor").where("account_id", "=", accountId);
  if (at) q = q.where("created_at", "<", at);
  const row = await q.orderBy("id", "desc").limit(1).executeTakeFirst();
  return row?.balance_after_minor ?? "0";
}

export interface StatementRow {
  id: string;
  transfer_id: string;
  amount_minor: string;
  currency: string;
  balance_after_minor: string;
  created_at: Date;
  caller: string;
  reason: string;
  reference: string;
  note: string;
  from_account_id: string;
  to_account_id: string;
}

/**
 * Entries of one account in [from, to), in balance order, after the cursor
 * entry. Entries of one account get their id and time under its lock, so id
 * order is time order is balance order.
 */
export async function statementEntries(db: Db, accountId: string, from: Date | undefined, to: Date | undefined, afterId: string | undefined, take: number): Promise<StatementRow[]> {
  let q = db
    .selectFrom("ledger_entry as e")
    .innerJoin("ledger_transfer as t", "t.id", "e.transfer_id")
    .select([
      "e.id",
      "e.transfer_id",
      "e.amount_minor",
      "e.currency",
      "e.balance_after_minor",
      "e.created_at",
      "t.caller",
      "t.reason",
      "t.reference",
      "t.note",
      "t.from_account_id",
      "t.to_account_id",
    ])
    .where("e.account_id", "=", accountId);
  if (to) q = q.where("e.created_at", "<", to);
  if (from) q = q.where("e.created_at", ">=", from);
  if (afterId) q = q.where("e.id", ">", afterId);
  return q.orderBy("e.id").limit(take).execute();
}

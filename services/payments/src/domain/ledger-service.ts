import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { AlreadyExists, InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import {
  balanceBefore,
  findAccount,
  findAccountByOwner,
  findExpiredPending,
  insertAccount,
  statementEntries,
  type StatementRow,
} from "../store/ledger-store.js";
import { accountOpenedEvent, transferCompletedEvent } from "../events/outbox.js";
import type { AccountKind, AccountOwner, LedgerAccount, ValidOpenAccount } from "./ledger-account.js";
import { kindForOwner } from "./ledger-account.js";
import { accountRowToAccount, applyTransfer, postPending, voidPending, type TransferSpec } from "./ledger-engine.js";
import { createTransferBatcher } from "./transfer-batcher.js";
import type { Transfer, ValidTransfer } from "./transfer.js";

type Db = Kysely<PaymentsDatabase>;

export interface LedgerPorts {
  db: Db;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  /** Most transfers one group commit carries. */
  batchMax?: number;
  /** Most group commits in flight at once. */
  batchesInFlight?: number;
}

/** The service's own accounts, one per purpose and currency. */
export const SYSTEM_ACCOUNTS = {
  fees: { owner: { kind: "system", id: "platform_fee_revenue" }, kind: "platform_fee_revenue" },
  refunds: { owner: { kind: "system", id: "refunds_in_flight" }, kind: "refunds_in_flight" },
} as const satisfies Record<string, { owner: AccountOwner; kind: AccountKind }>;

/** The clearing account of one bank rail: what the bank holds for us, so it may go negative. */
export function clearingOwner(rail: string): AccountOwner {
  return { kind: "system", id: `bank_clearing.${rail}` };
}

export interface Statement {
  openingMinor: bigint;
  closingMinor: bigint;
  currency: string;
  entries: StatementRow[];
  nextAfterId: string | undefined;
}

/** Ledger use cases; authorization happens in the rpc layer before these run. */
export function createLedgerService(ports: LedgerPorts) {
  const batcher = createTransferBatcher(ports, ports.batchMax, ports.batchesInFlight);

  async function open(db: Db, owner: AccountOwner, kind: AccountKind, currency: string, allowNegative: boolean): Promise<{ account: LedgerAccount; created: boolean }> {
    const row = await insertAccount(db, { id: randomUUID(), owner_kind: owner.kind, owner_id: owner.id, kind, currency, allow_negative_balance: allowNegative });
    if (row) {
      const account = accountRowToAccount(row);
      await ports.enqueue(db, [accountOpenedEvent(account)]);
      return { account, created: true };
    }
    const existing = await findAccountByOwner(db, owner.kind, owner.id, currency);
    if (!existing) throw new NotFound("account");
    return { account: accountRowToAccount(existing), created: false };
  }

  // Account ids never change once opened: remembered per owner and currency.
  const ids = new Map<string, string>();
  const headers = new Map<string, Pick<LedgerAccount, "id" | "owner" | "kind" | "currency">>();

  const service = {
    batcher,

    /** The id of the owner's account in that currency, opened when missing (see ensureAccount); cached. */
    async accountId(owner: AccountOwner, kind: AccountKind, currency: string): Promise<string> {
      const key = `${owner.kind}\u0000${owner.id}\u0000${currency}`;
      const known = ids.get(key);
      if (known) return known;
      const account = await service.ensureAccount(owner, kind, currency);
      if (ids.size >= 200_000) ids.clear();
      ids.set(key, account.id);
      return account.id;
    },

    async openAccount(request: ValidOpenAccount): Promise<LedgerAccount> {
      return ports.db.transaction().execute(async (trx) => {
        const { account, created } = await open(trx, request.owner, kindForOwner(request.owner), request.currency, request.allowNegativeBalance);
        if (!created) throw new AlreadyExists(`an account of this owner in ${request.currency}`, "currency");
        return account;
      });
    },

    /**
     * The owner's account in that currency, opened when missing (a wallet
     * the first time money arrives, the service's own accounts on first use).
     */
    async ensureAccount(owner: AccountOwner, kind: AccountKind, currency: string, db: Db = ports.db): Promise<LedgerAccount> {
      const found = await findAccountByOwner(db, owner.kind, owner.id, currency);
      if (found) return accountRowToAccount(found);
      const allowNegative = kind === "bank_clearing";
      if (db === ports.db) return ports.db.transaction().execute(async (trx) => (await open(trx, owner, kind, currency, allowNegative)).account);
      return (await open(db, owner, kind, currency, allowNegative)).account;
    },

    async findWallet(owner: AccountOwner, currency: string): Promise<LedgerAccount | undefined> {
      const row = await findAccountByOwner(ports.db, owner.kind, owner.id, currency);
      return row ? accountRowToAccount(row) : undefined;
    },

    /**
     * What never changes about an account (owner, kind, currency): what
     * authorization needs before a transfer; cached, so a transfer's only
     * read of its accounts is the batch's lock.
     */
    async accountHeader(id: string): Promise<Pick<LedgerAccount, "id" | "owner" | "kind" | "currency">> {
      const known = headers.get(id);
      if (known) return known;
      const { owner, kind, currency } = await service.getAccount(id);
      const header = { id, owner, kind, currency };
      if (headers.size >= 200_000) headers.clear();
      headers.set(id, header);
      return header;
    },

    async getAccount(id: string): Promise<LedgerAccount> {
      const row = await findAccount(ports.db, id);
      if (!row) throw new NotFound("account");
      return accountRowToAccount(row);
    },

    /**
     * Posts a transfer through the group commit, or replays the one this
     * caller already made with the same key. Announced transfers
     * (transfer, p2p, collect) emit transfer.completed in the same commit.
     */
    async postTransfer(caller: string, request: ValidTransfer, reason = "transfer", reference = ""): Promise<{ transfer: Transfer; replayed: boolean }> {
      const spec: TransferSpec = { caller, idempotencyKey: request.idempotencyKey, fromAccountId: request.fromAccountId, toAccountId: request.toAccountId, amount: request.amount, note: request.note, reason, reference };
      const outcome = await batcher.submit(spec, (o) => [transferCompletedEvent(o.transfer, o.from, o.to)]);
      return { transfer: outcome.transfer, replayed: outcome.replayed };
    },

    /** Reserves a transfer (two-phase): the amount is held on the source until posted, voided or timed out. */
    async reserve(spec: TransferSpec & { pendingUntil: Date }): Promise<Transfer> {
      return ports.db.transaction().execute(async (trx) => (await applyTransfer(trx, spec)).transfer);
    },

    async postPending(transferId: string): Promise<Transfer> {
      return ports.db.transaction().execute((trx) => postPending(trx, transferId, ports.now()));
    },

    async voidPending(transferId: string): Promise<Transfer> {
      return ports.db.transaction().execute((trx) => voidPending(trx, transferId, ports.now()));
    },

    /** Voids pending transfers whose timeout passed; returns how many. */
    async expirePending(limit = 500): Promise<number> {
      const now = ports.now();
      const ids = await findExpiredPending(ports.db, now, limit);
      let voided = 0;
      for (const id of ids) {
        // Posted or voided meanwhile (another replica, the bank's callback): nothing to do.
        const done = await ports.db.transaction().execute((trx) => voidPending(trx, id, now)).then(
          () => true,
          (err: unknown) => {
            if (err instanceof PolicyRefused) return false;
            throw err;
          },
        );
        if (done) voided += 1;
      }
      return voided;
    },

    /** Entries in [from, to) with the balance before the first and after the last (of the whole period, across pages). */
    async statement(account: LedgerAccount, from: Date | undefined, to: Date | undefined, afterId: string | undefined, take: number): Promise<Statement> {
      if (from && to && from >= to) throw new InvalidInput("to", "must be after from");
      const [opening, closing, entries] = await Promise.all([
        from ? balanceBefore(ports.db, account.id, from) : "0",
        balanceBefore(ports.db, account.id, to),
        statementEntries(ports.db, account.id, from, to, afterId, take),
      ]);
      return { openingMinor: BigInt(opening), closingMinor: BigInt(closing), currency: account.currency, entries, nextAfterId: undefined };
    },
  };
  return service;
}

export type LedgerService = ReturnType<typeof createLedgerService>;

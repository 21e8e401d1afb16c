import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { MoneyValue } from "@kontor/service-kit/money";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import type { CollectRequestRow } from "../store/payments.table.js";
import { expireCollectRequests, findCollectRequest, findPaymentNumber, insertCollectRequest, updateCollectRequest, upsertPaymentNumber } from "../store/payments-store.js";
import { transferCompletedEvent } from "../events/outbox.js";
import { idempotent } from "./idempotency.js";
import { applyTransfer } from "./ledger-engine.js";
import type { LedgerService } from "./ledger-service.js";
import type { PinService } from "./pin-service.js";
import type { Transfer } from "./transfer.js";

type Db = Kysely<PaymentsDatabase>;

export interface CollectRequest {
  id: string;
  requesterCustomerId: string;
  payerCustomerId: string;
  amount: MoneyValue;
  note: string;
  state: "pending" | "approved" | "declined" | "expired";
  expiresAt: Date;
  transferId: string;
  createdAt: Date;
}

export interface P2pPorts {
  db: Db;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  ledger: LedgerService;
  pins: PinService;
  defaultCollectTtlMs: number;
}

export const MAX_COLLECT_TTL_S = 7 * 24 * 3600;

function collectRowToRequest(row: CollectRequestRow, now: Date): CollectRequest {
  // A pending request past its time reads as expired before the sweep marks it.
  const state = row.state === "pending" && row.expires_at <= now ? "expired" : row.state;
  return {
    id: row.id,
    requesterCustomerId: row.requester_customer_id,
    payerCustomerId: row.payer_customer_id,
    amount: { amountMinor: BigInt(row.amount_minor), currency: row.currency },
    note: row.note,
    state,
    expiresAt: row.expires_at,
    transferId: row.transfer_id ?? "",
    createdAt: row.created_at,
  };
}

const wallet = (customerId: string) => ({ kind: "customer", id: customerId }) as const;

/** Customer-to-customer money: send with the PIN, and collect requests the payer approves or declines. */
export function createP2pService(ports: P2pPorts) {
  return {
    /** Says which customer a phone number's payments go to (onboarding verified the number). */
    async setNumber(customerId: string, number: string): Promise<void> {
      await upsertPaymentNumber(ports.db, number, customerId);
    },

    /**
     * The customer a number's payments go to. A number that belongs to
     * nobody is refused: no money waits for a number (a number is recycled
     * and the escrow would go to whoever gets it next); the payer invites
     * the contact instead.
     */
    async payeeOf(number: string): Promise<string> {
      const customerId = await findPaymentNumber(ports.db, number);
      if (!customerId) throw new PolicyRefused("PAYEE_NOT_FOUND", "no customer receives payments at this number", 0, "to_number");
      return customerId;
    },

    /** Marks pending collect requests past their expiry as expired; each expires once across replicas. */
    async expireRequests(limit = 500): Promise<number> {
      return (await expireCollectRequests(ports.db, ports.now(), limit)).length;
    },

    /** Debits the payer's wallet and credits the payee's in one commit (the group commit); needs the payer's PIN. */
    async send(caller: string, request: { idempotencyKey: string; fromCustomerId: string; toCustomerId: string; amount: MoneyValue; note: string; pin: string }): Promise<{ transfer: Transfer; replayed: boolean }> {
      await ports.pins.verify(request.fromCustomerId, request.pin);
      // Both wallets by cached id (a missing one is opened empty): the batch's lock is the only read of their balances.
      const [fromId, toId] = await Promise.all([
        ports.ledger.accountId(wallet(request.fromCustomerId), "customer_wallet", request.amount.currency),
        ports.ledger.accountId(wallet(request.toCustomerId), "customer_wallet", request.amount.currency),
      ]);
      const from = { id: fromId };
      const to = { id: toId };
      const outcome = await ports.ledger.batcher.submit(
        { caller, idempotencyKey: request.idempotencyKey, fromAccountId: from.id, toAccountId: to.id, amount: request.amount, note: request.note, reason: "p2p", reference: "" },
        (o) => [transferCompletedEvent(o.transfer, o.from, o.to)],
      );
      return { transfer: outcome.transfer, replayed: outcome.replayed };
    },

    async request(caller: string, r: { idempotencyKey: string; requesterCustomerId: string; payerCustomerId: string; amount: MoneyValue; note: string; expiresInSeconds: number }): Promise<{ request: CollectRequest; replayed: boolean }> {
      if (r.expiresInSeconds < 0 || r.expiresInSeconds > MAX_COLLECT_TTL_S) throw new InvalidInput("expires_in_seconds", `must be 0-${MAX_COLLECT_TTL_S}`);
      const now = ports.now();
      const ttl = r.expiresInSeconds > 0 ? r.expiresInSeconds * 1000 : ports.defaultCollectTtlMs;
      const { value, replayed } = await ports.db.transaction().execute((trx) =>
        idempotent(
          trx,
          { caller, scope: "RequestMoney", key: r.idempotencyKey, body: { ...r, idempotencyKey: undefined } },
          async () => {
            const row = await insertCollectRequest(trx, {
              id: randomUUID(),
              requester_customer_id: r.requesterCustomerId,
              payer_customer_id: r.payerCustomerId,
              amount_minor: r.amount.amountMinor.toString(),
              currency: r.amount.currency,
              note: r.note,
              expires_at: new Date(now.getTime() + ttl),
              transfer_id: null,
            });
            return { id: row.id, value: row };
          },
          async (id) => (await findCollectRequest(trx, id))!,
        ),
      );
      return { request: collectRowToRequest(value, now), replayed };
    },

    async get(id: string): Promise<CollectRequest> {
      const row = await findCollectRequest(ports.db, id);
      if (!row) throw new NotFound("collect request");
      return collectRowToRequest(row, ports.now());
    },

    /**
     * The payer approves (PIN checked first) or declines a pending request.
     * Approval pays the requester in the same transaction that marks the
     * request approved; an expired request is refused (COLLECT_EXPIRED).
     */
    async respond(caller: string, r: { idempotencyKey: string; id: string; approve: boolean; pin: string }, payerCustomerId: string): Promise<{ request: CollectRequest; replayed: boolean }> {
      if (r.approve) await ports.pins.verify(payerCustomerId, r.pin);
      const first = await findCollectRequest(ports.db, r.id);
      if (!first) throw new NotFound("collect request");
      const from = r.approve ? await ports.ledger.findWallet(wallet(first.payer_customer_id), first.currency) : undefined;
      if (r.approve && !from) throw new PolicyRefused("INSUFFICIENT_FUNDS", `no ${first.currency} wallet to pay from`);
      const to = r.approve ? await ports.ledger.ensureAccount(wallet(first.requester_customer_id), "customer_wallet", first.currency) : undefined;
      const { value, replayed } = await ports.db.transaction().execute((trx) =>
        idempotent(
          trx,
          { caller, scope: "RespondToCollectRequest", key: r.idempotencyKey, body: { id: r.id, approve: r.approve } },
          async () => {
            const row = (await findCollectRequest(trx, r.id, true))!;
            const now = ports.now();
            if (row.state !== "pending") throw new PolicyRefused("COLLECT_NOT_PENDING", `the request is ${row.state}`, 0, "collect_request_id");
            if (row.expires_at <= now) {
              await updateCollectRequest(trx, row.id, { state: "expired" });
              throw new PolicyRefused("COLLECT_EXPIRED", "the request expired", 0, "collect_request_id");
            }
            if (!r.approve) return { id: row.id, value: await updateCollectRequest(trx, row.id, { state: "declined" }) };
            const paid = await applyTransfer(trx, {
              caller,
              idempotencyKey: `collect:${row.id}`,
              fromAccountId: from!.id,
              toAccountId: to!.id,
              amount: { amountMinor: BigInt(row.amount_minor), currency: row.currency },
              note: row.note,
              reason: "collect",
              reference: row.id,
            });
            await ports.enqueue(trx, [transferCompletedEvent(paid.transfer, paid.from, paid.to)]);
            return { id: row.id, value: await updateCollectRequest(trx, row.id, { state: "approved", transfer_id: paid.transfer.id }) };
          },
          async (id) => (await findCollectRequest(trx, id))!,
        ),
      );
      return { request: collectRowToRequest(value, ports.now()), replayed };
    },
  };
}

export type P2pService = ReturnType<typeof createP2pService>;

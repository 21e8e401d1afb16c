import type { Kysely } from "kysely";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import { applyTransfers, type TransferOutcome, type TransferSpec } from "./ledger-engine.js";

type Db = Kysely<PaymentsDatabase>;
type Ok = Extract<TransferOutcome, { ok: true }>;

export interface BatcherPorts {
  db: Db;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
}

interface Waiting {
  spec: TransferSpec;
  events: (outcome: Ok) => OutboxEvent[];
  resolve(outcome: Ok): void;
  reject(err: unknown): void;
}

/**
 * Group commit for transfers (TigerBeetle's batching): transfers submitted
 * while a commit is in flight wait and go together in the next one, so
 * throughput is commits/s times the batch size, and a hot account is locked
 * once per batch. Each transfer still succeeds or fails on its own. When a
 * batch's transaction itself fails (a key raced in by another replica, a
 * lost connection), its transfers are retried one transaction each, so one
 * cannot take the others down.
 */
export function createTransferBatcher(ports: BatcherPorts, maxBatch = 512) {
  const queue: Waiting[] = [];
  let running = false;

  async function commit(batch: Waiting[]): Promise<void> {
    const results = await ports.db.transaction().execute(async (trx) => {
      const outcomes = await applyTransfers(
        trx,
        batch.map((w) => w.spec),
      );
      const events: OutboxEvent[] = [];
      outcomes.forEach((o, i) => {
        if (o.ok && !o.replayed) events.push(...batch[i]!.events(o));
      });
      if (events.length > 0) await ports.enqueue(trx, events);
      return outcomes;
    });
    results.forEach((o, i) => (o.ok ? batch[i]!.resolve(o) : batch[i]!.reject(o.error)));
  }

  async function drain(): Promise<void> {
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        try {
          await commit(batch);
        } catch {
          for (const one of batch) await commit([one]).catch((err: unknown) => one.reject(err));
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    /** Posts (or reserves) one transfer with whatever else is waiting; a refusal rejects. */
    submit(spec: TransferSpec, events: (outcome: Ok) => OutboxEvent[] = () => []): Promise<Ok> {
      return new Promise<Ok>((resolve, reject) => {
        queue.push({ spec, events, resolve, reject });
        if (!running) void drain();
      });
    },
  };
}

export type TransferBatcher = ReturnType<typeof createTransferBatcher>;

import type { Kysely } from "kysely";
import { KontorError } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import { LedgerBatch, type TransferOutcome, type TransferSpec } from "./ledger-engine.js";

type Db = Kysely<PaymentsDatabase>;
type Ok = Extract<TransferOutcome, { ok: true }>;

export interface BatcherPorts {
  db: Db;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
}

/**
 * One unit of work in a group commit. Its phases run for every job of the
 * batch in turn, in one transaction: claim (row locks on the job's own
 * rows, taken before any account lock, as every other path takes them),
 * then the accounts of all jobs are locked at once, decide (in memory, on
 * the batch's balances; throwing refuses this job only, nothing of it is
 * written), and after the postings are written, finish (the job's rows
 * and events).
 */
export interface BatchJob<T> {
  accounts: string[];
  keys: { caller: string; key: string }[];
  /** Jobs of one group claim and finish together, a few statements per batch instead of a few per job. */
  group?: BatchGroup;
  claim?(trx: Db): Promise<void>;
  decide(batch: LedgerBatch): void;
  finish(trx: Db): Promise<{ value: T; events: OutboxEvent[] }>;
}

/** What a group's claim says of each of its jobs: claimed (undefined), refused, or deferred to the next batch. */
export type ClaimResult = undefined | KontorError | typeof DEFER;
/** The job meets another of this batch on the same rows (a retry racing its original): it goes again after this commit. */
export const DEFER = Symbol("defer");

/**
 * The claim and finish phases of many jobs of one kind at once (set-based
 * statements), with the same contract as a job's own: claim locks rows
 * before any account lock and writes nothing that a refusal would leave,
 * finish returns each decided job's value and events, in order.
 */
export interface BatchGroup {
  claim(trx: Db, jobs: BatchJob<unknown>[]): Promise<ClaimResult[]>;
  finish(trx: Db, jobs: BatchJob<unknown>[]): Promise<{ value: unknown; events: OutboxEvent[] }[]>;
}

interface Waiting {
  job: BatchJob<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/**
 * Group commit (TigerBeetle's batching): jobs submitted while a commit is
 * in flight wait and go together in the next one, so throughput is
 * commits/s times the batch size, and a hot account (a business paid by
 * a thousand customers, the platform's fee account) is locked once per
 * batch instead of once per payment. Each job still succeeds or fails on
 * its own. When a batch's transaction itself fails (a key raced in by
 * another replica, a deadlock, a lost connection), its jobs are retried
 * one transaction each, so one cannot take the others down.
 */
export function createTransferBatcher(ports: BatcherPorts, maxBatch = 512, maxInFlight = 2) {
  const queue: Waiting[] = [];
  let inFlight = 0;

  /** Commits a batch; returns the jobs deferred to the next one. */
  async function commit(batch: Waiting[]): Promise<Waiting[]> {
    const deferred: Waiting[] = [];
    const settled = await ports.db.transaction().execute(async (trx) => {
      deferred.length = 0;
      const live: Waiting[] = [];
      const results: { w: Waiting; ok: boolean; value: unknown }[] = [];
      const groups = new Map<BatchGroup, Waiting[]>();
      for (const w of batch) {
        if (w.job.group) {
          groups.set(w.job.group, [...(groups.get(w.job.group) ?? []), w]);
          continue;
        }
        try {
          await w.job.claim?.(trx);
          live.push(w);
        } catch (err) {
          if (!(err instanceof KontorError)) throw err;
          results.push({ w, ok: false, value: err });
        }
      }
      for (const [group, ws] of groups) {
        const claimed = await group.claim(
          trx,
          ws.map((w) => w.job),
        );
        ws.forEach((w, i) => {
          const c = claimed[i];
          if (c === DEFER) deferred.push(w);
          else if (c) results.push({ w, ok: false, value: c });
          else live.push(w);
        });
      }
      const ledger = await LedgerBatch.open(
        trx,
        live.flatMap((w) => w.job.accounts),
        live.flatMap((w) => w.job.keys),
      );
      const decided: Waiting[] = [];
      for (const w of live) {
        try {
          w.job.decide(ledger);
          decided.push(w);
        } catch (err) {
          if (!(err instanceof KontorError)) throw err;
          results.push({ w, ok: false, value: err });
        }
      }
      await ledger.flush(trx);
      const events: OutboxEvent[] = [];
      const finishing = new Map<BatchGroup, Waiting[]>();
      for (const w of decided) {
        if (w.job.group) {
          finishing.set(w.job.group, [...(finishing.get(w.job.group) ?? []), w]);
          continue;
        }
        const done = await w.job.finish(trx);
        events.push(...done.events);
        results.push({ w, ok: true, value: done.value });
      }
      for (const [group, ws] of finishing) {
        const done = await group.finish(
          trx,
          ws.map((w) => w.job),
        );
        ws.forEach((w, i) => {
          events.push(...done[i]!.events);
          results.push({ w, ok: true, value: done[i]!.value });
        });
      }
      if (events.length > 0) await ports.enqueue(trx, events);
      return results;
    });
    for (const r of settled) (r.ok ? r.w.resolve : r.w.reject)(r.value);
    return deferred;
  }

  /** One batch: committed together, or after a failed transaction one job per transaction. */
  async function runBatch(batch: Waiting[]): Promise<void> {
    try {
      queue.unshift(...(await commit(batch)));
    } catch {
      for (const one of batch) {
        await commit([one]).then(
          (again) => queue.unshift(...again),
          (err: unknown) => one.reject(err),
        );
      }
    }
  }

  /**
   * Up to `maxInFlight` batches commit at once (a pipeline: while one waits
   * for its commit the next forms and runs), each on its own connection.
   * Two batches that share an account serialize on its row lock; accounts
   * are locked in id order in one statement, so they never deadlock.
   */
  function pump(): void {
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.splice(0, maxBatch);
      inFlight += 1;
      void runBatch(batch).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  }

  function run<T>(job: BatchJob<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ job: job as BatchJob<unknown>, resolve: resolve as (v: unknown) => void, reject });
      pump();
    });
  }

  return {
    run,

    /** Posts (or reserves) one transfer with whatever else is waiting; a refusal rejects. */
    submit(spec: TransferSpec, events: (outcome: Ok) => OutboxEvent[] = () => []): Promise<Ok> {
      let outcome: Ok | undefined;
      return run<Ok>({
        accounts: [spec.fromAccountId, spec.toAccountId],
        keys: [{ caller: spec.caller, key: spec.idempotencyKey }],
        decide(batch) {
          const o = batch.apply(spec);
          if (!o.ok) throw o.error;
          outcome = o;
        },
        async finish() {
          return { value: outcome!, events: outcome!.replayed ? [] : events(outcome!) };
        },
      });
    },
  };
}

export type TransferBatcher = ReturnType<typeof createTransferBatcher>;

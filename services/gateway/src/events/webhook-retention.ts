import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import type { GatewayDatabase } from "../store/tables.js";
import { claimJob, sweepFinished } from "../store/webhook-store.js";

const JOB = "webhook_retention";
const BATCH = 5000;

/**
 * Deletes finished notifications (delivered or dead-lettered) once they were
 * queued longer than `retentionMs` ago: the replay window, since a replay
 * copies what is still in the queue. Every replica ticks every `intervalMs`;
 * job_run lets one of them sweep per interval. Pending notifications are
 * never swept. Deletes go in batches, so no statement holds many row locks.
 */
export function createRetentionSweep(o: { db: Kysely<GatewayDatabase>; log: Logger; retentionMs: number; intervalMs: number }) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = true;

  /** One sweep if this replica wins the interval; how many rows it deleted (0 when another replica ran it). */
  async function runOnce(): Promise<number> {
    // A little less than the interval, so a replica ticking a moment early still wins its turn.
    if (!(await claimJob(o.db, JOB, Math.max(0, o.intervalMs - 1000)))) return 0;
    const cutoff = new Date(Date.now() - o.retentionMs);
    let total = 0;
    for (;;) {
      const n = await sweepFinished(o.db, cutoff, BATCH);
      total += n;
      if (n < BATCH || stopped) break;
    }
    if (total > 0) o.log.info({ deleted: total, cutoff: cutoff.toISOString() }, "webhook retention sweep");
    return total;
  }

  const tick = () => {
    running = runOnce()
      .catch((err: unknown) => {
        o.log.warn({ err: { message: (err as Error).message } }, "webhook retention sweep failed, retrying next interval");
        return 0;
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, o.intervalMs);
      });
  };

  return {
    runOnce,
    start() {
      if (o.intervalMs <= 0) return;
      stopped = false;
      tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

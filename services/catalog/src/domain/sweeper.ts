import type { Logger } from "@kontor/service-kit/log";

/**
 * Every replica runs the sweeper; the database decides who takes which
 * order (FOR UPDATE SKIP LOCKED in expireDue), so each expired order is
 * cancelled once. Its state is the orders table: a restart loses nothing.
 */
export function createSweeper(options: { intervalMs: number; sweep: () => Promise<number>; log: Logger }) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const tick = async () => {
    try {
      // A full batch means more may be due: sweep again at once.
      while (!stopped && (await options.sweep()) >= 100) {
        /* next batch */
      }
    } catch (err) {
      options.log.warn({ err: { message: (err as Error).message } }, "reservation sweep failed, retrying next interval");
    }
  };

  return {
    start() {
      if (options.intervalMs <= 0) return;
      stopped = false;
      const loop = () => {
        running = tick().finally(() => {
          if (!stopped) timer = setTimeout(loop, options.intervalMs);
        });
      };
      loop();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

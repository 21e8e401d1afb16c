/**
 * Gathers items handed in one at a time (a consumer's in-flight events) and
 * handles them together: a batch is flushed when it holds `max` items or
 * `lingerMs` after its first, one flush at a time. Each add() settles with
 * its item's result once its batch is done (or fails with the batch).
 */
export function createBatcher<T, R>(options: { max: number; lingerMs: number; flush: (items: T[]) => Promise<R[]> }) {
  let queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  function schedule(now: boolean): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const run = () => {
      timer = undefined;
      const batch = queue.splice(0, options.max);
      if (batch.length === 0) return;
      flushing = flushing.then(async () => {
        try {
          const results = await options.flush(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(results[i]!));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
        if (queue.length) schedule(queue.length >= options.max);
      });
    };
    if (now) run();
    else timer = setTimeout(run, options.lingerMs);
  }

  return {
    add(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (queue.length >= options.max) schedule(true);
        else if (!timer && queue.length === 1) schedule(false);
      });
    },
  };
}

import { Histogram, type Registry } from "prom-client";

/** The background passes of a serving replica, each of which runs on the same event loop as SelectAds. */
export type Pass = "flush" | "share" | "settle" | "frequency_sweep" | "rescore" | "lease" | "replica_impressions" | "stats";

export interface ServingMetrics {
  /** One synchronous stretch of a pass ended: it held the event loop since `startedMs` (performance.now()). */
  held(pass: Pass, startedMs: number): void;
}

/** For engines built without a registry (unit tests, the micro benchmark). */
export const noServingMetrics: ServingMetrics = { held: () => undefined };

/**
 * kontor_ads_loop_held_seconds{pass}: how long one synchronous stretch of a
 * background pass kept the event loop from serving (a pass that yields
 * between chunks observes each chunk). A request that arrives meanwhile
 * waits that long, so this is what the SelectAds tail is made of besides
 * garbage collection (nodejs_gc_duration_seconds) and the calls themselves;
 * nodejs_eventloop_lag_p99_seconds and _max_seconds show the sum of all.
 */
export function createServingMetrics(registry: Registry): ServingMetrics {
  const histogram = new Histogram({
    name: "kontor_ads_loop_held_seconds",
    help: "How long one synchronous stretch of a background pass held the event loop (no request is served meanwhile), by pass",
    labelNames: ["pass"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const children = new Map<Pass, { observe(v: number): void }>();
  return {
    held(pass, startedMs) {
      let child = children.get(pass);
      if (!child) children.set(pass, (child = histogram.labels({ pass })));
      child.observe((performance.now() - startedMs) / 1000);
    },
  };
}

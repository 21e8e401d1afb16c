import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import { retryDelayMs, signatures } from "../domain/webhook-payload.js";
import type { GatewayDatabase } from "../store/tables.js";
import { claimDue, deliveryTarget, markDelivered, markFailed, type ClaimedDelivery } from "../store/webhook-store.js";

export interface DelivererOptions {
  db: Kysely<GatewayDatabase>;
  log: Logger;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAgeMs: number;
  timeoutMs: number;
  pollMs: number;
  /** Deliveries leased per pass (each a different conversation or template). */
  batch?: number;
}

export interface Deliverer {
  start(): void;
  /** New work was queued: look now instead of at the next poll. */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Sends the webhook queue: POSTs each leased notification with its exact
 * bytes and signature; a 2xx answer marks it delivered, anything else (or
 * no answer) schedules a retry with exponential backoff until WEBHOOK_MAX_AGE_MS,
 * then dead-letters it. The queue is in PostgreSQL, so nothing is lost when
 * the gateway or the receiver restarts.
 */
export function createDeliverer(o: DelivererOptions): Deliverer {
  let running = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let pending = false;
  const inFlight = new Set<AbortController>();

  async function deliver(d: ClaimedDelivery): Promise<void> {
    const target = await deliveryTarget(o.db, d.wabaId);
    let error: string;
    if (!target) {
      error = "no callback URL (the WABA is not subscribed, or has no callback)";
    } else {
      const sig = signatures(d.body, target.appSecret);
      const abort = new AbortController();
      inFlight.add(abort);
      const timer = setTimeout(() => abort.abort(), o.timeoutMs);
      try {
        const res = await fetch(target.url, {
          method: "POST",
          redirect: "manual",
          signal: abort.signal,
          headers: {
            "content-type": "application/json",
            "user-agent": "kontor-gateway (facebookexternalua-compatible)",
            "x-hub-signature-256": sig.sha256,
            "x-hub-signature": sig.sha1,
            "x-kontor-event-id": d.eventId,
            "x-kontor-delivery-attempt": String(d.attempts),
          },
          body: d.body,
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) {
          await markDelivered(o.db, d.id);
          return;
        }
        error = `HTTP ${res.status}`;
      } catch (err) {
        error = abort.signal.aborted ? "timed out" : ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
      } finally {
        clearTimeout(timer);
        inFlight.delete(abort);
      }
    }
    const age = Date.now() - d.createdAt.getTime();
    const delay = retryDelayMs(d.attempts, o.retryBaseMs, o.retryMaxMs);
    const dead = age + delay > o.maxAgeMs;
    await markFailed(o.db, d.id, error, dead ? undefined : new Date(Date.now() + delay));
    o.log[dead ? "warn" : "debug"]({ delivery_id: d.id, waba_id: d.wabaId, attempt: d.attempts, error }, dead ? "webhook dead-lettered" : "webhook delivery failed, will retry");
  }

  async function pass(): Promise<number> {
    const due = await claimDue(o.db, o.batch ?? 32, o.timeoutMs + 30_000);
    await Promise.all(due.map((d) => deliver(d).catch((err: unknown) => o.log.error({ err, delivery_id: d.id }, "webhook delivery bookkeeping failed"))));
    return due.length;
  }

  return {
    start() {
      running = true;
      loop = (async () => {
        while (running) {
          let n = 0;
          try {
            pending = false;
            n = await pass();
          } catch (err) {
            o.log.warn({ err: { message: (err as Error).message } }, "webhook pass failed");
          }
          if (!running) break;
          if (n > 0 || pending) continue;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, o.pollMs);
            wakeUp = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wakeUp = undefined;
        }
      })();
    },
    wake() {
      pending = true;
      wakeUp?.();
    },
    async stop() {
      running = false;
      wakeUp?.();
      for (const a of inFlight) a.abort();
      await loop;
    },
  };
}

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import { mergeNotifications, retryDelayMs, signatures } from "../domain/webhook-payload.js";
import { TtlCache } from "../domain/ttl-cache.js";
import type { GatewayDatabase } from "../store/tables.js";
import { claimDue, deliveryTarget, markDelivered, markFailed, partnerAppSecret, releaseLeases, type ClaimedDelivery } from "../store/webhook-store.js";

export interface DelivererOptions {
  db: Kysely<GatewayDatabase>;
  log: Logger;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAgeMs: number;
  timeoutMs: number;
  pollMs: number;
  /** Most notifications (entries) in one POST. */
  maxBatch: number;
  /** After being woken with nothing in flight, wait this long so a burst goes out as few POSTs. */
  lingerMs: number;
  /** Most POSTs in flight at once (over all receivers). */
  maxInFlight: number;
  /** A WABA's delivery target is remembered this long, ms (a subscription change in this process forgets it at once). */
  targetCacheMs?: number;
}

export interface Deliverer {
  start(): void;
  /** New work was queued: look now instead of at the next poll. */
  wake(): void;
  /** Subscriptions changed: targets are read again. */
  forgetTargets(): void;
  stop(): Promise<void>;
}

/**
 * Sends the webhook queue. Leased rows are grouped per WABA into POSTs of up
 * to `maxBatch` notifications (entries in queue order; X-Kontor-Event-Id lists
 * their event ids), each POST with its exact bytes and signature. A 2xx marks
 * its rows delivered; anything else (or no answer) schedules their retry with
 * exponential backoff until WEBHOOK_MAX_AGE_MS, then dead-letters them. Claims
 * go on while POSTs are in flight (a key with a row in flight is not leased
 * again), so one slow receiver does not hold up the others. The queue is in
 * PostgreSQL, so nothing is lost when the gateway or the receiver restarts.
 */
export function createDeliverer(o: DelivererOptions): Deliverer {
  let running = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let pending = false;
  const inFlight = new Set<AbortController>();
  const posts = new Set<Promise<void>>();
  // A POST is abandoned after timeoutMs; the rest covers its bookkeeping. A replica that died mid-POST frees its rows this late.
  const leaseMs = o.timeoutMs * 2 + 5000;
  // While POSTs are in flight, a claim waits until this many slots are free: under a backlog each freed slot
  // would otherwise cost a claim of its own (a serialized transaction that scans the queue past every key
  // still in flight), and claims, not POSTs, would set the rate.
  const claimRoom = Math.max(1, Math.floor(o.maxInFlight / 4));
  const targets = new TtlCache<Promise<{ url: string; appSecret: string } | undefined>>(o.targetCacheMs ?? 0);
  // Keep-alive connections to the receivers, at most maxInFlight per receiver (as many as POSTs in flight).
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: o.maxInFlight, maxFreeSockets: o.maxInFlight, scheduling: "lifo" });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: o.maxInFlight, maxFreeSockets: o.maxInFlight, scheduling: "lifo" });

  /** Where rows go: a replayed copy's own URL (signed with its partner's secret), else the WABA's subscription. */
  async function targetOf(first: ClaimedDelivery): Promise<{ url: string; appSecret: string } | undefined> {
    if (first.callbackUri === null) {
      let t = targets.get(first.wabaId);
      if (!t) {
        t = deliveryTarget(o.db, first.wabaId);
        targets.set(first.wabaId, t);
        t.catch(() => targets.clear());
      }
      return t;
    }
    const appSecret = await partnerAppSecret(o.db, first.partnerId);
    return appSecret ? { url: first.callbackUri, appSecret } : undefined;
  }

  /** One POST of a WABA's rows (one target); true when the receiver took it. */
  async function post(wabaId: string, rows: ClaimedDelivery[]): Promise<boolean> {
    const target = await targetOf(rows[0]!);
    let error: string;
    if (!target) {
      error = "no callback URL (the WABA is not subscribed, or has no callback)";
    } else {
      // The exact bytes, once: signed and sent as they are (the signatures are over these bytes).
      const body = Buffer.from(mergeNotifications(rows.map((r) => r.body)), "utf8");
      const sig = signatures(body, target.appSecret);
      const abort = new AbortController();
      inFlight.add(abort);
      const timer = setTimeout(() => abort.abort(), o.timeoutMs);
      try {
        const status = await postBytes(target.url, body, {
          "content-type": "application/json",
          "content-length": String(body.length),
          "user-agent": "kontor-gateway (facebookexternalua-compatible)",
          "x-hub-signature-256": sig.sha256,
          "x-hub-signature": sig.sha1,
          "x-kontor-event-id": rows.map((r) => r.eventId).join(","),
          "x-kontor-delivery-attempt": String(Math.max(...rows.map((r) => r.attempts))),
        }, abort.signal);
        if (status >= 200 && status < 300) {
          await markDelivered(o.db, rows.map((r) => r.id));
          return true;
        }
        error = `HTTP ${status}`;
      } catch (err) {
        error = abort.signal.aborted ? "timed out" : (((err as Error).cause as Error | undefined)?.message ?? (err as Error).message);
      } finally {
        clearTimeout(timer);
        inFlight.delete(abort);
      }
    }
    const attempts = Math.max(...rows.map((r) => r.attempts));
    const delay = retryDelayMs(attempts, o.retryBaseMs, o.retryMaxMs);
    const now = Date.now();
    const dead = rows.filter((r) => now - r.createdAt.getTime() + delay > o.maxAgeMs).map((r) => r.id);
    const retry = rows.filter((r) => !dead.includes(r.id)).map((r) => r.id);
    await markFailed(o.db, retry, error, new Date(now + delay));
    await markFailed(o.db, dead, error, undefined);
    o.log[dead.length ? "warn" : "debug"]({ waba_id: wabaId, notifications: rows.length, dead: dead.length, attempt: attempts, error }, dead.length ? "webhooks dead-lettered" : "webhook delivery failed, will retry");
    return false;
  }

  /** Leases what is due and starts its POSTs; returns how many rows it leased. */
  async function pass(): Promise<number> {
    const room = o.maxInFlight - posts.size;
    if (room <= 0) return 0;
    const due = await claimDue(o.db, room * o.maxBatch, leaseMs);
    // A POST goes to one URL: rows are grouped by WABA and, for replayed copies, by their own URL.
    const byWaba = new Map<string, ClaimedDelivery[]>();
    for (const d of due) {
      const key = d.callbackUri === null ? d.wabaId : `${d.wabaId}\u0000${d.callbackUri}`;
      const list = byWaba.get(key) ?? [];
      list.push(d);
      byWaba.set(key, list);
    }
    for (const rows of byWaba.values()) {
      const wabaId = rows[0]!.wabaId;
      // A key's rows stay in one POST (their order is the entries' order), so chunks split between keys only.
      const { posts: chunks, later } = chunksByKey(rows, o.maxBatch);
      // A key's rows beyond one POST wait behind it (leased again once it is delivered).
      await releaseLeases(o.db, later.map((r) => r.id));
      for (const chunk of chunks) {
        const p: Promise<void> = post(wabaId, chunk).then(() => undefined)
          .catch((err: unknown) => o.log.error({ err, waba_id: wabaId }, "webhook delivery bookkeeping failed"))
          .finally(() => {
            posts.delete(p);
            wakeUp?.();
          });
        posts.add(p);
      }
    }
    return due.length;
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (wakeUp = undefined));

  /**
   * One POST over node:http(s) with keep-alive agents (connections to a
   * receiver are reused across POSTs): the answer's status once its body is
   * read. A redirect is an answer like any other non-2xx (never followed).
   */
  function postBytes(url: string, body: Buffer, headers: Record<string, string>, signal: AbortSignal): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const u = new URL(url);
      const https = u.protocol === "https:";
      if (!https && u.protocol !== "http:") return reject(new Error(`unsupported callback URL scheme ${u.protocol}`));
      const req = (https ? httpsRequest : httpRequest)(u, { method: "POST", headers, agent: https ? httpsAgent : httpAgent, signal }, (res: IncomingMessage) => {
        res.on("data", () => undefined);
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  return {
    start() {
      running = true;
      loop = (async () => {
        while (running) {
          if (posts.size > 0 && o.maxInFlight - posts.size < claimRoom) {
            await sleep(o.pollMs);
            continue;
          }
          let n = 0;
          try {
            pending = false;
            n = await pass();
          } catch (err) {
            o.log.warn({ err: { message: (err as Error).message } }, "webhook pass failed");
          }
          if (!running) break;
          if ((n > 0 || pending) && posts.size < o.maxInFlight) continue;
          // Idle or full: wait for new work, a finished POST, or the poll.
          await sleep(o.pollMs);
          if (pending && posts.size === 0 && o.lingerMs > 0) await new Promise((r) => setTimeout(r, o.lingerMs));
        }
        await Promise.all(posts);
      })();
    },
    wake() {
      pending = true;
      wakeUp?.();
    },
    forgetTargets() {
      targets.clear();
    },
    async stop() {
      running = false;
      wakeUp?.();
      for (const a of inFlight) a.abort();
      await loop;
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * Splits a WABA's leased rows (in queue order) into POSTs of at most `max`
 * rows without splitting an order key; a key with more rows than `max` gets a
 * POST of its first `max` and the rest are `later` (two POSTs of one key are
 * never in flight at once, so its order holds).
 */
export function chunksByKey<T extends { orderKey: string }>(rows: readonly T[], max: number): { posts: T[][]; later: T[] } {
  const byKey = new Map<string, T[]>();
  for (const r of rows) {
    const list = byKey.get(r.orderKey) ?? [];
    list.push(r);
    byKey.set(r.orderKey, list);
  }
  const posts: T[][] = [];
  const later: T[] = [];
  let current: T[] = [];
  for (const list of byKey.values()) {
    if (list.length > max) {
      posts.push(list.slice(0, max));
      later.push(...list.slice(max));
      continue;
    }
    if (current.length + list.length > max) {
      posts.push(current);
      current = [];
    }
    current.push(...list);
  }
  if (current.length) posts.push(current);
  return { posts, later };
}

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/** A consumer no client has pulled from for this long is deleted by NATS (replicas that are gone). */
export const ABANDONED_AFTER_MS = 24 * 3600 * 1000;

/**
 * A durable consumer name of this replica's own, for events every replica
 * must see (a shared durable hands each event to one of them), fresh per
 * process: a new consumer starts at the stream's first message, so a replica
 * that starts (or restarts) replays every such event the stream still holds.
 * Names of replicas that are gone expire after ABANDONED_AFTER_MS.
 */
export function replicaDurable(purpose: string): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40);
  return `messaging-${purpose}-${host}-${randomBytes(4).toString("hex")}`;
}

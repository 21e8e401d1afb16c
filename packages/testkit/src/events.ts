import type pg from "pg";
import { domainStream } from "@kontor/service-kit/nats";
import { OUTBOX_TABLE } from "@kontor/service-kit/outbox";
import type { TestEnv } from "./env.js";
import { waitFor } from "./grpc.js";

/**
 * Every message stored on this test file's stream for a domain, optionally
 * only one (unprefixed) subject: for "the event landed exactly once" checks.
 */
export async function streamMessages(env: TestEnv, domain: string, subject?: string): Promise<{ subject: string; data: Uint8Array }[]> {
  const nc = await env.nats();
  const jsm = await nc.jetstreamManager();
  const stream = domainStream(env.natsPrefix, domain).name;
  const info = await jsm.streams.info(stream);
  const out: { subject: string; data: Uint8Array }[] = [];
  if (info.state.messages === 0) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
    if (!msg) continue;
    const unprefixed = msg.subject.slice(env.natsPrefix.length);
    if (!subject || unprefixed === subject) out.push({ subject: unprefixed, data: msg.data });
  }
  return out;
}

/**
 * Waits until a service's outbox is empty: every event it has committed is
 * then stored on its stream (the relay deletes a row only once JetStream has
 * acked all of the row's events). The barrier before counting an event that
 * must have landed exactly once: waiting for the first copy alone would
 * pass before a second one arrives.
 */
export async function outboxDrained(pool: pg.Pool): Promise<void> {
  await waitFor(async () => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${OUTBOX_TABLE}`)).rows[0]!.n === 0);
}

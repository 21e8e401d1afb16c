import { domainStream } from "@kontor/service-kit/nats";
import type { TestEnv } from "./env.js";

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

import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "nats";
import { createLogger } from "./log.js";
import { startConsumer, type ConsumerSpec } from "./nats.js";

// Against the machine's real nats-server (the testkit depends on this package, so it is used directly).
let nc: NatsConnection;
const tag = `kitpoll${randomUUID().slice(0, 8)}`;
const log = createLogger("kit-test", "silent");

beforeAll(async () => {
  nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
});
afterAll(async () => {
  const jsm = await nc.jetstreamManager();
  for await (const s of jsm.streams.list()) if (s.config.name.startsWith(tag.toUpperCase())) await jsm.streams.delete(s.config.name);
  await nc.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(20);
  }
}

function streamOf(name: string) {
  return { name: `${tag}_${name}`.toUpperCase(), subjects: [`${tag}.${name}.>`] };
}

/** Starts a consumer whose handler records each event's number and when it ran. */
async function consumer(name: string, spec: Partial<ConsumerSpec<number>>, handle: ConsumerSpec<number>["handle"], backlog = 0) {
  const stream = streamOf(name);
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream.name, subjects: stream.subjects });
  const js = nc.jetstream();
  const publish = (n: number) => js.publish(`${tag}.${name}.e`, new TextEncoder().encode(String(n)));
  await Promise.all(Array.from({ length: backlog }, (_, i) => publish(i)));
  const running = await startConsumer<number>(nc, { durable: `${name}-c`, stream, filterSubject: `${tag}.${name}.>`, decode: (d) => Number(new TextDecoder().decode(d)), handle, ...spec }, log);
  const pending = async () => {
    const info = await jsm.consumers.info(stream.name, `${name}-c`);
    return { pending: info.num_pending, unacked: info.num_ack_pending };
  };
  return { running, publish, pending };
}

/** Handled events grouped by time: a new group starts after a gap of more than `gapMs`. */
function groups(times: number[], gapMs: number): number {
  return times.reduce((n, t, i) => (i > 0 && t - times[i - 1]! > gapMs ? n + 1 : n), times.length > 0 ? 1 : 0);
}

describe("a consumer read in bursts (pollMs)", () => {
  it("when a backlog is larger than a batch, then every event is handled once and acked, full batches read on without waiting", async () => {
    const seen: number[] = [];
    // A poll a minute: only reading on after full batches can drain the 300 stored events in time.
    const c = await consumer("backlog", { batch: 64, pollMs: 60_000 }, async (n) => (seen.push(n), "ack"), 300);
    await waitFor(() => seen.length >= 300);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // Acks are sent after the handler returns: wait until the server has them all.
    let left = await c.pending();
    for (let i = 0; i < 100 && (left.pending > 0 || left.unacked > 0); i++) left = (await sleep(50), await c.pending());
    expect(left).toEqual({ pending: 0, unacked: 0 });
    await c.running.stop();
  });

  it("when events come one by one, then they are handled in a few bursts, not as each is stored", async () => {
    const times: number[] = [];
    const c = await consumer("bursts", { batch: 512, pollMs: 400 }, async () => (times.push(performance.now()), "ack"));
    for (let i = 0; i < 20; i++) {
      await c.publish(i);
      await sleep(25);
    }
    await waitFor(() => times.length >= 20);
    // Taken as stored, 20 events 25 ms apart are 20 groups; read every 400 ms, a handful.
    expect(groups(times, 10)).toBeLessThanOrEqual(8);
    await c.running.stop();
  });

  it("when a whole burst fails and nothing new is stored, then its redeliveries come back as a burst, not one a poll", async () => {
    const seen = new Set<number>();
    const failedOnce = new Set<number>();
    // A poll every 4 s: one redelivery a poll would take minutes for 40 events.
    const c = await consumer("redeliver", { batch: 64, pollMs: 4000 }, async (n) => {
      if (!failedOnce.has(n)) {
        failedOnce.add(n);
        throw new Error("store down");
      }
      seen.add(n);
      return "ack";
    }, 40);
    await waitFor(() => seen.size >= 40, 30_000);
    expect(failedOnce.size).toBe(40);
    await c.running.stop();
  });

  it("when the handler fails once, then the event comes back and is handled; stop() returns while a fetch waits on an empty stream", async () => {
    const seen: number[] = [];
    let failed = false;
    const c = await consumer("retry", { batch: 16, pollMs: 100 }, async (n) => {
      if (n === 3 && !failed) {
        failed = true;
        throw new Error("transient");
      }
      seen.push(n);
      return "ack";
    });
    for (let i = 0; i < 6; i++) await c.publish(i);
    await waitFor(() => seen.length >= 6);
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(failed).toBe(true);
    const t = performance.now();
    await c.running.stop();
    expect(performance.now() - t).toBeLessThan(10_000);
  });
});

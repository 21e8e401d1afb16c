import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import type pg from "pg";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";
import { createDb, createPool, migrateToLatest } from "@kontor/service-kit/db";
import { migrations } from "../src/store/migrations/index.js";
import { createSendWriter, type Gates, type SendItem, type SendWriter } from "../src/store/send-writer.js";

// The group commit writer alone: on the pipeline-mode pool the service gives
// it, and on a plain pool, where it sends one statement at a time.
let env: TestEnv;
let db: ReturnType<typeof createDb<unknown>>;
const pools: pg.Pool[] = [];
const writers = new Map<string, SendWriter>();

beforeAll(async () => {
  env = await createTestEnv();
  db = createDb<unknown>({ url: env.databaseUrl, schema: "messaging", max: 2 });
  await migrateToLatest(db.db, "messaging", migrations);
  for (const pipeline of [true, false]) {
    const pool = createPool({ url: env.databaseUrl, schema: "messaging", max: 4, pipeline });
    pools.push(pool);
    // These cases exercise the two-round-trip path's lock chain and redo; the one-round-trip path has its own below.
    writers.set(pipeline ? "pipelined" : "plain", createSendWriter(pool, "messaging", { rememberConversations: false }));
  }
});

afterAll(async () => {
  for (const pool of pools) await pool.end();
  await db?.db.destroy();
  await env?.cleanup();
});

let n = 0;
const item = (customerId: string, clientMessageId = `k${++n}`): SendItem => ({
  id: `wamid.test_${customerId}_${clientMessageId}`,
  senderKey: "b_pn_w",
  recipientKey: `c_${customerId}`,
  businessId: "biz_w",
  phoneNumberId: "pn_w",
  customerId,
  clientMessageId,
  contentType: 1,
  keyId: 1,
  body: Buffer.from("sealed"),
  echo: false,
  policy: 0,
});
const noEvents = () => [];

/** Gates as the service chains them: `next` waits for `first`'s locks. */
function chained(): { first: Gates; next: Gates } {
  let conv!: () => void;
  let inbox!: () => void;
  const convLocked = new Promise<void>((r) => (conv = r));
  const inboxLocked = new Promise<void>((r) => (inbox = r));
  const open = Promise.resolve();
  return {
    first: { beforeConversations: open, conversationsLocked: conv, beforeInbox: open, inboxLocked: inbox },
    next: { beforeConversations: convLocked, conversationsLocked: () => undefined, beforeInbox: inboxLocked, inboxLocked: () => undefined },
  };
}

describe.each(["pipelined", "plain"])("send writer on a %s pool", (kind) => {
  it("when a batch holding a retry is redone while the next batch waits on its conversation, then both commit (no deadlock) and the numbers have no gap", async () => {
    const writer = writers.get(kind)!;
    const customerId = `cust_${kind}`;
    const stored = item(customerId, "once");
    await writer.write([stored], noEvents);
    const gates = chained();
    // Whether the first batch has handed the next one its gates (it must before redoing).
    let handedOver = false;
    const first: Gates = { ...gates.first, inboxLocked: () => ((handedOver = true), gates.first.inboxLocked()) };
    // Another transaction holds the recipient's inbox row, so the first batch's insert waits
    // there, holding the conversation, until the second batch queues on that conversation.
    const blocker = await db.pool.connect();
    // If anything is left stuck, free it so the file's cleanup does not wait on it too.
    onTestFailed(async () => {
      await db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    });
    await blocker.query("BEGIN");
    const blockerPid = (await blocker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    await blocker.query("SELECT 1 FROM inbox WHERE participant = $1 FOR UPDATE", [`c_${customerId}`]);
    // The first batch's insert then meets the stored copy and is rolled back and redone; the
    // second batch takes the conversation meanwhile and must not wait for the first.
    const both = Promise.all([
      writer.write([item(customerId, "once"), item(customerId)], noEvents, first),
      writer.write([item(customerId), item(customerId)], noEvents, gates.next),
    ]);
    const lockWaits = async () =>
      (await db.pool.query<{ pid: number; blockers: number[] }>("SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows;
    // Each batch's backend: the first waits for the blocker's row, the next for the first's conversation.
    const [firstPid, nextPid] = await waitFor(async () => {
      const rows = await lockWaits();
      const f = rows.find((r) => r.blockers.includes(blockerPid));
      const n = f && rows.find((r) => r.blockers.includes(f.pid));
      return f && n ? [f.pid, n.pid] : undefined;
    });
    await blocker.query("COMMIT");
    blocker.release();
    // A hang is a state, not a time: the first batch waiting for the next one's locks while
    // it still holds the next one's gate closed (the next then waits for it forever).
    let settled = false;
    const outcome = both.finally(() => (settled = true));
    const hang = async () => {
      while (!settled) {
        const rows = await lockWaits();
        if (!handedOver && rows.some((r) => r.pid === firstPid && r.blockers.includes(nextPid))) {
          throw new Error("the two batches wait for each other: the redo for the next batch's conversation, the next batch for the first's gate");
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const [a, b] = await Promise.race([outcome, hang().then(() => outcome)]);
    expect(a.results.map((r) => r.duplicate)).toEqual([true, false]);
    expect(b.results.map((r) => r.duplicate)).toEqual([false, false]);
    const seqs = [...a.results, ...b.results].map((r) => r.seq).sort((x, y) => x - y);
    expect(seqs).toEqual([1, 2, 3, 4]);
    const rows = await db.pool.query<{ seq: string }>("SELECT seq FROM message WHERE conversation_id = $1 ORDER BY seq", [a.results[0]!.conversationId]);
    expect(rows.rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4]);
  });
});

describe("one round trip for remembered conversations", () => {
  it("when a replica remembers a conversation, then its next batches commit in one round trip, a number another replica moved on falls back, and the numbers have no gap", async () => {
    const a = createSendWriter(pools[0]!, "messaging");
    const b = createSendWriter(pools[1]!, "messaging"); // another replica
    const customerId = "cust_remembered";
    const seqOf = async (w: SendWriter, count: number) => (await w.write(Array.from({ length: count }, () => item(customerId)), noEvents)).results.map((r) => r.seq);
    expect(await seqOf(a, 1)).toEqual([1]);
    expect(a.counts).toMatchObject({ oneRoundTrip: 0, twoRoundTrips: 1 });
    expect(await seqOf(a, 2)).toEqual([2, 3]);
    expect(a.counts).toMatchObject({ oneRoundTrip: 1, twoRoundTrips: 1 });
    // The other replica writes to the same conversation: a's memory is stale.
    expect(await seqOf(b, 1)).toEqual([4]);
    expect(await seqOf(a, 1)).toEqual([5]);
    expect(a.counts).toMatchObject({ oneRoundTrip: 1, twoRoundTrips: 2, stale: 1 });
    expect(await seqOf(a, 1)).toEqual([6]);
    expect(a.counts.oneRoundTrip).toBe(2);

    // Two batches in flight on it, chained as the service chains them: numbers in dispatch order.
    const gates = chained();
    const [first, next] = await Promise.all([
      a.write([item(customerId), item(customerId)], noEvents, gates.first),
      a.write([item(customerId), item(customerId)], noEvents, gates.next),
    ]);
    expect(first.results.map((r) => r.seq)).toEqual([7, 8]);
    expect(next.results.map((r) => r.seq)).toEqual([9, 10]);
    expect(a.counts, JSON.stringify(a.counts)).toMatchObject({ oneRoundTrip: 4 });
    const rows = await db.pool.query<{ seq: string }>("SELECT m.seq FROM message m JOIN conversation c ON c.id = m.conversation_id WHERE c.customer_id = $1 ORDER BY m.seq", [customerId]);
    expect(rows.rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    const conv = await db.pool.query<{ last_seq: string }>("SELECT last_seq FROM conversation WHERE customer_id = $1", [customerId]);
    expect(Number(conv.rows[0]!.last_seq)).toBe(10);

    // A retry inside a batch (a stored id) is redone in two round trips, and still numbers without a gap.
    const again = item(customerId, "twice");
    await a.write([again], noEvents);
    const redo = await a.write([item(customerId, "twice"), item(customerId)], noEvents);
    expect(redo.results.map((r) => [r.duplicate, r.seq])).toEqual([[true, 11], [false, 12]]);
  });
});

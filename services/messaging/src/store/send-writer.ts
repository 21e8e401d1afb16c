import { randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import type pg from "pg";
import { encodeOutboxBatch, outboxChannel, OUTBOX_TABLE, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { EventBuilder, Gates, OpenedConversation, SendItem, Stored, WindowRows } from "../domain/send-service.js";
import { WINDOW_DURATIONS } from "../domain/send-policy.js";
import { POLICY } from "../domain/policy/pricing.js";
import { toWindows, type WindowRow } from "./policy-store.js";

// The group commit's contract is the send path's port (domain/send-service.ts).
export type { EventBuilder, Gates, OpenedConversation, SendItem, Stored, WindowRows };

const STATUS_SENT = 2;
// send_batch_check()'s codes (migration 2026_11_24_090000).
const INBOX_MISSING = "KR001";
const RETRIED = "KR002";
// send_batch_seq_check() (migration 2026_12_05_220000): a remembered conversation number was stale.
const STALE = "KR003";
const RETRYABLE = new Set(["40P01", "40001", "23505", INBOX_MISSING, RETRIED, STALE]);
/** Conversations whose last number this replica remembers (the one-round-trip commit). */
const REMEMBERED_CONVERSATIONS = 200_000;
const ignore = () => undefined;

// Prepared statements (named → parsed and planned once per connection). Kysely
// is not used on this path: building and compiling the query per batch costs
// more than the insert.
const UPSERT_CONVERSATIONS = {
  name: "msg_upsert_conversations",
  text: `INSERT INTO conversation AS c (id, business_id, phone_number_id, customer_id, last_seq, last_activity_at)
    SELECT t.id, t.b, t.p, t.c, t.n, $6 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS t(id, b, p, c, n)
    ON CONFLICT (phone_number_id, customer_id) DO UPDATE SET last_seq = c.last_seq + EXCLUDED.last_seq, last_activity_at = EXCLUDED.last_activity_at
    RETURNING c.id, c.business_id, c.phone_number_id, c.customer_id, c.last_seq, (c.xmax = 0) AS inserted`,
};
const FIND_DUPLICATES = {
  name: "msg_find_duplicates",
  text: `SELECT id, conversation_id, seq, rseq, created_at, status, error_code FROM message WHERE id = ANY($1::text[])`,
};
const FIX_CONVERSATION_SEQ = {
  name: "msg_fix_conversation_seq",
  text: `UPDATE conversation c SET last_seq = d.s FROM unnest($1::uuid[], $2::bigint[]) AS d(id, s) WHERE c.id = d.id`,
};
// The policy's windows (domain/send-policy.ts), updated under the row lock the
// upsert above took, so a window opens once whatever the number of replicas.
// Only pairs whose items carry policy bits (pricing.ts POLICY) are listed:
// inbound messages, template sends, replies that may open a window. $1 is
// the batch's time; every duration is the domain's constant.
const ms = (n: number) => `interval '${n} milliseconds'`;
// Every comparison with a NULL column is coalesced: NULL would turn a whole CASE condition unknown.
const FREE_ENTRY_OPENS = `(d.f & ${POLICY.business} <> 0 AND coalesce(c.referral_reply_by > $1, false) AND NOT coalesce(c.free_entry_until > $1, false))`;
const FREE_ENTRY_OPEN = `(coalesce(c.free_entry_until > $1, false) OR ${FREE_ENTRY_OPENS})`;
const categoryWindow = (column: string, bit: number) =>
  `${column} = CASE WHEN d.f & ${bit} <> 0 AND NOT coalesce(${column} > $1, false) AND NOT ${FREE_ENTRY_OPEN} THEN $1 + ${ms(WINDOW_DURATIONS.conversation)} ELSE ${column} END`;
const UPDATE_WINDOWS = {
  name: "msg_update_windows",
  text: `UPDATE conversation c SET
      last_inbound_at = CASE WHEN d.f & ${POLICY.inbound} <> 0 THEN greatest(c.last_inbound_at, $1) ELSE c.last_inbound_at END,
      referral_reply_by = CASE WHEN d.f & ${POLICY.referral} <> 0 THEN greatest(c.referral_reply_by, $1 + ${ms(WINDOW_DURATIONS.service)})
        WHEN ${FREE_ENTRY_OPENS} THEN NULL ELSE c.referral_reply_by END,
      free_entry_until = CASE WHEN ${FREE_ENTRY_OPENS} THEN $1 + ${ms(WINDOW_DURATIONS.freeEntry)} ELSE c.free_entry_until END,
      ${categoryWindow("service_window_until", POLICY.service)},
      ${categoryWindow("marketing_window_until", POLICY.marketing)},
      ${categoryWindow("utility_window_until", POLICY.utility)},
      ${categoryWindow("authentication_window_until", POLICY.authentication)}
    FROM unnest($2::text[], $3::text[], $4::int[]) AS d(p, cu, f)
    WHERE c.phone_number_id = d.p AND c.customer_id = d.cu
    RETURNING c.phone_number_id, c.customer_id, c.last_inbound_at, c.referral_reply_by, c.free_entry_until,
      c.service_window_until, c.marketing_window_until, c.utility_window_until, c.authentication_window_until`,
};

/** The send path's outbox table (migration 2026_12_05_210000), relayed in handoff mode. */
export const SEND_OUTBOX_TABLE = "send_outbox";

const ENSURE_INBOX = {
  name: "msg_ensure_inbox",
  text: `INSERT INTO inbox (participant) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`,
};
// Array parameters are sent as ready literals and the bodies as one binary
// bytea cut by (offset, length): the driver's per-element escaping and hex
// encoding of bytea[] (twice the bytes on the wire, parsed again by the
// server) cost more CPU on both sides than the rest of the statement's input.
const SAFE = /^[A-Za-z0-9_.:+-]*$/;
function textArray(values: string[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (i > 0) out += ",";
    out += SAFE.test(v) ? `"${v}"` : `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  }
  return out + "}";
}
const numberArray = (values: number[]): string => `{${values.join(",")}}`;

// One statement numbers the recipients' inboxes and stores the batch:
// - inbox rows are locked in participant order (LockRows above Sort), so
//   concurrent batches never deadlock and numbers commit in order;
// - retries are rare: the insert skips ids already stored; a shortfall (or a
//   recipient without an inbox row) raises in send_batch_check(), which aborts
//   the transaction before the COMMIT pipelined behind it, and the batch is
//   redone with a lookup (or after adding the inbox rows).
// - the commit's events go into the kit's outbox as one row, and the NOTIFY
//   wakes its relay: the same row and channel enqueue() writes.
function insertMessages(channel: string, echo: boolean, handoff: boolean, fast = false) {
  const literal = `'${channel.replace(/'/g, "''")}'`;
  // Handoff: the events go to the relay in memory after COMMIT; the row (in the send path's own
  // table) is only for recovery, so no NOTIFY. Else the kit's table and a NOTIFY wake its relay.
  const outbox = handoff
    ? `e2 AS (
        INSERT INTO ${SEND_OUTBOX_TABLE} (payload) VALUES ($11) RETURNING id
      )`
    : `e2 AS (
        INSERT INTO ${OUTBOX_TABLE} (payload) VALUES ($11)
      )`;
  const tail = handoff ? "(SELECT id FROM e2)::text AS outbox_id" : `(SELECT pg_notify(${literal}, '')) IS NULL AS notified`;
  // Inbox entries to number: every item's recipient and, in the echo variant,
  // the sender of items that echo (relation e). Both variants lock and bump the
  // inbox rows of `from`'s participant column `p` the same way.
  const lockAndBump = (from: string) => `n AS (
        SELECT p, count(*) AS cnt FROM ${from} GROUP BY p
      ), l AS (
        SELECT participant FROM inbox WHERE participant IN (SELECT p FROM n) ORDER BY participant FOR UPDATE
      ), u AS (
        UPDATE inbox i SET last_seq = i.last_seq + n.cnt FROM n JOIN l ON l.participant = n.p
        WHERE i.participant = n.p
        RETURNING i.participant, i.last_seq - n.cnt AS base
      )`;
  const numbering = echo
    ? `e AS (
        SELECT r AS p, ord, 0 AS side FROM t UNION ALL SELECT se, ord, 1 FROM t WHERE eo
      ), ${lockAndBump("e")}, q AS (
        SELECT e.ord, e.side, u.base + row_number() OVER (PARTITION BY e.p ORDER BY e.ord, e.side) AS num FROM e JOIN u ON u.participant = e.p
      ), x AS (
        SELECT t.*, qr.num AS rseq, qs.num AS srseq FROM t JOIN q qr ON qr.ord = t.ord AND qr.side = 0
          LEFT JOIN q qs ON qs.ord = t.ord AND qs.side = 1
        WHERE NOT t.eo OR qs.num IS NOT NULL
      )`
    : `${lockAndBump("(SELECT r AS p FROM t) AS rt")}, x AS (
        SELECT t.*, u.base + row_number() OVER (PARTITION BY t.r ORDER BY t.ord) AS rseq, NULL::bigint AS srseq FROM t JOIN u ON u.participant = t.r
      )`;
  // The one-round-trip variant (business sends to conversations this replica remembers): the
  // statement itself moves each conversation's last number, before anything else (the check is an
  // init plan of t, so the conversation rows are locked before the inbox rows, as in the
  // two-round-trip path), and raises KR003 unless it moved from what the writer expected. The
  // condition is checked on the row it updated, not in WHERE: a row the batch ahead holds is
  // waited for and then read as that batch committed it, where a WHERE on the old version would
  // skip it.
  const conversations = fast
    ? `cv AS (
        UPDATE conversation c SET last_seq = c.last_seq + d.n, last_activity_at = $10
        FROM unnest($15::uuid[], $16::bigint[], $17::bigint[]) AS d(id, e, n)
        WHERE c.id = d.id
        RETURNING c.last_seq - d.n = d.e AS fresh
      ), ok AS (
        SELECT send_batch_seq_check((SELECT count(*) FROM cv WHERE fresh), $18::int) AS ok
      ), `
    : "";
  return {
    name: `msg_insert_messages${echo ? "_echo" : ""}${handoff ? "_handoff" : ""}${fast ? "_fast" : ""}`,
    text: `WITH ${conversations}t AS (
        SELECT c, s, i, se, r, cm, ct, k, substring($9::bytea FROM bo FOR bl) AS b, ${echo ? "eo" : "false AS eo"}, ord
        FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::smallint[], $8::int[], $12::int[], $13::int[]${echo ? ", $14::bool[]" : ""})
          WITH ORDINALITY AS t(c, s, i, se, r, cm, ct, k, bo, bl${echo ? ", eo" : ""}, ord)${fast ? "\n        WHERE (SELECT ok FROM ok)" : ""}
      ), ${numbering}, m AS (
        INSERT INTO message (conversation_id, seq, id, sender, recipient, rseq, sender_rseq, client_message_id, content_type, key_id, body, status, created_at)
        SELECT x.c, x.s, x.i, x.se, x.r, x.rseq, x.srseq, x.cm, x.ct, x.k, x.b, ${STATUS_SENT}, $10 FROM x
        ON CONFLICT (id, conversation_id) DO NOTHING
        RETURNING 1
      ), ${outbox}
      SELECT x.ord::int AS ord, x.rseq AS rseq, x.srseq AS srseq, ${tail}
      FROM (SELECT send_batch_check((SELECT count(*) FROM x), (SELECT count(*) FROM m), $${echo ? 15 : 14}::int) AS ok) chk LEFT JOIN x ON chk.ok`,
  };
}

/** Whether two items of the batch carry the same client id (the same message id). */
function repeatsClientId(items: readonly SendItem[]): boolean {
  const seen = new Set<string>();
  for (const it of items) {
    if (it.clientMessageId === "") continue;
    if (seen.has(it.id)) return true;
    seen.add(it.id);
  }
  return false;
}

const openGates: Gates = { beforeConversations: Promise.resolve(), conversationsLocked: () => undefined, beforeInbox: Promise.resolve(), inboxLocked: () => undefined };

/** A one-round-trip batch's conversations: ids, the numbers expected, and how many it adds. */
interface Fast {
  ids: string[];
  expected: number[];
  n: number[];
}

interface ConvRow {
  id: string;
  business_id: string;
  phone_number_id: string;
  customer_id: string;
  last_seq: string;
  inserted: boolean;
}

/**
 * Group commit: stores a whole batch in one transaction, whatever its size,
 * in two round trips: BEGIN with the conversation upsert, then one statement
 * that numbers inboxes and inserts messages and events with the COMMIT (plus
 * a lookup only when the batch holds retries). The pool must be in pg's
 * pipeline mode (`createPool({ pipeline: true })`) for the pairs to share a
 * round trip; without it they are sent one after the other (four round
 * trips, as bench:messaging-writer compares). Order of locks: conversations (by pair key)
 * then inboxes (by participant key), so batches from several replicas
 * serialize per conversation and never deadlock. Per-conversation and
 * per-recipient numbers are allocated under those locks, which is what keeps
 * them gap-free and in commit order with any number of replicas.
 */
export function createSendWriter<T extends SendItem = SendItem>(
  pool: pg.Pool,
  schema: string,
  options: {
    trace?: boolean;
    /**
     * Gets each commit's outbox row (id and events) right after COMMIT, in the
     * order the batches were dispatched (the order they took their locks): a
     * relay in handoff mode (kit outbox.ts). Without it the row goes to the
     * kit's outbox table with a NOTIFY, for the runtime's relay.
     */
    handoff?: (rowId: string, events: OutboxEvent[]) => void;
    /** false: every batch takes two round trips (the A/B baseline, SEND_COMMIT=two_round_trips). */
    rememberConversations?: boolean;
  } = {},
) {
  const handoff = options.handoff;
  const insert = insertMessages(outboxChannel(schema), false, handoff !== undefined);
  const insertEcho = insertMessages(outboxChannel(schema), true, handoff !== undefined);
  const insertFast = insertMessages(outboxChannel(schema), false, handoff !== undefined, true);
  let handoffTurn: Promise<void> = Promise.resolve();
  // Each conversation's id and last number as this replica last committed (or reserved) them, by
  // pair key. A batch of business sends to remembered conversations commits in one round trip
  // (BEGIN, the insert that also moves the numbers, COMMIT); a stale entry (another replica
  // wrote, a batch failed) fails that batch into the two-round-trip path, which remembers anew.
  /** Group commits by path: one round trip, two, and one-round-trip attempts that found a stale number. */
  const counts = { oneRoundTrip: 0, twoRoundTrips: 0, stale: 0 };
  const remembered = options.rememberConversations === false ? undefined : new LRUCache<string, { id: string; businessId: string; lastSeq: number }>({ max: REMEMBERED_CONVERSATIONS });

  // Diagnostics (MESSAGING_TRACE_WRITER=1): per-statement timings on stderr every 2 s.
  const trace = options.trace ? new Map<string, { n: number; ms: number; max?: number }>() : undefined;
  if (trace) {
    setInterval(() => {
      process.stderr.write(`writer ${JSON.stringify(Object.fromEntries([...trace].map(([k, v]) => [k, { n: v.n, avg_ms: +(v.ms / v.n).toFixed(3), max_ms: +(v.max ?? 0).toFixed(1) }])))}\n`);
      trace.clear();
    }, 2000).unref();
  }
  const timed = async <R>(name: string, fn: () => Promise<R>): Promise<R> => {
    if (!trace) return fn();
    const t = performance.now();
    try {
      return await fn();
    } finally {
      const e = trace.get(name) ?? { n: 0, ms: 0 };
      const ms = performance.now() - t;
      e.n++;
      e.ms += ms;
      e.max = Math.max(e.max ?? 0, ms);
      trace.set(name, e);
    }
  };

  type Grouped = ReturnType<typeof group>;
  /** The batch's conversations (pairs), in lock order, with their item counts and policy bits. */
  function group(items: T[]) {
    const pairs = new Map<string, { item: T; n: number; flags: number }>();
    let anyFlags = false;
    for (const it of items) {
      const k = `${it.phoneNumberId}\u0000${it.customerId}`;
      const p = pairs.get(k);
      if (p) {
        p.n++;
        p.flags |= it.policy;
      } else pairs.set(k, { item: it, n: 1, flags: it.policy });
      if (it.policy !== 0) anyFlags = true;
    }
    const sorted = [...pairs.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { pairs, sorted, anyFlags };
  }

  /**
   * At dispatch, in dispatch order: a batch of business sends (no policy state to move, no echo,
   * no client id twice) to conversations all remembered here reserves their numbers in memory
   * and will commit in one round trip; any other batch forgets its conversations, which its
   * upsert reads again and its COMMIT remembers.
   */
  function reserve(items: T[], g: Grouped): Fast | undefined {
    if (!remembered) return undefined;
    if (!g.anyFlags && items.every((it) => !it.echo) && !repeatsClientId(items)) {
      const entries = g.sorted.map(([k]) => remembered.get(k));
      if (entries.every((e) => e !== undefined)) {
        const fast: Fast = { ids: [], expected: [], n: [] };
        g.sorted.forEach(([, p], j) => {
          const e = entries[j]!;
          fast.ids.push(e.id);
          fast.expected.push(e.lastSeq);
          fast.n.push(p.n);
          e.lastSeq += p.n;
        });
        return fast;
      }
    }
    forget(g);
    return undefined;
  }
  const forget = (g: Grouped) => {
    for (const [k] of g.sorted) remembered?.delete(k);
  };

  async function attempt(client: pg.PoolClient, items: T[], buildEvents: EventBuilder<T>, lookup: boolean, gates: Gates, g: Grouped, fast: Fast | undefined): Promise<{ results: Stored[]; windows: WindowRows; outbox?: { id: string; events: OutboxEvent[] } }> {
    // BEGIN goes out at once and the upsert behind it (pipeline mode): no round trip of its own.
    // The retry lookup gets a custom plan: a generic one made while the table was small would keep a
    // seq scan as it grows. The other statements keep their generic plans (planning 500-element
    // array constants costs more than it saves).
    const begin = client.query(lookup ? "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan" : "BEGIN");
    begin.catch(ignore); // its failure is the upsert's too, and surfaces there
    // Without pipeline mode each statement waits for the previous answer (pg queues them otherwise, deprecated).
    if (!client.pipeline) await begin;
    const createdAt = new Date();
    if (trace) {
      const e = trace.get("batch_size") ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += items.length; // reported as avg_ms: the average batch size
      trace.set("batch_size", e);
    }
    // The batch's conversations: numbered from memory (one round trip) or upserted first (two).
    const { pairs, sorted, anyFlags } = g;
    try {
      const done = await attemptStatements({ client, items, buildEvents, lookup, gates, begin, createdAt, pairs }, sorted, anyFlags, fast);
      if (fast) counts.oneRoundTrip++;
      else counts.twoRoundTrips++;
      return done;
    } catch (err) {
      if ((err as { code?: string }).code === STALE) counts.stale++;
      // Whatever this batch reserved or read may be wrong now: read these conversations again next time.
      forget(g);
      throw err;
    }
  }

  /** What one attempt at a batch's transaction carries from statement to statement. */
  interface Attempt {
    client: pg.PoolClient;
    items: T[];
    buildEvents: EventBuilder<T>;
    lookup: boolean;
    gates: Gates;
    begin: Promise<unknown>;
    createdAt: Date;
    pairs: Map<string, { item: T; n: number; flags: number }>;
  }

  async function attemptStatements(
    a: Attempt,
    sorted: [string, { item: T; n: number; flags: number }][],
    anyFlags: boolean,
    fast: Fast | undefined,
  ): Promise<{ results: Stored[]; windows: WindowRows; outbox?: { id: string; events: OutboxEvent[] } }> {
    const { client, gates, begin, createdAt } = a;
    if (fast) {
      // The rows as the upsert would have returned them, from memory.
      const rows: ConvRow[] = sorted.map(([, p], j) => ({
        id: fast.ids[j]!,
        business_id: p.item.businessId,
        phone_number_id: p.item.phoneNumberId,
        customer_id: p.item.customerId,
        last_seq: String(fast.expected[j]! + fast.n[j]!),
        inserted: false,
      }));
      return finish(a, { rows }, new Map(), fast);
    }
    await gates.beforeConversations;
    const upsert = client.query<ConvRow>({
      ...UPSERT_CONVERSATIONS,
      values: [
        textArray(sorted.map(() => randomUUID())),
        textArray(sorted.map(([, p]) => p.item.businessId)),
        textArray(sorted.map(([, p]) => p.item.phoneNumberId)),
        textArray(sorted.map(([, p]) => p.item.customerId)),
        numberArray(sorted.map(([, p]) => p.n)),
        createdAt,
      ],
    });
    // The windows go out right behind the upsert (same round trip in pipeline mode), on the rows it locked.
    const flagged = anyFlags ? sorted.filter(([, p]) => p.flags !== 0) : [];
    const sendUpdate = () => {
      const q = client.query<WindowRow>({
        ...UPDATE_WINDOWS,
        values: [createdAt, textArray(flagged.map(([, p]) => p.item.phoneNumberId)), textArray(flagged.map(([, p]) => p.item.customerId)), numberArray(flagged.map(([, p]) => p.flags))],
      });
      q.catch(ignore); // its failure aborts the transaction and surfaces where it is awaited
      return q;
    };
    let update = anyFlags && client.pipeline ? sendUpdate() : undefined;
    const convRes = await timed("A_conv", async () => (await Promise.all([begin, upsert]))[1]);
    if (anyFlags && !update) update = sendUpdate();
    const windows: WindowRows = new Map();
    if (update) for (const r of (await update).rows) windows.set(`${r.phone_number_id}\u0000${r.customer_id}`, toWindows(r));
    gates.conversationsLocked();
    return finish(a, convRes, windows, undefined);
  }

  async function finish(
    a: Attempt,
    convRes: { rows: ConvRow[] },
    windows: WindowRows,
    fast: Fast | undefined,
  ): Promise<{ results: Stored[]; windows: WindowRows; outbox?: { id: string; events: OutboxEvent[] } }> {
    const { client, items, buildEvents, lookup, gates, createdAt, pairs } = a;
    const convs = new Map<string, { row: ConvRow; next: number; reserved: number }>();
    const opened: OpenedConversation<T>[] = [];
    for (const row of convRes.rows) {
      const k = `${row.phone_number_id}\u0000${row.customer_id}`;
      const reserved = pairs.get(k)!.n;
      convs.set(k, { row, next: Number(row.last_seq) - reserved + 1, reserved });
      if (row.inserted) opened.push({ conversationId: row.id, businessId: row.business_id, phoneNumberId: row.phone_number_id, customerId: row.customer_id, first: pairs.get(k)!.item });
    }

    // 2. Retries: ids are MACs of (sender, recipient, client id), so a stored id means "already accepted".
    const results: (Stored | undefined)[] = new Array(items.length);
    const withClientId = items.filter((it) => it.clientMessageId !== "").map((it) => it.id);
    const known = new Map<string, Stored>();
    if (lookup && withClientId.length > 0) {
      const dup = await timed("B_dup", () => client.query<{ id: string; conversation_id: string; seq: string; rseq: string; created_at: Date; status: number; error_code: number }>({
        ...FIND_DUPLICATES,
        values: [withClientId],
      }));
      for (const r of dup.rows) {
        known.set(r.id, { conversationId: r.conversation_id, seq: Number(r.seq), rseq: Number(r.rseq), senderRseq: 0, createdAt: r.created_at, status: r.status, errorCode: r.error_code, duplicate: true });
      }
    }
    const fresh: number[] = [];
    const firstIndex = new Map<string, number>();
    let unused = 0;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      const stored = known.get(it.id);
      if (stored) {
        results[i] = stored;
        unused++;
      } else if (it.clientMessageId !== "" && firstIndex.has(it.id)) {
        results[i] = undefined; // filled from the first copy below
        unused++;
      } else {
        firstIndex.set(it.id, i);
        fresh.push(i);
      }
    }

    // 3. Per-conversation seq (gap-free: fix the reservation when retries were in the batch).
    // Participants whose inbox rows the batch numbers (see ENSURE_INBOX below).
    const numbered = new Set<string>();
    const seqs: number[] = [];
    for (const i of fresh) {
      const it = items[i]!;
      const conv = convs.get(`${it.phoneNumberId}\u0000${it.customerId}`)!;
      seqs.push(conv.next++);
      numbered.add(it.recipientKey);
      if (it.echo) numbered.add(it.senderKey);
    }
    if (unused > 0) {
      const fix = [...convs.values()].filter((c) => c.next - 1 !== Number(c.row.last_seq));
      if (fix.length > 0) await client.query({ ...FIX_CONVERSATION_SEQ, values: [fix.map((c) => c.row.id), fix.map((c) => c.next - 1)] });
    }
    if (fresh.length === 0) {
      await client.query("COMMIT");
      return { results: items.map((it, i) => results[i] ?? results[firstIndex.get(it.id)!] ?? known.get(it.id)!), windows };
    }

    // 4. Inbox numbers, messages and their events: one statement.
    const accepted: { item: T; stored: Stored }[] = [];
    const c: string[] = [], s: number[] = [], id: string[] = [], se: string[] = [], r: string[] = [];
    const cm: string[] = [], ct: number[] = [], k: number[] = [], b: Buffer[] = [], bo: number[] = [], bl: number[] = [], eo: boolean[] = [];
    let offset = 1; // substring() counts from 1
    fresh.forEach((i, j) => {
      const it = items[i]!;
      const conv = convs.get(`${it.phoneNumberId}\u0000${it.customerId}`)!;
      // rseq is filled from the statement's answer below.
      const stored: Stored = { conversationId: conv.row.id, seq: seqs[j]!, rseq: 0, senderRseq: 0, createdAt, status: STATUS_SENT, errorCode: 0, duplicate: false };
      results[i] = stored;
      accepted.push({ item: it, stored });
      c.push(conv.row.id); s.push(stored.seq); id.push(it.id); se.push(it.senderKey); r.push(it.recipientKey);
      cm.push(it.clientMessageId); ct.push(it.contentType); k.push(it.keyId); b.push(it.body);
      bo.push(offset); bl.push(it.body.length); eo.push(it.echo);
      offset += it.body.length;
    });
    const events = buildEvents(accepted, opened, windows);
    // One round trip: this statement takes the conversation locks too, after the batch ahead took its own.
    if (fast) await gates.beforeConversations;
    await gates.beforeInbox;
    // Business sends (the volume) never echo and keep the simpler statement.
    const echo = eo.includes(true);
    const values: unknown[] = [
      textArray(c), numberArray(s), textArray(id), textArray(se), textArray(r), textArray(cm), numberArray(ct), numberArray(k),
      Buffer.concat(b), createdAt, encodeOutboxBatch(events), numberArray(bo), numberArray(bl),
    ];
    if (echo) values.push(`{${eo.join(",")}}`);
    values.push(fresh.length); // what send_batch_check() expects numbered and inserted
    if (fast) values.push(textArray(fast.ids), numberArray(fast.expected), numberArray(fast.n), fast.ids.length);
    // The insert and the COMMIT go out together. When the insert fails (its
    // checks included), the transaction is aborted and the COMMIT answers
    // ROLLBACK: nothing of the batch is stored.
    const inserted = client.query<{ ord: number; rseq: string; srseq: string | null; outbox_id?: string }>({ ...(fast ? insertFast : echo ? insertEcho : insert), values });
    let commit = client.pipeline ? client.query("COMMIT") : undefined;
    commit?.catch(ignore); // awaited on both paths below
    let ins: pg.QueryResult<{ ord: number; rseq: string; srseq: string | null; outbox_id?: string }>;
    try {
      ins = await timed("D_insert", () => inserted);
    } catch (err) {
      const answer = await commit?.catch(ignore);
      // The COMMIT answered ROLLBACK: write() has no transaction left to roll back.
      if (answer) Object.assign(err as object, { ended: true });
      // A participant without an inbox row (created before it existed): write() adds it and redoes the batch.
      if ((err as { code?: string }).code === INBOX_MISSING) Object.assign(err as object, { ensureInbox: [...numbered] });
      throw err;
    }
    if (fast) gates.conversationsLocked();
    gates.inboxLocked();
    for (const row of ins.rows) {
      const st = accepted[row.ord - 1]!.stored;
      st.rseq = Number(row.rseq);
      if (row.srseq !== null) st.senderRseq = Number(row.srseq);
    }
    commit ??= client.query("COMMIT");
    const done = await timed("E_commit", () => commit!);
    if (done.command !== "COMMIT") throw new Error(`the batch's COMMIT answered ${done.command}`);
    if (remembered && !fast) {
      for (const [k, c] of convs) {
        const e = remembered.get(k);
        if (!e || e.lastSeq < c.next - 1) remembered.set(k, { id: c.row.id, businessId: c.row.business_id, lastSeq: c.next - 1 });
      }
    }
    const outboxId = ins.rows[0]?.outbox_id;
    return {
      outbox: outboxId ? { id: outboxId, events } : undefined,
      results: items.map((it, i) => {
        const own = results[i];
        if (own) return own;
        const first = results[firstIndex.get(it.id)!]!;
        return { ...first, duplicate: true };
      }),
      windows,
    };
  }

  return {
    /** Group commits by path (tests, diagnosis). */
    counts,
    /**
     * Stores the batch; resolves once COMMIT returned (synchronous commit:
     * durable). Results are in item order; retries come back with duplicate=true.
     */
    async write(items: T[], buildEvents: EventBuilder<T>, gates: Gates = openGates): Promise<{ results: Stored[]; fresh: { item: T; stored: Stored }[]; windows: WindowRows }> {
      const g = group(items);
      const fast = reserve(items, g);
      const client = await pool.connect().catch((err: unknown) => {
        forget(g);
        gates.conversationsLocked();
        gates.inboxLocked();
        throw err;
      });
      let broken = false;
      // This batch's row goes to the relay after those of the batches dispatched before it.
      const before = handoffTurn;
      let release!: () => void;
      handoffTurn = new Promise<void>((r) => (release = r));
      let committed: { id: string; events: OutboxEvent[] } | undefined;
      try {
        let lookup = false;
        for (let tries = 0; ; tries++) {
          try {
            const { results, windows, outbox } = await timed("T_batch", () => attempt(client, items, buildEvents, lookup, tries === 0 ? gates : openGates, g, tries === 0 ? fast : undefined));
            committed = outbox;
            const fresh = results.map((stored, i) => ({ item: items[i]!, stored })).filter((x) => !x.stored.duplicate);
            return { results, fresh, windows };
          } catch (err) {
            // A failed insert's pipelined COMMIT has already ended the transaction. Otherwise
            // ROLLBACK, queued behind whatever this attempt sent, ends it.
            if (!(err as { ended?: boolean }).ended) {
              await client.query("ROLLBACK").catch(() => {
                broken = true;
              });
            }
            const missing = (err as { ensureInbox?: string[] }).ensureInbox;
            if (missing && !broken) await client.query({ ...ENSURE_INBOX, values: [missing] });
            const code = (err as { code?: string }).code;
            if (broken || !code || !RETRYABLE.has(code) || tries >= 5) throw err;
            // The rollback released this batch's locks, and the next batch may have taken them
            // meanwhile: it must not wait for this one's locks any more, or the redo (which now
            // waits for the next batch's) never ends. The next batch's numbers may then come first.
            gates.conversationsLocked();
            gates.inboxLocked();
            if (code === RETRIED || code === "23505") lookup = true;
          }
        }
      } finally {
        // A failed first attempt must not hold the next batch back.
        gates.conversationsLocked();
        gates.inboxLocked();
        client.release(broken);
        void before.then(() => {
          try {
            if (committed && handoff) handoff(committed.id, committed.events);
          } finally {
            release();
          }
        });
      }
    },
  };
}

export type SendWriter<T extends SendItem = SendItem> = ReturnType<typeof createSendWriter<T>>;

import { randomBytes } from "node:crypto";
import type { NatsConnection, Subscription } from "nats";
import { LiveBatch, type LiveItem } from "@kontor/proto/messaging/v1/live";
import { InboxEvent, type StatusUpdate, type TypingIndicator } from "@kontor/proto/messaging/v1/messaging_service";
import type { Message } from "@kontor/proto/messaging/v1/message";
import type { Logger } from "@kontor/service-kit/log";
import type { InboxReader, LiveFrame } from "../domain/inbox-service.js";
import { liveInterestSubject, liveSubject } from "./subjects.js";
import type { LiveCounts } from "../metrics.js";
import { liveItemsBytes } from "./wire.js";

const NO_ITEMS: readonly LiveFrame[] = [];
const NO_FRAMES: readonly Uint8Array[] = [];

export interface InboxSink {
  /** Writes one StreamInboxResponse made of these encoded InboxEvents. */
  write(frames: Uint8Array[]): void;
  /** Bytes queued and not yet sent (slow consumer check). */
  buffered(): number;
  fail(reason: string): void;
}

const PAGE = 500;
/** A gap in live items usually closes within a millisecond (another replica's publish in flight). */
const GAP_WAIT_MS = 15;
/** A stream this far behind is cut; the client resumes from its cursor (store-and-forward). */
const MAX_BUFFERED = 16 * 1024 * 1024;

export const cursorOf = (rseq: number) => String(rseq);

/** An encoded InboxEvent carrying a message: what live items and backlog rows become. */
export function messageFrame(message: Message, rseq: number): Uint8Array {
  return InboxEvent.encode({ event: { $case: "message", value: { message, cursor: cursorOf(rseq) } } }).finish();
}

/**
 * One StreamInbox. It subscribes before it reads the backlog, buffers live
 * items meanwhile, and afterwards writes messages strictly in inbox order
 * without gaps: anything at or below the last written number is a duplicate
 * and dropped; a hole is filled from PostgreSQL (every number below one that
 * was published is already committed, because inbox numbers are allocated
 * under the inbox row lock and so commit in order).
 */
export class InboxSession {
  private delivered: number;
  private live = false;
  private readonly pending = new Map<number, Uint8Array>();
  private reading = false;
  private gapTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Highest committed inbox number known (from live items or the sweep). */
  private head = 0;

  constructor(
    readonly key: string,
    cursor: number,
    private readonly sink: InboxSink,
    private readonly reader: InboxReader,
    private readonly log: Logger,
    private readonly counts: LiveCounts,
  ) {
    this.delivered = cursor;
  }

  /** Reads the backlog, then switches to live. */
  async start(): Promise<void> {
    await this.catchUp(undefined, "backlog");
    if (this.closed) return;
    this.live = true;
    const events: Uint8Array[] = [];
    this.drainInto(events);
    events.push(InboxEvent.encode({ event: { $case: "caughtUp", value: { cursor: cursorOf(this.delivered) } } }).finish());
    this.emit(events);
    this.checkGap();
  }

  close(): void {
    this.closed = true;
    if (this.gapTimer) clearTimeout(this.gapTimer);
  }

  /** Live items in inbox order and ready InboxEvent frames (statuses, typing) for this participant. */
  onLive(items: readonly LiveFrame[], frames: readonly Uint8Array[]): void {
    if (this.closed) return;
    const events: Uint8Array[] = frames.length > 0 ? [...frames] : [];
    for (const it of items) {
      const n = it.rseq;
      if (n > this.head) this.head = n;
      if (n <= this.delivered) continue;
      this.pending.set(n, it.frame);
    }
    if (this.live) this.drainInto(events);
    this.emit(events);
    if (this.live) this.checkGap();
  }

  /** The sweep found this participant's committed head. */
  onHead(head: number): void {
    if (head > this.head) this.head = head;
    if (this.live) this.checkGap();
  }

  private drainInto(events: Uint8Array[]): void {
    for (;;) {
      const next = this.delivered + 1;
      const frame = this.pending.get(next);
      if (!frame) return;
      this.pending.delete(next);
      this.delivered = next;
      events.push(frame);
    }
  }

  private emit(events: Uint8Array[]): void {
    if (events.length === 0 || this.closed) return;
    this.sink.write(events);
    if (this.sink.buffered() > MAX_BUFFERED) {
      this.counts.cut++;
      this.close();
      this.sink.fail("the inbox stream fell too far behind; resume from the last cursor");
    }
  }

  private checkGap(): void {
    if (this.closed || this.reading || this.gapTimer) return;
    const behind = this.pending.size > 0 || this.head > this.delivered;
    if (!behind) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.pending.size === 0 && this.head <= this.delivered) return;
      let lowest = Infinity;
      for (const n of this.pending.keys()) if (n < lowest) lowest = n;
      // Up to (not including) the lowest buffered item, or everything up to the known head.
      const before = lowest === Infinity ? this.head + 1 : lowest;
      if (before <= this.delivered + 1) {
        this.drainAndEmit();
        return;
      }
      void this.catchUp(before, "repaired").then(() => this.drainAndEmit());
    }, GAP_WAIT_MS);
  }

  private drainAndEmit(): void {
    const events: Uint8Array[] = [];
    this.drainInto(events);
    this.emit(events);
    this.checkGap();
  }

  /**
   * Reads committed rows after `delivered` (below `before`) and writes them:
   * the backlog at the start, or what live delivery missed.
   */
  private async catchUp(before: number | undefined, counted: "backlog" | "repaired"): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      for (;;) {
        if (this.closed) return;
        const rows = await this.reader.read(this.key, this.delivered, before, PAGE);
        const events: Uint8Array[] = [];
        for (const r of rows) {
          if (r.rseq !== this.delivered + 1) {
            // Inbox numbers are gap-free once committed; anything else is a bug worth knowing about.
            if (r.rseq <= this.delivered) continue;
            this.log.error({ participant: this.key, expected: this.delivered + 1, got: r.rseq }, "inbox sequence gap in the database");
          }
          this.delivered = r.rseq;
          this.pending.delete(r.rseq);
          events.push(messageFrame(r.message, r.rseq));
        }
        this.counts[counted] += events.length;
        this.emit(events);
        if (rows.length < PAGE) return;
      }
    } catch (err) {
      this.log.warn({ participant: this.key, err: { message: (err as Error).message } }, "inbox read failed");
      this.close();
      this.sink.fail("inbox read failed; resume from the last cursor");
    } finally {
      this.reading = false;
    }
  }
}

/** The InboxEvent frames of a LiveBatch's statuses and typing indicator. */
function controlFrames(statuses: StatusUpdate[], typing: TypingIndicator | undefined): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (const s of statuses) frames.push(InboxEvent.encode({ event: { $case: "status", value: s } }).finish());
  if (typing) frames.push(InboxEvent.encode({ event: { $case: "typing", value: typing } }).finish());
  return frames;
}

/** Participants are grouped into this many shards for the replicas' interest maps (a 512-byte bitmap). */
export const INTEREST_SHARDS = 4096;
const BITMAP_BYTES = INTEREST_SHARDS / 8;
const ID_BYTES = 8;
const ANNOUNCE = 0;
const QUERY = 1;

/** FNV-1a over the key's UTF-16 units: every replica must compute the same shard. */
export function interestShard(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % INTEREST_SHARDS;
}

const hasBit = (bits: Uint8Array, shard: number) => (bits[shard >> 3]! & (1 << (shard & 7))) !== 0;

/**
 * Live delivery for one replica. Sessions of this replica get what it
 * publishes directly; publishes go to the participant's NATS subject only
 * for the sessions of other replicas, and this replica subscribes (one
 * core-NATS subscription per participant with open streams here, any number
 * of devices) for theirs. The connection must be created with noEcho, so a
 * replica never receives its own publishes back.
 *
 * Interest: each replica tells the others which shards of participants it
 * holds streams for (a bitmap of INTEREST_SHARDS bits, announced on change
 * and every `interestMs`, forgotten after three missed announcements), and
 * publishes a participant's items only when another replica holds its shard.
 * A single replica, or recipients nobody streams, cost NATS nothing. Until a
 * replica has heard the others (1.5 announcement periods after start, or
 * their answers to its query) it publishes everything. A shard that becomes
 * interesting here may miss a publish sent before the others heard of it:
 * its new sessions check the committed head once `interestSettleMs` later,
 * and the periodic sweep remains the backstop.
 */
export function createLiveHub(options: { nc: NatsConnection; prefix: string; log: Logger; reader: InboxReader; sweepMs: number; counts: LiveCounts; interestMs?: number; interestSettleMs?: number }) {
  const { nc, prefix, log, reader, counts } = options;
  const interestMs = options.interestMs ?? 2000;
  const settleMs = options.interestSettleMs ?? 100;
  const subs = new Map<string, { sub: Subscription; sessions: Set<InboxSession> }>();
  let sessionCount = 0;

  // This replica's interest: participants subscribed per shard, and the bitmap announced.
  const replicaId = randomBytes(ID_BYTES);
  const localCount = new Uint32Array(INTEREST_SHARDS);
  const announcement = new Uint8Array(1 + ID_BYTES + BITMAP_BYTES);
  announcement.set(replicaId, 1);
  const localBits = announcement.subarray(1 + ID_BYTES);
  // The other replicas' interest, and their union.
  const remote = new Map<string, { bits: Uint8Array; expires: number }>();
  let remoteBits = new Uint8Array(BITMAP_BYTES);
  let warm = false; // heard the others (or waited long enough to have)
  const warmTimer = setTimeout(() => (warm = true), interestMs * 1.5);
  warmTimer.unref();
  const interestSubject = prefix + liveInterestSubject;

  const announce = () => {
    announcement[0] = ANNOUNCE;
    nc.publish(interestSubject, announcement.slice()); // the client queues a reference until its next flush

  };
  const recompute = () => {
    const now = Date.now();
    const union = new Uint8Array(BITMAP_BYTES);
    for (const [id, r] of remote) {
      if (r.expires < now) {
        remote.delete(id);
        continue;
      }
      for (let i = 0; i < BITMAP_BYTES; i++) union[i]! |= r.bits[i]!;
    }
    remoteBits = union;
  };
  const interestSub = nc.subscribe(interestSubject, {
    callback: (err, msg) => {
      const d = msg?.data;
      if (err || !d || d.length !== announcement.length) return;
      if (d[0] === QUERY) {
        announce();
        return;
      }
      remote.set(Buffer.from(d.subarray(1, 1 + ID_BYTES)).toString("hex"), { bits: d.slice(1 + ID_BYTES), expires: Date.now() + 3 * interestMs });
      recompute();
    },
  });
  // Ask the others for their interest now rather than waiting for their next announcement.
  const query = new Uint8Array(announcement.length);
  query[0] = QUERY;
  query.set(replicaId, 1);
  nc.publish(interestSubject, query);
  const heartbeat = setInterval(() => {
    announce();
    recompute();
  }, interestMs);
  heartbeat.unref();
  const othersListen = (key: string) => !warm || hasBit(remoteBits, interestShard(key));
  const publishRemote = (key: string, data: () => Uint8Array) => {
    if (othersListen(key)) nc.publish(prefix + liveSubject(key), data());
    else counts.unpublished++;
  };

  const sweep = setInterval(() => {
    const keys = [...subs.keys()];
    if (keys.length === 0) return;
    reader.heads(keys).then(
      (heads) => {
        for (const [key, head] of heads) for (const s of subs.get(key)?.sessions ?? []) s.onHead(head);
      },
      (err: unknown) => log.warn({ err: { message: (err as Error).message } }, "inbox sweep failed"),
    );
  }, options.sweepMs);
  sweep.unref();

  function deliverLocally(key: string, items: readonly LiveFrame[], frames: readonly Uint8Array[]): void {
    const entry = subs.get(key);
    if (entry) for (const s of entry.sessions) s.onLive(items, frames);
  }

  function publish(key: string, batch: LiveBatch): void {
    deliverLocally(key, NO_ITEMS, controlFrames(batch.statuses, batch.typing));
    publishRemote(key, () => LiveBatch.encode(batch).finish());
  }

  /** A shard just became interesting here: tell the others, and check its participants' heads once they have heard. */
  function shardOpened(shard: number): void {
    localBits[shard >> 3]! |= 1 << (shard & 7);
    announce();
    const t = setTimeout(() => {
      const keys = [...subs.keys()].filter((k) => interestShard(k) === shard);
      if (keys.length === 0) return;
      reader.heads(keys).then(
        (heads) => {
          for (const [key, head] of heads) for (const s of subs.get(key)?.sessions ?? []) s.onHead(head);
        },
        (err: unknown) => log.warn({ err: { message: (err as Error).message } }, "inbox head check failed"),
      );
    }, settleMs);
    t.unref();
  }

  return {
    /** What sessions of this replica count (they are built with it). */
    counts,
    /** Open sessions (devices) on this replica. */
    sessions(): number {
      return sessionCount;
    },
    attach(session: InboxSession): void {
      let entry = subs.get(session.key);
      if (!entry) {
        const sessions = new Set<InboxSession>();
        const sub = nc.subscribe(prefix + liveSubject(session.key), {
          callback: (err, msg) => {
            if (err) return;
            let batch: LiveBatch;
            try {
              batch = LiveBatch.decode(msg.data);
            } catch {
              return;
            }
            const items = batch.items.map((it: LiveItem) => {
              const rseq = Number(it.inboxSeq);
              return { rseq, frame: it.event.length > 0 ? it.event : messageFrame(it.message!, rseq) };
            });
            const frames = controlFrames(batch.statuses, batch.typing);
            for (const s of sessions) s.onLive(items, frames);
          },
        });
        entry = { sub, sessions };
        subs.set(session.key, entry);
        const shard = interestShard(session.key);
        if (localCount[shard]!++ === 0) shardOpened(shard);
      }
      if (!entry.sessions.has(session)) sessionCount++;
      entry.sessions.add(session);
    },
    detach(session: InboxSession): void {
      session.close();
      const entry = subs.get(session.key);
      if (!entry) return;
      if (entry.sessions.delete(session)) sessionCount--;
      if (entry.sessions.size === 0) {
        entry.sub.unsubscribe();
        subs.delete(session.key);
        const shard = interestShard(session.key);
        if (--localCount[shard]! === 0) {
          localBits[shard >> 3]! &= ~(1 << (shard & 7));
          announce();
        }
      }
    },
    /** Resolves when the subscriptions (and this replica's announced interest) are known to the server (subscribe-before-read). */
    flush(): Promise<void> {
      return nc.flush();
    },
    /** Whether another replica has announced interest in this participant's shard (or this one has not heard them yet). */
    othersListen,
    /** Status changes of the participant's messages (receipts, failures: low volume). */
    publishStatuses(key: string, statuses: StatusUpdate[]): void {
      if (statuses.length > 0) publish(key, { items: [], statuses, typing: undefined });
    },
    publishTyping(key: string, typing: TypingIndicator): void {
      publish(key, { items: [], statuses: [], typing });
    },
    /** Messages for one recipient, in inbox order (the send path). */
    publishItems(key: string, items: readonly LiveFrame[]): void {
      deliverLocally(key, items, NO_FRAMES);
      publishRemote(key, () => liveItemsBytes(items));
    },
    /**
     * Ready InboxEvent status frames for one participant (the send path's SENT
     * statuses). Their concatenation is a valid LiveBatch: InboxEvent.status and
     * LiveBatch.statuses are both field 2 holding a StatusUpdate.
     */
    publishStatusFrames(key: string, frames: readonly Uint8Array[]): void {
      deliverLocally(key, NO_ITEMS, frames);
      publishRemote(key, () => Buffer.concat(frames));
    },
    stop(): void {
      clearInterval(sweep);
      clearInterval(heartbeat);
      clearTimeout(warmTimer);
      interestSub.unsubscribe();
      for (const entry of subs.values()) {
        for (const s of entry.sessions) s.close();
        entry.sub.unsubscribe();
      }
      subs.clear();
      localCount.fill(0);
      localBits.fill(0);
      // The others forget this replica at once instead of after three periods.
      announce();
      sessionCount = 0;
    },
  };
}

export type LiveHub = ReturnType<typeof createLiveHub>;

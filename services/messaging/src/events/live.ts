import type { NatsConnection, Subscription } from "nats";
import { LiveBatch, type LiveItem } from "@kontor/proto/messaging/v1/live";
import { InboxEvent, type StatusUpdate, type TypingIndicator } from "@kontor/proto/messaging/v1/messaging_service";
import type { Message } from "@kontor/proto/messaging/v1/message";
import type { Logger } from "@kontor/service-kit/log";
import { liveSubject } from "./subjects.js";

/** What a session needs from the store: committed inbox rows, already decrypted. */
export interface InboxReader {
  read(recipientKey: string, after: number, before: number | undefined, limit: number): Promise<{ rseq: number; message: Message }[]>;
  heads(keys: string[]): Promise<Map<string, number>>;
}

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

/** StreamInboxResponse bytes from encoded InboxEvents (field 1, repeated), without decoding them. */
export function responseBytes(frames: Uint8Array[]): Buffer {
  let size = 0;
  for (const f of frames) size += 1 + varintSize(f.length) + f.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const f of frames) {
    out[o++] = 0x0a;
    let n = f.length;
    while (n > 0x7f) {
      out[o++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[o++] = n;
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/**
 * LiveBatch bytes holding only items (field 1: LiveItem{inbox_seq = 2, event = 3}),
 * written directly: the frames are already encoded and need no second copy
 * through the generated encoder. Decodes with LiveBatch.decode.
 */
export function liveItemsBytes(items: { rseq: number; frame: Uint8Array }[]): Buffer {
  let size = 0;
  const itemSizes: number[] = [];
  for (const it of items) {
    const inner = 1 + varintSize(it.rseq) + 1 + varintSize(it.frame.length) + it.frame.length;
    itemSizes.push(inner);
    size += 1 + varintSize(inner) + inner;
  }
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  const varint = (n: number) => {
    while (n > 0x7f) {
      out[o++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    out[o++] = n;
  };
  items.forEach((it, i) => {
    out[o++] = 0x0a;
    varint(itemSizes[i]!);
    out[o++] = 0x10;
    varint(it.rseq);
    out[o++] = 0x1a;
    varint(it.frame.length);
    out.set(it.frame, o);
    o += it.frame.length;
  });
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
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
  ) {
    this.delivered = cursor;
  }

  /** Reads the backlog, then switches to live. */
  async start(): Promise<void> {
    await this.catchUp(undefined);
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

  onLive(items: LiveItem[], statuses: StatusUpdate[], typing: TypingIndicator | undefined): void {
    if (this.closed) return;
    const events: Uint8Array[] = [];
    for (const s of statuses) events.push(InboxEvent.encode({ event: { $case: "status", value: s } }).finish());
    if (typing) events.push(InboxEvent.encode({ event: { $case: "typing", value: typing } }).finish());
    for (const it of items) {
      const n = Number(it.inboxSeq);
      if (n > this.head) this.head = n;
      if (n <= this.delivered) continue;
      if (it.event.length > 0) this.pending.set(n, it.event);
      else if (it.message) this.pending.set(n, messageFrame(it.message, n));
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
      void this.catchUp(before).then(() => this.drainAndEmit());
    }, GAP_WAIT_MS);
  }

  private drainAndEmit(): void {
    const events: Uint8Array[] = [];
    this.drainInto(events);
    this.emit(events);
    this.checkGap();
  }

  /** Reads committed rows after `delivered` (below `before`) and writes them. */
  private async catchUp(before: number | undefined): Promise<void> {
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

/**
 * Live delivery for one replica: one core-NATS subscription per participant
 * with open streams here (any number of devices share it), decoded once and
 * fanned out. Publishing goes through NATS even for local streams, so any
 * replica can serve any participant.
 */
export function createLiveHub(options: { nc: NatsConnection; prefix: string; log: Logger; reader: InboxReader; sweepMs: number }) {
  const { nc, prefix, log, reader } = options;
  const subs = new Map<string, { sub: Subscription; sessions: Set<InboxSession> }>();

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

  return {
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
            for (const s of sessions) s.onLive(batch.items, batch.statuses, batch.typing);
          },
        });
        entry = { sub, sessions };
        subs.set(session.key, entry);
      }
      entry.sessions.add(session);
    },
    detach(session: InboxSession): void {
      session.close();
      const entry = subs.get(session.key);
      if (!entry) return;
      entry.sessions.delete(session);
      if (entry.sessions.size === 0) {
        entry.sub.unsubscribe();
        subs.delete(session.key);
      }
    },
    /** Resolves when the subscriptions are known to the server (subscribe-before-read). */
    flush(): Promise<void> {
      return nc.flush();
    },
    publish(key: string, batch: LiveBatch): void {
      nc.publish(prefix + liveSubject(key), LiveBatch.encode(batch).finish());
    },
    /** Publishes ready LiveBatch bytes (see liveItemsBytes). */
    publishBytes(key: string, bytes: Uint8Array): void {
      nc.publish(prefix + liveSubject(key), bytes);
    },
    stop(): void {
      clearInterval(sweep);
      for (const entry of subs.values()) {
        for (const s of entry.sessions) s.close();
        entry.sub.unsubscribe();
      }
      subs.clear();
    },
  };
}

export type LiveHub = ReturnType<typeof createLiveHub>;

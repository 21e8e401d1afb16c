import { Metadata, type ClientDuplexStream } from "@grpc/grpc-js";
import type { MessagingServiceClient, SendItemResult, SendMessageRequest, SendMessageStreamRequest, SendMessageStreamResponse } from "@kontor/proto/messaging/v1/messaging_service";
import type { SendResult } from "@kontor/proto/messaging/v1/messaging_service";
import type { ServiceFailure } from "../domain/graph-error.js";

/**
 * Cloud API sends go to messaging over long-lived `SendMessageStream` calls,
 * one per partner and business (its token is that pair's, so messaging's own
 * tenant check holds as for a unary call), spread over the send channels.
 *
 * Why not one unary `SendMessage` per send: a unary call is a new HTTP/2
 * stream with its headers, deadline and trailers on both sides; grpc-js spends
 * more on that than on the send itself (gateway BENCHMARKS.md: messaging's
 * CPU per send was 2.5× its direct unary cost behind the gateway's unary
 * calls). A streamed item is one DATA frame each way, and messaging answers
 * the items of one group commit in one frame.
 *
 * A stream lives at most `maxAgeMs` (less than its token's lifetime: messaging
 * authenticates a stream when it opens), then takes no new sends and is
 * half-closed once its last answer arrived; one idle for `idleMs` is closed.
 * An item unanswered after `timeoutMs` fails with DEADLINE_EXCEEDED; a stream
 * that breaks fails its unanswered items with UNAVAILABLE (the caller sees
 * Graph's "try again"; the send may or may not have been stored, as for a
 * unary call that lost its connection).
 */
export interface SendStreamOptions {
  channels: readonly MessagingServiceClient[];
  token(partnerId: string, businessId: string): Promise<string>;
  timeoutMs: number;
  maxAgeMs: number;
  idleMs?: number;
}

type Pending = { resolve: (r: SendResult | undefined) => void; reject: (f: StreamSendFailed) => void; at: number };

/** A streamed item's failure, as the unary call would have failed. */
export class StreamSendFailed extends Error {
  constructor(readonly failure: ServiceFailure) {
    super(failure.message);
    this.name = "StreamSendFailed";
  }
}

const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

function broken(message: string, grpcCode = GRPC_UNAVAILABLE): StreamSendFailed {
  return new StreamSendFailed({ grpcCode, message, reason: "", cloudApiCode: 0, field: "", fieldDescription: "" });
}

/** A SendItemError → the failure the unary call would have raised (same code, reason, Cloud API code, field). */
export function failureOfItem(e: { code: number; message: string; detail?: { reason: string; field: string; cloudApiCode: number; metadata: Record<string, string> } | undefined }): ServiceFailure {
  const field = e.detail?.field || e.detail?.metadata.field || "";
  const prefix = `${field}: `;
  return {
    grpcCode: e.code,
    message: e.message,
    reason: e.detail?.reason ?? "",
    cloudApiCode: e.detail?.cloudApiCode || Number(e.detail?.metadata.cloud_api_code ?? 0) || 0,
    field,
    fieldDescription: field ? (e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message) : "",
  };
}

class SendStream {
  readonly pending = new Map<string, Pending>();
  readonly openedAt = Date.now();
  lastUsed = Date.now();
  retired = false;
  private ended = false;

  constructor(
    private readonly call: ClientDuplexStream<SendMessageStreamRequest, SendMessageStreamResponse>,
    private readonly onGone: (s: SendStream) => void,
  ) {
    call.on("data", (res: SendMessageStreamResponse) => {
      for (const r of res.results) this.settle(r);
      if (this.retired && this.pending.size === 0) this.end();
    });
    // Whatever ends the call (messaging restarting, the connection lost, our own end): nothing more will be answered.
    const gone = (why: string) => {
      this.ended = true;
      this.onGone(this);
      if (this.pending.size === 0) return;
      const failure = broken(`the connection to messaging was lost (${why})`);
      for (const p of this.pending.values()) p.reject(failure);
      this.pending.clear();
    };
    call.on("error", (err: Error) => gone(err.message));
    call.on("end", () => gone("stream ended"));
    call.on("close", () => gone("stream closed"));
  }

  send(ref: string, message: SendMessageRequest): Promise<SendResult | undefined> {
    this.lastUsed = Date.now();
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve, reject, at: this.lastUsed });
      this.call.write({ ref, message });
    });
  }

  private settle(r: SendItemResult): void {
    const p = this.pending.get(r.ref);
    if (!p) return; // timed out meanwhile
    this.pending.delete(r.ref);
    if (r.outcome?.$case === "result") p.resolve(r.outcome.value);
    else if (r.outcome?.$case === "error") p.reject(new StreamSendFailed(failureOfItem(r.outcome.value)));
    else p.reject(broken("messaging answered without an outcome", 13));
  }

  /** Fails the items waiting longer than `timeoutMs`. */
  expire(now: number, timeoutMs: number): void {
    for (const [ref, p] of this.pending) {
      if (now - p.at < timeoutMs) continue;
      this.pending.delete(ref);
      p.reject(broken("messaging did not answer in time", GRPC_DEADLINE_EXCEEDED));
    }
  }

  /** Takes no new sends; half-closes once every answer arrived. */
  retire(): void {
    this.retired = true;
    if (this.pending.size === 0) this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end();
  }

  cancel(): void {
    this.ended = true;
    this.call.cancel();
  }
}

export interface SendStreams {
  send(actingFor: { partnerId: string; businessId: string }, request: SendMessageRequest): Promise<SendResult | undefined>;
  /** Open streams (tests, metrics). */
  readonly open: number;
  close(): void;
}

export function createSendStreams(o: SendStreamOptions): SendStreams {
  const idleMs = o.idleMs ?? 30_000;
  const streams = new Map<string, SendStream>();
  const all = new Set<SendStream>();
  const opening = new Map<string, Promise<SendStream>>();
  let nextChannel = 0;
  let nextRef = 0;

  async function open(key: string, partnerId: string, businessId: string): Promise<SendStream> {
    const token = await o.token(partnerId, businessId);
    const md = new Metadata();
    md.set("authorization", `Bearer ${token}`);
    const channel = o.channels[nextChannel++ % o.channels.length]!;
    const stream = new SendStream(channel.sendMessageStream(md), (s) => {
      all.delete(s);
      if (streams.get(key) === s) streams.delete(key);
    });
    all.add(stream);
    streams.set(key, stream);
    return stream;
  }

  function streamFor(partnerId: string, businessId: string): SendStream | Promise<SendStream> {
    const key = `${partnerId}\u0000${businessId}`;
    const s = streams.get(key);
    if (s && !s.retired) {
      if (Date.now() - s.openedAt < o.maxAgeMs) return s;
      s.retire();
      streams.delete(key);
    }
    let p = opening.get(key);
    if (!p) {
      p = open(key, partnerId, businessId).finally(() => opening.delete(key));
      opening.set(key, p);
    }
    return p;
  }

  // One timer for every stream: item deadlines, retirement of old and idle streams.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const s of all) {
      s.expire(now, o.timeoutMs);
      if (!s.retired && (now - s.openedAt >= o.maxAgeMs || (s.pending.size === 0 && now - s.lastUsed >= idleMs))) {
        for (const [k, v] of streams) if (v === s) streams.delete(k);
        s.retire();
      }
    }
  }, Math.min(1000, Math.max(50, Math.floor(o.timeoutMs / 4))));
  sweep.unref();

  return {
    async send(actingFor, request) {
      const s = streamFor(actingFor.partnerId, actingFor.businessId);
      const stream = s instanceof SendStream ? s : await s;
      return stream.send(String(++nextRef), request);
    },
    get open() {
      return all.size;
    },
    close() {
      clearInterval(sweep);
      for (const s of all) s.cancel();
      all.clear();
      streams.clear();
    },
  };
}

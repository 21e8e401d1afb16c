/**
 * Hand-written protobuf encoders for the few messages written once per sent
 * message (text content, stored body, live frame, status event, live status,
 * send results), and for GetAnalytics's large answer. The generated encoders allocate a writer, fork chains and
 * intermediate objects per call and cost several µs each; these write into
 * one scratch buffer. They produce the same bytes as the generated encoders
 * (field order, defaults omitted), which wire.test.ts checks. Content and
 * context are encoded once (text here, other kinds and the context by the
 * generated code) and spliced in as bytes.
 */

import { Content } from "@kontor/proto/messaging/v1/message";
import { addToHistogram, emptyHistogram, firstResponsesOf, metricSlot, type AnalyticsPointValue, type CountName, type MapName, type PeriodColumns } from "../domain/tools/analytics.js";

let buf = Buffer.allocUnsafe(64 * 1024);
let pos = 0;

function ensure(n: number): void {
  if (pos + n <= buf.length) return;
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n));
  buf.copy(next, 0, 0, pos);
  buf = next;
}

function varint(n: number): void {
  ensure(10);
  if (n < 0) {
    // Negative int32/int64: ten bytes of two's complement, as the generated code writes them.
    let v = BigInt.asUintN(64, BigInt(n));
    while (v > 0x7fn) {
      buf[pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    buf[pos++] = Number(v);
    return;
  }
  while (n > 0x7f) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function str(field: number, s: string): void {
  if (s === "") return;
  varint((field << 3) | 2);
  const n = s.length;
  if (n < 0x80) {
    // Ids and keys are short ASCII: copy the code units, with a one-byte length,
    // and skip two native calls (byteLength, write). Anything else starts over below.
    ensure(n + 1);
    const at = pos;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + 1 + i] = c;
    }
    if (i === n) {
      buf[at] = n;
      pos = at + 1 + n;
      return;
    }
  }
  const len = Buffer.byteLength(s);
  varint(len);
  ensure(len);
  pos += buf.write(s, pos, len, "utf8");
}

function bytes(field: number, b: Uint8Array): void {
  varint((field << 3) | 2);
  varint(b.length);
  ensure(b.length);
  buf.set(b, pos);
  pos += b.length;
}

function num(field: number, n: number): void {
  if (n === 0) return;
  varint(field << 3);
  varint(n);
}

/** Starts a length-delimited field; returns the position of its length byte. */
function fork(field: number): number {
  varint((field << 3) | 2);
  ensure(1);
  return pos++;
}

/** Ends a field started by fork: writes its length (moving the body if it needs more than one byte). */
function join(at: number): void {
  const len = pos - at - 1;
  if (len < 0x80) {
    buf[at] = len;
    return;
  }
  const extra = varintSize(len) - 1;
  ensure(extra);
  buf.copyWithin(at + 1 + extra, at + 1, pos);
  const end = pos + extra;
  pos = at;
  varint(len);
  pos = end;
}

function finish(): Buffer {
  const out = Buffer.allocUnsafe(pos);
  buf.copy(out, 0, 0, pos);
  pos = 0;
  return out;
}

function timestamp(field: number, date: Date): void {
  const ms = date.getTime();
  const at = fork(field);
  num(1, Math.trunc(ms / 1000));
  num(2, (ms % 1000) * 1_000_000);
  join(at);
}

/** Participant from a party key ("c_<customer id>" | "b_<phone number id>"). */
function participant(field: number, key: string): void {
  const at = fork(field);
  const id = key.slice(2);
  // oneof members are written even when empty
  varint(key.startsWith("c_") ? 0x0a : 0x12);
  const len = Buffer.byteLength(id);
  varint(len);
  ensure(len);
  pos += buf.write(id, pos, len, "utf8");
  join(at);
}

/** StoredBody { content = 1; context = 2; biz_opaque_callback_data = 3 } from encoded Content / MessageContext. */
/**
 * A message's content as Content.encode would write it. Text, nearly every
 * message, is written here (the generated writer allocates a chunk per string
 * and costs ~4 µs for a short text); every other kind goes to the generated
 * encoder.
 */
export function contentBytes(content: Content): Uint8Array {
  if (content.kind?.$case !== "text") return Content.encode(content).finish();
  const text = content.kind.value;
  pos = 0;
  const at = fork(1);
  str(1, text.body);
  if (text.previewUrl) {
    varint(2 << 3);
    varint(1);
  }
  join(at);
  return finish();
}

export function storedBodyBytes(content: Uint8Array | undefined, context: Uint8Array | undefined, bizOpaqueCallbackData: string): Buffer {
  pos = 0;
  if (content) bytes(1, content);
  if (context) bytes(2, context);
  str(3, bizOpaqueCallbackData);
  return finish();
}

export interface FrameInput {
  id: string;
  conversationId: string;
  seq: number;
  senderKey: string;
  recipientKey: string;
  content: Uint8Array | undefined;
  context: Uint8Array | undefined;
  bizOpaqueCallbackData: string;
  clientMessageId: string;
  status: number;
  errorCode: number;
  createdAt: Date;
}

function message(field: number, m: FrameInput): void {
  const at = fork(field);
  str(1, m.id);
  str(2, m.conversationId);
  num(3, m.seq);
  participant(4, m.senderKey);
  participant(5, m.recipientKey);
  if (m.content) bytes(6, m.content);
  if (m.context) bytes(7, m.context);
  str(8, m.bizOpaqueCallbackData);
  str(9, m.clientMessageId);
  num(10, m.status);
  num(11, m.errorCode);
  timestamp(12, m.createdAt);
  join(at);
}

/** InboxEvent { message = 1: InboxMessage { message = 1, cursor = 2 } }: a live item's frame. */
export function messageFrameBytes(m: FrameInput, rseq: number): Buffer {
  pos = 0;
  const at = fork(1);
  message(1, m);
  str(2, String(rseq));
  join(at);
  return finish();
}

export interface StatusInput {
  messageId: string;
  conversationId: string;
  seq: number;
  status: number;
  errorCode: number;
  at: Date;
}

/** LiveBatch { statuses = 2: StatusUpdate } holding only statuses. */
export function liveStatusesBytes(statuses: StatusInput[]): Buffer {
  pos = 0;
  for (const s of statuses) {
    const at = fork(2);
    str(1, s.messageId);
    str(2, s.conversationId);
    num(3, s.seq);
    num(4, s.status);
    num(5, s.errorCode);
    timestamp(6, s.at);
    join(at);
  }
  return finish();
}

/**
 * One StatusUpdate as an InboxEvent frame: InboxEvent.status is field 2, as
 * LiveBatch.statuses is, so a one-status LiveBatch is exactly that frame.
 */
export function statusFrameBytes(status: StatusInput): Buffer {
  return liveStatusesBytes([status]);
}

export interface SendResultInput {
  messageId: string;
  conversationId: string;
  seq: number;
  status: number;
  clientMessageId: string;
  duplicate: boolean;
  acceptedAt: Date;
  /** Party key of the recipient ("c_…" | "b_…"). */
  recipientKey: string;
}

function u64(field: number, decimal: string): void {
  const n = Number(decimal);
  if (Number.isSafeInteger(n)) return num(field, n);
  varint(field << 3);
  ensure(10);
  let v = BigInt.asUintN(64, BigInt(decimal));
  while (v > 0x7fn) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
}

function sendResult(field: number, r: SendResultInput): void {
  const at = fork(field);
  str(1, r.messageId);
  str(2, r.conversationId);
  num(3, r.seq);
  num(4, r.status);
  str(5, r.clientMessageId);
  num(6, r.duplicate ? 1 : 0);
  timestamp(7, r.acceptedAt);
  participant(8, r.recipientKey);
  join(at);
}

/**
 * SendItemResult { ref = 1; result = 2: SendResult } for an accepted send (the
 * streaming send's per-item answer). `ref` is the caller's uint64 tag, as
 * ts-proto carries it (a decimal string). It is an argument of its own: a
 * spread copy of the fields per item cost more than the encoding.
 */
export function sendItemResultBytes(ref: string, r: SendResultInput): Buffer {
  pos = 0;
  u64(1, ref);
  sendResult(2, r);
  return finish();
}

/** SendMessageResponse { result = 1: SendResult }: the unary send's answer. */
export function sendMessageResponseBytes(r: SendResultInput): Buffer {
  pos = 0;
  sendResult(1, r);
  return finish();
}

export interface StatusChangedInput extends StatusInput {
  senderKey: string;
  recipientKey: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  bizOpaqueCallbackData: string;
  pricingCategory: string;
  customerE164: string;
  pricingType: string;
  pricingModel: string;
  billable: boolean;
}

/**
 * MessageStatusChanged (the message.status.v1 payload). The event id is an argument of its own, like sendItemResultBytes' ref.
 */
export function statusChangedBytes(e: StatusChangedInput, eventId: string): Buffer {
  pos = 0;
  const meta = fork(1);
  str(1, eventId);
  timestamp(2, e.at);
  str(3, e.businessId);
  join(meta);
  str(2, e.messageId);
  str(3, e.conversationId);
  statusFields(e, NONE);
  return finish();
}

/** The fields a packed event's statuses may share, written once in the enclosing event (EVENTS.md, `statuses`). */
type SharedField = "senderKey" | "recipientKey" | "status" | "errorCode" | "pricingCategory" | "bizOpaqueCallbackData" | "phoneNumberId" | "customerId" | "seq" | "customerE164" | "pricingType" | "pricingModel" | "billable";
const SHAREABLE: readonly SharedField[] = ["senderKey", "recipientKey", "status", "errorCode", "pricingCategory", "bizOpaqueCallbackData", "phoneNumberId", "customerId", "customerE164", "pricingType", "pricingModel", "billable"];
const NONE: ReadonlySet<SharedField> = new Set();

/** Fields 4–16 of MessageStatusChanged, those in `omit` left out (the enclosing event holds them). */
function statusFields(e: StatusChangedInput, omit: ReadonlySet<SharedField>): void {
  if (!omit.has("senderKey")) participant(4, e.senderKey);
  if (!omit.has("recipientKey")) participant(5, e.recipientKey);
  if (!omit.has("status")) num(6, e.status);
  if (!omit.has("errorCode")) num(7, e.errorCode);
  if (!omit.has("pricingCategory")) str(8, e.pricingCategory);
  if (!omit.has("bizOpaqueCallbackData")) str(9, e.bizOpaqueCallbackData);
  if (!omit.has("phoneNumberId")) str(10, e.phoneNumberId);
  if (!omit.has("customerId")) str(11, e.customerId);
  if (!omit.has("seq")) num(12, e.seq);
  if (!omit.has("customerE164")) str(13, e.customerE164);
  if (!omit.has("pricingType")) str(14, e.pricingType);
  if (!omit.has("pricingModel")) str(15, e.pricingModel);
  if (!omit.has("billable") && e.billable) {
    varint((16 << 3) | 0);
    varint(1);
  }
}

/**
 * A MessageStatusChanged holding several statuses (field 17), compact: a
 * field every status shares is written once in the enclosing event and left
 * out of each entry, and an entry carries no meta when its time is the
 * batch's (its event id is then `<message id>:s<status>`). A consumer takes
 * an entry's field when set, else the enclosing event's
 * (`expandStatuses` in the kit). Each entry is an exact-size copy of the
 * scratch buffer, so the event is written once at the end.
 */
export function statusBatchBytes(eventId: string, entries: readonly StatusChangedInput[]): Buffer {
  const first = entries[0]!;
  const shared = new Set<SharedField>();
  for (const f of SHAREABLE) if (entries.every((e) => e[f] === first[f])) shared.add(f);
  const at = first.at.getTime();
  const sameTime = entries.every((e) => e.at.getTime() === at);
  const parts: Buffer[] = [];
  for (const e of entries) {
    pos = 0;
    if (!sameTime) {
      const meta = fork(1);
      str(1, `${e.messageId}:s${e.status}`);
      timestamp(2, e.at);
      join(meta);
    }
    str(2, e.messageId);
    str(3, e.conversationId);
    statusFields(e, shared);
    parts.push(finish());
  }
  pos = 0;
  const m = fork(1);
  str(1, eventId);
  timestamp(2, first.at);
  str(3, first.businessId);
  join(m);
  const unshared = new Set(SHAREABLE.filter((f) => !shared.has(f)));
  unshared.add("seq");
  statusFields(first, unshared);
  const head = pos;
  let size = head;
  for (const s of parts) size += 2 + varintSize(s.length) + s.length;
  const out = Buffer.allocUnsafe(size);
  buf.copy(out, 0, 0, head);
  pos = 0;
  let o = head;
  for (const s of parts) {
    // (17 << 3) | 2 as a varint
    out[o++] = 0x8a;
    out[o++] = 0x01;
    o = putVarint(out, o, s.length);
    out.set(s, o);
    o += s.length;
  }
  return out;
}

/** Writes a varint into `out` at `o`; returns the position after it. For the exact-size encoders below. */
function putVarint(out: Buffer, o: number, n: number): number {
  while (n > 0x7f) {
    out[o++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[o++] = n;
  return o;
}

/**
 * StreamInboxResponse bytes from encoded InboxEvents (field 1, repeated),
 * without decoding them: sized first and written once, because the frames
 * are most of the bytes and the scratch buffer would copy them twice.
 */
export function responseBytes(frames: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const f of frames) size += 1 + varintSize(f.length) + f.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const f of frames) {
    out[o++] = 0x0a;
    o = putVarint(out, o, f.length);
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/**
 * LiveBatch bytes holding only items (field 1: LiveItem{inbox_seq = 2, event = 3})
 * from ready InboxEvent frames, written once like responseBytes. Decodes with LiveBatch.decode.
 */
export function liveItemsBytes(items: readonly { rseq: number; frame: Uint8Array }[]): Buffer {
  let size = 0;
  const itemSizes: number[] = [];
  for (const it of items) {
    const inner = 1 + varintSize(it.rseq) + 1 + varintSize(it.frame.length) + it.frame.length;
    itemSizes.push(inner);
    size += 1 + varintSize(inner) + inner;
  }
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  items.forEach((it, i) => {
    out[o++] = 0x0a;
    o = putVarint(out, o, itemSizes[i]!);
    out[o++] = 0x10;
    o = putVarint(out, o, it.rseq);
    out[o++] = 0x1a;
    o = putVarint(out, o, it.frame.length);
    out.set(it.frame, o);
    o += it.frame.length;
  });
  return out;
}

function dbl(field: number, v: number): void {
  if (v === 0) return;
  varint((field << 3) | 1);
  ensure(8);
  buf.writeDoubleLE(v, pos);
  pos += 8;
}

/** A map<string, int64> field, entry by entry as the generated code writes it (key, then value, defaults omitted). */
function counts(field: number, m: Readonly<Record<string, number>>): void {
  for (const key in m) {
    const at = fork(field);
    str(1, key);
    num(2, m[key]!);
    join(at);
  }
}

/**
 * GetAnalyticsResponse: a 90-day answer holds ~10,000 map entries, which the
 * generated code turns into an object and a writer fork each; written here
 * straight from the counts (no string conversion of every number either).
 */
export function analyticsResponseBytes(points: readonly AnalyticsPointValue[]): Buffer {
  pos = 0;
  for (const p of points) {
    const at = fork(1);
    str(1, p.startDate);
    num(2, p.sent);
    num(3, p.delivered);
    num(4, p.read);
    num(5, p.failed);
    num(6, p.inbound);
    counts(7, p.failedByCode);
    counts(8, p.conversationsByCategory);
    num(9, p.firstResponses);
    dbl(10, p.firstResponseMedianS);
    dbl(11, p.firstResponseP90S);
    counts(12, p.templateSent);
    counts(13, p.templateDelivered);
    counts(14, p.templateRead);
    counts(15, p.templateClicked);
    join(at);
  }
  return finish();
}

/** Where a metric goes in a point (metricSlot), ready to write: a count's index, a map's index and key bytes, or a first-response bucket. */
type Place = { kind: "count"; index: number } | { kind: "map"; index: number; key: Buffer } | { kind: "frt"; bucket: number } | { kind: "none" };

const COUNT_INDEX: Record<CountName, number> = { sent: 0, delivered: 1, read: 2, failed: 3, inbound: 4 };
/** The counts' fields (2–6) and the maps' (7, 8, 12–15) in GetAnalyticsResponse's AnalyticsPoint, in the orders of COUNT_INDEX and MAP_INDEX. */
const COUNT_FIELDS = [2, 3, 4, 5, 6];
const MAP_INDEX: Record<MapName, number> = { failedByCode: 0, conversationsByCategory: 1, templateSent: 2, templateDelivered: 3, templateRead: 4, templateClicked: 5 };
const MAP_FIELDS = [7, 8, 12, 13, 14, 15];

function placeOf(metric: string): Place {
  const slot = metricSlot(metric);
  if (slot === undefined) return { kind: "none" };
  if (slot.to === "frt") return { kind: "frt", bucket: slot.bucket };
  if ("key" in slot) return { kind: "map", index: MAP_INDEX[slot.to], key: Buffer.from(slot.key) };
  return { kind: "count", index: COUNT_INDEX[slot.to] };
}

/** A map<string, int64> entry from the key's bytes, sized up front (no fork and join). */
function entry(field: number, key: Buffer, value: number): void {
  const k = key.length;
  const size = (k > 0 ? 1 + varintSize(k) + k : 0) + (value === 0 ? 0 : value < 0 ? 11 : 1 + varintSize(value));
  varint((field << 3) | 2);
  varint(size);
  if (k > 0) {
    buf[pos++] = 0x0a;
    varint(k);
    ensure(k);
    if (k <= 32) for (let i = 0; i < k; i++) buf[pos + i] = key[i]!;
    else buf.set(key, pos);
    pos += k;
  }
  num(2, value);
}

/**
 * A map's first n entries: those of a key under 120 bytes and a count under
 * 2^28 (all in practice) written with one-byte lengths and no bounds check
 * of their own (the room for all is made first), any other by entry().
 */
function entries(field: number, keys: readonly Buffer[], values: readonly number[], n: number): void {
  let room = 0;
  for (let i = 0; i < n; i++) room += 19 + keys[i]!.length;
  ensure(room);
  const tag = (field << 3) | 2;
  let b = buf;
  let p = pos;
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
    const k = key.length;
    let v = values[i]!;
    if (k >= 120 || !(v >= 0 && v < 268_435_456) || v !== Math.floor(v)) {
      pos = p;
      entry(field, key, v);
      p = pos;
      b = buf; // (entry() stays within the room made, but would see to its own if not)
      continue;
    }
    b[p++] = tag;
    b[p++] = (k > 0 ? 2 + k : 0) + (v === 0 ? 0 : v < 0x80 ? 2 : v < 0x4000 ? 3 : v < 0x200000 ? 4 : 5);
    if (k > 0) {
      b[p++] = 0x0a;
      b[p++] = k;
      for (let j = 0; j < k; j++) b[p + j] = key[j]!;
      p += k;
    }
    if (v !== 0) {
      b[p++] = 0x10;
      while (v > 0x7f) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[p++] = v;
    }
  }
  pos = p;
}

/**
 * GetAnalyticsResponse straight from the periods' counts as the store reads
 * them (metric names and counts as two columns), without building the
 * points: the same answer as analyticsResponseBytes of pointOf's points, by
 * the same slots (metricSlot). Each metric name is looked up once per call,
 * each names column once per run of periods sharing it: a 90-day answer has
 * ~10,000 counts but ~110 names.
 */
export function analyticsPeriodsBytes(periods: readonly PeriodColumns[]): Buffer {
  writeAnalytics(periods);
  return finish();
}

/**
 * The same bytes as analyticsPeriodsBytes, as a view of the scratch buffer,
 * valid only until the next encoder here runs: for a serializer whose caller
 * copies the bytes before anything else runs (grpc-js copies a response
 * into its frame as soon as serialize returns). Saves allocating and
 * copying ~190 KB per 90-day answer, which would be copied again anyway.
 */
export function analyticsPeriodsView(periods: readonly PeriodColumns[]): Buffer {
  writeAnalytics(periods);
  const view = buf.subarray(0, pos);
  pos = 0;
  return view;
}

function writeAnalytics(periods: readonly PeriodColumns[]): void {
  const byName = new Map<string, Place>();
  let metrics: readonly string[] | undefined;
  let places: Place[] = [];
  const counts = [0, 0, 0, 0, 0];
  const keys: Buffer[][] = MAP_FIELDS.map(() => []);
  const values: number[][] = MAP_FIELDS.map(() => []);
  const filled = MAP_FIELDS.map(() => 0);
  pos = 0;
  for (const period of periods) {
    if (period.metrics !== metrics) {
      metrics = period.metrics;
      places = metrics.map((metric) => {
        let place = byName.get(metric);
        if (place === undefined) byName.set(metric, (place = placeOf(metric)));
        return place;
      });
    }
    const counted = period.values;
    if (counted.length !== places.length) {
      pos = 0;
      throw new Error(`analytics: period ${period.start} has ${places.length} metrics but ${counted.length} counts`);
    }
    counts.fill(0);
    filled.fill(0);
    const histogram = emptyHistogram();
    for (let i = 0; i < counted.length; i++) {
      const place = places[i]!;
      const value = counted[i]!;
      if (place.kind === "map") {
        const m = place.index;
        keys[m]![filled[m]!] = place.key;
        values[m]![filled[m]!] = value;
        filled[m]!++;
      } else if (place.kind === "count") counts[place.index]! += value;
      else if (place.kind === "frt") addToHistogram(histogram, place.bucket, value);
    }
    const frt = firstResponsesOf(histogram);
    const at = fork(1);
    str(1, period.start);
    for (let c = 0; c < 5; c++) num(COUNT_FIELDS[c]!, counts[c]!);
    for (let m = 0; m < 6; m++) {
      if (m === 2) {
        num(9, frt.firstResponses);
        dbl(10, frt.firstResponseMedianS);
        dbl(11, frt.firstResponseP90S);
      }
      entries(MAP_FIELDS[m]!, keys[m]!, values[m]!, filled[m]!);
    }
    join(at);
  }
}

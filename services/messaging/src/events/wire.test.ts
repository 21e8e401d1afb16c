import { describe, expect, it } from "vitest";
import { LiveBatch, StoredBody } from "@kontor/proto/messaging/v1/live";
import { MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { Content, MessageContext, type Message } from "@kontor/proto/messaging/v1/message";
import { InboxEvent, SendItemResult, SendMessageResponse } from "@kontor/proto/messaging/v1/messaging_service";
import { keyToPb } from "../domain/participant.js";
import { countsOf, pointOf, type PeriodColumns } from "../domain/tools/analytics.js";
import { GetAnalyticsResponse } from "@kontor/proto/messaging/v1/tools_service";
import { analyticsPeriodsBytes, analyticsPeriodsView, analyticsResponseBytes, contentBytes, liveStatusesBytes, messageFrameBytes, sendItemResultBytes, sendMessageResponseBytes, statusBatchBytes, statusChangedBytes, statusFrameBytes, storedBodyBytes } from "./wire.js";
import fc from "fast-check";
import { expandStatuses } from "@kontor/service-kit/message-status";

/**
 * Compares with memcmp and shows hex only on a mismatch: toEqual walks a
 * Buffer byte by byte (about 1 ms per KB), which made this file slow.
 */
function expectBytes(actual: Uint8Array, expected: Uint8Array, label: string): void {
  if (Buffer.compare(actual, expected) === 0) return;
  expect(Buffer.from(actual).toString("hex"), label).toBe(Buffer.from(expected).toString("hex"));
}

const text = (body: string, previewUrl = false): Content => ({ kind: { $case: "text", value: { body, previewUrl } } });

/** One input for every hand-written encoder; each case below changes one thing from `base`. */
interface Case {
  content: Content;
  context: MessageContext | undefined;
  at: Date;
  messageId: string;
  senderKey: string;
  recipientKey: string;
  biz: string;
  clientMessageId: string;
  customerId: string;
  eventId: string;
  seq: number;
  rseq: number;
  status: number;
  errorCode: number;
  duplicate: boolean;
  ref: string;
}

const base: Case = {
  content: text("hi"),
  context: undefined,
  at: new Date("2026-11-21T15:40:00.123Z"),
  messageId: "wamid.X",
  senderKey: "b_pn_1",
  recipientKey: "c_cust_1",
  biz: "",
  clientMessageId: "",
  customerId: "cust_1",
  eventId: "wamid.X:s2",
  seq: 1,
  rseq: 7,
  status: 2,
  errorCode: 0,
  duplicate: false,
  ref: "7",
};

const long = "ü".repeat(300);
// Varints change length at 2^7, 2^14, 2^21, 2^28; 2^31/2^32 leave int32; 2^53 - 1 is the largest safe number.
const numbers = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER];
// The ASCII fast path (str) covers strings under 128 code units that are all ASCII; everything else takes the slow path.
const strings = ["", "a", "x".repeat(127), "x".repeat(128), "x".repeat(126) + "é", "é" + "x".repeat(10), "abc😀", "\u007f\u0080", long];

const variations: Partial<Case>[] = [
  {},
  { content: text(long, true) },
  { content: text("", true) },
  { content: { kind: { $case: "reaction", value: { messageId: "wamid.R", emoji: "👍" } } } },
  { content: { kind: undefined } },
  { context: { messageId: "wamid.ctx" } },
  // Timestamps: the epoch (both parts default), whole seconds, negative seconds and nanos, beyond 2^32 s.
  ...[new Date(0), new Date(1000), new Date(-1500), new Date(999), new Date("2200-01-01T00:00:00.001Z")].map((at) => ({ at })),
  ...numbers.flatMap((n) => [{ seq: n }, { rseq: n }]),
  ...[0, 1, 4, 5, 6].map((status) => ({ status })),
  // Negative error codes are ten-byte varints.
  ...[-5, -1, 131_026, 2 ** 31 - 1].map((errorCode) => ({ errorCode })),
  { duplicate: true },
  // ref is a uint64 as a decimal string: safe, one past safe, the maximum.
  ...["0", "1", "127", "128", "9007199254740991", "9007199254740993", "18446744073709551615"].map((ref) => ({ ref })),
  ...strings.flatMap((s) => [{ messageId: s || "m" }, { biz: s }, { clientMessageId: s }, { customerId: s }, { eventId: s || "e" }]),
  // Party keys: the id after "c_"/"b_" is written even when empty (a oneof member).
  ...["c_", "b_", "c_cust_ü", "b_" + long, "c_" + "x".repeat(200)].flatMap((key) => [{ senderKey: key }, { recipientKey: key }]),
];

/**
 * Nested messages are written with a one-byte length and moved when the
 * length needs more (join). With the base case, every nested length crosses
 * 127/128 (and the content's 16383/16384) inside these windows, one byte per
 * step: the frame's at 34/35 and 39/40 body bytes, the text's at 127/128, a
 * status's or a send result's at about 100 bytes of message id.
 */
const around = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
type Encoder = "content" | "storedBody" | "frame" | "statuses" | "statusChanged" | "sendResults";
const everyEncoder: Encoder[] = ["content", "storedBody", "frame", "statuses", "statusChanged", "sendResults"];

/** Each swept field with the encoders it reaches. */
const sweeps: [Partial<Case>, Encoder[]][] = [
  ...[...around(0, 160), ...around(16_250, 16_400)].map((n): [Partial<Case>, Encoder[]] => [{ content: text("x".repeat(n)) }, ["content", "storedBody", "frame"]]),
  ...around(20, 140).flatMap((n): [Partial<Case>, Encoder[]][] => [
    [{ messageId: "m" + "x".repeat(n) }, ["frame", "statuses", "statusChanged", "sendResults"]],
    [{ recipientKey: "c_" + "x".repeat(n) }, ["frame", "statusChanged", "sendResults"]],
    [{ eventId: "e" + "x".repeat(n) }, ["statusChanged"]],
    [{ biz: "x".repeat(n) }, ["storedBody", "frame", "statusChanged"]],
  ]),
];

function check(c: Case, label: string, encoders: Encoder[] = everyEncoder): void {
  const content = Content.encode(c.content).finish();
  const context = c.context ? MessageContext.encode(c.context).finish() : undefined;
  const seq = String(c.seq);
  const status = { messageId: c.messageId, conversationId: "conv", seq: c.seq, status: c.status, errorCode: c.errorCode, at: c.at };
  const update = { messageId: c.messageId, conversationId: "conv", seq, status: c.status, errorCode: c.errorCode, occurredAt: c.at };
  const on = new Set(encoders);

  if (on.has("content")) expectBytes(contentBytes(c.content), content, `content ${label}`);
  if (on.has("storedBody")) {
    expectBytes(storedBodyBytes(content, context, c.biz), StoredBody.encode({ content: c.content, context: c.context, bizOpaqueCallbackData: c.biz }).finish(), `stored body ${label}`);
  }
  if (on.has("frame")) {
    const message: Message = {
      id: c.messageId,
      conversationId: "00000000-0000-0000-0000-000000000001",
      seq,
      sender: keyToPb(c.senderKey),
      recipient: keyToPb(c.recipientKey),
      content: c.content,
      context: c.context,
      bizOpaqueCallbackData: c.biz,
      clientMessageId: c.clientMessageId,
      status: c.status,
      errorCode: c.errorCode,
      createdAt: c.at,
      contentErased: false,
    };
    expectBytes(
      messageFrameBytes({ ...message, seq: c.seq, senderKey: c.senderKey, recipientKey: c.recipientKey, content, context, createdAt: c.at }, c.rseq),
      InboxEvent.encode({ event: { $case: "message", value: { message, cursor: String(c.rseq) } } }).finish(),
      `message frame ${label}`,
    );
  }
  if (on.has("statuses")) {
    expectBytes(liveStatusesBytes([status, status]), LiveBatch.encode({ items: [], statuses: [update, update], typing: undefined }).finish(), `live statuses ${label}`);
    // A status frame is an InboxEvent as a session writes it.
    expectBytes(statusFrameBytes(status), InboxEvent.encode({ event: { $case: "status", value: update } }).finish(), `status frame ${label}`);
  }
  if (on.has("statusChanged")) {
    const changed = { ...status, senderKey: c.senderKey, recipientKey: c.recipientKey, businessId: c.biz, phoneNumberId: "pn", customerId: c.customerId, bizOpaqueCallbackData: c.biz, pricingCategory: c.biz ? "marketing" : "", customerE164: c.biz ? "+4915112345678" : "", pricingType: c.biz ? "regular" : "", pricingModel: c.biz ? "PMP" : "", billable: c.biz !== "" };
    expectBytes(
      statusChangedBytes(changed, c.eventId),
      MessageStatusChanged.encode({
        meta: { eventId: c.eventId, occurredAt: c.at, businessId: c.biz },
        messageId: c.messageId,
        conversationId: "conv",
        sender: keyToPb(c.senderKey),
        recipient: keyToPb(c.recipientKey),
        status: c.status,
        errorCode: c.errorCode,
        pricingCategory: c.biz ? "marketing" : "",
        customerE164: c.biz ? "+4915112345678" : "",
        pricingType: c.biz ? "regular" : "",
        pricingModel: c.biz ? "PMP" : "",
        billable: c.biz !== "",
        bizOpaqueCallbackData: c.biz,
        phoneNumberId: "pn",
        customerId: c.customerId,
        seq,
        statuses: [],
      }).finish(),
      `status changed ${label}`,
    );
  }
  if (on.has("sendResults")) {
    const r = { messageId: c.messageId, conversationId: "conv", seq: c.seq, status: c.status, clientMessageId: c.clientMessageId, duplicate: c.duplicate, acceptedAt: c.at, recipientKey: c.recipientKey };
    const result = { messageId: r.messageId, conversationId: r.conversationId, seq, status: r.status, clientMessageId: r.clientMessageId, duplicate: r.duplicate, acceptedAt: c.at, recipient: keyToPb(c.recipientKey) };
    expectBytes(sendMessageResponseBytes(r), SendMessageResponse.encode({ result }).finish(), `send response ${label}`);
    expectBytes(sendItemResultBytes(c.ref, r), SendItemResult.encode({ ref: c.ref, outcome: { $case: "result", value: result } }).finish(), `send item result ${label}`);
  }
}

const describeCase = (v: Partial<Case>) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "string" && x.length > 24 ? `${x.slice(0, 8)}…(${x.length})` : x));

describe("hand-written encoders", () => {
  it("when encoding stored bodies, live frames, statuses, status events and send results at every field's edges, then the bytes equal the generated encoders'", () => {
    for (const v of variations) check({ ...base, ...v }, describeCase(v));
  });

  it("when a nested message's length crosses one and two bytes of varint (127/128, 16383/16384), then the bytes still equal the generated encoders'", () => {
    for (const [v, encoders] of sweeps) check({ ...base, ...v }, describeCase(v), encoders);
  });

  it("when strings sit at the ASCII fast path's edges (127 and 128 characters, non-ASCII first, last or as a surrogate pair), then the bytes still equal the generated encoder's", () => {
    const at = base.at;
    const edges = ["a", "x".repeat(127), "x".repeat(128), "x".repeat(126) + "é", "é" + "x".repeat(10), "abc😀", "😀".repeat(40), "\u007f\u0080"];
    for (const v of edges) {
      const e = { messageId: v, conversationId: "conv", seq: 3, status: 2, errorCode: 0, at, senderKey: "b_pn", recipientKey: "c_" + v, businessId: v, phoneNumberId: v, customerId: v, bizOpaqueCallbackData: v, pricingCategory: v, customerE164: v, pricingType: v, pricingModel: v, billable: true };
      expectBytes(
        statusChangedBytes(e, v),
        MessageStatusChanged.encode({
          meta: { eventId: v, occurredAt: at, businessId: v },
          messageId: v,
          conversationId: "conv",
          sender: keyToPb("b_pn"),
          recipient: keyToPb("c_" + v),
          status: 2,
          errorCode: 0,
          pricingCategory: v,
          customerE164: v,
          pricingType: v,
          pricingModel: v,
          billable: true,
          bizOpaqueCallbackData: v,
          phoneNumberId: v,
          customerId: v,
          seq: "3",
          statuses: [],
        }).finish(),
        JSON.stringify(v),
      );
    }
  });

  it("when statuses are packed into one event (shared fields once, entries compact), then each expands to exactly the status encoded alone", () => {
    const pick = <V>(vs: readonly V[]) => fc.constantFrom(...vs);
    // Each field either takes one value for the whole batch or varies per status (values include the defaults).
    const field = <V>(vs: readonly V[]) => fc.oneof(pick(vs).map((v) => (_: number) => v), fc.array(pick(vs), { minLength: 40, maxLength: 40 }).map((each) => (i: number) => each[i]!));
    const batch = fc.record({
      n: fc.integer({ min: 2, max: 40 }),
      senderKey: field(["b_pn", "b_pn2", "c_cust"]),
      recipientKey: field(["c_1", "c_2", "b_pn"]),
      status: field([2, 3, 4, 5]),
      errorCode: field([0, 131047]),
      pricingCategory: field(["", "service", "marketing"]),
      bizOpaqueCallbackData: field(["", "broadcast:b:1", "ü".repeat(90)]),
      phoneNumberId: field(["pn", "pn2"]),
      customerId: field(["", "c1", "c2"]),
      customerE164: field(["", "+4915112345678"]),
      pricingType: field(["", "regular"]),
      pricingModel: field(["", "PMP"]),
      billable: field([false, true]),
      at: field([base.at, new Date(base.at.getTime() + 1500)]),
    });
    fc.assert(
      fc.property(batch, (b) => {
        const inputs = Array.from({ length: b.n }, (_, i) => ({
          messageId: `wamid.m${i}`,
          conversationId: i % 3 ? "conv-a" : "conv-b",
          seq: i,
          senderKey: b.senderKey(i),
          recipientKey: b.recipientKey(i),
          status: b.status(i),
          errorCode: b.errorCode(i),
          pricingCategory: b.pricingCategory(i),
          bizOpaqueCallbackData: b.bizOpaqueCallbackData(i),
          businessId: "biz",
          phoneNumberId: b.phoneNumberId(i),
          customerId: b.customerId(i),
          customerE164: b.customerE164(i),
          pricingType: b.pricingType(i),
          pricingModel: b.pricingModel(i),
          billable: b.billable(i),
          at: b.at(i),
        }));
        const packed = statusBatchBytes(`wamid.m0:s${inputs[0]!.status}+${b.n}`, inputs);
        const event = MessageStatusChanged.decode(packed);
        expect(event.meta?.eventId).toBe(`wamid.m0:s${inputs[0]!.status}+${b.n}`);
        expect(event.messageId).toBe("");
        const alone = inputs.map((e) => MessageStatusChanged.decode(statusChangedBytes(e, `${e.messageId}:s${e.status}`)));
        expect(expandStatuses(event)).toEqual(alone);
      }),
      { numRuns: 300 },
    );
  });

  it("when a batch of business sends' statuses is packed, then each costs its message id, conversation, customer and number only (under half of a whole status)", () => {
    const inputs = Array.from({ length: 700 }, (_, i) => ({ messageId: `wamid.${String(i).padStart(22, "x")}`, conversationId: "0b9f6f3e-8c2d-4f7e-9a51-3d2c1b0a9f8e", seq: i + 1, status: 2, errorCode: 0, at: base.at, senderKey: "b_pn_1", recipientKey: `c_${i}`, businessId: "biz", phoneNumberId: "pn_1", customerId: `${i}`, bizOpaqueCallbackData: "", pricingCategory: "service", customerE164: "+4915112345678", pricingType: "", pricingModel: "", billable: false }));
    const packed = statusBatchBytes("batch", inputs);
    const whole = inputs.reduce((sum, e) => sum + statusChangedBytes(e, `${e.messageId}:s2`).length, 0);
    expect(packed.length).toBeLessThan(whole / 2);
    expect(expandStatuses(MessageStatusChanged.decode(packed)).map((s) => [s.meta?.eventId, s.recipient?.kind?.value, s.customerE164])).toEqual(inputs.map((e) => [`${e.messageId}:s2`, e.recipientKey.slice(2), e.customerE164]));
  });

  it("when encoding a message's content, then text (written by hand) and every other kind equal the generated encoder's bytes", () => {
    const texts = ["", "hi", "x".repeat(127), "x".repeat(128), "ü".repeat(4096), "see https://kontor.example 😀"];
    const cases: Content[] = [
      ...texts.flatMap((body) => [false, true].map((previewUrl) => ({ kind: { $case: "text" as const, value: { body, previewUrl } } }))),
      { kind: { $case: "reaction", value: { messageId: "wamid.X", emoji: "👍" } } },
      { kind: undefined },
    ];
    for (const content of cases) expectBytes(contentBytes(content), Content.encode(content).finish(), JSON.stringify(content).slice(0, 80));
  });

  it("when a GetAnalytics answer holds empty periods, large counts, fractional seconds, integer-like and named map keys, then the bytes equal the generated encoder's", () => {
    const empty = { sent: 0, delivered: 0, read: 0, failed: 0, inbound: 0, failedByCode: {}, conversationsByCategory: {}, firstResponses: 0, firstResponseMedianS: 0, firstResponseP90S: 0, templateSent: {}, templateDelivered: {}, templateRead: {}, templateClicked: {} };
    const templates = (n: number, k: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`tpl_${i}_ü`, i * k]));
    const points = [
      { ...empty, startDate: "2026-09-01" },
      {
        startDate: "2026-09-02",
        sent: 2 ** 53 - 1,
        delivered: 127,
        read: 128,
        failed: 3,
        inbound: 1,
        failedByCode: { "131047": 2, "131026": 1, "0": 0 },
        conversationsByCategory: { service: 5, marketing: 0, referral_conversion: 300 },
        firstResponses: 10,
        firstResponseMedianS: 60,
        firstResponseP90S: 0.25,
        templateSent: templates(20, 1_000_003),
        templateDelivered: templates(20, 7),
        templateRead: {},
        templateClicked: templates(3, 1),
      },
    ];
    for (const n of [0, 1, 2]) {
      const some = points.slice(0, n);
      const generated = GetAnalyticsResponse.encode({
        points: some.map((p) => ({
          ...p,
          sent: String(p.sent), delivered: String(p.delivered), read: String(p.read), failed: String(p.failed), inbound: String(p.inbound), firstResponses: String(p.firstResponses),
          failedByCode: asStrings(p.failedByCode), conversationsByCategory: asStrings(p.conversationsByCategory),
          templateSent: asStrings(p.templateSent), templateDelivered: asStrings(p.templateDelivered), templateRead: asStrings(p.templateRead), templateClicked: asStrings(p.templateClicked),
        })),
      }).finish();
      expectBytes(analyticsResponseBytes(some), generated, `${n} points`);
    }
    expect(GetAnalyticsResponse.decode(analyticsResponseBytes(points)).points[1]!.templateSent["tpl_19_ü"]).toBe(String(19 * 1_000_003));
  });
});

describe("analyticsPeriodsBytes", () => {
  /** A deterministic pseudo-random source (xorshift), so a failure names a seed that reproduces it. */
  const random = (seed: number) => {
    let x = Math.imul(seed, 0x9e3779b1) || 1; // spread small seeds over the state, whose first outputs would be near 0
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
  };
  const KEYS = ["131047", "0", "42", "service", "marketing", "referral_conversion", "", "order_update", "tpl_ü_名前", "x".repeat(33), "w".repeat(119), "v".repeat(120), "y".repeat(130), "__proto__", "toString", "a:b"];
  const FAMILIES = ["failed", "conv", "tpl", "tpl_delivered", "tpl_read", "tpl_clicked", "frt", "unknown", "constructor", ""];
  const VALUES = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455, 268_435_456, 2 ** 31, 2 ** 53 - 1, -1];

  /**
   * Periods as the store answers them: per period, metric names (each once)
   * and counts, every kind of name the consumer writes and some it never
   * does; now and then a period shares the previous one's names array.
   */
  function periodsFrom(seed: number): PeriodColumns[] {
    const next = random(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
    const out: PeriodColumns[] = [];
    for (let i = 0, n = Math.floor(next() * 5); i < n; i++) {
      const start = `2026-01-${String(i + 1).padStart(2, "0")}`;
      const previous = out[i - 1];
      if (previous && next() < 0.3) {
        out.push({ start, metrics: previous.metrics, values: previous.metrics.map(() => pick(VALUES)) });
        continue;
      }
      const metrics = new Set<string>();
      for (let k = Math.floor(next() * 40); k > 0; k--) {
        const r = next();
        metrics.add(
          r < 0.2 ? pick(["sent", "delivered", "read", "failed", "inbound", "other", "constructor"])
          : r < 0.35 ? `frt:${pick(["0", "3", "13", "14", "20", "x", ""])}`
          : `${pick(FAMILIES)}:${pick(KEYS)}`,
        );
      }
      out.push({ start, metrics: [...metrics], values: [...metrics].map(() => pick(VALUES)) });
    }
    return out;
  }
  const reference = (periods: readonly PeriodColumns[]) => GetAnalyticsResponse.decode(analyticsResponseBytes(periods.map((p) => pointOf(countsOf(p)))));

  /**
   * Walks GetAnalyticsResponse bytes strictly: each point (field 1) and each
   * map entry in it (7, 8, 12–15) within its exact length, no varint or field
   * crossing the end of its message (the generated decoder lets a varint
   * run over, so a wrong length could decode equal).
   */
  function walkStrictly(bytes: Uint8Array, from = 0, to = bytes.length, depth = 0): void {
    let i = from;
    const varint = () => {
      let n = 0;
      for (let shift = 0; ; shift += 7) {
        if (i >= to) throw new Error(`a varint crosses the end of its message at ${i}`);
        const b = bytes[i++]!;
        n += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) return n;
      }
    };
    while (i < to) {
      const tag = varint();
      const [field, wire] = [Math.floor(tag / 8), tag % 8];
      if (wire === 0) varint();
      else if (wire === 1) i += 8;
      else if (wire === 2) {
        const len = varint();
        if (i + len > to) throw new Error(`field ${field} at ${i} crosses the end of its message`);
        if (depth === 0 || (depth === 1 && [7, 8, 12, 13, 14, 15].includes(field))) walkStrictly(bytes, i, i + len, depth + 1);
        i += len;
      } else throw new Error(`wire type ${wire} at ${i}`);
      if (i > to) throw new Error(`field ${field} crosses the end of its message`);
    }
  }

  it("when periods hold every kind of metric (counts, map keys of any length and script, integer-like keys, first-response buckets in and out of range, unknown families, zero, large and negative counts), then the answer decodes equal to the points' (pointOf) over 150 random cases, every length exact, whether periods share their names or not", () => {
    let entries = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const periods = periodsFrom(seed);
      const bytes = analyticsPeriodsBytes(periods);
      walkStrictly(bytes);
      expect(GetAnalyticsResponse.decode(bytes), `seed ${seed}`).toEqual(reference(periods));
      entries += periods.reduce((a, p) => a + p.values.length, 0);
    }
    expect(entries).toBeGreaterThan(4_000);
  });

  it("when a 90-day answer is written, then it is the points' answer in the same order, as bytes of its own or as the scratch buffer's view, and writing another answer in between changes neither", () => {
    const metrics = ["sent", "delivered", "read", "failed", "inbound", ...[131026, 131047].map((c) => `failed:${c}`), "conv:service", "conv:marketing", ...Array.from({ length: 14 }, (_, b) => `frt:${b}`)];
    for (const k of ["tpl", "tpl_delivered", "tpl_read", "tpl_clicked"]) for (let t = 1; t <= 20; t++) metrics.push(`${k}:bench_template_${t}`);
    const periods = Array.from({ length: 90 }, (_, d) => ({ start: `2026-${String(1 + Math.floor(d / 30)).padStart(2, "0")}-${String(1 + (d % 30)).padStart(2, "0")}`, metrics, values: metrics.map((_, i) => (d + 1) * 1000 + i) }));
    const expected = reference(periods);
    const bytes = analyticsPeriodsBytes(periods);
    analyticsPeriodsBytes(periods.slice(0, 3));
    walkStrictly(bytes);
    expectBytes(analyticsPeriodsView(periods), bytes, "the scratch buffer's view");
    const decoded = GetAnalyticsResponse.decode(bytes);
    expect(decoded.points.map((p) => p.startDate)).toEqual(periods.map((p) => p.start));
    expect(decoded).toEqual(expected);
    expect(analyticsPeriodsBytes([]).length).toBe(0);
  });

  it("when a period's counts are fewer or more than its names, then writing refuses, and the next answer is whole", () => {
    expect(() => analyticsPeriodsBytes([{ start: "2026-01-01", metrics: ["sent"], values: [1] }, { start: "2026-01-02", metrics: ["sent", "read"], values: [1] }])).toThrow(/2 metrics but 1 counts/);
    const ok = [{ start: "2026-01-03", metrics: ["sent", "tpl:welcome"], values: [5, 2] }];
    expect(GetAnalyticsResponse.decode(analyticsPeriodsBytes(ok))).toEqual(reference(ok));
  });
});

function asStrings(m: Record<string, number>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
}

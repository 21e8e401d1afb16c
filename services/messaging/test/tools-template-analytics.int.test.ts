import { describe, expect, it } from "vitest";
import { AnalyticsGranularity, GetAnalyticsResponse } from "@kontor/proto/messaging/v1/tools_service";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { unaryCall, waitFor } from "@kontor/testkit/grpc";
import { decodeAnalytics } from "../src/events/analytics.js";
import { fold, points } from "../src/domain/tools/analytics.js";
import { analyticsResponseBytes } from "../src/events/wire.js";
import { customer, number, sendReq, text } from "./factories.js";
import { approvedTemplate, templateContent, useToolsService } from "./tools-fixtures.js";

/*
 * Per-template analytics (sent, delivered, read, button taps) against
 * PostgreSQL and NATS with the policy on: counted by the analytics consumer
 * from message.billed (which names the template), message.status and
 * message.received, and equal to the same events replayed from the stream.
 */
const t = useToolsService("tpl");

const counts = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));

describe("GetAnalytics per template", () => {
  it("when template messages are delivered, read and their buttons tapped, then each template's counts equal the replayed event log's, and other messages count for none", async () => {
    const biz = await t.business();
    const { businessId, pn } = biz;
    const shipped = await approvedTemplate(t.port, biz);
    const other = await approvedTemplate(t.port, biz);

    const people = await Promise.all(
      ["Ana", "Bo", "Cy", "Di"].map(async (name) => {
        const c = await t.customer(name);
        return { id: c.customerId, name, token: c.token };
      }),
    );
    const sendTemplate = async (to: (typeof people)[number], name: string) =>
      (await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(number(pn), customer(to.id), templateContent(name, to.name, "A-1")), { token: biz.token })).result!;
    const [ana, bo, cy, di] = people as [(typeof people)[number], (typeof people)[number], (typeof people)[number], (typeof people)[number]];
    const toAna = await sendTemplate(ana, shipped);
    const toBo = await sendTemplate(bo, shipped);
    const toCy = await sendTemplate(cy, shipped);
    const toDi = await sendTemplate(di, other);
    const receipt = (who: typeof ana, conversationId: string, statusCode: number) =>
      unaryCall(t.messaging.reportReceipt.bind(t.messaging), { reader: customer(who.id), conversationId, status: statusCode, upToSeq: "1", messageId: "" }, { token: who.token });
    await receipt(ana, toAna.conversationId, 4); // read
    await receipt(bo, toBo.conversationId, 3); // delivered
    await receipt(cy, toCy.conversationId, 4);
    // Cy taps a reply button of the template (its context is the template message), twice; Di just writes.
    const tap = { kind: { $case: "interactive" as const, value: { header: undefined, body: "", footer: "", action: { $case: "buttonReply" as const, value: { id: "track", title: "Track it" } } } } };
    for (let i = 0; i < 2; i++) await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(cy.id), number(pn), tap, { context: { messageId: toCy.messageId } }), { token: cy.token });
    await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(di.id), number(pn), text("thanks")), { token: di.token });
    // A free-form answer read by Di: a message of no template.
    await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(number(pn), customer(di.id), text("You're welcome")), { token: biz.token });
    await receipt(di, toDi.conversationId, 4);
    await unaryCall(t.messaging.reportReceipt.bind(t.messaging), { reader: customer(di.id), conversationId: toDi.conversationId, status: 4, upToSeq: "3", messageId: "" }, { token: di.token });

    const day = new Date().toISOString().slice(0, 10);
    await outboxDrained(t.app.runtime.database.pool);
    const log = (await streamMessages(t.env, "messaging")).flatMap((m) => decodeAnalytics(m.subject, m.data)).filter((e) => e.businessId === businessId);
    const expected = points(fold(log, new Map()).map((d) => ({ day: d.day, metric: d.metric, value: d.value })), "day")[0]!;
    expect(expected.templateSent).toEqual({ [shipped]: 3, [other]: 1 });
    expect(expected.templateRead).toEqual({ [shipped]: 2, [other]: 1 });
    expect(expected.templateClicked).toEqual({ [shipped]: 2 });
    expect(expected.templateDelivered[shipped]).toBeGreaterThanOrEqual(1);

    const ask = () => unaryCall(t.tools.getAnalytics.bind(t.tools), { businessId, phoneNumberId: pn, startDate: day, endDate: day, granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_MONTH }, { token: biz.token });
    const got = await waitFor(async () => {
      const p = (await ask()).points[0];
      return p && p.templateClicked[shipped] === "2" && p.templateRead[other] === "1" && p.templateRead[shipped] === "2" ? p : undefined;
    }, 30_000);
    expect({ sent: got.templateSent, delivered: got.templateDelivered, read: got.templateRead, clicked: got.templateClicked }).toEqual({
      sent: counts(expected.templateSent),
      delivered: counts(expected.templateDelivered),
      read: counts(expected.templateRead),
      clicked: counts(expected.templateClicked),
    });
  });

  it("when several businesses ask for 90 days at once, then each answer holds its own counts, whole (the answers are written in one scratch buffer, which grpc-js copies as each is serialized)", async () => {
    const metrics = ["sent", "delivered", "read", "failed", "inbound", "failed:131047", "conv:service", ...Array.from({ length: 14 }, (_, b) => `frt:${b}`)];
    for (const k of ["tpl", "tpl_delivered", "tpl_read", "tpl_clicked"]) for (let n = 1; n <= 20; n++) metrics.push(`${k}:template_${n}`);
    const businesses = [1, 2, 3, 4].map((b) => ({ businessId: `an_at_once_${b}_${Date.now()}`, b }));
    const expected = new Map<string, GetAnalyticsResponse>();
    for (const { businessId, b } of businesses) {
      const rows = Array.from({ length: 90 }, (_, d) => new Date(Date.UTC(2026, 0, 1 + d)).toISOString().slice(0, 10)).flatMap((day, d) => metrics.map((metric, i) => ({ day, metric, value: b * 1_000_000 + d * 1_000 + i })));
      await t.sql(
        "INSERT INTO analytics_day (business_id, phone_number_id, day, metric, value) SELECT $1, '', d::date, m, v FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(d, m, v)",
        [businessId, rows.map((r) => r.day), rows.map((r) => r.metric), rows.map((r) => r.value)],
      );
      expected.set(businessId, GetAnalyticsResponse.decode(analyticsResponseBytes(points(rows, "day"))));
    }
    const ask = async (businessId: string) =>
      unaryCall(t.tools.getAnalytics.bind(t.tools), { businessId, phoneNumberId: "", startDate: "2026-01-01", endDate: "2026-03-31", granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY }, { token: await t.env.token({ kind: "business", businessId }) });
    const asked = businesses.flatMap(({ businessId }) => [1, 2, 3].map(() => businessId));
    const answers = await Promise.all(asked.map(ask));
    answers.forEach((answer, i) => {
      expect(answer.points, asked[i]).toHaveLength(90);
      expect(answer, asked[i]).toEqual(expected.get(asked[i]!));
    });
  });
});

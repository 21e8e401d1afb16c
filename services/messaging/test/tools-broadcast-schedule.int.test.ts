import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import { errorDetail } from "@kontor/service-kit/errors";
import { expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { approvedTemplate, broadcastReq, toCustomers, useToolsService } from "./tools-fixtures.js";

/*
 * Scheduled broadcasts, against PostgreSQL and NATS with the policy on:
 * nothing is sent before send_at, whether the schedule came with the start
 * or with the draft; a schedule too far ahead is refused and stores nothing.
 */
const t = useToolsService("sched");

const AHEAD_MS = 4_000;

describe("scheduled broadcasts", () => {
  it("when a broadcast is started with send_at (or its draft had one), then it waits RUNNING and every message is created at or after that time", async () => {
    const biz = await t.business();
    const template = await approvedTemplate(t.port, biz);
    const people = await Promise.all(Array.from({ length: 6 }, () => t.customer()));
    const ids = people.map((p) => p.customerId);
    const sendAt = new Date(Date.now() + AHEAD_MS);

    // Scheduled by the start itself, and by the draft (started later without a time).
    const started = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { recipients: toCustomers(ids.slice(0, 3)), start: true, sendAt }), { token: biz.token })).broadcast!;
    expect(started.status).toBe(BroadcastStatus.BROADCAST_STATUS_RUNNING);
    expect(started.sendAt).toEqual(sendAt);
    const draft = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { recipients: toCustomers(ids.slice(3)), sendAt }), { token: biz.token })).broadcast!;
    const resumed = (await unaryCall(t.tools.startBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: draft.id, sendAt: undefined }, { token: biz.token })).broadcast!;
    expect(resumed.sendAt).toEqual(sendAt);

    for (const id of [started.id, draft.id]) {
      const done = await waitFor(async () => {
        const b = (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: id }, { token: biz.token })).broadcast!;
        return b.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED ? b : undefined;
      }, 60_000);
      expect(done.counts).toMatchObject({ total: "3", accepted: "3", failed: "0" });
    }
    const sent = (await t.sql("SELECT recipient, created_at FROM message WHERE recipient = ANY($1)", [ids.map((c) => `c_${c}`)])).rows as { recipient: string; created_at: Date }[];
    expect(sent.length).toBe(6);
    for (const m of sent) expect(m.created_at.getTime()).toBeGreaterThanOrEqual(sendAt.getTime());
  });

  it("when send_at is more than 30 days ahead, then CreateBroadcast and StartBroadcast are INVALID_ARGUMENT naming send_at, and nothing is stored or started", async () => {
    const biz = await t.business();
    const template = await approvedTemplate(t.port, biz);
    const c = await t.customer();
    const far = new Date(Date.now() + 31 * 86_400_000);
    const count = async () => Number((await t.sql("SELECT count(*) AS n FROM broadcast WHERE business_id = $1", [biz.businessId])).rows[0].n);

    const refused = await expectFailure(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { recipients: toCustomers([c.customerId]), start: true, sendAt: far }), { token: biz.token });
    expect(refused.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(refused)?.field).toBe("send_at");
    expect(await count()).toBe(0);

    const draft = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { recipients: toCustomers([c.customerId]) }), { token: biz.token })).broadcast!;
    const notStarted = await expectFailure(t.tools.startBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: draft.id, sendAt: far }, { token: biz.token });
    expect(notStarted.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(notStarted)?.field).toBe("send_at");
    const still = (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: draft.id }, { token: biz.token })).broadcast!;
    expect(still.status).toBe(BroadcastStatus.BROADCAST_STATUS_DRAFT);
    expect(still.sendAt).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import { unaryCall, waitFor } from "@kontor/testkit/grpc";
import { approvedTemplate, broadcastReq, toCustomers, useToolsService } from "./tools-fixtures.js";

/*
 * A broadcast paced by the number's throughput limit (the send path's rule,
 * 4 messages a second here), against PostgreSQL and NATS with the policy on:
 * refused sends wait for the limit and go later, none is lost or doubled.
 */
const t = useToolsService("pace", { THROUGHPUT_PER_SECOND: "4" });

describe("a broadcast under the throughput limit", () => {
  it("when a broadcast has more recipients than the number may send at once, then the refused ones wait and go later: all accepted, each once, none failed", async () => {
    const biz = await t.business();
    const template = await approvedTemplate(t.port, biz);
    const people = await Promise.all(Array.from({ length: 20 }, () => t.customer()));
    const created = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { recipients: toCustomers(people.map((p) => p.customerId)), start: true }), { token: biz.token })).broadcast!;
    const done = await waitFor(async () => {
      const b = (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: created.id }, { token: biz.token })).broadcast!;
      return b.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED ? b : undefined;
    }, 60_000);
    expect(done.counts).toMatchObject({ total: "20", accepted: "20", failed: "0" });
    // Some waited for the limit (refused with THROUGHPUT_LIMIT, claimed again later).
    const attempts = (await t.sql("SELECT max(attempts)::int AS most FROM broadcast_recipient WHERE broadcast_id = $1", [created.id])).rows[0].most as number;
    expect(attempts).toBeGreaterThan(1);
    const counts = (await t.sql("SELECT recipient, count(*)::int AS n FROM message WHERE recipient = ANY($1) GROUP BY recipient", [people.map((p) => `c_${p.customerId}`)])).rows;
    expect(counts.length).toBe(20);
    expect(counts.every((r) => r.n === 1)).toBe(true);
  });
});

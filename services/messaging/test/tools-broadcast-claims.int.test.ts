import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import type { ClaimOutcome } from "../src/domain/tools/broadcast-service.js";
import { BROADCAST_CHUNK, createBroadcastStore } from "../src/store/broadcast-store.js";
import { useToolsService } from "./tools-fixtures.js";

/*
 * The sender's claims, against PostgreSQL: passes running at once (as
 * BROADCAST_PASSES and replicas do) each take whole chunks the others do
 * not hold, retries come back when due, and a broadcast whose chunks are all
 * done completes. The service's own passes are kept out of the way.
 */
const t = useToolsService("claims", { BROADCAST_INTERVAL_MS: "3600000" });

describe("broadcast claims", () => {
  it("when six passes claim at once, then every recipient is sent once (a retried one once more, when due), all outcomes are recorded and the broadcast completes", async () => {
    const store = createBroadcastStore(t.app.runtime.db);
    const id = randomUUID();
    const total = 4 * BROADCAST_CHUNK + 37;
    const at = new Date();
    await store.insert(
      { id, businessId: "biz_claims_x", phoneNumberId: "pn_claims_x", templateName: "tpl", templateLanguage: "en_US", components: [], status: BroadcastStatus.BROADCAST_STATUS_RUNNING, total, createdAt: at, updatedAt: at },
      Array.from({ length: total }, (_, i) => ({ customerId: `c${i + 1}`, e164: "", components: undefined })),
    );
    expect(Number((await t.sql("SELECT count(*) FROM broadcast_chunk WHERE broadcast_id = $1", [id])).rows[0].count)).toBe(5);

    const sends = new Map<number, number>();
    let held = 0;
    let mostHeld = 0;
    const send = async (claimed: { index: number; attempts: number }[]): Promise<ClaimOutcome[]> => {
      held++;
      mostHeld = Math.max(mostHeld, held);
      for (const r of claimed) sends.set(r.index, (sends.get(r.index) ?? 0) + 1);
      await sleep(100); // in flight long enough for the other passes to claim beside it
      held--;
      // Every 100th recipient is refused once as over a limit, to go again 200 ms later.
      return claimed.map((r) => ({
        broadcastId: id,
        index: r.index,
        outcome: r.index % 100 === 0 && r.attempts === 0 ? { kind: "retry", at: new Date(Date.now() + 200), code: 130429, reason: "THROUGHPUT_LIMIT" } : { kind: "accepted", messageId: `m${r.index}` },
      }));
    };
    const pass = async () => {
      for (let idle = 0; idle < 20; ) {
        const claimed = await store.withClaimed(new Date(), 100, send);
        if (claimed.length > 0) await store.completeDone([id], new Date());
        idle = claimed.length === 0 ? idle + 1 : 0;
        if (claimed.length === 0) await sleep(25);
      }
    };
    await Promise.all(Array.from({ length: 6 }, pass));

    expect(mostHeld).toBeGreaterThan(1);
    expect(sends.size).toBe(total);
    for (const [index, n] of sends) expect([index, n]).toEqual([index, index % 100 === 0 ? 2 : 1]);
    const rows = (await t.sql("SELECT idx, state, message_id, attempts FROM broadcast_recipient WHERE broadcast_id = $1 ORDER BY idx", [id])).rows;
    expect(rows.every((r) => r.state === 2 && r.message_id === `m${r.idx}` && r.attempts === (Number(r.idx) % 100 === 0 ? 2 : 1))).toBe(true);
    expect((await t.sql("SELECT count(*)::int AS n FROM broadcast_chunk WHERE broadcast_id = $1 AND NOT done", [id])).rows[0].n).toBe(0);
    expect((await store.get("biz_claims_x", id))!.status).toBe(BroadcastStatus.BROADCAST_STATUS_COMPLETED);
    // No claim outlives its pass.
    expect((await t.sql("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).rows[0].n).toBe(0);
  });
});

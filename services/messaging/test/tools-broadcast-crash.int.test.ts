import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusinessRegistered } from "@kontor/proto/directory/v1/events";
import { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import { BusinessToolsServiceClient } from "@kontor/proto/messaging/v1/tools_service";
import { createDb } from "@kontor/service-kit/db";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { killServiceProcess, killServiceProcesses, startServiceProcess } from "@kontor/testkit/process";
import { masterKey, snapshot, uid } from "./factories.js";
import { approvedTemplate, broadcastReq, toCustomers } from "./tools-fixtures.js";

/*
 * A broadcast whose service process is SIGKILLed while it sends, then
 * started again: against PostgreSQL and NATS with the policy on, every
 * recipient gets the template exactly once.
 */

// The real service in its own process (the benchmarks' entry point), so it can be killed with SIGKILL.
const SERVER = fileURLToPath(new URL("../bench/server.ts", import.meta.url));
const RECIPIENTS = 150;

let env: TestEnv;
let db: ReturnType<typeof createDb>;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  killServiceProcesses();
  await db?.pool.end().catch(() => undefined);
  await env?.cleanup();
});

const startService = (serviceEnv: Record<string, string>) => startServiceProcess(SERVER, ["messaging"], serviceEnv);

describe("a broadcast across a crash", () => {
  it("when the service is SIGKILLed halfway through a broadcast and started again, then every recipient gets the template once: none twice, none missed", async () => {
    // Small passes often, so the kill lands while recipients are being sent; the same key across the restart.
    const serviceEnv = env.env({ MESSAGE_MASTER_KEY: masterKey(), BROADCAST_BATCH: "10", BROADCAST_INTERVAL_MS: "50" });
    let service = await startService(serviceEnv);
    db = createDb({ url: env.databaseUrl, schema: "messaging", max: 2 });
    const q = (text: string, values: unknown[] = []) => db.pool.query(text, values);

    const biz = { businessId: uid("biz_crash"), pn: uid("pn_crash") };
    const token = await env.token({ kind: "business", businessId: biz.businessId });
    const nc = await env.nats();
    const eventId = randomUUID();
    await nc.jetstream().publish(
      `${env.natsPrefix}kontor.directory.business.registered.v1`,
      BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId: biz.businessId }, business: snapshot(biz.businessId, [{ phoneNumberId: biz.pn, e164: "+493000000777" }]) }).finish(),
      { msgID: eventId },
    );
    await waitFor(async () => (await q("SELECT 1 FROM business_number WHERE phone_number_id = $1", [biz.pn])).rowCount === 1, 30_000);
    const ids = Array.from({ length: RECIPIENTS }, (_, i) => `cust_crash_${i}`);
    await q("INSERT INTO customer (id, e164, profile_name) SELECT 'cust_crash_' || g, '+4917' || lpad(g::text, 9, '0'), 'C' || g FROM generate_series(0, $1::int - 1) AS g", [RECIPIENTS]);
    const template = await approvedTemplate(service.port, { ...biz, token });

    let tools = clientFor(BusinessToolsServiceClient, service.port);
    const created = (await unaryCall(tools.createBroadcast.bind(tools), broadcastReq(biz, template, { recipients: toCustomers(ids), start: true }), { token })).broadcast!;
    const recorded = async () => Number((await q("SELECT count(*) AS n FROM broadcast_recipient WHERE broadcast_id = $1 AND state <> 1", [created.id])).rows[0].n);
    await waitFor(async () => (await recorded()) >= RECIPIENTS / 4, 60_000, 20);
    await killServiceProcess(service.child);
    tools.close();
    const atKill = await recorded();
    expect(atKill).toBeLessThan(RECIPIENTS);

    // A new process resumes it; recipients the dead one had claimed wait out their lease.
    service = await startService(serviceEnv);
    tools = clientFor(BusinessToolsServiceClient, service.port);
    const done = await waitFor(async () => {
      const b = (await unaryCall(tools.getBroadcast.bind(tools), { businessId: biz.businessId, broadcastId: created.id }, { token })).broadcast!;
      return b.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED ? b : undefined;
    }, 150_000);
    tools.close();
    expect(done.counts).toMatchObject({ total: String(RECIPIENTS), pending: "0", accepted: String(RECIPIENTS), failed: "0" });
    const perCustomer = (await q("SELECT recipient, count(*)::int AS n FROM message WHERE recipient LIKE 'c\\_cust\\_crash\\_%' GROUP BY recipient")).rows as { recipient: string; n: number }[];
    expect(perCustomer.length).toBe(RECIPIENTS); // none missed
    expect(perCustomer.filter((r) => r.n !== 1)).toEqual([]); // none twice
    // Each recipient's outcome names the one message it got.
    const outcomes = (await q("SELECT count(DISTINCT message_id)::int AS n FROM broadcast_recipient WHERE broadcast_id = $1", [created.id])).rows[0].n;
    expect(outcomes).toBe(RECIPIENTS);
  }, 240_000);
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { BlockChanged, BusinessReported } from "@kontor/proto/messaging/v1/events";
import { MessagingServiceClient, ReportReason } from "@kontor/proto/messaging/v1/messaging_service";
import { errorDetail } from "@kontor/service-kit/errors";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { clientFor, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig, type Config } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import type { QualitySignals } from "../src/domain/block-cache.js";
import { subjects } from "../src/events/subjects.js";
import { masterKey, registerBusiness, registerCustomer, uid, ROUTING_ONLY } from "./factories.js";

/*
 * Blocks and reports (rule 3) with two replicas sharing PostgreSQL and NATS:
 * A serves the RPCs; B only holds its blocks. Each replica has a quality
 * port that records what it hears.
 */
type Signal = { businessId: string; phoneNumberId: string | undefined; at: number };

function recorder(): QualitySignals & { blocks: Signal[]; reports: Signal[] } {
  const blocks: Signal[] = [];
  const reports: Signal[] = [];
  return {
    blocks,
    reports,
    blocked: (businessId, phoneNumberId, at) => void blocks.push({ businessId, phoneNumberId, at }),
    reported: (businessId, phoneNumberId, at) => void reports.push({ businessId, phoneNumberId, at }),
  };
}

let env: TestEnv;
let config: Readonly<Config>;
let a: MessagingApp;
let b: MessagingApp;
let ca: MessagingServiceClient;
const qa = recorder();
const qb = recorder();
let onboarding: string;
const stopped: MessagingApp[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  config = loadConfig(env.env({ ...ROUTING_ONLY, MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "200" }));
  a = await createMessaging(config, { quality: qa });
  ca = clientFor(MessagingServiceClient, (await a.start()).port);
  b = await createMessaging(config, { quality: qb });
  await b.start();
  onboarding = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  ca?.close();
  for (const app of stopped) await app.stop();
  await b?.stop();
  await a?.stop();
  await env?.cleanup();
});

/** A business with one number, and a customer. */
async function setup() {
  const businessId = uid("biz_");
  const pn = uid("pn_");
  await registerBusiness(env, a, businessId, pn);
  const customerId = uid("cust");
  await registerCustomer(ca, onboarding, customerId);
  return { businessId, pn, customerId, token: await env.token({ kind: "customer", customerId }) };
}
type Setup = Awaited<ReturnType<typeof setup>>;

const block = (s: Setup, blocked: boolean, token = s.token) => unaryCall(ca.setBusinessBlocked.bind(ca), { customerId: s.customerId, businessId: s.businessId, blocked }, { token });
const list = (s: Setup) => unaryCall(ca.listBlockedBusinesses.bind(ca), { customerId: s.customerId }, { token: s.token });
const reportReq = (s: Setup, over: object = {}) => ({ customerId: s.customerId, businessId: s.businessId, reason: ReportReason.REPORT_REASON_SPAM, comment: "", phoneNumberId: "", block: false, ...over });

async function blockEvents(s: Setup): Promise<BlockChanged[]> {
  await outboxDrained(a.runtime.database.pool);
  return (await streamMessages(env, "messaging", subjects.blockChanged)).map((m) => BlockChanged.decode(m.data)).filter((e) => e.customerId === s.customerId);
}

async function reportEvents(s: Setup): Promise<BusinessReported[]> {
  await outboxDrained(a.runtime.database.pool);
  return (await streamMessages(env, "messaging", subjects.businessReported)).map((m) => BusinessReported.decode(m.data)).filter((e) => e.customerId === s.customerId);
}

async function rowsOf(s: Setup): Promise<{ blocks: number; reports: number }> {
  const r = await a.runtime.database.pool.query<{ blocks: number; reports: number }>(
    `SELECT (SELECT count(*)::int FROM customer_block WHERE customer_id = $1) AS blocks, (SELECT count(*)::int FROM business_report WHERE customer_id = $1) AS reports`,
    [s.customerId],
  );
  return r.rows[0]!;
}

describe("SetBusinessBlocked and ListBlockedBusinesses", () => {
  it("when a customer blocks a business, then it is listed with the time and one event is emitted; unblocked, it is no longer listed", async () => {
    const s = await setup();
    const before = Date.now();
    const on = await block(s, true);
    expect(on.blocked).toBe(true);
    expect(on.changedAt!.getTime()).toBeGreaterThanOrEqual(before);
    expect((await list(s)).businesses).toEqual([{ businessId: s.businessId, blockedAt: on.changedAt }]);
    const off = await block(s, false);
    expect(off.blocked).toBe(false);
    expect(off.changedAt!.getTime()).toBeGreaterThan(on.changedAt!.getTime());
    expect((await list(s)).businesses).toEqual([]);
    const events = await blockEvents(s);
    expect(events.map((e) => [e.businessId, e.blocked, e.at!.getTime()])).toEqual([
      [s.businessId, true, on.changedAt!.getTime()],
      [s.businessId, false, off.changedAt!.getTime()],
    ]);
    expect(new Set(events.map((e) => e.meta!.eventId)).size).toBe(2);
    expect(events[0]!.meta?.businessId).toBe(s.businessId);
  });

  it("when the customer blocks twice, then one event and the same answer; unblocking a business never blocked stores and emits nothing", async () => {
    const s = await setup();
    const first = await block(s, true);
    const again = await block(s, true);
    expect(again).toEqual(first);
    expect(await blockEvents(s)).toHaveLength(1);

    const t = await setup();
    expect(await block(t, false)).toEqual({ blocked: false, changedAt: undefined });
    expect(await rowsOf(t)).toEqual({ blocks: 0, reports: 0 });
    expect(await blockEvents(t)).toHaveLength(0);
  });

  it("when another customer names the customer, then PERMISSION_DENIED on every RPC and nothing changes", async () => {
    const s = await setup();
    const t = await setup();
    await block(t, true);
    const mallory = s.token;
    const denied = [
      await expectFailure(ca.setBusinessBlocked.bind(ca), { customerId: t.customerId, businessId: t.businessId, blocked: false }, { token: mallory }),
      await expectFailure(ca.setBusinessBlocked.bind(ca), { customerId: t.customerId, businessId: s.businessId, blocked: true }, { token: mallory }),
      await expectFailure(ca.reportBusiness.bind(ca), reportReq(t, { block: true }), { token: mallory }),
      await expectFailure(ca.listBlockedBusinesses.bind(ca), { customerId: t.customerId }, { token: mallory }),
    ];
    expect(denied.map((e) => e.code)).toEqual(Array(4).fill(status.PERMISSION_DENIED));
    // A business (or anyone else) is refused by the access table before the handler.
    const business = await env.token({ kind: "business", businessId: t.businessId });
    expect((await expectFailure(ca.listBlockedBusinesses.bind(ca), { customerId: t.customerId }, { token: business })).code).toBe(status.PERMISSION_DENIED);
    expect((await list(t)).businesses.map((x) => x.businessId)).toEqual([t.businessId]);
    expect(await rowsOf(t)).toEqual({ blocks: 1, reports: 0 });
    expect(await blockEvents(t)).toHaveLength(1);
  });

  it("when input is bad or the business unknown, then INVALID_ARGUMENT naming the field or NOT_FOUND, and nothing is stored", async () => {
    const s = await setup();
    const other = await setup();
    const blockCases: [object, number, string][] = [
      [{ customerId: "" }, status.INVALID_ARGUMENT, "customer_id"],
      [{ businessId: "" }, status.INVALID_ARGUMENT, "business_id"],
      [{ businessId: "not valid!" }, status.INVALID_ARGUMENT, "business_id"],
      [{ businessId: "biz_nobody_knows" }, status.NOT_FOUND, ""],
    ];
    for (const [over, code, field] of blockCases) {
      const err = await expectFailure(ca.setBusinessBlocked.bind(ca), { customerId: s.customerId, businessId: s.businessId, blocked: true, ...over }, { token: s.token });
      expect(err.code, JSON.stringify(over)).toBe(code);
      if (field) expect(errorDetail(err)?.field).toBe(field);
    }
    const reportCases: [object, number, string][] = [
      [{ reason: ReportReason.REPORT_REASON_UNSPECIFIED }, status.INVALID_ARGUMENT, "reason"],
      [{ reason: 99 }, status.INVALID_ARGUMENT, "reason"],
      [{ comment: "x".repeat(1001) }, status.INVALID_ARGUMENT, "comment"],
      [{ phoneNumberId: "no good" }, status.INVALID_ARGUMENT, "phone_number_id"],
      [{ phoneNumberId: other.pn }, status.INVALID_ARGUMENT, "phone_number_id"],
      [{ phoneNumberId: "pn_nobody_knows" }, status.NOT_FOUND, ""],
      [{ businessId: "biz_nobody_knows", block: true }, status.NOT_FOUND, ""],
    ];
    for (const [over, code, field] of reportCases) {
      const err = await expectFailure(ca.reportBusiness.bind(ca), reportReq(s, over), { token: s.token });
      expect(err.code, JSON.stringify(over)).toBe(code);
      if (field) expect(errorDetail(err)?.field).toBe(field);
    }
    const noCustomer = await expectFailure(ca.listBlockedBusinesses.bind(ca), { customerId: "" }, { token: s.token });
    expect([noCustomer.code, errorDetail(noCustomer)?.field]).toEqual([status.INVALID_ARGUMENT, "customer_id"]);
    expect(await rowsOf(s)).toEqual({ blocks: 0, reports: 0 });
  });
});

describe("ReportBusiness", () => {
  it("when a customer reports a business, then the report is stored with its reason, comment and number, one event goes out, and nothing is blocked", async () => {
    const s = await setup();
    const before = Date.now();
    const r = await unaryCall(ca.reportBusiness.bind(ca), reportReq(s, { reason: ReportReason.REPORT_REASON_SCAM, comment: "asked for my card number", phoneNumberId: s.pn }), { token: s.token });
    expect(r.blocked).toBe(false);
    const rows = await a.runtime.database.pool.query(`SELECT id, business_id, phone_number_id, reason, comment, created_at FROM business_report WHERE customer_id = $1`, [s.customerId]);
    expect(rows.rows).toEqual([{ id: r.reportId, business_id: s.businessId, phone_number_id: s.pn, reason: ReportReason.REPORT_REASON_SCAM, comment: "asked for my card number", created_at: expect.any(Date) }]);
    expect((rows.rows[0].created_at as Date).getTime()).toBeGreaterThanOrEqual(before);
    const events = await reportEvents(s);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reportId: r.reportId, businessId: s.businessId, phoneNumberId: s.pn, reason: ReportReason.REPORT_REASON_SCAM });
    expect(await blockEvents(s)).toHaveLength(0);
    expect((await list(s)).businesses).toEqual([]);
    // Every replica's quality port hears it once, with the number.
    for (const q of [qa, qb]) await waitFor(() => q.reports.some((x) => x.businessId === s.businessId));
    for (const q of [qa, qb]) expect(q.reports.filter((x) => x.businessId === s.businessId)).toEqual([{ businessId: s.businessId, phoneNumberId: s.pn, at: events[0]!.at!.getTime() }]);
  });

  it("when a customer reports with block, then the report and the block are stored with both events; a second report with block blocks nothing more", async () => {
    const s = await setup();
    const r = await unaryCall(ca.reportBusiness.bind(ca), reportReq(s, { block: true }), { token: s.token });
    expect(r.blocked).toBe(true);
    expect((await list(s)).businesses.map((x) => x.businessId)).toEqual([s.businessId]);
    const again = await unaryCall(ca.reportBusiness.bind(ca), reportReq(s, { block: true, reason: ReportReason.REPORT_REASON_OFFENSIVE }), { token: s.token });
    expect(again.blocked).toBe(true);
    expect(again.reportId).not.toBe(r.reportId);
    // A report without block answers the state as it is.
    const third = await unaryCall(ca.reportBusiness.bind(ca), reportReq(s, { reason: ReportReason.REPORT_REASON_OTHER }), { token: s.token });
    expect(third.blocked).toBe(true);
    expect(await rowsOf(s)).toEqual({ blocks: 1, reports: 3 });
    expect((await reportEvents(s)).map((e) => e.reason)).toEqual([ReportReason.REPORT_REASON_SPAM, ReportReason.REPORT_REASON_OFFENSIVE, ReportReason.REPORT_REASON_OTHER]);
    expect((await blockEvents(s)).map((e) => e.blocked)).toEqual([true]);
    expect(a.blocks.isBlocked(s.customerId, s.businessId)).toBe(true);
  });
});

describe("blocks across replicas", () => {
  it("when a block commits on A, then A's cache has it at once and B's after the event; the unblock follows; each quality port hears the block once", async () => {
    const s = await setup();
    expect(b.blocks.isBlocked(s.customerId, s.businessId)).toBe(false);
    const on = await block(s, true);
    expect(a.blocks.isBlocked(s.customerId, s.businessId)).toBe(true);
    await waitFor(() => b.blocks.isBlocked(s.customerId, s.businessId));
    await block(s, false);
    expect(a.blocks.isBlocked(s.customerId, s.businessId)).toBe(false);
    await waitFor(() => !b.blocks.isBlocked(s.customerId, s.businessId));
    await block(s, true);
    await waitFor(() => b.blocks.isBlocked(s.customerId, s.businessId));
    const events = await blockEvents(s);
    for (const q of [qa, qb]) await waitFor(() => q.blocks.filter((x) => x.businessId === s.businessId).length === 2);
    for (const q of [qa, qb])
      expect(q.blocks.filter((x) => x.businessId === s.businessId)).toEqual([
        { businessId: s.businessId, phoneNumberId: undefined, at: on.changedAt!.getTime() },
        { businessId: s.businessId, phoneNumberId: undefined, at: events[2]!.at!.getTime() },
      ]);
  });

  it("when a block event arrives again or late, then no cache and no quality port changes", async () => {
    const s = await setup();
    await block(s, true);
    await block(s, false);
    await waitFor(() => qb.blocks.some((x) => x.businessId === s.businessId));
    await waitFor(async () => (await blockEvents(s)).length === 2);
    const [blocked] = (await streamMessages(env, "messaging", subjects.blockChanged)).filter((m) => BlockChanged.decode(m.data).customerId === s.customerId);
    // The old block, published again under a new NATS id (the stream keeps it), then a marker that must land after it.
    const nc = await env.nats();
    await nc.jetstream().publish(`${env.natsPrefix}${subjects.blockChanged}`, blocked!.data, { msgID: randomUUID() });
    const marker = await setup();
    await block(marker, true);
    await waitFor(() => b.blocks.isBlocked(marker.customerId, marker.businessId) && qb.blocks.some((x) => x.businessId === marker.businessId));
    for (const app of [a, b]) expect(app.blocks.isBlocked(s.customerId, s.businessId)).toBe(false);
    for (const q of [qa, qb]) expect(q.blocks.filter((x) => x.businessId === s.businessId)).toHaveLength(1);
  });

  it("when a replica starts, then it holds every stored block before it serves (unblocked pairs stay so whatever the stream replays) and rebuilds the quality signals from the stream", async () => {
    const s = await setup();
    await block(s, true);
    const t = await setup();
    await block(t, true);
    // An unblock whose event has not gone out yet (as if still in the outbox): the stream holds only the block before it.
    await a.runtime.database.pool.query(`UPDATE customer_block SET blocked = false, changed_at = now() WHERE customer_id = $1`, [t.customerId]);
    // A block the stream has no event for: only the load can know it.
    const u = await setup();
    await a.runtime.database.pool.query(`INSERT INTO customer_block (customer_id, business_id, blocked, changed_at) VALUES ($1, $2, true, now())`, [u.customerId, u.businessId]);
    await outboxDrained(a.runtime.database.pool);
    const qc = recorder();
    const c = await createMessaging(config, { quality: qc });
    stopped.push(c);
    await c.start();
    expect(c.blocks.isBlocked(s.customerId, s.businessId)).toBe(true);
    expect(c.blocks.isBlocked(u.customerId, u.businessId)).toBe(true);
    expect(c.blocks.isBlocked(t.customerId, t.businessId)).toBe(false);
    // Its own consumer replays the stream: t's older block changes nothing, and the signals come back.
    await waitFor(() => qc.blocks.some((x) => x.businessId === s.businessId) && qc.blocks.some((x) => x.businessId === t.businessId));
    const marker = await setup();
    await block(marker, true);
    await waitFor(() => c.blocks.isBlocked(marker.customerId, marker.businessId));
    expect(c.blocks.isBlocked(t.customerId, t.businessId)).toBe(false);
    expect(c.blocks.isBlocked(s.customerId, s.businessId)).toBe(true);
  });
});

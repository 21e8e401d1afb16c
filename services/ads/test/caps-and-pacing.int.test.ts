import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { AdsServiceClient } from "@kontor/proto/ads/v1/ads_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor } from "@kontor/testkit/grpc";
import type { AdsApp } from "../src/app.js";
import type { AdRequest } from "../src/serving/serving-engine.js";
import { pacedCeiling } from "../src/domain/pacing.js";
import { buildTargeting } from "./factories.js";
import { DAY, HOUR, activeCampaign, cpm, manualClock, startAds } from "./helpers.js";

let env: TestEnv;
let replicas: AdsApp[];
let client: AdsServiceClient;
let owner: string;
let reviewer: string;
const clock = manualClock(Date.parse("2026-12-07T00:00:00Z"));

beforeAll(async () => {
  env = await createTestEnv();
  // Two replicas on one database: they share budgets only through the campaign_day rows.
  replicas = [];
  for (let i = 0; i < 2; i++) {
    const app = await startAds(env, { ADS_PLACEMENT_DAILY_CAP: "4", ADS_PACING_AHEAD_MS: String(15 * 60_000), ADS_LEASE_SLICES_PER_DAY: "96" }, { now: clock.now });
    const { port } = await app.start();
    if (i === 0) client = clientFor(AdsServiceClient, port);
    replicas.push(app);
  }
  owner = await env.token({ kind: "business", businessId: "biz_pottery" });
  reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["ads_reviewer"] });
});

afterAll(async () => {
  client?.close();
  for (const app of replicas ?? []) await app.stop();
  await env?.cleanup();
});

const request = (country: string, customerId: string, count = 1): AdRequest => ({ placement: "app_feed", customerId, country, region: "", language: "en", age: 0, interests: [], query: "", count });

/** Selects on one replica after its lease requests settled, so "nothing" means a rule said no, not a lease on its way. */
async function selectSettled(app: AdsApp, req: AdRequest): Promise<string[]> {
  app.serving.select({ ...req, customerId: "" });
  await app.serving.settle();
  return app.serving.select(req).map((s) => s.campaignId);
}

/** Waits until both replicas have loaded the campaign (campaign.updated reaches each). */
async function loaded(campaignId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!replicas.every((r) => r.serving.index.get(campaignId))) {
    if (Date.now() > deadline) throw new Error("campaign never reached both replicas");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("frequency caps", () => {
  it("when a campaign allows 2 per day and 3 per week, then the third impression waits 24 hours after the first and the fourth a week", async () => {
    const c = await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("100"), frequencyCap: { perDay: 2, perWeek: 3 }, targeting: buildTargeting({ countries: ["FA"] }) });
    await loaded(c.id);
    const app = replicas[0]!;
    const t0 = clock.ms;
    expect(await selectSettled(app, request("FA", "cust_f"))).toEqual([c.id]);
    clock.set(t0 + HOUR);
    expect(await selectSettled(app, request("FA", "cust_f"))).toEqual([c.id]);
    clock.set(t0 + 24 * HOUR - 1);
    expect(await selectSettled(app, request("FA", "cust_f"))).toEqual([]);
    // The control: another customer gets the ad at the same instant (the budget is there).
    expect(await selectSettled(app, request("FA", "cust_g"))).toEqual([c.id]);
    clock.set(t0 + 24 * HOUR);
    expect(await selectSettled(app, request("FA", "cust_f"))).toEqual([c.id]);
    clock.set(t0 + 3 * DAY);
    expect(await selectSettled(app, request("FA", "cust_f"))).toEqual([]);
    clock.set(t0 + 7 * DAY);
    expect(await selectSettled(app, request("FA", "cust_f"))).toEqual([c.id]);
    clock.set(t0);
  });

  it("when one replica showed a customer a campaign up to its cap, then once that replica's batch is out the other replica refuses it too", async () => {
    // Midday: pacing leaves budget for both replicas (at midnight the first would lease all there is).
    const t0 = clock.ms;
    clock.set(t0 + 12 * HOUR);
    const c = await activeCampaign(client, owner, reviewer, clock.ms, { businessId: "biz_pottery", bid: cpm("100"), frequencyCap: { perDay: 1, perWeek: 0 }, targeting: buildTargeting({ countries: ["FC"] }) });
    await loaded(c.id);
    const [one, two] = [replicas[0]!, replicas[1]!];
    expect(await selectSettled(one, request("FC", "cust_x"))).toEqual([c.id]);
    await one.serving.flush();
    const deadline = Date.now() + 20_000;
    for (;;) {
      // The control: the other replica serves the campaign (it has budget) to someone else at the same instant.
      expect(await selectSettled(two, request("FC", `cust_y${Date.now()}`))).toEqual([c.id]);
      if ((await selectSettled(two, request("FC", "cust_x"))).length === 0) break;
      if (Date.now() > deadline) throw new Error("the other replica never learnt of the impression");
      await new Promise((r) => setTimeout(r, 50));
    }
    clock.set(t0);
  });

  it("when the placement's global cap is 4 a day, then a customer sees at most 4 ads there across campaigns, and other placements are apart", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm(String(100 + i)), targeting: buildTargeting({ countries: ["FB"] }) })).id);
    for (const id of ids) await loaded(id);
    const app = replicas[0]!;
    expect((await selectSettled(app, request("FB", "cust_p", 3))).sort()).toEqual([...ids].sort());
    expect(await selectSettled(app, request("FB", "cust_p", 3))).toHaveLength(1);
    expect(await selectSettled(app, request("FB", "cust_p", 3))).toEqual([]);
    expect(await selectSettled(app, { ...request("FB", "cust_p", 3), placement: "app_banner" })).toHaveLength(3);
  });
});

describe("budget leases", () => {
  it("when six campaigns compete for one slot, then a cold replica leases only the two that can win or set the price, and the next one once the first is out of budget", async () => {
    const t0 = clock.ms;
    clock.set(t0 + 12 * HOUR);
    // Bids 600 down to 100: the first lease a request asks for is the top two (one slot and the price setter).
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm(String(600 - i * 100)), dailyBudget: { amountMinor: "1000", currency: "EUR" }, targeting: buildTargeting({ countries: ["LA"] }) })).id);
    }
    for (const id of ids) await loaded(id);
    const app = replicas[0]!;
    const leased = async () => {
      const rows = await app.runtime.db.selectFrom("campaign_day").select(["campaign_id", "leased_milli"]).where("campaign_id", "in", ids).execute();
      return ids.filter((id) => rows.some((r) => r.campaign_id === id && Number(r.leased_milli) > 0));
    };
    for (let i = 0; i < 20; i++) {
      app.serving.select(request("LA", ""));
      await app.serving.settle();
    }
    expect(await leased()).toEqual(ids.slice(0, 2));
    expect(app.serving.select(request("LA", "")).map((s) => s.campaignId)).toEqual([ids[0]]);
    // The top campaign's day is spent (the other replica took the rest of its budget): the walk asks for the third.
    await app.runtime.db.updateTable("campaign_day").set({ leased_milli: sql`budget_milli` }).where("campaign_id", "=", ids[0]!).execute();
    app.serving.index.get(ids[0]!)!.state.lease!.remainingMilli = 0;
    for (let i = 0; i < 5; i++) {
      app.serving.select(request("LA", ""));
      await app.serving.settle();
    }
    expect(await leased()).toEqual(ids.slice(0, 3));
    expect(app.serving.select(request("LA", "")).map((s) => s.campaignId)).toEqual([ids[1]]);
    clock.set(t0);
  });
});

describe("pacing and budgets across a simulated day, two replicas", () => {
  it("when two replicas serve all day, then spend follows the even line, ends within one bid of the budget, and never passes it", async () => {
    const midnight = Date.parse("2026-12-10T00:00:00Z");
    clock.set(midnight - HOUR);
    // 960 EUR cents a day at 1 cent per impression (CPM 1000): 960 impressions in the day.
    const c = await activeCampaign(client, owner, reviewer, clock.ms, {
      bid: cpm("1000"),
      dailyBudget: { amountMinor: "960", currency: "EUR" },
      lifetimeBudget: { amountMinor: "1440", currency: "EUR" },
      targeting: buildTargeting({ countries: ["PA"] }),
    });
    // A rival just under it sets the second price: every impression costs 999 thousandths of a cent.
    const rival = await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("999"), dailyBudget: { amountMinor: "1000000", currency: "EUR" }, targeting: buildTargeting({ countries: ["PA"] }) });
    await loaded(c.id);
    await loaded(rival.id);
    const budgetMilli = 960_000;
    const price = 999;
    /** Serves until this replica has no budget left for the campaign right now; counts its impressions. */
    const drain = async (app: AdsApp, rounds: number): Promise<number> => {
      let n = 0;
      const ours = () => app.serving.select(request("PA", "")).filter((s) => s.campaignId === c.id).length;
      for (let round = 0; round < rounds; round++) {
        // The first ask may only start a lease request: count it, wait for the lease, ask again.
        n += ours();
        await app.serving.settle();
        const got = ours();
        if (got === 0) break;
        n += got;
      }
      return n;
    };
    let served = 0;
    const servedAt = new Map<number, number>();
    for (let step = 0; step < 96; step++) {
      clock.set(midnight + step * 15 * 60_000 + 60_000);
      for (const app of replicas) served += await drain(app, 40);
      // Never ahead of the even line (plus its look-ahead).
      expect(served * price).toBeLessThanOrEqual(pacedCeiling(budgetMilli, clock.ms, 15 * 60_000));
      servedAt.set(step, served);
    }
    // Even: by noon about half the budget, not all of it early.
    const noon = servedAt.get(47)! * price;
    expect(noon).toBeGreaterThanOrEqual(0.42 * budgetMilli);
    expect(noon).toBeLessThanOrEqual(0.55 * budgetMilli);
    expect(served * price).toBeGreaterThanOrEqual(0.95 * budgetMilli);
    for (const app of replicas) await app.serving.flush();
    const day = await replicas[0]!.runtime.db.selectFrom("campaign_day").selectAll().where("campaign_id", "=", c.id).where("day", "=", "2026-12-10").executeTakeFirstOrThrow();
    const ledger = await replicas[0]!.runtime.db.selectFrom("spend_ledger").select(["amount_milli"]).where("campaign_id", "=", c.id).where("day", "=", "2026-12-10").execute();
    const ledgerMilli = ledger.reduce((s, r) => s + Number(r.amount_milli), 0);
    expect(ledgerMilli).toBe(Number(day.spent_milli));
    expect(ledgerMilli).toBe(served * price);
    // Never past the budget by more than one maximum bid (here: not at all, leases never add up to more).
    expect(ledgerMilli).toBeLessThanOrEqual(budgetMilli + 1000);
    expect(Number(day.leased_milli)).toBeLessThanOrEqual(budgetMilli);

    // The next day the lifetime budget (1.5 days) leaves half a day: serving stops there.
    let nextDay = 0;
    for (let step = 0; step < 24; step++) {
      clock.set(midnight + DAY + step * HOUR + 60_000);
      for (const app of replicas) nextDay += await drain(app, 60);
    }
    expect(nextDay).toBeGreaterThan(0);
    expect((served + nextDay) * price).toBeLessThanOrEqual(1_440_000 + 1000);
    clock.set(midnight - HOUR);
  });
});

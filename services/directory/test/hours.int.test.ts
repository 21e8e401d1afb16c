import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createDirectory, type DirectoryApp } from "../src/app.js";
import { isOpenAt, multirangeLiteral, searchHours, validateHours, type OpeningHours } from "../src/domain/hours.js";
import { prng } from "../bench/generate.js";

let env: TestEnv;
let app: DirectoryApp;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createDirectory(loadConfig(env.env()));
  await app.start();
});

afterAll(async () => {
  await app?.stop();
  await env?.cleanup();
});

const ZONES = ["Europe/Berlin", "America/New_York", "America/Sao_Paulo", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns", "Asia/Tokyo"];

/** Random but valid weekly hours (some overnight) plus a few dated exceptions. */
function randomHours(r: () => number): OpeningHours {
  const timeZone = ZONES[Math.floor(r() * ZONES.length)]!;
  const weekly: OpeningHours["weekly"] = [];
  for (let weekday = 1; weekday <= 7; weekday++) {
    if (r() < 0.2) continue;
    const open = Math.floor(r() * 20) * 60 + (r() < 0.3 ? 30 : 0);
    const len = 120 + Math.floor(r() * 10) * 60;
    weekly.push({ weekday, ranges: [{ openMinute: open, closeMinute: Math.min(open + len, 1440 + 300) }] });
  }
  const exceptions: OpeningHours["exceptions"] = [];
  for (let i = 0; i < 3; i++) {
    const date = `2026-${r() < 0.5 ? "03" : "10"}-${String(20 + Math.floor(r() * 10)).padStart(2, "0")}`;
    if (exceptions.some((e) => e.date === date)) continue;
    exceptions.push(r() < 0.5 ? { date, closed: true, ranges: [], note: "" } : { date, closed: false, ranges: [{ openMinute: 600, closeMinute: 660 }], note: "" });
  }
  return { timeZone, weekly, exceptions, alwaysOpen: false };
}

describe("dir_open_at (the database's open_now)", () => {
  it("when compared with the exact evaluation around DST changes and exceptions, then they agree at every instant", async () => {
    const r = prng(42);
    let checked = 0;
    for (let k = 0; k < 40; k++) {
      let hours: OpeningHours;
      try {
        hours = validateHours(randomHours(r));
      } catch {
        continue; // an exception that overlaps an overnight range: not a valid schedule
      }
      const sh = searchHours(hours);
      const instants: Date[] = [];
      for (const start of ["2026-03-19T00:00:00Z", "2026-10-19T00:00:00Z"]) {
        for (let t = Date.parse(start); t < Date.parse(start) + 13 * 86_400_000; t += 47 * 60_000) instants.push(new Date(t));
      }
      const { rows } = await sql<{ at: Date; open: boolean }>`
        SELECT t.at, dir_open_at(${multirangeLiteral(sh.week)}::int4multirange,
                                 ${sh.exceptionRegion.length ? multirangeLiteral(sh.exceptionRegion) : null}::int8multirange,
                                 ${sh.exceptionRegion.length ? multirangeLiteral(sh.exceptionOpen) : null}::int8multirange,
                                 ${hours.timeZone}, t.at) AS open
        FROM unnest(${instants.map((d) => d.toISOString())}::timestamptz[]) AS t(at)`.execute(app.runtime.db);
      const mismatches = rows.filter((row) => row.open !== isOpenAt(hours, row.at)).map((row) => `${hours.timeZone} ${row.at.toISOString()}`);
      expect(mismatches).toEqual([]);
      checked += rows.length;
    }
    expect(checked).toBeGreaterThan(10_000);
  });
});

import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { isOpenAt, openState, searchHours, validateHours, type OpeningHours, type SearchHours } from "./hours.js";
import { instantOf, localTime, parseDate } from "./time-zone.js";

const h = (hh: number, mm = 0) => hh * 60 + mm;
const weekdays = (open: number, close: number) => [1, 2, 3, 4, 5].map((weekday) => ({ weekday, ranges: [{ openMinute: open, closeMinute: close }] }));
const daily = (open: number, close: number) => [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, ranges: [{ openMinute: open, closeMinute: close }] }));

function hours(overrides: Partial<OpeningHours>): OpeningHours {
  return { timeZone: "Europe/Berlin", weekly: [], exceptions: [], alwaysOpen: false, ...overrides };
}

/** The database's dir_open_at, step by step, over what search stores. */
function searchOpenAt(sh: SearchHours, tz: string, at: Date): boolean {
  const { day, minute } = localTime(at, tz);
  const lem = day * 1440 + minute;
  const inside = (ranges: [number, number][], x: number) => ranges.some(([a, b]) => a <= x && x < b);
  if (inside(sh.exceptionRegion, lem)) return inside(sh.exceptionOpen, lem);
  const mow = (((day + 3) % 7) + 7) % 7 * 1440 + minute;
  return inside(sh.week, mow);
}

describe("isOpenAt", () => {
  const shop = hours({ weekly: weekdays(h(9), h(18)) });

  it("when it is inside the day's hours in the business's zone, then open", () => {
    // Monday 2026-11-23, CET (UTC+1): 08:30Z is 09:30 local.
    expect(isOpenAt(shop, new Date("2026-11-23T08:30:00Z"))).toBe(true);
    expect(isOpenAt(shop, new Date("2026-11-23T07:59:00Z"))).toBe(false);
    expect(isOpenAt(shop, new Date("2026-11-23T16:59:00Z"))).toBe(true);
    expect(isOpenAt(shop, new Date("2026-11-23T17:00:00Z"))).toBe(false);
    // Saturday: no hours.
    expect(isOpenAt(shop, new Date("2026-11-28T10:00:00Z"))).toBe(false);
  });

  it("when two businesses have the same hours in different zones, then the same instant differs", () => {
    const tokyo = hours({ timeZone: "Asia/Tokyo", weekly: weekdays(h(9), h(18)) });
    const at = new Date("2026-11-23T02:00:00Z"); // 11:00 Tokyo, 03:00 Berlin
    expect(isOpenAt(tokyo, at)).toBe(true);
    expect(isOpenAt(shop, at)).toBe(false);
    const kathmandu = hours({ timeZone: "Asia/Kathmandu", weekly: weekdays(h(9), h(18)) });
    // UTC+5:45: 03:14Z is 08:59, 03:15Z is 09:00.
    expect(isOpenAt(kathmandu, new Date("2026-11-23T03:14:00Z"))).toBe(false);
    expect(isOpenAt(kathmandu, new Date("2026-11-23T03:15:00Z"))).toBe(true);
  });

  it("when a range runs past midnight, then it is open after midnight and closed after it ends", () => {
    // Friday 22:00 – Saturday 02:00; Sunday 22:00 – Monday 03:00 (wraps the week).
    const bar = hours({
      weekly: [
        { weekday: 5, ranges: [{ openMinute: h(22), closeMinute: h(26) }] },
        { weekday: 7, ranges: [{ openMinute: h(22), closeMinute: h(27) }] },
      ],
    });
    expect(isOpenAt(bar, new Date("2026-11-27T21:30:00Z"))).toBe(true); // Fri 22:30
    expect(isOpenAt(bar, new Date("2026-11-28T00:59:00Z"))).toBe(true); // Sat 01:59
    expect(isOpenAt(bar, new Date("2026-11-28T01:00:00Z"))).toBe(false); // Sat 02:00
    expect(isOpenAt(bar, new Date("2026-11-30T01:30:00Z"))).toBe(true); // Mon 02:30
    expect(isOpenAt(bar, new Date("2026-11-30T02:00:00Z"))).toBe(false); // Mon 03:00
  });

  it("when a dated exception applies, then it replaces that day's hours only", () => {
    const withHoliday = hours({
      weekly: daily(h(9), h(18)),
      exceptions: [
        { date: "2026-12-25", closed: true, ranges: [], note: "Christmas" },
        { date: "2026-12-24", closed: false, ranges: [{ openMinute: h(9), closeMinute: h(13) }], note: "" },
      ],
    });
    expect(isOpenAt(withHoliday, new Date("2026-12-25T10:00:00Z"))).toBe(false);
    expect(isOpenAt(withHoliday, new Date("2026-12-24T11:00:00Z"))).toBe(true); // 12:00
    expect(isOpenAt(withHoliday, new Date("2026-12-24T13:00:00Z"))).toBe(false); // 14:00
    expect(isOpenAt(withHoliday, new Date("2026-12-26T10:00:00Z"))).toBe(true);
  });

  it("when the previous day's overnight range runs into a closed day, then it still ends as planned", () => {
    const club = hours({
      weekly: daily(h(22), h(28)),
      exceptions: [{ date: "2026-12-25", closed: true, ranges: [], note: "" }],
    });
    expect(isOpenAt(club, new Date("2026-12-25T02:00:00Z"))).toBe(true); // 03:00, from the 24th
    expect(isOpenAt(club, new Date("2026-12-25T22:00:00Z"))).toBe(false); // 23:00 on the 25th
  });
});

describe("openState", () => {
  it("when closed on the evening before a spring-forward night, then the next opening is in summer time", () => {
    const shop = hours({ weekly: daily(h(9), h(18)) });
    // Sat 2026-03-28 21:00 CET; clocks jump 02:00→03:00 on the 29th; 09:00 CEST = 07:00Z.
    const state = openState(shop, new Date("2026-03-28T20:00:00Z"));
    expect(state).toEqual({ open: false, nextOpenAt: new Date("2026-03-29T07:00:00Z") });
  });

  it("when open, then closesAt is the end of the merged opening, across midnight", () => {
    const late = hours({ timeZone: "America/Sao_Paulo", weekly: daily(h(18), h(26)) });
    // 2026-11-23 20:00 in São Paulo (UTC-3) = 23:00Z; closes 02:00 local = 05:00Z next day.
    expect(openState(late, new Date("2026-11-23T23:00:00Z"))).toEqual({ open: true, closesAt: new Date("2026-11-24T05:00:00Z") });
  });

  it("when always open, then it never closes within the horizon", () => {
    expect(openState(hours({ alwaysOpen: true }), new Date("2026-11-23T00:00:00Z"))).toEqual({ open: true });
  });

  it("when never open, then there is no next opening", () => {
    expect(openState(hours({}), new Date("2026-11-23T00:00:00Z"))).toEqual({ open: false });
  });
});

describe("instantOf", () => {
  it("when a local time is skipped by DST, then it moves forward by the gap", () => {
    expect(instantOf(parseDate("2026-03-29")!, h(2, 30), "Europe/Berlin")).toEqual(new Date("2026-03-29T01:30:00Z"));
  });

  it("when a local time happens twice, then the earlier instant is used", () => {
    expect(instantOf(parseDate("2026-10-25")!, h(2, 30), "Europe/Berlin")).toEqual(new Date("2026-10-25T00:30:00Z"));
  });
});

describe("validateHours", () => {
  it("when hours are bad, then the error names the field", () => {
    expect(invalidField(() => validateHours(hours({ timeZone: "Mars/Olympus" })))).toBe("hours.time_zone");
    expect(
      invalidField(() =>
        validateHours(hours({ weekly: [{ weekday: 1, ranges: [{ openMinute: h(9), closeMinute: h(13) }, { openMinute: h(12), closeMinute: h(18) }] }] })),
      ),
    ).toBe("hours.weekly[0].ranges[1]");
    expect(invalidField(() => validateHours(hours({ weekly: [{ weekday: 1, ranges: [{ openMinute: h(9), closeMinute: h(9) }] }] })))).toBe(
      "hours.weekly[0].ranges[0].close_minute",
    );
    expect(invalidField(() => validateHours(hours({ weekly: [{ weekday: 8, ranges: [] }] })))).toBe("hours.weekly[0].weekday");
    expect(invalidField(() => validateHours(hours({ weekly: [{ weekday: 2, ranges: [] }, { weekday: 2, ranges: [] }] })))).toBe("hours.weekly[1].weekday");
    expect(
      invalidField(() =>
        validateHours(
          hours({
            weekly: [
              { weekday: 7, ranges: [{ openMinute: h(20), closeMinute: h(27) }] },
              { weekday: 1, ranges: [{ openMinute: h(2), closeMinute: h(10) }] },
            ],
          }),
        ),
      ),
    ).toBe("hours.weekly[0].ranges[0].close_minute");
    expect(invalidField(() => validateHours(hours({ exceptions: [{ date: "2026-02-30", closed: true, ranges: [], note: "" }] })))).toBe("hours.exceptions[0].date");
    expect(invalidField(() => validateHours(hours({ alwaysOpen: true, weekly: daily(h(9), h(10)) })))).toBe("hours.weekly");
    // The Sunday night range runs into a Monday exception's early opening.
    expect(
      invalidField(() =>
        validateHours(
          hours({
            weekly: [{ weekday: 7, ranges: [{ openMinute: h(20), closeMinute: h(28) }] }],
            exceptions: [{ date: "2026-11-30", closed: false, ranges: [{ openMinute: h(2), closeMinute: h(6) }], note: "" }],
          }),
        ),
      ),
    ).toBe("hours.exceptions[0].ranges");
  });

  it("when ranges touch, then they are valid", () => {
    expect(() =>
      validateHours(hours({ weekly: [{ weekday: 1, ranges: [{ openMinute: h(9), closeMinute: h(12) }, { openMinute: h(12), closeMinute: h(18) }] }] })),
    ).not.toThrow();
  });
});

describe("searchHours", () => {
  it("when Sunday's range runs into Monday, then the week wraps", () => {
    const sh = searchHours(hours({ weekly: [{ weekday: 7, ranges: [{ openMinute: h(22), closeMinute: h(26) }] }] }));
    expect(sh.week).toEqual([
      [0, 120],
      [6 * 1440 + h(22), 7 * 1440],
    ]);
  });

  it("when evaluated like the database does, then it agrees with the exact answer at every quarter hour", () => {
    const cases: OpeningHours[] = [
      hours({ weekly: [...weekdays(h(9), h(18)), { weekday: 6, ranges: [{ openMinute: h(10), closeMinute: h(14) }] }] }),
      hours({ timeZone: "America/New_York", weekly: daily(h(18), h(26)), exceptions: [{ date: "2026-03-08", closed: true, ranges: [], note: "" }] }),
      hours({
        timeZone: "Asia/Kathmandu",
        weekly: [{ weekday: 7, ranges: [{ openMinute: h(20), closeMinute: h(29) }] }],
        exceptions: [{ date: "2026-03-09", closed: false, ranges: [{ openMinute: h(6), closeMinute: h(8) }], note: "" }],
      }),
      hours({ alwaysOpen: true, exceptions: [{ date: "2026-03-29", closed: true, ranges: [], note: "" }] }),
    ];
    for (const c of cases) {
      const sh = searchHours(validateHours(c));
      for (let t = Date.parse("2026-03-05T00:00:00Z"); t < Date.parse("2026-03-12T00:00:00Z"); t += 15 * 60_000) {
        expect([c.timeZone, new Date(t).toISOString(), searchOpenAt(sh, c.timeZone, new Date(t))]).toEqual([c.timeZone, new Date(t).toISOString(), isOpenAt(c, new Date(t))]);
      }
      for (let t = Date.parse("2026-03-27T00:00:00Z"); t < Date.parse("2026-03-31T00:00:00Z"); t += 15 * 60_000) {
        expect(searchOpenAt(sh, c.timeZone, new Date(t))).toBe(isOpenAt(c, new Date(t)));
      }
    }
  });
});

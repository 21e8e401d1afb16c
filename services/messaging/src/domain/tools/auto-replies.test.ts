import { describe, expect, it } from "vitest";
import { decideAutoReplies, disabledSettings, isOpenAt, validateSettings, type AutoReplySettings, type OpeningHours } from "./auto-replies.js";

const DAY = 86_400_000;
const MIN = 60_000;

// Berlin: Monday to Friday 09:00–17:00, Friday also 22:00–02:00, closed on 2026-12-24 (a Thursday).
const berlin: OpeningHours = {
  timeZone: "Europe/Berlin",
  weekly: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, ranges: weekday === 5 ? [{ openMinute: 540, closeMinute: 1020 }, { openMinute: 1320, closeMinute: 1560 }] : [{ openMinute: 540, closeMinute: 1020 }] })),
  exceptions: [{ date: "2026-12-24", closed: true, ranges: [] }],
  alwaysOpen: false,
};
// 2026-12-07 is a Monday; Berlin is UTC+1 in December.
const berlinAt = (date: string, hhmm: string) => Date.parse(`${date}T${hhmm}:00+01:00`);

describe("isOpenAt", () => {
  it("when a message comes at the edges of the hours, then the opening minute is open and the closing minute is closed, in the business's zone", () => {
    expect(isOpenAt(berlin, berlinAt("2026-12-07", "08:59"))).toBe(false);
    expect(isOpenAt(berlin, berlinAt("2026-12-07", "09:00"))).toBe(true);
    expect(isOpenAt(berlin, berlinAt("2026-12-07", "16:59"))).toBe(true);
    expect(isOpenAt(berlin, berlinAt("2026-12-07", "17:00"))).toBe(false);
    // 08:30 UTC is 09:30 in Berlin: open there, though 08:30 would be closed.
    expect(isOpenAt(berlin, Date.parse("2026-12-07T08:30:00Z"))).toBe(true);
    expect(isOpenAt({ ...berlin, timeZone: "America/New_York" }, Date.parse("2026-12-07T08:30:00Z"))).toBe(false);
  });

  it("when a range runs past midnight, a dated exception closes a day, or the business is always open, then each is followed", () => {
    expect(isOpenAt(berlin, berlinAt("2026-12-11", "23:00"))).toBe(true);
    expect(isOpenAt(berlin, berlinAt("2026-12-12", "01:59"))).toBe(true); // Saturday, from Friday's range
    expect(isOpenAt(berlin, berlinAt("2026-12-12", "02:00"))).toBe(false);
    expect(isOpenAt(berlin, berlinAt("2026-12-13", "12:00"))).toBe(false); // Sunday: no hours
    expect(isOpenAt(berlin, berlinAt("2026-12-24", "10:00"))).toBe(false); // the exception
    expect(isOpenAt(berlin, berlinAt("2026-12-23", "10:00"))).toBe(true);
    expect(isOpenAt({ timeZone: "Asia/Tokyo", weekly: [], exceptions: [], alwaysOpen: true }, berlinAt("2026-12-13", "03:00"))).toBe(true);
  });

  it("when the hours or their zone are unknown, then the answer is unknown (no away message)", () => {
    expect(isOpenAt(undefined, Date.now())).toBeUndefined();
    expect(isOpenAt({ ...berlin, timeZone: "" }, Date.now())).toBeUndefined();
    expect(isOpenAt({ ...berlin, timeZone: "Mars/Olympus" }, Date.now())).toBeUndefined();
  });
});

const settings = (over: Partial<AutoReplySettings> = {}): AutoReplySettings => ({
  ...disabledSettings("pn"),
  greeting: { enabled: true, text: "Welcome!", intervalMinutes: 1440 },
  away: { enabled: true, text: "We are closed.", intervalMinutes: 60 },
  ...over,
});

describe("decideAutoReplies", () => {
  const openMonday = berlinAt("2026-12-07", "10:00");
  const closedMonday = berlinAt("2026-12-07", "20:00");
  const base = { previousAt: undefined, lastSent: {}, hours: berlin, handled: false };

  it("when a customer writes first, then the greeting; after 14 days of silence again, not after 13", () => {
    expect(decideAutoReplies(settings(), { ...base, at: openMonday })).toEqual(["greeting"]);
    expect(decideAutoReplies(settings(), { ...base, at: openMonday, previousAt: openMonday - 13 * DAY, lastSent: { greeting: openMonday - 20 * DAY } })).toEqual([]);
    expect(decideAutoReplies(settings(), { ...base, at: openMonday, previousAt: openMonday - 14 * DAY, lastSent: { greeting: openMonday - 20 * DAY } })).toEqual(["greeting"]);
    expect(decideAutoReplies(settings({ greetingSilenceDays: 2 }), { ...base, at: openMonday, previousAt: openMonday - 2 * DAY })).toEqual(["greeting"]);
  });

  it("when a kind went to the customer within its interval, then not again; after it, again", () => {
    expect(decideAutoReplies(settings(), { ...base, at: openMonday, lastSent: { greeting: openMonday - 1439 * MIN } })).toEqual([]);
    expect(decideAutoReplies(settings(), { ...base, at: openMonday, lastSent: { greeting: openMonday - 1440 * MIN } })).toEqual(["greeting"]);
    expect(decideAutoReplies(settings(), { ...base, at: closedMonday, previousAt: closedMonday - MIN, lastSent: { away: closedMonday - 59 * MIN } })).toEqual([]);
    expect(decideAutoReplies(settings(), { ...base, at: closedMonday, previousAt: closedMonday - MIN, lastSent: { away: closedMonday - 60 * MIN } })).toEqual(["away"]);
  });

  it("when outside hours on a first message, then greeting then away; a flow or an agent handling it, or a kind disabled, sends nothing of it", () => {
    expect(decideAutoReplies(settings(), { ...base, at: closedMonday })).toEqual(["greeting", "away"]);
    expect(decideAutoReplies(settings(), { ...base, at: closedMonday, handled: true })).toEqual([]);
    expect(decideAutoReplies(settings({ greeting: { enabled: false, text: "", intervalMinutes: 1440 } }), { ...base, at: closedMonday })).toEqual(["away"]);
    expect(decideAutoReplies(settings(), { ...base, at: closedMonday, hours: undefined })).toEqual(["greeting"]);
  });
});

describe("validateSettings", () => {
  it("when a field is bad, then InvalidInput names it; zeros take the defaults", () => {
    const ok = { phoneNumberId: "pn", greeting: { enabled: true, text: " Hi ", intervalMinutes: 0 }, greetingSilenceDays: 0, away: undefined };
    expect(validateSettings(ok)).toMatchObject({ greeting: { text: "Hi", intervalMinutes: 1440 }, greetingSilenceDays: 14, away: { enabled: false } });
    expect(() => validateSettings({ ...ok, greeting: { enabled: true, text: "  ", intervalMinutes: 0 } })).toThrow(expect.objectContaining({ field: "settings.greeting.text" }));
    expect(() => validateSettings({ ...ok, away: { enabled: false, text: "", intervalMinutes: -1 } })).toThrow(expect.objectContaining({ field: "settings.away.interval_minutes" }));
    expect(() => validateSettings({ ...ok, greetingSilenceDays: 400 })).toThrow(expect.objectContaining({ field: "settings.greeting_silence_days" }));
    expect(() => validateSettings({ ...ok, phoneNumberId: "" })).toThrow(expect.objectContaining({ field: "settings.phone_number_id" }));
  });
});

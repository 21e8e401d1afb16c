import { describe, expect, it } from "vitest";
import { TemplateStatus as S } from "@kontor/proto/messaging/v1/template";
import { PolicyRefused } from "@kontor/service-kit/errors";
import { canTransition, qualityStrike, recordApprovedEdit, requireTransition } from "./lifecycle.js";

describe("template lifecycle", () => {
  it("review decides only a PENDING template", () => {
    expect(canTransition(S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_APPROVED, "review")).toBe(true);
    expect(canTransition(S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_REJECTED, "review")).toBe(true);
    expect(canTransition(S.TEMPLATE_STATUS_REJECTED, S.TEMPLATE_STATUS_APPROVED, "review")).toBe(false);
  });

  it("an edit sends APPROVED, REJECTED or PAUSED back to review; never PENDING or DISABLED", () => {
    for (const s of [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_REJECTED, S.TEMPLATE_STATUS_PAUSED]) expect(canTransition(s, S.TEMPLATE_STATUS_PENDING, "edit")).toBe(true);
    expect(() => requireTransition(S.TEMPLATE_STATUS_DISABLED, S.TEMPLATE_STATUS_PENDING, "edit")).toThrow(PolicyRefused);
    expect(() => requireTransition(S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_PENDING, "edit")).toThrow(PolicyRefused);
  });

  it("a reviewer overrides any status with APPROVED or REJECTED, not with PAUSED", () => {
    expect(canTransition(S.TEMPLATE_STATUS_REJECTED, S.TEMPLATE_STATUS_APPROVED, "reviewer")).toBe(true);
    expect(canTransition(S.TEMPLATE_STATUS_DISABLED, S.TEMPLATE_STATUS_APPROVED, "reviewer")).toBe(true);
    expect(canTransition(S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_APPROVED, "reviewer")).toBe(false);
    expect(canTransition(S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_PAUSED, "reviewer")).toBe(false);
  });

  it("quality pauses for 3 h, then 6 h, and disables on the third strike", () => {
    const now = new Date("2026-12-01T10:00:00Z");
    const first = qualityStrike({ status: S.TEMPLATE_STATUS_APPROVED, pauseCount: 0 }, now);
    expect(first).toEqual({ status: S.TEMPLATE_STATUS_PAUSED, pauseCount: 1, pausedUntil: new Date("2026-12-01T13:00:00Z") });
    const second = qualityStrike({ status: S.TEMPLATE_STATUS_APPROVED, pauseCount: 1 }, now);
    expect(second).toEqual({ status: S.TEMPLATE_STATUS_PAUSED, pauseCount: 2, pausedUntil: new Date("2026-12-01T16:00:00Z") });
    expect(qualityStrike({ status: S.TEMPLATE_STATUS_APPROVED, pauseCount: 2 }, now)).toEqual({ status: S.TEMPLATE_STATUS_DISABLED, pauseCount: 3, pausedUntil: undefined });
    expect(() => qualityStrike({ status: S.TEMPLATE_STATUS_REJECTED, pauseCount: 0 }, now)).toThrow(PolicyRefused);
  });
});

describe("edits of an APPROVED template", () => {
  const t0 = new Date("2026-12-01T10:00:00Z");
  const at = (ms: number) => new Date(t0.getTime() + ms);
  const H = 3600_000;

  it("one per 24 h: 23:59:59 after the last is refused, 24:00:00 after it is allowed", () => {
    expect(() => recordApprovedEdit([t0], at(24 * H - 1000))).toThrow(PolicyRefused);
    expect(recordApprovedEdit([t0], at(24 * H))).toEqual([t0, at(24 * H)]);
  });

  it("ten per 30 days; an edit older than 30 days no longer counts and is dropped", () => {
    const ten = Array.from({ length: 10 }, (_, i) => at(i * 25 * H));
    const now = at(10 * 25 * H);
    expect(() => recordApprovedEdit(ten, now)).toThrow(PolicyRefused);
    const later = at(30 * 24 * H + 1);
    expect(recordApprovedEdit(ten, later)).toEqual([...ten.slice(1), later]);
  });
});

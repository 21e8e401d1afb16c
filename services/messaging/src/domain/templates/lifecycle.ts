import { TemplateStatus } from "@kontor/proto/messaging/v1/template";
import { PolicyRefused } from "@kontor/service-kit/errors";

/** Who moves a template from one status to another. */
export type StatusActor = "review" | "edit" | "reviewer" | "quality";

const S = TemplateStatus;

/**
 * The lifecycle (cloud-api.md §4.3): review decides a PENDING template; an
 * edit sends an APPROVED, REJECTED or PAUSED one back to PENDING; a reviewer
 * overrides any status with APPROVED or REJECTED; quality pauses an APPROVED
 * one, unpauses a PAUSED one, and disables one paused too often.
 */
const ALLOWED: Record<StatusActor, ReadonlyArray<readonly [TemplateStatus, TemplateStatus]>> = {
  review: [
    [S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_APPROVED],
    [S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_REJECTED],
  ],
  edit: [
    [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_PENDING],
    [S.TEMPLATE_STATUS_REJECTED, S.TEMPLATE_STATUS_PENDING],
    [S.TEMPLATE_STATUS_PAUSED, S.TEMPLATE_STATUS_PENDING],
  ],
  reviewer: [S.TEMPLATE_STATUS_PENDING, S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_REJECTED, S.TEMPLATE_STATUS_PAUSED, S.TEMPLATE_STATUS_DISABLED].flatMap((from) =>
    [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_REJECTED].filter((to) => to !== from).map((to) => [from, to] as const),
  ),
  quality: [
    [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_PAUSED],
    [S.TEMPLATE_STATUS_PAUSED, S.TEMPLATE_STATUS_APPROVED],
    [S.TEMPLATE_STATUS_PAUSED, S.TEMPLATE_STATUS_DISABLED],
    [S.TEMPLATE_STATUS_APPROVED, S.TEMPLATE_STATUS_DISABLED],
  ],
};

export function canTransition(from: TemplateStatus, to: TemplateStatus, actor: StatusActor): boolean {
  return ALLOWED[actor].some(([f, t]) => f === from && t === to);
}

const NAMES: Record<number, string> = { 1: "PENDING", 2: "APPROVED", 3: "REJECTED", 4: "PAUSED", 5: "DISABLED" };
export const statusName = (s: TemplateStatus): string => NAMES[s] ?? "UNSPECIFIED";

/** Refuses a move the lifecycle does not allow (FAILED_PRECONDITION). */
export function requireTransition(from: TemplateStatus, to: TemplateStatus, actor: StatusActor): void {
  if (!canTransition(from, to, actor)) {
    throw new PolicyRefused("TEMPLATE_STATUS", `a ${statusName(from)} template cannot become ${statusName(to)} by ${actor}`);
  }
}

/** How long quality's pauses last: the first 3 h, the second 6 h; the third strike disables (cloud-api.md §4.3). */
export const PAUSE_DURATIONS_MS = [3 * 3600_000, 6 * 3600_000] as const;

/** What quality does to an APPROVED template with a low score: the next pause, or DISABLED on the third strike. */
export function qualityStrike(t: { status: TemplateStatus; pauseCount: number }, now: Date): { status: TemplateStatus; pauseCount: number; pausedUntil: Date | undefined } {
  requireTransition(t.status, S.TEMPLATE_STATUS_PAUSED, "quality");
  const duration = PAUSE_DURATIONS_MS[t.pauseCount];
  if (duration === undefined) return { status: S.TEMPLATE_STATUS_DISABLED, pauseCount: t.pauseCount + 1, pausedUntil: undefined };
  return { status: S.TEMPLATE_STATUS_PAUSED, pauseCount: t.pauseCount + 1, pausedUntil: new Date(now.getTime() + duration) };
}

/** Edits of an APPROVED template: at most one per 24 h and ten per 30 days (cloud-api.md §4.3). */
export const APPROVED_EDIT_LIMITS = { perDay: 1, perMonth: 10 } as const;
const DAY_MS = 24 * 3600_000;

/**
 * Refuses an edit of an APPROVED template over its edit limits, given when
 * its earlier approved edits happened; returns the history to store (the
 * last 30 days, with this edit).
 */
export function recordApprovedEdit(history: Date[], now: Date): Date[] {
  const recent = history.filter((t) => now.getTime() - t.getTime() < 30 * DAY_MS);
  if (recent.filter((t) => now.getTime() - t.getTime() < DAY_MS).length >= APPROVED_EDIT_LIMITS.perDay) {
    throw new PolicyRefused("TEMPLATE_EDIT_LIMIT", `an APPROVED template may be edited at most ${APPROVED_EDIT_LIMITS.perDay} time per 24 hours`);
  }
  if (recent.length >= APPROVED_EDIT_LIMITS.perMonth) throw new PolicyRefused("TEMPLATE_EDIT_LIMIT", `an APPROVED template may be edited at most ${APPROVED_EDIT_LIMITS.perMonth} times per 30 days`);
  return [...recent, now];
}

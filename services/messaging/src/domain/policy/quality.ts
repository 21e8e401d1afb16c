import { DAY_MS, HOUR_MS } from "./clock.js";
import { refuse, type Refusal } from "./refusals.js";

/** A business number's quality rating (Cloud API §9.2), also a template's. */
export type Quality = "GREEN" | "YELLOW" | "RED";

/** The signals a rating is made of, over the rolling window. */
export const SIGNALS = { sent: 0, read: 1, blocked: 2, reported: 3 } as const;
export type Signal = keyof typeof SIGNALS;
const SIGNAL_COUNT = 4;

export interface QualityThresholds {
  /** How far back signals count: 7 days. */
  readonly windowMs: number;
  /** Signals are summed per slot; one rolls off between windowMs − slotMs and windowMs after it happened. */
  readonly slotMs: number;
  /** Below this many sent messages in the window there is too little signal: GREEN. */
  readonly minSent: number;
  /** A report weighs this many blocks. */
  readonly reportWeight: number;
  /** (blocks + weighted reports) ÷ sent at or above this: YELLOW. */
  readonly yellowNegativeRate: number;
  /** … at or above this: RED. */
  readonly redNegativeRate: number;
  /** read ÷ sent below this: YELLOW at least (a low read rate alone never makes RED). */
  readonly yellowBelowReadRate: number;
}

export const DEFAULT_QUALITY: QualityThresholds = Object.freeze({
  windowMs: 7 * DAY_MS,
  slotMs: HOUR_MS,
  minSent: 100,
  reportWeight: 2,
  yellowNegativeRate: 0.005,
  redNegativeRate: 0.02,
  yellowBelowReadRate: 0.25,
});

export interface SignalTotals {
  sent: number;
  read: number;
  blocked: number;
  reported: number;
}

export function negativeRate(totals: SignalTotals, thresholds: QualityThresholds = DEFAULT_QUALITY): number {
  return totals.sent === 0 ? 0 : (totals.blocked + thresholds.reportWeight * totals.reported) / totals.sent;
}

/** The rating of a window's totals. */
export function rate(totals: SignalTotals, thresholds: QualityThresholds = DEFAULT_QUALITY): Quality {
  if (totals.sent < thresholds.minSent) return "GREEN";
  const negative = negativeRate(totals, thresholds);
  if (negative >= thresholds.redNegativeRate) return "RED";
  if (negative >= thresholds.yellowNegativeRate || totals.read / totals.sent < thresholds.yellowBelowReadRate) return "YELLOW";
  return "GREEN";
}

/**
 * Signal counts over a rolling window, per key (a business number, a
 * template): a ring of slots per key, each slot stamped with the slot number
 * it counts so a stale one is cleared when reused. Adding allocates nothing
 * once a key has its ring.
 */
export class RollingSignals {
  private readonly slots: number;
  private readonly rings = new Map<string, { counts: Float64Array; stamps: Float64Array }>();

  constructor(private readonly thresholds: QualityThresholds = DEFAULT_QUALITY) {
    this.slots = Math.ceil(thresholds.windowMs / thresholds.slotMs);
  }

  /** Counts a signal that happened at `at`; one older than the window is ignored. */
  add(key: string, signal: Signal, at: number, count = 1): void {
    const slot = Math.floor(at / this.thresholds.slotMs);
    let ring = this.rings.get(key);
    if (ring === undefined) {
      ring = { counts: new Float64Array(this.slots * SIGNAL_COUNT), stamps: new Float64Array(this.slots).fill(-1) };
      this.rings.set(key, ring);
    }
    const position = slot % this.slots;
    const stamp = ring.stamps[position]!;
    if (stamp > slot) return;
    if (stamp !== slot) {
      ring.stamps[position] = slot;
      ring.counts.fill(0, position * SIGNAL_COUNT, position * SIGNAL_COUNT + SIGNAL_COUNT);
    }
    ring.counts[position * SIGNAL_COUNT + SIGNALS[signal]]! += count;
  }

  /** The totals of the window ending now. */
  totals(key: string, now: number): SignalTotals {
    const out = { sent: 0, read: 0, blocked: 0, reported: 0 };
    const ring = this.rings.get(key);
    if (ring === undefined) return out;
    const current = Math.floor(now / this.thresholds.slotMs);
    for (let position = 0; position < this.slots; position++) {
      const stamp = ring.stamps[position]!;
      if (stamp <= current - this.slots || stamp > current) continue;
      const base = position * SIGNAL_COUNT;
      out.sent += ring.counts[base]!;
      out.read += ring.counts[base + 1]!;
      out.blocked += ring.counts[base + 2]!;
      out.reported += ring.counts[base + 3]!;
    }
    return out;
  }

  rating(key: string, now: number): Quality {
    return rate(this.totals(key, now), this.thresholds);
  }

  /** Drops keys with nothing left in the window. */
  sweep(now: number): void {
    const oldest = Math.floor(now / this.thresholds.slotMs) - this.slots;
    for (const [key, ring] of this.rings) if (ring.stamps.every((stamp) => stamp <= oldest)) this.rings.delete(key);
  }
}

/** Cloud API §4.3: the first pause lasts 3 h, the second 6 h; the third strike disables the template. */
export const PAUSE_MS: readonly number[] = [3 * HOUR_MS, 6 * HOUR_MS];
export const DISABLE_AT_STRIKE = 3;

export type TemplateQualityStatus = "APPROVED" | "PAUSED" | "DISABLED";

/** A template's pauses: how many it had, and until when the current one lasts. */
export interface TemplateStrikes {
  readonly strikes: number;
  /** A PAUSED template is sendable again from this instant. */
  readonly pausedUntil: number;
  readonly disabled: boolean;
}

export const NO_STRIKES: TemplateStrikes = Object.freeze({ strikes: 0, pausedUntil: 0, disabled: false });

export function templateStatus(state: TemplateStrikes, now: number): TemplateQualityStatus {
  if (state.disabled) return "DISABLED";
  return now < state.pausedUntil ? "PAUSED" : "APPROVED";
}

/** One more strike: paused 3 h, then 6 h, then disabled. A template already paused or disabled is left as it is. */
export function strike(state: TemplateStrikes, now: number): TemplateStrikes {
  if (templateStatus(state, now) !== "APPROVED") return state;
  const strikes = state.strikes + 1;
  if (strikes >= DISABLE_AT_STRIKE) return { strikes, pausedUntil: 0, disabled: true };
  return { strikes, pausedUntil: now + PAUSE_MS[strikes - 1]!, disabled: false };
}

/** A paused template is refused with 132015, a disabled one with 132016. */
export function checkTemplateQuality(state: TemplateStrikes, now: number): Refusal | undefined {
  if (state.disabled) return refuse.templateDisabled();
  return now < state.pausedUntil ? refuse.templatePaused(state.pausedUntil) : undefined;
}

export interface MarketingTemplateQuality {
  readonly templateId: string;
  readonly strikes: TemplateStrikes;
  /** Its own signals over the same window. */
  readonly totals: SignalTotals;
}

/**
 * Which of a RED number's sendable marketing templates to pause: every one
 * whose own signals are RED; when none is, the single one with the highest
 * negative rate, if any drew a block or report. A number that is not RED
 * pauses nothing.
 */
export function templatesToPause(numberQuality: Quality, templates: readonly MarketingTemplateQuality[], now: number, thresholds: QualityThresholds = DEFAULT_QUALITY): string[] {
  if (numberQuality !== "RED") return [];
  const sendable = templates.filter((t) => templateStatus(t.strikes, now) === "APPROVED");
  const red = sendable.filter((t) => rate(t.totals, thresholds) === "RED").map((t) => t.templateId);
  if (red.length > 0) return red;
  let worst: MarketingTemplateQuality | undefined;
  for (const t of sendable) {
    const negative = negativeRate(t.totals, thresholds);
    if (negative > 0 && (worst === undefined || negative > negativeRate(worst.totals, thresholds))) worst = t;
  }
  return worst ? [worst.templateId] : [];
}

/**
 * The gateway's own call limits (cloud-api.md §9.3, §9.6), kept in memory per
 * replica: management calls per app and WABA over a rolling hour (80007 past
 * the limit), and sends per app and phone number as a token bucket (130429).
 * Each answer says how much is used in the Graph shape of
 * `X-Business-Use-Case-Usage`.
 */

export interface Usage {
  type: "whatsapp_business_management" | "whatsapp_business_messaging";
  /** Percent of the limit used (Graph reports call_count, total_cputime and total_time as percentages). */
  call_count: number;
  total_cputime: number;
  total_time: number;
  /** Minutes until calls are accepted again; 0 while they are. */
  estimated_time_to_regain_access: number;
}

export interface Verdict {
  allowed: boolean;
  usage: Usage;
}

const MINUTE = 60_000;
const BUCKETS = 60;

function usage(type: Usage["type"], percent: number, regainMinutes: number): Usage {
  const p = Math.min(100, Math.max(0, Math.round(percent)));
  return { type, call_count: p, total_cputime: p, total_time: p, estimated_time_to_regain_access: regainMinutes };
}

/** Calls per key over a rolling hour, in one-minute buckets. */
export class HourlyLimiter {
  private windows = new Map<string, { minute: number; counts: number[] }>();
  constructor(
    private limit: number,
    private maxKeys = 100_000,
  ) {}

  /** Counts a call of `key` unless the hour is full. */
  take(key: string, now = Date.now()): Verdict {
    const minute = Math.floor(now / MINUTE);
    let w = this.windows.get(key);
    if (!w) {
      if (this.windows.size >= this.maxKeys) this.windows.clear();
      w = { minute, counts: new Array<number>(BUCKETS).fill(0) };
      this.windows.set(key, w);
    }
    // Buckets of minutes that left the hour are emptied.
    for (let m = w.minute + 1; m <= minute && m <= w.minute + BUCKETS; m++) w.counts[m % BUCKETS] = 0;
    w.minute = Math.max(w.minute, minute);
    const used = w.counts.reduce((s, c) => s + c, 0);
    if (used >= this.limit) {
      // The oldest minutes leave the window one by one; count until enough have left.
      let freed = 0;
      let regain = 1;
      for (let age = BUCKETS - 1; age >= 0; age--, regain++) {
        freed += w.counts[(minute - age + BUCKETS * 2) % BUCKETS]!;
        if (used - freed < this.limit) break;
      }
      return { allowed: false, usage: usage("whatsapp_business_management", 100, regain) };
    }
    w.counts[minute % BUCKETS]!++;
    return { allowed: true, usage: usage("whatsapp_business_management", ((used + 1) * 100) / this.limit, 0) };
  }
}

/** A token bucket per key: `ratePerS` refilled each second, up to `burst`. */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private ratePerS: number,
    private burst: number,
    private maxKeys = 100_000,
  ) {}

  take(key: string, now = Date.now()): Verdict {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.buckets.clear();
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerS);
    b.at = now;
    if (b.tokens < 1) {
      const waitMs = ((1 - b.tokens) / this.ratePerS) * 1000;
      return { allowed: false, usage: usage("whatsapp_business_messaging", 100, Math.ceil(waitMs / MINUTE)) };
    }
    b.tokens -= 1;
    return { allowed: true, usage: usage("whatsapp_business_messaging", ((this.burst - b.tokens) * 100) / this.burst, 0) };
  }
}

/** The header's value: `{"<business-id>": [usage]}` (the business object is the WABA here). */
export function usageHeader(wabaId: string, u: Usage): string {
  return JSON.stringify({ [wabaId]: [u] });
}

import { SECOND_MS, type Clock } from "./clock.js";
import { refuse, type Refusal } from "./refusals.js";

/** Cloud API §9.3: 80 messages per second per business number, 1,000 after the throughput upgrade. */
export const DEFAULT_THROUGHPUT_PER_SECOND = 80;
export const HIGH_THROUGHPUT_PER_SECOND = 1_000;
/** Cloud API §9.4: one message per 6 s from a business number to one customer, bursts of up to 45 within 6 s borrowing from later. */
export const PAIR_INTERVAL_MS = 6 * SECOND_MS;
export const PAIR_BURST_MAX = 45;
export const PAIR_BURST_WINDOW_MS = 6 * SECOND_MS;

/**
 * A token bucket as one number (the generic cell rate algorithm): `tat` is
 * when the bucket would be full again. A bucket of `burst` tokens refilled
 * at `perSecond` lets a send through when at most `burst − 1` intervals are
 * owed. Exact for rates whose interval is a binary fraction of a millisecond
 * (80/s → 12.5 ms, 1,000/s → 1 ms).
 */
export interface BucketState {
  tat: number;
}

export interface BucketConfig {
  readonly perSecond: number;
  readonly intervalMs: number;
  /** How far ahead of now the bucket may run: (burst − 1) intervals. */
  readonly toleranceMs: number;
}

export function bucketConfig(perSecond: number, burst = perSecond): BucketConfig {
  if (!(perSecond > 0) || !(burst >= 1)) throw new Error("a bucket needs a positive rate and a burst of at least 1");
  const intervalMs = SECOND_MS / perSecond;
  return { perSecond, intervalMs, toleranceMs: (Math.floor(burst) - 1) * intervalMs };
}

/** Takes a token: 0 when taken, else how many ms until one is there (the state is left as it was). */
export function take(state: BucketState, config: BucketConfig, now: number): number {
  const tat = state.tat > now ? state.tat : now;
  const wait = tat - config.toleranceMs - now;
  if (wait > 0) return wait;
  state.tat = tat + config.intervalMs;
  return 0;
}

/** Uses a token whether or not one is there (inbound messages count towards a number's throughput and are never refused). */
export function charge(state: BucketState, config: BucketConfig, now: number): void {
  state.tat = (state.tat > now ? state.tat : now) + config.intervalMs;
}

interface NumberBucket extends BucketState {
  config: BucketConfig;
}

/**
 * Throughput per business number (inbound and outbound, all types), refused
 * with 130429. One small record per number, made at its first message; the
 * allowed path allocates nothing.
 */
export class ThroughputLimiter {
  private readonly buckets = new Map<string, NumberBucket>();
  private readonly standard: BucketConfig;

  constructor(
    private readonly clock: Clock,
    options: { perSecond?: number; burst?: number } = {},
  ) {
    this.standard = bucketConfig(options.perSecond ?? DEFAULT_THROUGHPUT_PER_SECOND, options.burst ?? options.perSecond ?? DEFAULT_THROUGHPUT_PER_SECOND);
  }

  /** Takes a token for an outbound message of this number, or refuses it. */
  check(numberId: string): Refusal | undefined {
    const bucket = this.bucketOf(numberId);
    const wait = take(bucket, bucket.config, this.clock.now());
    return wait === 0 ? undefined : refuse.throughput(wait);
  }

  /** Gives back a token taken by check() for a send another rule then refused. */
  refund(numberId: string): void {
    const bucket = this.buckets.get(numberId);
    if (bucket) bucket.tat -= bucket.config.intervalMs;
  }

  /** Counts an inbound message against the number's throughput. */
  charge(numberId: string): void {
    const bucket = this.bucketOf(numberId);
    charge(bucket, bucket.config, this.clock.now());
  }

  /** A number's rate after an upgrade (1,000/s), its bucket that many tokens deep. */
  setRate(numberId: string, perSecond: number, burst = perSecond): void {
    this.bucketOf(numberId).config = bucketConfig(perSecond, burst);
  }

  rateOf(numberId: string): number {
    return (this.buckets.get(numberId)?.config ?? this.standard).perSecond;
  }

  private bucketOf(numberId: string): NumberBucket {
    let bucket = this.buckets.get(numberId);
    if (bucket === undefined) {
      bucket = { tat: 0, config: this.standard };
      this.buckets.set(numberId, bucket);
    }
    return bucket;
  }
}

/**
 * One business number → customer pair. Each message owes one interval
 * (`tat`, as in the bucket). With nothing owed a message starts a burst; more
 * messages within the burst window borrow, up to the burst maximum; after
 * it, the pair waits until all it borrowed is paid back (a burst of 20 → 2
 * minutes).
 */
export interface PairState {
  tat: number;
  burstStart: number;
  burstCount: number;
}

export interface PairConfig {
  readonly intervalMs: number;
  readonly burstMax: number;
  readonly burstWindowMs: number;
}

export const DEFAULT_PAIR_CONFIG: PairConfig = Object.freeze({ intervalMs: PAIR_INTERVAL_MS, burstMax: PAIR_BURST_MAX, burstWindowMs: PAIR_BURST_WINDOW_MS });

/** 0 when the message may go (and is counted), else how many ms until the pair has paid back what it borrowed. */
export function takePair(state: PairState, config: PairConfig, now: number): number {
  if (state.tat <= now) {
    state.burstStart = now;
    state.burstCount = 1;
    state.tat = now + config.intervalMs;
    return 0;
  }
  if (now < state.burstStart + config.burstWindowMs && state.burstCount < config.burstMax) {
    state.burstCount++;
    state.tat += config.intervalMs;
    return 0;
  }
  return state.tat - now;
}

/**
 * The pair rate limit business number → customer, refused with 131056.
 * Pairs are kept per number, then per customer, so a lookup builds no key;
 * `sweep` drops pairs that owe nothing (dropping one does not change what it
 * would allow).
 */
export class PairRateLimiter {
  private readonly pairs = new Map<string, Map<string, PairState>>();

  constructor(
    private readonly clock: Clock,
    private readonly config: PairConfig = DEFAULT_PAIR_CONFIG,
  ) {}

  check(numberId: string, customerId: string): Refusal | undefined {
    let customers = this.pairs.get(numberId);
    if (customers === undefined) {
      customers = new Map();
      this.pairs.set(numberId, customers);
    }
    let pair = customers.get(customerId);
    if (pair === undefined) {
      pair = { tat: 0, burstStart: 0, burstCount: 0 };
      customers.set(customerId, pair);
    }
    const wait = takePair(pair, this.config, this.clock.now());
    return wait === 0 ? undefined : refuse.pairRate(wait);
  }

  /** Gives back what check() counted for a send another rule then refused. */
  refund(numberId: string, customerId: string): void {
    const pair = this.pairs.get(numberId)?.get(customerId);
    if (!pair) return;
    pair.tat -= this.config.intervalMs;
    if (pair.burstCount > 0) pair.burstCount--;
  }

  /** Drops every pair that owes nothing now; returns how many are left. */
  sweep(): number {
    const now = this.clock.now();
    let left = 0;
    for (const [numberId, customers] of this.pairs) {
      for (const [customerId, pair] of customers) if (pair.tat <= now) customers.delete(customerId);
      if (customers.size === 0) this.pairs.delete(numberId);
      left += customers.size;
    }
    return left;
  }
}

/**
 * A small map whose entries live `ttlMs` (bounded: past `max` entries it
 * starts over). Hot lookups of the request path (a token's principal, a
 * phone-number id) are read from PostgreSQL at most once per entry lifetime.
 */
export class TtlCache<V> {
  private entries = new Map<string, { value: V; until: number }>();
  constructor(
    private ttlMs: number,
    private max = 10_000,
  ) {}

  get(key: string, now = Date.now()): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Keeps `value` until `ttlMs` from now, or `until` when that is sooner (a token's expiry). */
  set(key: string, value: V, until = Infinity, now = Date.now()): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { value, until: Math.min(now + this.ttlMs, until) });
  }

  clear(): void {
    this.entries.clear();
  }
}

/** A click that may earn the conversions after it. */
export interface Touch {
  clickId: string;
  campaignId: string;
  atMs: number;
}

/**
 * Last touch: the latest click at or before the conversion and no older
 * than the window; undefined when none qualifies.
 */
export function lastTouch(touches: readonly Touch[], conversionMs: number, windowMs: number): Touch | undefined {
  let best: Touch | undefined;
  for (const t of touches) {
    if (t.atMs > conversionMs || conversionMs - t.atMs > windowMs) continue;
    if (!best || t.atMs > best.atMs) best = t;
  }
  return best;
}

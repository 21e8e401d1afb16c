/**
 * Array parameters as PostgreSQL array literals, built with one join: the
 * driver's own conversion escapes and concatenates element by element, and
 * for an impression batch (eight arrays of a few thousand elements every
 * flush) it was the service's largest source of garbage. Pass the result
 * with a cast (`${uuidArray(ids)}::uuid[]`).
 */

/** uuids, numbers, ISO dates: elements that never need quoting. */
export function plainArray(values: readonly (string | number)[]): string {
  return `{${values.join(",")}}`;
}

/** Any text: each element quoted, `"` and `\` escaped. */
export function textArray(values: readonly string[]): string {
  if (values.length === 0) return "{}";
  for (const v of values) {
    if (v.includes('"') || v.includes("\\")) return `{${values.map((x) => `"${x.replace(/["\\]/g, "\\$&")}"`).join(",")}}`;
  }
  return `{"${values.join('","')}"}`;
}

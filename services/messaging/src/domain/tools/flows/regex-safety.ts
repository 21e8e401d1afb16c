/**
 * The regular expressions a flow may use (triggers, transitions, answer
 * validation) are a safe subset, so one customer message cannot stall the
 * event loop with catastrophic backtracking: at most 200 characters, no
 * backreferences, and no repeated group that itself holds a quantifier or an
 * alternation (`(a+)+`, `(\d*x)*`, `(a|aa)+`, `(?:ab?){2,}`). An optional
 * group (`(a+)?`) and a fixed single repetition (`{0,1}`, `{1}`) are fine.
 */

export const MAX_PATTERN_LENGTH = 200;

/** Flags every flow regex runs with: case-insensitive. */
export const FLOW_REGEX_FLAGS = "i";

interface Group {
  /** Holds a quantifier (directly or in a nested group). */
  quantified: boolean;
  /** Holds an alternation (directly or in a nested group). */
  alternation: boolean;
}

interface Quantifier {
  length: number;
  /** Can match its atom more than once. */
  repeats: boolean;
}

const BRACES = /^\{(\d+)(,(\d*))?\}\??/;

function quantifierAt(p: string, i: number): Quantifier | undefined {
  const c = p[i];
  const lazy = p[i + 1] === "?" ? 1 : 0;
  if (c === "*" || c === "+") return { length: 1 + lazy, repeats: true };
  if (c === "?") return { length: 1 + lazy, repeats: false };
  if (c !== "{") return undefined;
  const m = BRACES.exec(p.slice(i));
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
  return { length: m[0].length, repeats: max > 1 };
}

/** Why a pattern is refused, or undefined when it is in the safe subset. */
export function regexProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return "must not be empty";
  if (pattern.length > MAX_PATTERN_LENGTH) return `must be at most ${MAX_PATTERN_LENGTH} characters`;
  try {
    new RegExp(pattern, FLOW_REGEX_FLAGS);
  } catch {
    return "is not a valid regular expression";
  }
  const stack: Group[] = [{ quantified: false, alternation: false }];
  const top = () => stack[stack.length - 1]!;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (/[1-9]/.test(next) || (next === "k" && pattern[i + 2] === "<")) return "must not use backreferences";
      i += 2;
    } else if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "^") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j += pattern[j] === "\\" ? 2 : 1;
      i = j + 1;
    } else if (c === "(") {
      stack.push({ quantified: false, alternation: false });
      i++;
      if (pattern[i] === "?") {
        const modifier = /^\?(<[=!]|[:=!]|<[A-Za-z_$][\w$]*>)/.exec(pattern.slice(i));
        i += modifier ? modifier[0].length : 1;
      }
    } else if (c === ")") {
      const group = stack.pop()!;
      i++;
      const q = quantifierAt(pattern, i);
      if (q?.repeats && (group.quantified || group.alternation)) {
        return group.quantified
          ? "must not repeat a group that holds a quantifier, like (a+)+ (catastrophic backtracking)"
          : "must not repeat a group that holds an alternation, like (a|aa)+ (catastrophic backtracking)";
      }
      if (q) i += q.length;
      top().quantified ||= group.quantified || q !== undefined;
      top().alternation ||= group.alternation;
    } else if (c === "|") {
      top().alternation = true;
      i++;
    } else {
      const q = quantifierAt(pattern, i);
      if (q) top().quantified = true;
      i += q?.length ?? 1;
    }
  }
  return undefined;
}

const compiled = new Map<string, RegExp>();
const COMPILED_MAX = 1_000;

/** A safe pattern compiled with the flow flags (kept for reuse: no `g` flag, so `test` keeps no state); only for patterns `regexProblem` accepted. */
export function flowRegex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    re = new RegExp(pattern, FLOW_REGEX_FLAGS);
    compiled.set(pattern, re);
  }
  return re;
}

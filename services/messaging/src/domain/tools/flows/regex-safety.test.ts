import { describe, expect, it } from "vitest";
import { MAX_PATTERN_LENGTH, regexProblem } from "./regex-safety.js";

describe("the safe regex subset", () => {
  it.each([
    ["^order\\s*#?\\d{4,10}$"],
    ["\\bprice\\b"],
    ["(yes|no)"],
    ["(a+)?"],
    ["(?:ab){1}"],
    ["(?:a+){0,1}"],
    ["(\\d{3})-\\d+"],
    ["[(+)*]+x"],
    ["^(?<code>[A-Z]{3})-\\d+$"],
    ["(?:https?://)?\\S+"],
  ])("when the pattern is %s, then it is accepted", (pattern) => {
    expect(regexProblem(pattern)).toBeUndefined();
  });

  it.each([
    ["(a+)+", "holds a quantifier"],
    ["^(a*)*$", "holds a quantifier"],
    ["(\\d+\\s?)+x", "holds a quantifier"],
    ["(?:ab?){2,}", "holds a quantifier"],
    ["((a)+)+", "holds a quantifier"],
    ["(x(a+)y)*", "holds a quantifier"],
    ["(a|aa)+", "holds an alternation"],
    ["(?:(a|b)c){2}", "holds an alternation"],
    ["(a)\\1", "backreferences"],
    ["(?<x>a)\\k<x>", "backreferences"],
    ["a".repeat(MAX_PATTERN_LENGTH + 1), "at most 200"],
    ["(abc", "not a valid"],
    ["", "empty"],
  ])("when the pattern is %s, then it is refused (%s)", (pattern, problem) => {
    expect(regexProblem(pattern)).toContain(problem);
  });

  it("when a pattern is exactly 200 characters, then its length is accepted", () => {
    expect(regexProblem("a".repeat(MAX_PATTERN_LENGTH))).toBeUndefined();
  });
});

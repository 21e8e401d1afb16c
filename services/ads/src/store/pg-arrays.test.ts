import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { plainArray, textArray } from "./pg-arrays.js";

/** PostgreSQL's array_in for a one-dimensional array of quoted or plain elements (what these literals use). */
function parse(literal: string): string[] {
  expect(literal.startsWith("{") && literal.endsWith("}")).toBe(true);
  const body = literal.slice(1, -1);
  if (body === "") return [];
  const out: string[] = [];
  let i = 0;
  while (i <= body.length) {
    let v = "";
    if (body[i] === '"') {
      i++;
      while (body[i] !== '"') {
        if (body[i] === "\\") i++;
        v += body[i++];
      }
      i++;
    } else {
      while (i < body.length && body[i] !== ",") v += body[i++];
    }
    out.push(v);
    i++;
  }
  return out;
}

describe("array literals", () => {
  it("when text holds quotes, backslashes, commas or braces, then the literal reads back the same elements", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 20 }), { maxLength: 20 }), (values) => {
        expect(parse(textArray(values))).toEqual(values);
      }),
    );
    expect(textArray(['a"b', "c\\d", "e,f", "{g}", ""])).toBe('{"a\\"b","c\\\\d","e,f","{g}",""}');
  });

  it("when numbers and uuids are listed, then they go in plain", () => {
    expect(plainArray([1, 22, 333])).toBe("{1,22,333}");
    expect(plainArray([])).toBe("{}");
  });
});

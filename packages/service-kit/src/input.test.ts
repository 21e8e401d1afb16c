import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SendMessageRequest, SendMessageStreamRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { UpdateBusinessRequest } from "@kontor/proto/directory/v1/directory_service";
import { compileInputCheck, defaultLimits, inputFields } from "./input.js";
import { InvalidInput } from "./errors.js";

const SEND = "kontor.messaging.v1.SendMessageRequest";

/** Code points a valid string may hold. */
const codePoint = fc.oneof(fc.integer({ min: 1, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff }));
const clean = (maxLength = 12) => fc.array(codePoint, { maxLength }).map((cps) => String.fromCodePoint(...cps));

/**
 * Places of a string in a SendMessageRequest, through a nested message, a
 * oneof case, list items and a list of strings: each builds the ts-proto
 * object ts-proto itself decodes (`fromPartial`) and names the path a client sees.
 */
const places: { field: string; build: (s: string) => SendMessageRequest }[] = [
  { field: "client_message_id", build: (s) => SendMessageRequest.fromPartial({ clientMessageId: s }) },
  { field: "content.text.body", build: (s) => SendMessageRequest.fromPartial({ content: { kind: { $case: "text", value: { body: s, previewUrl: false } } } }) },
  { field: "sender.phone_number_id", build: (s) => SendMessageRequest.fromPartial({ sender: { kind: { $case: "phoneNumberId", value: s } } }) },
  {
    field: "content.order.items[2].product_retailer_id",
    build: (s) =>
      SendMessageRequest.fromPartial({
        content: { kind: { $case: "order", value: { catalogId: "c", items: [{ productRetailerId: "a" }, { productRetailerId: "b" }, { productRetailerId: s }] } } },
      }),
  },
  {
    field: "content.template.components[1].parameters[0].text",
    build: (s) =>
      SendMessageRequest.fromPartial({
        content: { kind: { $case: "template", value: { name: "t", components: [{ type: "body" }, { type: "body", parameters: [{ type: "text", text: s }] }] } } },
      }),
  },
  {
    field: "content.interactive.product_list.sections[0].product_retailer_ids[1]",
    build: (s) =>
      SendMessageRequest.fromPartial({
        content: { kind: { $case: "interactive", value: { action: { $case: "productList", value: { catalogId: "c", sections: [{ title: "x", productRetailerIds: ["ok", s] }] } } } } },
      }),
  },
  {
    field: "content.contacts.contacts[0].name.formatted_name",
    build: (s) => SendMessageRequest.fromPartial({ content: { kind: { $case: "contacts", value: { contacts: [{ name: { formattedName: s } }] } } } }),
  },
];

const place = fc.constantFrom(...places);

function refusal(check: (m: unknown) => InvalidInput | undefined, message: unknown): { field: string; message: string } | undefined {
  const err = check(message);
  return err ? { field: err.field, message: err.message } : undefined;
}

describe("input check: clean strings", () => {
  const check = compileInputCheck(SEND);

  it("a string with U+0000 anywhere, at any depth, is refused naming exactly that path", () => {
    fc.assert(
      fc.property(place, clean(), clean(), ({ field, build }, a, b) => {
        expect(refusal(check, build(`${a}\u0000${b}`))).toEqual({ field, message: `${field}: must not contain U+0000` });
      }),
      { numRuns: 200 },
    );
  });

  it("a lone surrogate anywhere is refused naming its path; a paired one passes", () => {
    fc.assert(
      fc.property(place, clean(), fc.integer({ min: 0xd800, max: 0xdfff }), clean(), ({ field, build }, a, unit, b) => {
        expect(check(build(`${a}${String.fromCharCode(unit)}${b}`))?.field).toBe(field);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(place, fc.integer({ min: 0x10000, max: 0x10ffff }), ({ build }, cp) => {
        expect(check(build(`a${String.fromCodePoint(cp)}b`))).toBeUndefined();
      }),
    );
  });

  it("any valid string within its limit passes, wherever it is", () => {
    fc.assert(
      fc.property(place, clean(64), ({ build }, s) => {
        expect(check(build(s))).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("a clean request of every shape passes, and nothing is refused twice (the check keeps no state)", () => {
    for (const { build } of places) expect(check(build("fine"))).toBeUndefined();
    const bad = places[3]!.build("x\u0000");
    expect(check(bad)?.field).toBe(places[3]!.field);
    expect(check(bad)?.field).toBe(places[3]!.field);
  });

  it("when the first lone surrogate comes after a valid pair, then it is still found", () => {
    expect(check(places[1]!.build("\u{1F600}\uDE00"))?.message).toBe("content.text.body: must not contain a lone surrogate or invalid UTF-8");
    expect(check(places[1]!.build("\uD83D"))?.message).toBe("content.text.body: must not contain a lone surrogate or invalid UTF-8");
  });

  it("a nested request (the streaming send) names the path under its item", () => {
    const stream = compileInputCheck("kontor.messaging.v1.SendMessageStreamRequest");
    const req = SendMessageStreamRequest.fromPartial({ ref: "r1", message: places[1]!.build("a\u0000") });
    expect(stream(req)?.field).toBe("message.content.text.body");
  });

  it("a FieldMask (string[] in ts-proto) is checked as <field>.paths", () => {
    const update = compileInputCheck("kontor.directory.v1.UpdateBusinessRequest");
    expect(update(UpdateBusinessRequest.fromPartial({ businessId: "b", updateMask: ["name", "ab\u0000"] }))?.field).toBe("update_mask.paths[1]");
    expect(update(UpdateBusinessRequest.fromPartial({ businessId: "b", updateMask: ["name"] }))).toBeUndefined();
  });

  it("a value that is not what the schema says (a handler's own object) is skipped, not thrown on", () => {
    expect(check({ clientMessageId: 5, content: "text", sender: null })).toBeUndefined();
    expect(check(null)).toBeUndefined();
  });
});

describe("input check: limits", () => {
  it("a string over the default length is refused with the limit; at the limit it passes (code points, not UTF-16 units)", () => {
    const check = compileInputCheck(SEND);
    fc.assert(
      fc.property(place, codePoint, fc.integer({ min: 1, max: 5 }), ({ field, build }, cp, extra) => {
        const max = defaultLimits.string;
        expect(check(build(String.fromCodePoint(cp).repeat(max)))).toBeUndefined();
        expect(refusal(check, build(String.fromCodePoint(cp).repeat(max + extra)))).toEqual({ field, message: `${field}: must be at most ${max} characters` });
      }),
      { numRuns: 30 },
    );
  });

  it("a repeated field over the default count is refused naming the field", () => {
    const check = compileInputCheck(SEND);
    const items = (n: number) =>
      SendMessageRequest.fromPartial({ content: { kind: { $case: "order", value: { catalogId: "c", items: Array.from({ length: n }, () => ({ productRetailerId: "p", quantity: 1, itemPrice: undefined })) } } } });
    expect(check(items(defaultLimits.count))).toBeUndefined();
    expect(check(items(defaultLimits.count + 1))?.message).toBe(`content.order.items: must have at most ${defaultLimits.count} items`);
  });

  it("a service's bounds override by full path or by last segments; the longest match wins", () => {
    const check = compileInputCheck(SEND, {
      "content.text.body": 10,
      product_retailer_id: 3,
      "order.items": 3,
      "product_list.sections.product_retailer_ids": { count: 2, length: 4 },
    });
    expect(check(places[1]!.build("x".repeat(10)))).toBeUndefined();
    expect(check(places[1]!.build("x".repeat(11)))?.message).toBe("content.text.body: must be at most 10 characters");
    expect(check(places[3]!.build("abcd"))?.message).toBe("content.order.items[2].product_retailer_id: must be at most 3 characters");
    expect(check(places[3]!.build("abc"))).toBeUndefined();
    const four = places[3]!.build("abc");
    if (four.content?.kind?.$case === "order") four.content.kind.value.items.push({ productRetailerId: "d", quantity: 1, itemPrice: undefined });
    expect(check(four)?.message).toBe("content.order.items: must have at most 3 items");
    expect(check(places[5]!.build("abcde"))?.message).toBe("content.interactive.product_list.sections[0].product_retailer_ids[1]: must be at most 4 characters");
    // Other strings keep the default.
    expect(check(places[0]!.build("x".repeat(100)))).toBeUndefined();
  });

  it("inputFields reports every string and repeated field with the limit the check applies", () => {
    const fields = inputFields(SEND, { "content.text.body": 4096, product_retailer_id: 128 });
    expect(fields).toContainEqual({ path: "content.text.body", kind: "string", max: 4096 });
    expect(fields).toContainEqual({ path: "content.order.items", kind: "repeated", max: defaultLimits.count });
    expect(fields).toContainEqual({ path: "content.order.items[].product_retailer_id", kind: "string", max: 128 });
    expect(fields).toContainEqual({ path: "content.interactive.product_list.sections[].product_retailer_ids[]", kind: "string", max: defaultLimits.string });
  });
});

import { describe, expect, it } from "vitest";
import { TemplateButtonType as B, TemplateCategory as C, TemplateComponentType as T, TemplateHeaderFormat as H, TemplateParameterFormat as P, type TemplateButton, type TemplateComponentSpec } from "@kontor/proto/messaging/v1/template";
import { InvalidInput } from "@kontor/service-kit/errors";
import { validateTemplate, type TemplateInput } from "./validate.js";

const comp = (c: Partial<TemplateComponentSpec> & { type: T }): TemplateComponentSpec => ({ format: H.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text: "", example: undefined, buttons: [], ...c });
const ex = (e: Partial<NonNullable<TemplateComponentSpec["example"]>>) => ({ headerText: [], headerTextNamedParams: [], bodyText: [], bodyTextNamedParams: [], headerHandle: [], ...e });
const body = (text: string, values?: string[]) => comp({ type: T.TEMPLATE_COMPONENT_TYPE_BODY, text, example: values ? ex({ bodyText: [{ values }] }) : undefined });
const btn = (b: Partial<TemplateButton> & { type: B }): TemplateButton => ({ text: "", url: "", phoneNumber: "", example: [], otpType: "", ...b });
const qr = (text = "Yes") => btn({ type: B.TEMPLATE_BUTTON_TYPE_QUICK_REPLY, text });
const buttons = (...bs: TemplateButton[]) => comp({ type: T.TEMPLATE_COMPONENT_TYPE_BUTTONS, buttons: bs });

const input = (over: Partial<TemplateInput> = {}): TemplateInput => ({
  name: "order_update",
  language: "en_US",
  category: C.TEMPLATE_CATEGORY_UTILITY,
  parameterFormat: P.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED,
  components: [body("Your order {{1}} ships on {{2}}.", ["A-17", "Monday"])],
  ...over,
});

/** The field and Cloud API code a refused input names. */
function refusal(i: TemplateInput): { field: string; code: number } | "accepted" {
  try {
    validateTemplate(i);
    return "accepted";
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    return { field: err.field, code: err.cloudApiCode };
  }
}
const field = (i: TemplateInput) => {
  const r = refusal(i);
  return r === "accepted" ? r : r.field;
};

describe("template names and languages", () => {
  it("accepts lowercase, digits and underscores up to 512 characters, and refuses anything else", () => {
    expect(field(input({ name: "a".repeat(512) }))).toBe("accepted");
    expect(field(input({ name: "a".repeat(513) }))).toBe("name");
    for (const name of ["", "Order", "order-update", "order update", "ördER"]) expect(field(input({ name }))).toBe("name");
  });

  it("accepts en, en_US and pt_BR; refuses en-US, EN, english and empty", () => {
    for (const language of ["en", "en_US", "pt_BR", "fil"]) expect(field(input({ language }))).toBe("accepted");
    for (const language of ["", "en-US", "EN", "english", "en_us"]) expect(field(input({ language }))).toBe("language");
  });

  it("needs a category", () => {
    expect(field(input({ category: C.TEMPLATE_CATEGORY_UNSPECIFIED }))).toBe("category");
  });
});

describe("component structure", () => {
  it("needs one BODY, and at most one of each component", () => {
    expect(field(input({ components: [] }))).toBe("components");
    expect(field(input({ components: [comp({ type: T.TEMPLATE_COMPONENT_TYPE_FOOTER, text: "bye" })] }))).toBe("components");
    expect(field(input({ components: [body("a"), body("b")] }))).toBe("components[1].type");
    expect(field(input({ components: [comp({ type: T.TEMPLATE_COMPONENT_TYPE_UNSPECIFIED }), body("a")] }))).toBe("components[0].type");
  });

  it("limits the body to 1,024 characters, a text header and the footer to 60, a button's text to 25 (2388040)", () => {
    expect(field(input({ components: [body("x".repeat(1024))] }))).toBe("accepted");
    expect(refusal(input({ components: [body("x".repeat(1025))] }))).toEqual({ field: "components[0].text", code: 2388040 });
    const header = (text: string) => comp({ type: T.TEMPLATE_COMPONENT_TYPE_HEADER, format: H.TEMPLATE_HEADER_FORMAT_TEXT, text });
    expect(field(input({ components: [header("h".repeat(60)), body("hi")] }))).toBe("accepted");
    expect(field(input({ components: [header("h".repeat(61)), body("hi")] }))).toBe("components[0].text");
    const footer = (text: string) => comp({ type: T.TEMPLATE_COMPONENT_TYPE_FOOTER, text });
    expect(field(input({ components: [body("hi"), footer("f".repeat(60))] }))).toBe("accepted");
    expect(field(input({ components: [body("hi"), footer("f".repeat(61))] }))).toBe("components[1].text");
    expect(field(input({ components: [body("hi"), buttons(qr("b".repeat(25)))] }))).toBe("accepted");
    expect(field(input({ components: [body("hi"), buttons(qr("b".repeat(26)))] }))).toBe("components[1].buttons[0].text");
  });

  it("a header has a format; a media header a sample handle and no text; a footer no placeholders", () => {
    expect(field(input({ components: [comp({ type: T.TEMPLATE_COMPONENT_TYPE_HEADER }), body("hi")] }))).toBe("components[0].format");
    const image = (handles: string[], text = "") => comp({ type: T.TEMPLATE_COMPONENT_TYPE_HEADER, format: H.TEMPLATE_HEADER_FORMAT_IMAGE, text, example: ex({ headerHandle: handles }) });
    expect(field(input({ components: [image(["4::aW"]), body("hi")] }))).toBe("accepted");
    expect(field(input({ components: [image([]), body("hi")] }))).toBe("components[0].example.header_handle");
    expect(field(input({ components: [image(["4::aW"], "caption"), body("hi")] }))).toBe("components[0].text");
    expect(field(input({ components: [body("hi"), comp({ type: T.TEMPLATE_COMPONENT_TYPE_FOOTER, text: "code {{1}}" })] }))).toBe("components[1].text");
    expect(field(input({ components: [comp({ type: T.TEMPLATE_COMPONENT_TYPE_BODY, text: "hi", format: H.TEMPLATE_HEADER_FORMAT_TEXT })] }))).toBe("components[0].format");
  });
});

describe("buttons", () => {
  const url = (u: string, example: string[] = []) => btn({ type: B.TEMPLATE_BUTTON_TYPE_URL, text: "Open", url: u, example });
  const phone = () => btn({ type: B.TEMPLATE_BUTTON_TYPE_PHONE_NUMBER, text: "Call", phoneNumber: "15550051310" });
  const withButtons = (...bs: TemplateButton[]) => field(input({ components: [body("hi"), buttons(...bs)] }));

  it("at most 10 buttons, 2 URL, 1 phone, 1 copy-code, and at least one", () => {
    expect(withButtons(...Array.from({ length: 10 }, () => qr()))).toBe("accepted");
    expect(withButtons(...Array.from({ length: 11 }, () => qr()))).toBe("components[1].buttons");
    expect(withButtons(url("https://a.example"), url("https://b.example"))).toBe("accepted");
    expect(withButtons(url("https://a.example"), url("https://b.example"), url("https://c.example"))).toBe("components[1].buttons");
    expect(withButtons(phone(), phone())).toBe("components[1].buttons");
    const copy = () => btn({ type: B.TEMPLATE_BUTTON_TYPE_COPY_CODE, example: ["SAVE10"] });
    expect(withButtons(copy())).toBe("accepted");
    expect(withButtons(copy(), copy())).toBe("components[1].buttons");
    expect(withButtons()).toBe("components[1].buttons");
  });

  it("quick replies are grouped: QR, QR, URL is fine; QR, URL, QR is not", () => {
    expect(withButtons(qr(), qr(), url("https://a.example"))).toBe("accepted");
    expect(withButtons(url("https://a.example"), qr(), qr())).toBe("accepted");
    expect(withButtons(qr(), url("https://a.example"), qr())).toBe("components[1].buttons[1].type");
  });

  it("a URL may end in {{1}} with one example; a phone number is digits; OTP only in AUTHENTICATION", () => {
    expect(withButtons(url("https://shop.example/?promo={{1}}", ["summer"]))).toBe("accepted");
    expect(withButtons(url("https://shop.example/?promo={{1}}"))).toBe("components[1].buttons[0].example");
    expect(withButtons(url("https://shop.example/{{1}}/x", ["a"]))).toBe("components[1].buttons[0].url");
    expect(withButtons(url("https://shop.example/{{2}}", ["a"]))).toBe("components[1].buttons[0].url");
    expect(withButtons(url("ftp://shop.example/"))).toBe("components[1].buttons[0].url");
    expect(withButtons(url("https://shop.example/", ["a"]))).toBe("components[1].buttons[0].example");
    expect(withButtons(btn({ type: B.TEMPLATE_BUTTON_TYPE_PHONE_NUMBER, text: "Call", phoneNumber: "call me" }))).toBe("components[1].buttons[0].phone_number");
    expect(withButtons(btn({ type: B.TEMPLATE_BUTTON_TYPE_QUICK_REPLY, text: "Yes", url: "https://a.example" }))).toBe("components[1].buttons[0].url");
    expect(withButtons(btn({ type: B.TEMPLATE_BUTTON_TYPE_OTP, otpType: "COPY_CODE" }))).toBe("components[1].buttons[0].type");
  });
});

describe("placeholders", () => {
  const bodyField = (text: string, values?: string[], format = P.TEMPLATE_PARAMETER_FORMAT_POSITIONAL) => refusal(input({ parameterFormat: format, components: [body(text, values)] }));

  it("positional ones run {{1}}..{{n}} from 1, each once, in order", () => {
    expect(bodyField("Hi {{1}}, order {{2}} is here.", ["Ana", "7"])).toBe("accepted");
    expect(bodyField("Hi {{2}}, order {{1}} is here.", ["Ana", "7"])).toMatchObject({ field: "components[0].text" });
    expect(bodyField("Hi {{1}}, order {{3}} is here.", ["Ana", "7"])).toMatchObject({ field: "components[0].text" });
    expect(bodyField("Hi {{0}}, here.", ["Ana"])).toMatchObject({ field: "components[0].text" });
    expect(bodyField("Hi {{1}} and {{1}} again.", ["Ana", "Ana"])).toMatchObject({ field: "components[0].text" });
  });

  it("named ones are lowercase and unique; the two kinds never mix", () => {
    const named = (text: string, names: string[]) =>
      refusal(input({ parameterFormat: P.TEMPLATE_PARAMETER_FORMAT_NAMED, components: [comp({ type: T.TEMPLATE_COMPONENT_TYPE_BODY, text, example: ex({ bodyTextNamedParams: names.map((n) => ({ paramName: n, example: "x" })) }) })] }));
    expect(named("Hi {{first_name}}, order {{order_id}} ships.", ["first_name", "order_id"])).toBe("accepted");
    expect(named("Hi {{first_name}}, order {{order_id}} ships.", ["order_id", "first_name"])).toBe("accepted");
    expect(named("Hi {{First_Name}} ok.", ["First_Name"])).toMatchObject({ field: "components[0].text" });
    expect(named("Hi {{name}} and {{name}} ok.", ["name", "name"])).toMatchObject({ field: "components[0].text" });
    expect(named("Hi {{name}} and {{1}} ok.", ["name"])).toMatchObject({ field: "components[0].text" });
    expect(bodyField("Hi {{name}} ok.", ["x"])).toMatchObject({ field: "components[0].text" });
    expect(named("Hi {{first_name}} ok.", ["last_name"])).toMatchObject({ field: "components[0].example.body_text_named_params[0].param_name" });
  });

  it("malformed tokens are refused: {{ 1 }}, {{}}, an unclosed {{, nested braces", () => {
    for (const text of ["Hi {{ 1 }} ok.", "Hi {{}} ok.", "Hi {{1 ok.", "Hi {{{1}}} ok.", "Hi 1}} ok."]) expect(bodyField(text, ["x"])).toMatchObject({ field: "components[0].text" });
  });

  it("not at the very start or end of the body (2388299), and separated by text (2388293)", () => {
    expect(bodyField("{{1}} is your order.", ["A"])).toEqual({ field: "components[0].text", code: 2388299 });
    expect(bodyField("Your order is {{1}}", ["A"])).toEqual({ field: "components[0].text", code: 2388299 });
    expect(bodyField("Your order is {{1}}.", ["A"])).toBe("accepted");
    expect(bodyField("Hi {{1}} {{2}} there.", ["A", "B"])).toEqual({ field: "components[0].text", code: 2388293 });
  });

  it("one example per placeholder, none without placeholders, each with a value", () => {
    expect(bodyField("Hi {{1}}, order {{2}}.", undefined)).toMatchObject({ field: "components[0].example.body_text" });
    expect(bodyField("Hi {{1}}, order {{2}}.", ["Ana"])).toMatchObject({ field: "components[0].example.body_text[0]" });
    expect(bodyField("Hi {{1}}, order {{2}}.", ["Ana", "7", "8"])).toMatchObject({ field: "components[0].example.body_text[0]" });
    expect(bodyField("Hi {{1}}, order {{2}} and {{3}}.", ["Ana", "7", " "])).toMatchObject({ field: "components[0].example.body_text[0][2]" });
    expect(bodyField("Hi there.", ["Ana"])).toMatchObject({ field: "components[0].example" });
    const header = comp({ type: T.TEMPLATE_COMPONENT_TYPE_HEADER, format: H.TEMPLATE_HEADER_FORMAT_TEXT, text: "Sale {{1}}" });
    expect(field(input({ components: [header, body("hi")] }))).toBe("components[0].example.header_text");
    expect(field(input({ components: [{ ...header, text: "Our {{1}} and {{2}}", example: ex({ headerText: ["a", "b"] }) }, body("hi")] }))).toBe("components[0].text");
    expect(field(input({ components: [{ ...header, example: ex({ headerText: ["Summer"] }) }, body("hi")] }))).toBe("accepted");
  });
});

describe("AUTHENTICATION templates", () => {
  const otp = buttons(btn({ type: B.TEMPLATE_BUTTON_TYPE_OTP, otpType: "COPY_CODE", text: "Copy code" }));
  const auth = (components: TemplateComponentSpec[]) => field(input({ category: C.TEMPLATE_CATEGORY_AUTHENTICATION, components }));

  it("a body with the code's one placeholder and one OTP button; no header", () => {
    expect(auth([body("Your code is {{1}}.", ["123456"]), otp])).toBe("accepted");
    expect(auth([body("Your code is {{1}}.", ["123456"])])).toBe("components");
    expect(auth([body("Your code is here."), otp])).toBe("components[0].text");
    expect(auth([comp({ type: T.TEMPLATE_COMPONENT_TYPE_HEADER, format: H.TEMPLATE_HEADER_FORMAT_TEXT, text: "Code" }), body("Your code is {{1}}.", ["1"]), otp])).toBe("components[0].type");
    expect(auth([body("Your code is {{1}}.", ["1"]), buttons(qr())])).toBe("components[1].buttons[0].type");
  });
});

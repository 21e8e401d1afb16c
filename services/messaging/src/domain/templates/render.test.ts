import { describe, expect, it } from "vitest";
import type { TemplateComponent as SendComponent, TemplateParameter } from "@kontor/proto/messaging/v1/message";
import { TemplateButtonType as B, TemplateComponentType as T, TemplateHeaderFormat as H, TemplateParameterFormat as P, type TemplateComponentSpec } from "@kontor/proto/messaging/v1/template";
import { InvalidInput } from "@kontor/service-kit/errors";
import { renderTemplate, type RenderableTemplate } from "./render.js";

const spec = (type: T, text: string, extra: Partial<TemplateComponentSpec> = {}): TemplateComponentSpec => ({ type, format: H.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text, example: undefined, buttons: [], ...extra });
const param = (text: string, parameterName = "", type = "text"): TemplateParameter => ({ type, parameterName, text, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" });
const sent = (type: string, parameters: TemplateParameter[], index = 0): SendComponent => ({ type, subType: "", index, parameters });

const positional: RenderableTemplate = {
  parameterFormat: P.TEMPLATE_PARAMETER_FORMAT_POSITIONAL,
  components: [
    spec(T.TEMPLATE_COMPONENT_TYPE_HEADER, "Order {{1}}", { format: H.TEMPLATE_HEADER_FORMAT_TEXT }),
    spec(T.TEMPLATE_COMPONENT_TYPE_BODY, "Hi {{1}}, your order ships on {{2}}."),
    spec(T.TEMPLATE_COMPONENT_TYPE_FOOTER, "Thanks"),
    spec(T.TEMPLATE_COMPONENT_TYPE_BUTTONS, "", {
      buttons: [
        { type: B.TEMPLATE_BUTTON_TYPE_QUICK_REPLY, text: "Stop", url: "", phoneNumber: "", example: [], otpType: "" },
        { type: B.TEMPLATE_BUTTON_TYPE_URL, text: "Track", url: "https://shop.example/t/{{1}}", phoneNumber: "", example: ["x"], otpType: "" },
      ],
    }),
  ],
};

function refused(fn: () => unknown): { field: string; code: number } {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInput) return { field: err.field, code: err.cloudApiCode };
    throw err;
  }
  throw new Error("not refused");
}

describe("renderTemplate", () => {
  it("fills positional placeholders in order, the header, and the URL button's suffix", () => {
    const out = renderTemplate(positional, [sent("header", [param("A-17")]), sent("body", [param("Ana"), { ...param(""), type: "date_time", dateTime: "Monday" }]), sent("button", [param("A17")], 1)]);
    expect(out).toEqual({
      header: "Order A-17",
      body: "Hi Ana, your order ships on Monday.",
      footer: "Thanks",
      buttons: [
        { index: 0, text: "Stop", url: undefined },
        { index: 1, text: "Track", url: "https://shop.example/t/A17" },
      ],
    });
  });

  it("fills named placeholders by name, in any order", () => {
    const named: RenderableTemplate = { parameterFormat: P.TEMPLATE_PARAMETER_FORMAT_NAMED, components: [spec(T.TEMPLATE_COMPONENT_TYPE_BODY, "Hi {{first_name}}, order {{order_id}} is here.")] };
    expect(renderTemplate(named, [sent("body", [param("7", "order_id"), param("Ana", "first_name")])]).body).toBe("Hi Ana, order 7 is here.");
    expect(refused(() => renderTemplate(named, [sent("body", [param("7", "order_id"), param("Ana", "last_name")])]))).toEqual({ field: "content.template.components[0].parameters[1].parameter_name", code: 132012 });
    expect(refused(() => renderTemplate(named, [sent("body", [param("7"), param("Ana")])])).code).toBe(132012);
  });

  it("a parameter too many or too few is 132000, naming the component", () => {
    const base = [sent("header", [param("A")]), sent("button", [param("x")], 1)];
    expect(refused(() => renderTemplate(positional, [...base, sent("body", [param("Ana")])]))).toEqual({ field: "content.template.components[2].parameters", code: 132000 });
    expect(refused(() => renderTemplate(positional, [...base, sent("body", [param("Ana"), param("Mo"), param("extra")])])).code).toBe(132000);
    expect(refused(() => renderTemplate(positional, [sent("header", [param("A")]), sent("body", [param("Ana"), param("Mo")])])).code).toBe(132000);
    expect(refused(() => renderTemplate(positional, [...base, sent("body", [param("Ana"), param("Mo")]), sent("button", [param("y")], 5)])).code).toBe(132000);
  });

  it("a wrong kind of parameter is 132012; an empty one 132018; a rendered body over 1,024 characters 132005", () => {
    const base = [sent("header", [param("A")]), sent("button", [param("x")], 1)];
    expect(refused(() => renderTemplate(positional, [...base, sent("body", [param("Ana"), param("", "", "image")])]))).toEqual({ field: "content.template.components[2].parameters[1].type", code: 132012 });
    expect(refused(() => renderTemplate(positional, [...base, sent("body", [param("Ana"), param(" ")])])).code).toBe(132018);
    expect(refused(() => renderTemplate(positional, [...base, sent("body", [param("Ana"), param("x".repeat(1000))])])).code).toBe(132005);
  });
});

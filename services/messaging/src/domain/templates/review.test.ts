import { describe, expect, it } from "vitest";
import { TemplateButtonType as B, TemplateCategory as C, TemplateComponentType as T, TemplateHeaderFormat as H, TemplateStatus as S, type TemplateComponentSpec } from "@kontor/proto/messaging/v1/template";
import { reviewTemplate } from "./review.js";
import type { TemplateDefinition } from "./validate.js";

const comp = (type: T, text: string, extra: Partial<TemplateComponentSpec> = {}): TemplateComponentSpec => ({ type, format: H.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text, example: undefined, buttons: [], ...extra });
const def = (category: C, body: string, extra: TemplateComponentSpec[] = []): TemplateDefinition => ({
  name: "t",
  language: "en",
  category,
  parameterFormat: "positional",
  components: [comp(T.TEMPLATE_COMPONENT_TYPE_BODY, body), ...extra],
});
const urlButton = (url: string) => comp(T.TEMPLATE_COMPONENT_TYPE_BUTTONS, "", { buttons: [{ type: B.TEMPLATE_BUTTON_TYPE_URL, text: "Open", url, phoneNumber: "", example: [], otpType: "" }] });

describe("automatic review", () => {
  it("approves a plain UTILITY template in its category", () => {
    expect(reviewTemplate(def(C.TEMPLATE_CATEGORY_UTILITY, "Your order {{1}} has shipped."))).toEqual({ status: S.TEMPLATE_STATUS_APPROVED, category: C.TEMPLATE_CATEGORY_UTILITY, previousCategory: C.TEMPLATE_CATEGORY_UNSPECIFIED, reason: "" });
  });

  it("re-categorizes a UTILITY template with promotional wording as MARKETING, approved, in English, German and Spanish", () => {
    for (const body of ["Your order shipped. Get 20% off your next one!", "Ihre Bestellung ist unterwegs. Jetzt mit Rabatt nachbestellen.", "Su pedido salió. ¡Oferta especial!"]) {
      const r = reviewTemplate(def(C.TEMPLATE_CATEGORY_UTILITY, body));
      expect(r.status, body).toBe(S.TEMPLATE_STATUS_APPROVED);
      expect(r.category).toBe(C.TEMPLATE_CATEGORY_MARKETING);
      expect(r.previousCategory).toBe(C.TEMPLATE_CATEGORY_UTILITY);
      expect(r.reason).toMatch(/^re-categorized from UTILITY to MARKETING/);
    }
  });

  it("finds promotional wording in a footer or a button label too, and not inside other words", () => {
    const footer = comp(T.TEMPLATE_COMPONENT_TYPE_FOOTER, "Shop now");
    expect(reviewTemplate(def(C.TEMPLATE_CATEGORY_UTILITY, "Order {{1}} shipped.", [footer])).category).toBe(C.TEMPLATE_CATEGORY_MARKETING);
    // "offering", "wholesale", "dealer" are not promotions.
    expect(reviewTemplate(def(C.TEMPLATE_CATEGORY_UTILITY, "We are offering a refund for order {{1}} from our wholesale dealer.")).category).toBe(C.TEMPLATE_CATEGORY_UTILITY);
  });

  it("keeps MARKETING as it is", () => {
    expect(reviewTemplate(def(C.TEMPLATE_CATEGORY_MARKETING, "Summer sale: 25% off!"))).toMatchObject({ status: S.TEMPLATE_STATUS_APPROVED, category: C.TEMPLATE_CATEGORY_MARKETING, reason: "" });
  });

  it("rejects promotional wording in an AUTHENTICATION template (TAG_CONTENT_MISMATCH)", () => {
    const r = reviewTemplate(def(C.TEMPLATE_CATEGORY_AUTHENTICATION, "Your code is {{1}}. Use coupon SAVE10 today!"));
    expect(r.status).toBe(S.TEMPLATE_STATUS_REJECTED);
    expect(r.category).toBe(C.TEMPLATE_CATEGORY_AUTHENTICATION);
    expect(r.reason).toMatch(/^TAG_CONTENT_MISMATCH/);
  });

  it("rejects link shorteners in a url button or a text (INVALID_FORMAT)", () => {
    expect(reviewTemplate(def(C.TEMPLATE_CATEGORY_MARKETING, "See more.", [urlButton("https://bit.ly/{{1}}")])).reason).toMatch(/^INVALID_FORMAT.*bit\.ly/);
    expect(reviewTemplate(def(C.TEMPLATE_CATEGORY_UTILITY, "Track at tinyurl.com/abc please.")).status).toBe(S.TEMPLATE_STATUS_REJECTED);
    expect(reviewTemplate(def(C.TEMPLATE_CATEGORY_MARKETING, "See more.", [urlButton("https://shop.example/{{1}}")])).status).toBe(S.TEMPLATE_STATUS_APPROVED);
  });

  it("rejects asking for passwords or card numbers (SCAM), before any re-categorization", () => {
    const r = reviewTemplate(def(C.TEMPLATE_CATEGORY_UTILITY, "Reply with your card number to get 10% off."));
    expect(r).toMatchObject({ status: S.TEMPLATE_STATUS_REJECTED, category: C.TEMPLATE_CATEGORY_UTILITY });
    expect(r.reason).toMatch(/^SCAM/);
    expect(reviewTemplate(def(C.TEMPLATE_CATEGORY_UTILITY, "Bitte senden Sie uns Ihr Passwort.")).status).toBe(S.TEMPLATE_STATUS_REJECTED);
  });
});

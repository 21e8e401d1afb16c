import {
  TemplateButtonType,
  TemplateCategory,
  TemplateComponentType,
  TemplateHeaderFormat,
  TemplateParameterFormat,
  type TemplateButton,
  type TemplateComponentSpec,
  type TemplateExample,
} from "@kontor/proto/messaging/v1/template";
import { InvalidInput } from "@kontor/service-kit/errors";
import { FORMAT_CODE, checkPlaceholders, placeholdersOf } from "./placeholders.js";

/** The Cloud API's template limits (cloud-api.md §4.2). */
export const TEMPLATE_LIMITS = {
  name: 512,
  headerText: 60,
  body: 1024,
  footer: 60,
  buttonText: 25,
  buttons: 10,
  urlButtons: 2,
  phoneButtons: 1,
  copyCodeButtons: 1,
  quickReplies: 10,
  url: 2000,
  /** A COPY_CODE sample and an OTP (cloud-api.md §1.10: OTP ≤ 15). */
  code: 15,
  example: 1024,
} as const;

/** Cloud API code of a template text over its character limit (cloud-api.md §2.3). */
export const CHAR_LIMIT_CODE = 2388040;
/** Cloud API code of a placeholder at the very start or end of the body. */
export const LEADING_TRAILING_CODE = 2388299;
/** Cloud API code of too many placeholders for the text (here: two with nothing between them). */
export const DENSITY_CODE = 2388293;

const NAME = /^[a-z0-9_]+$/;
/** Cloud API language codes: `en`, `en_US`, `pt_BR`, `es_MX` (ISO 639 language, optional ISO 3166 region). */
const LANGUAGE = /^[a-z]{2,3}(_[A-Z]{2})?$/;
const PHONE = /^\+?[0-9]{5,20}$/;
const OTP_TYPES = new Set(["COPY_CODE", "ONE_TAP", "ZERO_TAP"]);

export type ParamFormat = "positional" | "named";

/** A template definition whose structure passed every rule: what review judges and what is stored. */
export interface TemplateDefinition {
  name: string;
  language: string;
  category: TemplateCategory;
  parameterFormat: ParamFormat;
  components: TemplateComponentSpec[];
}

export interface TemplateInput {
  name: string;
  language: string;
  category: TemplateCategory;
  parameterFormat: TemplateParameterFormat;
  components: TemplateComponentSpec[];
}

const bad = (field: string, message: string, code?: number) => new InvalidInput(field, message, "INVALID_FIELD", code);

export function validateName(name: string, field = "name"): string {
  if (!name) throw bad(field, "is required");
  if (name.length > TEMPLATE_LIMITS.name) throw bad(field, `must be at most ${TEMPLATE_LIMITS.name} characters`);
  if (!NAME.test(name)) throw bad(field, "must be lowercase letters, digits and underscores");
  return name;
}

export function validateLanguage(language: string, field = "language"): string {
  if (!language) throw bad(field, "is required");
  if (!LANGUAGE.test(language)) throw bad(field, "must be a template language code such as en, en_US or pt_BR");
  return language;
}

export function formatOf(f: TemplateParameterFormat): ParamFormat {
  return f === TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_NAMED ? "named" : "positional";
}

const KNOWN_CATEGORIES = new Set([TemplateCategory.TEMPLATE_CATEGORY_MARKETING, TemplateCategory.TEMPLATE_CATEGORY_UTILITY, TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION]);

export function validateCategory(category: TemplateCategory, field = "category"): TemplateCategory {
  if (!KNOWN_CATEGORIES.has(category)) throw bad(field, "must be MARKETING, UTILITY or AUTHENTICATION");
  return category;
}

/** Every structural rule of a create (or an edit, with the stored name and language): InvalidInput naming the first field that breaks one. */
export function validateTemplate(input: TemplateInput): TemplateDefinition {
  const name = validateName(input.name);
  const language = validateLanguage(input.language);
  const category = validateCategory(input.category);
  if (
    input.parameterFormat !== TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED &&
    input.parameterFormat !== TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_POSITIONAL &&
    input.parameterFormat !== TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_NAMED
  ) {
    throw bad("parameter_format", "must be POSITIONAL or NAMED");
  }
  const format = formatOf(input.parameterFormat);
  validateComponents(input.components, category, format);
  return { name, language, category, parameterFormat: format, components: input.components };
}

const TYPE_NAMES: Record<number, string> = {
  [TemplateComponentType.TEMPLATE_COMPONENT_TYPE_HEADER]: "HEADER",
  [TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY]: "BODY",
  [TemplateComponentType.TEMPLATE_COMPONENT_TYPE_FOOTER]: "FOOTER",
  [TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTONS]: "BUTTONS",
};

export function validateComponents(components: TemplateComponentSpec[], category: TemplateCategory, format: ParamFormat): void {
  const seen = new Set<TemplateComponentType>();
  components.forEach((c, i) => {
    const at = `components[${i}]`;
    const typeName = TYPE_NAMES[c.type];
    if (!typeName) throw bad(`${at}.type`, "must be HEADER, BODY, FOOTER or BUTTONS");
    if (seen.has(c.type)) throw bad(`${at}.type`, `a template has at most one ${typeName}`);
    seen.add(c.type);
    if (c.type !== TemplateComponentType.TEMPLATE_COMPONENT_TYPE_HEADER && c.format !== TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_UNSPECIFIED) throw bad(`${at}.format`, "only a HEADER has a format");
    if (c.type !== TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTONS && c.buttons.length > 0) throw bad(`${at}.buttons`, "only a BUTTONS component has buttons");
    switch (c.type) {
      case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_HEADER:
        validateHeader(c, at, category, format);
        break;
      case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY:
        validateBody(c, at, category, format);
        break;
      case TemplateComponentType.TEMPLATE_COMPONENT_TYPE_FOOTER:
        validateFooter(c, at);
        break;
      default:
        validateButtons(c, at, category);
    }
  });
  if (!seen.has(TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY)) throw bad("components", "must include one BODY");
  if (category === TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION) {
    const buttons = components.find((c) => c.type === TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTONS)?.buttons ?? [];
    if (buttons.length !== 1 || buttons[0]!.type !== TemplateButtonType.TEMPLATE_BUTTON_TYPE_OTP) throw bad("components", "an AUTHENTICATION template has one BUTTONS component with exactly one OTP button");
  }
}

function noExample(example: TemplateExample | undefined, field: string): void {
  if (!example) return;
  if (example.headerText.length || example.headerTextNamedParams.length || example.bodyText.length || example.bodyTextNamedParams.length || example.headerHandle.length) {
    throw bad(field, "gives examples but the text has no placeholders");
  }
}

function checkExample(value: string, field: string): void {
  if (!value.trim()) throw bad(field, "is required: one example per placeholder");
  if (value.length > TEMPLATE_LIMITS.example) throw bad(field, `must be at most ${TEMPLATE_LIMITS.example} characters`);
}

/** Named examples: exactly the component's names, each once, each with a value. */
function checkNamedExamples(names: string[], examples: { paramName: string; example: string }[], field: string): void {
  if (examples.length !== names.length) throw bad(field, `must give ${names.length} example${names.length === 1 ? "" : "s"}, one per placeholder`);
  const wanted = new Set(names);
  examples.forEach((e, j) => {
    if (!wanted.has(e.paramName)) throw bad(`${field}[${j}].param_name`, `names no placeholder of the text (${names.map((n) => `{{${n}}}`).join(", ")})`);
    wanted.delete(e.paramName);
    checkExample(e.example, `${field}[${j}].example`);
  });
}

function validateHeader(c: TemplateComponentSpec, at: string, category: TemplateCategory, format: ParamFormat): void {
  if (category === TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION) throw bad(`${at}.type`, "an AUTHENTICATION template has no HEADER");
  switch (c.format) {
    case TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_TEXT: {
      if (!c.text.trim()) throw bad(`${at}.text`, "is required for a TEXT header");
      if ([...c.text].length > TEMPLATE_LIMITS.headerText) throw bad(`${at}.text`, `must be at most ${TEMPLATE_LIMITS.headerText} characters`, CHAR_LIMIT_CODE);
      const keys = checkPlaceholders(placeholdersOf(c.text, `${at}.text`), format, `${at}.text`);
      if (keys.length > 1) throw bad(`${at}.text`, "a header takes at most one placeholder", FORMAT_CODE);
      if (keys.length === 0) return noExample(c.example, `${at}.example`);
      if (format === "named") return checkNamedExamples(keys, c.example?.headerTextNamedParams ?? [], `${at}.example.header_text_named_params`);
      const values = c.example?.headerText ?? [];
      if (values.length !== 1) throw bad(`${at}.example.header_text`, "must give 1 example, one per placeholder");
      return checkExample(values[0]!, `${at}.example.header_text[0]`);
    }
    case TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_IMAGE:
    case TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_VIDEO:
    case TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_DOCUMENT: {
      if (c.text) throw bad(`${at}.text`, "a media header has no text");
      const handles = c.example?.headerHandle ?? [];
      if (handles.length !== 1) throw bad(`${at}.example.header_handle`, "a media header needs one sample handle");
      return checkExample(handles[0]!, `${at}.example.header_handle[0]`);
    }
    case TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_LOCATION:
      if (c.text) throw bad(`${at}.text`, "a LOCATION header has no text");
      return noExample(c.example, `${at}.example`);
    default:
      throw bad(`${at}.format`, "must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION");
  }
}

function validateBody(c: TemplateComponentSpec, at: string, category: TemplateCategory, format: ParamFormat): void {
  if (!c.text.trim()) throw bad(`${at}.text`, "is required");
  if ([...c.text].length > TEMPLATE_LIMITS.body) throw bad(`${at}.text`, `must be at most ${TEMPLATE_LIMITS.body} characters`, CHAR_LIMIT_CODE);
  const ps = placeholdersOf(c.text, `${at}.text`);
  const keys = checkPlaceholders(ps, format, `${at}.text`);
  if (ps.length > 0) {
    const first = ps[0]!;
    const last = ps[ps.length - 1]!;
    if (!c.text.slice(0, first.at).trim() || !c.text.slice(last.at + last.length).trim()) {
      throw bad(`${at}.text`, "must not start or end with a placeholder", LEADING_TRAILING_CODE);
    }
    for (let i = 1; i < ps.length; i++) {
      if (!c.text.slice(ps[i - 1]!.at + ps[i - 1]!.length, ps[i]!.at).trim()) throw bad(`${at}.text`, "placeholders must be separated by text", DENSITY_CODE);
    }
  }
  if (category === TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION && keys.length !== 1) throw bad(`${at}.text`, "an AUTHENTICATION body has exactly one placeholder: the code");
  if (keys.length === 0) return noExample(c.example, `${at}.example`);
  if (format === "named") return checkNamedExamples(keys, c.example?.bodyTextNamedParams ?? [], `${at}.example.body_text_named_params`);
  const rows = c.example?.bodyText ?? [];
  if (rows.length !== 1) throw bad(`${at}.example.body_text`, "must be one row of examples");
  const values = rows[0]!.values;
  if (values.length !== keys.length) throw bad(`${at}.example.body_text[0]`, `must give ${keys.length} example${keys.length === 1 ? "" : "s"}, one per placeholder`);
  values.forEach((v, j) => checkExample(v, `${at}.example.body_text[0][${j}]`));
}

function validateFooter(c: TemplateComponentSpec, at: string): void {
  if (!c.text.trim()) throw bad(`${at}.text`, "is required");
  if ([...c.text].length > TEMPLATE_LIMITS.footer) throw bad(`${at}.text`, `must be at most ${TEMPLATE_LIMITS.footer} characters`, CHAR_LIMIT_CODE);
  if (placeholdersOf(c.text, `${at}.text`).length > 0) throw bad(`${at}.text`, "a footer has no placeholders", FORMAT_CODE);
  noExample(c.example, `${at}.example`);
}

function validateButtons(c: TemplateComponentSpec, at: string, category: TemplateCategory): void {
  if (c.text) throw bad(`${at}.text`, "a BUTTONS component has no text");
  noExample(c.example, `${at}.example`);
  const buttons = c.buttons;
  if (buttons.length === 0) throw bad(`${at}.buttons`, "must hold at least one button");
  if (buttons.length > TEMPLATE_LIMITS.buttons) throw bad(`${at}.buttons`, `must hold at most ${TEMPLATE_LIMITS.buttons} buttons`);
  const count = (t: TemplateButtonType) => buttons.filter((b) => b.type === t).length;
  if (count(TemplateButtonType.TEMPLATE_BUTTON_TYPE_URL) > TEMPLATE_LIMITS.urlButtons) throw bad(`${at}.buttons`, `must hold at most ${TEMPLATE_LIMITS.urlButtons} URL buttons`);
  if (count(TemplateButtonType.TEMPLATE_BUTTON_TYPE_PHONE_NUMBER) > TEMPLATE_LIMITS.phoneButtons) throw bad(`${at}.buttons`, `must hold at most ${TEMPLATE_LIMITS.phoneButtons} PHONE_NUMBER button`);
  if (count(TemplateButtonType.TEMPLATE_BUTTON_TYPE_COPY_CODE) > TEMPLATE_LIMITS.copyCodeButtons) throw bad(`${at}.buttons`, `must hold at most ${TEMPLATE_LIMITS.copyCodeButtons} COPY_CODE button`);
  if (count(TemplateButtonType.TEMPLATE_BUTTON_TYPE_QUICK_REPLY) > TEMPLATE_LIMITS.quickReplies) throw bad(`${at}.buttons`, `must hold at most ${TEMPLATE_LIMITS.quickReplies} QUICK_REPLY buttons`);
  // Quick replies are grouped: QR, QR, URL is fine; QR, URL, QR is not.
  const qr = buttons.map((b) => b.type === TemplateButtonType.TEMPLATE_BUTTON_TYPE_QUICK_REPLY);
  const firstQr = qr.indexOf(true);
  const lastQr = qr.lastIndexOf(true);
  for (let j = firstQr; firstQr >= 0 && j <= lastQr; j++) {
    if (!qr[j]) throw bad(`${at}.buttons[${j}].type`, "quick replies must be next to each other");
  }
  buttons.forEach((b, j) => validateButton(b, `${at}.buttons[${j}]`, category));
}

function validateButton(b: TemplateButton, at: string, category: TemplateCategory): void {
  const text = (required: boolean) => {
    if (!b.text.trim()) {
      if (required) throw bad(`${at}.text`, "is required");
      return;
    }
    if ([...b.text].length > TEMPLATE_LIMITS.buttonText) throw bad(`${at}.text`, `must be at most ${TEMPLATE_LIMITS.buttonText} characters`, CHAR_LIMIT_CODE);
    if (placeholdersOf(b.text, `${at}.text`).length > 0) throw bad(`${at}.text`, "a button's text has no placeholders");
  };
  const only = (fields: ("url" | "phone_number" | "example" | "otp_type")[]) => {
    if (!fields.includes("url") && b.url) throw bad(`${at}.url`, "only a URL button has a url");
    if (!fields.includes("phone_number") && b.phoneNumber) throw bad(`${at}.phone_number`, "only a PHONE_NUMBER button has a phone_number");
    if (!fields.includes("example") && b.example.length) throw bad(`${at}.example`, "this button type takes no example");
    if (!fields.includes("otp_type") && b.otpType) throw bad(`${at}.otp_type`, "only an OTP button has an otp_type");
  };
  if (b.type !== TemplateButtonType.TEMPLATE_BUTTON_TYPE_OTP && category === TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION) throw bad(`${at}.type`, "an AUTHENTICATION template has only an OTP button");
  switch (b.type) {
    case TemplateButtonType.TEMPLATE_BUTTON_TYPE_QUICK_REPLY:
      only([]);
      return text(true);
    case TemplateButtonType.TEMPLATE_BUTTON_TYPE_URL: {
      only(["url", "example"]);
      text(true);
      if (!b.url) throw bad(`${at}.url`, "is required");
      if (b.url.length > TEMPLATE_LIMITS.url) throw bad(`${at}.url`, `must be at most ${TEMPLATE_LIMITS.url} characters`);
      const ps = placeholdersOf(b.url, `${at}.url`);
      if (ps.length > 1 || (ps.length === 1 && (ps[0]!.key !== "1" || ps[0]!.at + ps[0]!.length !== b.url.length))) throw bad(`${at}.url`, "may hold one placeholder, {{1}}, at its end");
      let parsed: URL;
      try {
        parsed = new URL(b.url.replace("{{1}}", "x"));
      } catch {
        throw bad(`${at}.url`, "must be an http or https URL");
      }
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw bad(`${at}.url`, "must be an http or https URL");
      if (ps.length === 0) {
        if (b.example.length) throw bad(`${at}.example`, "gives an example but the url has no placeholder");
        return;
      }
      if (b.example.length !== 1) throw bad(`${at}.example`, "must give 1 example for the url's placeholder");
      return checkExample(b.example[0]!, `${at}.example[0]`);
    }
    case TemplateButtonType.TEMPLATE_BUTTON_TYPE_PHONE_NUMBER:
      only(["phone_number"]);
      text(true);
      if (!PHONE.test(b.phoneNumber)) throw bad(`${at}.phone_number`, "must be a phone number of 5-20 digits");
      return;
    case TemplateButtonType.TEMPLATE_BUTTON_TYPE_COPY_CODE:
      only(["example"]);
      text(false);
      if (b.example.length !== 1) throw bad(`${at}.example`, "must give 1 sample code");
      checkExample(b.example[0]!, `${at}.example[0]`);
      if (b.example[0]!.length > TEMPLATE_LIMITS.code) throw bad(`${at}.example[0]`, `must be at most ${TEMPLATE_LIMITS.code} characters`);
      return;
    case TemplateButtonType.TEMPLATE_BUTTON_TYPE_OTP:
      only(["otp_type"]);
      if (category !== TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION) throw bad(`${at}.type`, "an OTP button belongs to an AUTHENTICATION template");
      text(false);
      if (!OTP_TYPES.has(b.otpType)) throw bad(`${at}.otp_type`, "must be COPY_CODE, ONE_TAP or ZERO_TAP");
      return;
    default:
      throw bad(`${at}.type`, "must be QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE or OTP");
  }
}

import type { TemplateComponent as SendComponent, TemplateParameter } from "@kontor/proto/messaging/v1/message";
import { TemplateButtonType, TemplateComponentType, TemplateHeaderFormat, TemplateParameterFormat, type TemplateComponentSpec } from "@kontor/proto/messaging/v1/template";
import { InvalidInput } from "@kontor/service-kit/errors";
import { placeholdersOf } from "./placeholders.js";
import { TEMPLATE_LIMITS } from "./validate.js";

/** Cloud API codes of a send's template parameters (cloud-api.md §1.10, §2.3). */
export const RENDER_CODES = { countMismatch: 132000, hydratedTooLong: 132005, formatMismatch: 132012, invalidParameter: 132018 } as const;

/** What a template send renders to: the final text stored with the message. */
export interface RenderedTemplate {
  header: string | undefined;
  body: string;
  footer: string | undefined;
  /** Button labels, and URL buttons' final addresses. */
  buttons: { index: number; text: string; url: string | undefined }[];
}

export interface RenderableTemplate {
  parameterFormat: TemplateParameterFormat;
  components: TemplateComponentSpec[];
}

const MEDIA_TYPES: Record<number, string> = {
  [TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_IMAGE]: "image",
  [TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_VIDEO]: "video",
  [TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_DOCUMENT]: "document",
  [TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_LOCATION]: "location",
};
const TEXT_TYPES = new Set(["text", "currency", "date_time"]);

const countMismatch = (field: string, message: string) => new InvalidInput(field, message, "TEMPLATE_PARAM_COUNT_MISMATCH", RENDER_CODES.countMismatch);
const formatMismatch = (field: string, message: string) => new InvalidInput(field, message, "TEMPLATE_PARAM_FORMAT_MISMATCH", RENDER_CODES.formatMismatch);

/** A text-like parameter's value: text, a currency's or a date's fallback. */
function valueOf(p: TemplateParameter, field: string): string {
  if (!TEXT_TYPES.has(p.type)) throw formatMismatch(`${field}.type`, "must be text, currency or date_time here");
  const value = p.type === "text" ? p.text : p.type === "currency" ? (p.currency?.fallbackValue ?? "") : p.dateTime;
  if (!value.trim()) throw new InvalidInput(field, "has no value", "TEMPLATE_PARAM_INVALID", RENDER_CODES.invalidParameter);
  return value;
}

/** Fills a text's placeholders from parameters: positional in order, named by parameter_name (any order). */
function fill(text: string, params: TemplateParameter[], named: boolean, field: string): string {
  const ps = placeholdersOf(text, "template");
  if (params.length !== ps.length) throw countMismatch(field, `expects ${ps.length} parameter${ps.length === 1 ? "" : "s"}, got ${params.length}`);
  const values = new Map<string, string>();
  params.forEach((p, i) => {
    const at = `${field}[${i}]`;
    if (named) {
      if (!p.parameterName) throw formatMismatch(`${at}.parameter_name`, "is required: the template's parameters are named");
      if (!ps.some((x) => x.key === p.parameterName)) throw formatMismatch(`${at}.parameter_name`, `names no placeholder of the template ({{${p.parameterName}}})`);
      if (values.has(p.parameterName)) throw formatMismatch(`${at}.parameter_name`, "is given twice");
      values.set(p.parameterName, valueOf(p, at));
    } else {
      if (p.parameterName) throw formatMismatch(`${at}.parameter_name`, "must be empty: the template's parameters are positional");
      values.set(String(i + 1), valueOf(p, at));
    }
  });
  let out = "";
  let last = 0;
  for (const p of ps) {
    out += text.slice(last, p.at) + values.get(p.key)!;
    last = p.at + p.length;
  }
  return out + text.slice(last);
}

/**
 * Renders a template send (message.proto's TemplateContent components)
 * against the stored template: every placeholder gets exactly one
 * parameter of a matching kind, else InvalidInput with the Cloud API code
 * (132000 count, 132012 format, 132018 empty value, 132005 body too long).
 * `field` names the send's components in the errors.
 */
export function renderTemplate(template: RenderableTemplate, sent: SendComponent[], field = "content.template.components"): RenderedTemplate {
  const named = template.parameterFormat === TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_NAMED;
  const find = (type: string) => {
    const i = sent.findIndex((c) => c.type.toLowerCase() === type);
    return i < 0 ? { params: [] as TemplateParameter[], at: `${field}` } : { params: sent[i]!.parameters, at: `${field}[${i}].parameters` };
  };
  const spec = (t: TemplateComponentType) => template.components.find((c) => c.type === t);
  sent.forEach((c, i) => {
    const type = c.type.toLowerCase();
    if (type !== "header" && type !== "body" && type !== "button") throw formatMismatch(`${field}[${i}].type`, "must be header, body or button for this template");
    if (type === "header" && !spec(TemplateComponentType.TEMPLATE_COMPONENT_TYPE_HEADER)) throw countMismatch(`${field}[${i}]`, "the template has no header");
    if (type !== "button" && sent.findIndex((o) => o.type.toLowerCase() === type) !== i) throw formatMismatch(`${field}[${i}].type`, `gives the ${type} twice`);
  });

  let header: string | undefined;
  const h = spec(TemplateComponentType.TEMPLATE_COMPONENT_TYPE_HEADER);
  if (h) {
    const { params, at } = find("header");
    const media = MEDIA_TYPES[h.format];
    if (media) {
      if (params.length !== 1) throw countMismatch(at, `expects 1 ${media} parameter, got ${params.length}`);
      if (params[0]!.type !== media) throw formatMismatch(`${at}[0].type`, `must be ${media}`);
    } else {
      header = fill(h.text, params, named, at);
    }
  }
  const b = spec(TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY)!;
  const { params: bodyParams, at: bodyAt } = find("body");
  const body = fill(b.text, bodyParams, named, bodyAt);
  if ([...body].length > TEMPLATE_LIMITS.body) throw new InvalidInput(bodyAt, `renders a body over ${TEMPLATE_LIMITS.body} characters`, "TEMPLATE_HYDRATED_TOO_LONG", RENDER_CODES.hydratedTooLong);
  const footer = spec(TemplateComponentType.TEMPLATE_COMPONENT_TYPE_FOOTER)?.text;

  const buttons = (spec(TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTONS)?.buttons ?? []).map((btn, index) => {
    const sentIndex = sent.findIndex((c) => c.type.toLowerCase() === "button" && c.index === index);
    const params = sentIndex < 0 ? [] : sent[sentIndex]!.parameters;
    const at = sentIndex < 0 ? field : `${field}[${sentIndex}].parameters`;
    if (btn.type === TemplateButtonType.TEMPLATE_BUTTON_TYPE_URL && btn.url.endsWith("{{1}}")) {
      if (params.length !== 1) throw countMismatch(at, `button ${index}'s url expects 1 parameter, got ${params.length}`);
      return { index, text: btn.text, url: btn.url.slice(0, -5) + valueOf(params[0]!, `${at}[0]`) };
    }
    if (btn.type === TemplateButtonType.TEMPLATE_BUTTON_TYPE_URL) {
      if (params.length > 0) throw countMismatch(at, `button ${index}'s url has no placeholder`);
      return { index, text: btn.text, url: btn.url };
    }
    return { index, text: btn.text, url: undefined };
  });
  sent.forEach((c, i) => {
    if (c.type.toLowerCase() === "button" && (c.index < 0 || c.index >= buttons.length)) throw countMismatch(`${field}[${i}].index`, "names no button of the template");
  });
  return { header, body, footer, buttons };
}

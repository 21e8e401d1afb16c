import {
  TemplateButtonType,
  TemplateCategory,
  TemplateComponentType,
  TemplateHeaderFormat,
  TemplateParameterFormat,
  TemplateStatus,
  type Template,
  type TemplateComponentSpec,
} from "@kontor/proto/messaging/v1/template";
import { GraphError, invalidParameter } from "./graph-error.js";

/** Message templates between the Cloud API's JSON (cloud-api.md §4) and messaging's TemplateService. */

type Json = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");
const obj = (v: unknown): Json | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const CATEGORIES: Record<string, TemplateCategory> = {
  MARKETING: TemplateCategory.TEMPLATE_CATEGORY_MARKETING,
  UTILITY: TemplateCategory.TEMPLATE_CATEGORY_UTILITY,
  AUTHENTICATION: TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION,
};
const STATUSES: Record<string, TemplateStatus> = {
  PENDING: TemplateStatus.TEMPLATE_STATUS_PENDING,
  APPROVED: TemplateStatus.TEMPLATE_STATUS_APPROVED,
  REJECTED: TemplateStatus.TEMPLATE_STATUS_REJECTED,
  PAUSED: TemplateStatus.TEMPLATE_STATUS_PAUSED,
  DISABLED: TemplateStatus.TEMPLATE_STATUS_DISABLED,
};
const COMPONENTS: Record<string, TemplateComponentType> = {
  HEADER: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_HEADER,
  BODY: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY,
  FOOTER: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_FOOTER,
  BUTTONS: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BUTTONS,
};
const FORMATS: Record<string, TemplateHeaderFormat> = {
  TEXT: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_TEXT,
  IMAGE: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_IMAGE,
  VIDEO: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_VIDEO,
  DOCUMENT: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_DOCUMENT,
  LOCATION: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_LOCATION,
};
const BUTTONS: Record<string, TemplateButtonType> = {
  QUICK_REPLY: TemplateButtonType.TEMPLATE_BUTTON_TYPE_QUICK_REPLY,
  URL: TemplateButtonType.TEMPLATE_BUTTON_TYPE_URL,
  PHONE_NUMBER: TemplateButtonType.TEMPLATE_BUTTON_TYPE_PHONE_NUMBER,
  COPY_CODE: TemplateButtonType.TEMPLATE_BUTTON_TYPE_COPY_CODE,
  OTP: TemplateButtonType.TEMPLATE_BUTTON_TYPE_OTP,
};

const nameOf = <T extends number>(table: Record<string, T>, value: T): string => Object.entries(table).find(([, v]) => v === value)?.[0] ?? "";

function lookup<T>(table: Record<string, T>, value: unknown, field: string): T {
  const key = str(value).toUpperCase();
  const found = table[key];
  if (found === undefined) throw invalidParameter(field, `must be one of ${Object.keys(table).join(", ")}`);
  return found;
}

/** Filters of GET message_templates: `status`, `category` (a name or a comma list: the first one). */
export function statusFilter(value: unknown): TemplateStatus {
  return value === undefined || value === "" ? TemplateStatus.TEMPLATE_STATUS_UNSPECIFIED : lookup(STATUSES, str(value).split(",")[0], "status");
}
export function categoryFilter(value: unknown): TemplateCategory {
  return value === undefined || value === "" ? TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED : lookup(CATEGORIES, str(value).split(",")[0], "category");
}

export function parameterFormat(value: unknown): TemplateParameterFormat {
  if (value === undefined || value === "") return TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED;
  const v = str(value).toUpperCase();
  if (v === "POSITIONAL") return TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_POSITIONAL;
  if (v === "NAMED") return TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_NAMED;
  throw invalidParameter("parameter_format", "must be POSITIONAL or NAMED");
}

export interface CreateInput {
  name: string;
  language: string;
  category: TemplateCategory;
  parameterFormat: TemplateParameterFormat;
  components: TemplateComponentSpec[];
}

/** POST /{waba-id}/message_templates → CreateTemplate's fields. */
export function createInputOf(body: Json): CreateInput {
  for (const key of ["name", "language", "category", "components"]) {
    if (body[key] === undefined || body[key] === "") throw new GraphError(131008, `Parameter ${key} is required.`);
  }
  if (!Array.isArray(body.components)) throw invalidParameter("components", "must be an array");
  return {
    name: str(body.name),
    language: str(body.language),
    category: lookup(CATEGORIES, body.category, "category"),
    parameterFormat: parameterFormat(body.parameter_format),
    components: componentsOf(body.components),
  };
}

/** POST /{template-id} (edit): new components (replacing the old wholesale), optionally the category and parameter format. */
export function editInputOf(body: Json): { components: TemplateComponentSpec[]; category: TemplateCategory; parameterFormat: TemplateParameterFormat } {
  for (const key of Object.keys(body)) {
    if (key === "message_send_ttl_seconds") throw invalidParameter(key, "is not supported");
    if (!["components", "category", "parameter_format"].includes(key)) throw invalidParameter(key, "is not a known parameter");
  }
  if (body.components === undefined) throw new GraphError(131008, "Parameter components is required.");
  if (!Array.isArray(body.components)) throw invalidParameter("components", "must be an array");
  return {
    components: componentsOf(body.components),
    category: body.category === undefined || body.category === "" ? TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED : lookup(CATEGORIES, body.category, "category"),
    parameterFormat: parameterFormat(body.parameter_format),
  };
}

export function componentsOf(list: unknown[]): TemplateComponentSpec[] {
  return list.map((c, i) => {
    const field = `components[${i}]`;
    const x = obj(c);
    if (!x) throw invalidParameter(field, "must be an object");
    const type = lookup(COMPONENTS, x.type, `${field}.type`);
    const example = obj(x.example);
    return {
      type,
      format: x.format === undefined ? TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_UNSPECIFIED : lookup(FORMATS, x.format, `${field}.format`),
      text: str(x.text),
      example: example
        ? {
            headerText: arr(example.header_text).map(str),
            headerTextNamedParams: arr(example.header_text_named_params).map((p) => ({ paramName: str(obj(p)?.param_name), example: str(obj(p)?.example) })),
            bodyText: arr(example.body_text).map((row) => ({ values: arr(row).map(str) })),
            bodyTextNamedParams: arr(example.body_text_named_params).map((p) => ({ paramName: str(obj(p)?.param_name), example: str(obj(p)?.example) })),
            headerHandle: arr(example.header_handle).map(str),
          }
        : undefined,
      buttons: arr(x.buttons).map((b, j) => {
        const bt = obj(b) ?? {};
        return {
          type: lookup(BUTTONS, bt.type, `${field}.buttons[${j}].type`),
          text: str(bt.text),
          url: str(bt.url),
          phoneNumber: str(bt.phone_number),
          example: Array.isArray(bt.example) ? bt.example.map(str) : bt.example !== undefined ? [str(bt.example)] : [],
          otpType: str(bt.otp_type),
        };
      }),
    };
  });
}

/** A stored template as the Cloud API shows it (GET message_templates). */
export function templateJson(t: Template): Json {
  return {
    name: t.name,
    parameter_format: t.parameterFormat === TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_NAMED ? "NAMED" : "POSITIONAL",
    components: t.components.map(componentJson),
    language: t.language,
    status: nameOf(STATUSES, t.status),
    category: nameOf(CATEGORIES, t.category),
    ...(t.previousCategory ? { previous_category: nameOf(CATEGORIES, t.previousCategory) } : {}),
    ...(t.rejectedReason ? { rejected_reason: t.rejectedReason } : {}),
    id: t.id,
  };
}

function componentJson(c: TemplateComponentSpec): Json {
  const out: Json = { type: nameOf(COMPONENTS, c.type) };
  if (c.format) out.format = nameOf(FORMATS, c.format);
  if (c.text) out.text = c.text;
  const e = c.example;
  if (e) {
    const ex: Json = {};
    if (e.headerText.length) ex.header_text = e.headerText;
    if (e.headerTextNamedParams.length) ex.header_text_named_params = e.headerTextNamedParams.map((p) => ({ param_name: p.paramName, example: p.example }));
    if (e.bodyText.length) ex.body_text = e.bodyText.map((r) => r.values);
    if (e.bodyTextNamedParams.length) ex.body_text_named_params = e.bodyTextNamedParams.map((p) => ({ param_name: p.paramName, example: p.example }));
    if (e.headerHandle.length) ex.header_handle = e.headerHandle;
    if (Object.keys(ex).length) out.example = ex;
  }
  if (c.buttons.length) {
    out.buttons = c.buttons.map((b) => ({
      type: nameOf(BUTTONS, b.type),
      text: b.text,
      ...(b.url ? { url: b.url } : {}),
      ...(b.phoneNumber ? { phone_number: b.phoneNumber } : {}),
      ...(b.example.length ? { example: b.example } : {}),
      ...(b.otpType ? { otp_type: b.otpType } : {}),
    }));
  }
  return out;
}

export const categoryName = (c: TemplateCategory) => nameOf(CATEGORIES, c);
export const statusName = (s: TemplateStatus) => nameOf(STATUSES, s);

/**
 * `?fields=a,b` keeps those keys (and `id`, always); no `fields` keeps
 * everything. Dotted modifiers (`analytics.start(…)`) name the field before the dot.
 */
export function selectFields(node: Json, fields: unknown): Json {
  if (typeof fields !== "string" || fields.trim() === "") return node;
  const wanted = new Set(topLevel(fields).map((f) => f.trim().split(/[.{(]/)[0]!).filter(Boolean));
  wanted.add("id");
  return Object.fromEntries(Object.entries(node).filter(([k]) => wanted.has(k)));
}

/** `fields` split at commas outside parentheses and brackets (a modifier's list holds commas). */
function topLevel(fields: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < fields.length; i++) {
    const c = fields[i];
    if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth = Math.max(0, depth - 1);
    else if (c === "," && depth === 0) {
      out.push(fields.slice(start, i));
      start = i + 1;
    }
  }
  out.push(fields.slice(start));
  return out;
}

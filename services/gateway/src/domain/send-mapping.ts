import {
  Content,
  InteractiveContent,
  MediaContent,
  MediaKind,
  TemplateComponent,
  TemplateParameter,
  type Contact,
} from "@kontor/proto/messaging/v1/message";
import { GraphError, invalidParameter } from "./graph-error.js";

/**
 * A Cloud API send body (cloud-api.md §1) → what messaging's SendMessage
 * takes. Shapes the JSON schema already checked are trusted; what it cannot
 * express (exactly one of id/link, the interactive kinds) is checked here and
 * refused naming the parameter.
 */

type Json = Record<string, unknown>;

export type SendPlan =
  | { kind: "message"; to: string; type: string; content: Content; contextMessageId: string; bizOpaqueCallbackData: string }
  | { kind: "read"; messageId: string; typing: boolean };

const MEDIA_KINDS: Record<string, MediaKind> = {
  image: MediaKind.MEDIA_KIND_IMAGE,
  video: MediaKind.MEDIA_KIND_VIDEO,
  audio: MediaKind.MEDIA_KIND_AUDIO,
  document: MediaKind.MEDIA_KIND_DOCUMENT,
  sticker: MediaKind.MEDIA_KIND_STICKER,
};

const str = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");
const obj = (v: unknown): Json | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function requireObject(body: Json, key: string): Json {
  const value = obj(body[key]);
  if (!value) throw new GraphError(131008, `Parameter ${key} is required for type ${key}.`);
  return value;
}

export function planSend(body: Json): SendPlan {
  if (body.status !== undefined) {
    if (body.status !== "read") throw invalidParameter("status", "must be \"read\"");
    const messageId = str(body.message_id);
    if (!messageId) throw new GraphError(131008, "Parameter message_id is required to mark a message as read.");
    const typing = obj(body.typing_indicator);
    if (typing && typing.type !== "text") throw invalidParameter("typing_indicator.type", "must be \"text\"");
    return { kind: "read", messageId, typing: Boolean(typing) };
  }
  const to = str(body.to) || str(body.recipient);
  if (!to) throw new GraphError(131008, "Parameter to is required.");
  if (body.recipient_type !== undefined && body.recipient_type !== "individual") throw invalidParameter("recipient_type", "must be \"individual\" (groups are not supported)");
  const type = str(body.type) || "text";
  const content = contentOf(type, body);
  const context = obj(body.context);
  if (context && type === "reaction") throw invalidParameter("context", "is not allowed on a reaction");
  return { kind: "message", to, type, content, contextMessageId: context ? str(context.message_id) : "", bizOpaqueCallbackData: str(body.biz_opaque_callback_data) };
}

function contentOf(type: string, body: Json): Content {
  switch (type) {
    case "text": {
      const t = requireObject(body, "text");
      return { kind: { $case: "text", value: { body: str(t.body), previewUrl: t.preview_url === true || t.preview_url === "true" } } };
    }
    case "image":
    case "video":
    case "audio":
    case "document":
    case "sticker":
      return { kind: { $case: "media", value: mediaOf(type, requireObject(body, type), type) } };
    case "location": {
      const l = requireObject(body, "location");
      return { kind: { $case: "location", value: { latitude: coordinate(l.latitude, "location.latitude", 90), longitude: coordinate(l.longitude, "location.longitude", 180), name: str(l.name), address: str(l.address) } } };
    }
    case "contacts": {
      const list = arr(body.contacts);
      if (list.length === 0) throw new GraphError(131008, "Parameter contacts is required for type contacts.");
      return { kind: { $case: "contacts", value: { contacts: list.map((c, i) => contactOf(obj(c) ?? {}, i)) } } };
    }
    case "reaction": {
      const r = requireObject(body, "reaction");
      if (!str(r.message_id)) throw new GraphError(131008, "Parameter reaction.message_id is required.");
      return { kind: { $case: "reaction", value: { messageId: str(r.message_id), emoji: str(r.emoji) } } };
    }
    case "interactive":
      return { kind: { $case: "interactive", value: interactiveOf(requireObject(body, "interactive")) } };
    case "template":
      return { kind: { $case: "template", value: templateOf(requireObject(body, "template")) } };
    default:
      throw invalidParameter("type", `"${type}" is not a supported message type`);
  }
}

function coordinate(value: unknown, field: string, max: number): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n) || Math.abs(n) > max) throw invalidParameter(field, `must be a number from -${max} to ${max}`);
  return n;
}

function mediaOf(kind: string, m: Json, field: string): MediaContent {
  const id = str(m.id);
  const link = str(m.link);
  if ((id ? 1 : 0) + (link ? 1 : 0) !== 1) throw invalidParameter(field, "must have exactly one of id or link");
  if (link && !/^https?:\/\//i.test(link)) throw invalidParameter(`${field}.link`, "must be an http(s) URL");
  if (m.caption !== undefined && (kind === "audio" || kind === "sticker")) throw invalidParameter(`${field}.caption`, `is not allowed on ${kind}`);
  if (m.filename !== undefined && kind !== "document") throw invalidParameter(`${field}.filename`, "is allowed on documents only");
  return MediaContent.fromPartial({
    kind: MEDIA_KINDS[kind] ?? MediaKind.MEDIA_KIND_UNSPECIFIED,
    source: id ? { $case: "mediaId", value: id } : { $case: "link", value: link },
    caption: str(m.caption),
    filename: str(m.filename),
    voice: m.voice === true,
  });
}

function contactOf(c: Json, i: number): Contact {
  const name = obj(c.name);
  if (!name || !str(name.formatted_name)) throw new GraphError(131008, `Parameter contacts[${i}].name.formatted_name is required.`);
  const list = (key: string) => arr(c[key]).map((x) => obj(x) ?? {});
  const org = obj(c.org);
  return {
    name: {
      formattedName: str(name.formatted_name),
      firstName: str(name.first_name),
      lastName: str(name.last_name),
      middleName: str(name.middle_name),
      suffix: str(name.suffix),
      prefix: str(name.prefix),
    },
    birthday: str(c.birthday),
    addresses: list("addresses").map((a) => ({ street: str(a.street), city: str(a.city), state: str(a.state), zip: str(a.zip), country: str(a.country), countryCode: str(a.country_code), type: str(a.type) })),
    emails: list("emails").map((e) => ({ email: str(e.email), type: str(e.type) })),
    org: org ? { company: str(org.company), department: str(org.department), title: str(org.title) } : undefined,
    phones: list("phones").map((p) => ({ phone: str(p.phone), waId: str(p.wa_id), type: str(p.type) })),
    urls: list("urls").map((u) => ({ url: str(u.url), type: str(u.type) })),
  };
}

function interactiveOf(x: Json): InteractiveContent {
  const type = str(x.type);
  const action = obj(x.action) ?? {};
  const headerJson = obj(x.header);
  let header: InteractiveContent["header"];
  if (headerJson) {
    const ht = str(headerJson.type);
    if (ht === "text") header = { kind: { $case: "text", value: str(headerJson.text) } };
    else if (ht === "image" || ht === "video" || ht === "document") header = { kind: { $case: "media", value: mediaOf(ht, obj(headerJson[ht]) ?? {}, `interactive.header.${ht}`) } };
    else throw invalidParameter("interactive.header.type", "must be text, image, video or document");
  }
  const base = { header, body: str(obj(x.body)?.text), footer: str(obj(x.footer)?.text) };
  switch (type) {
    case "button": {
      const buttons = arr(action.buttons).map((b, i) => {
        const reply = obj(obj(b)?.reply);
        if (!reply) throw invalidParameter(`interactive.action.buttons[${i}].reply`, "is required");
        return { id: str(reply.id), title: str(reply.title) };
      });
      return InteractiveContent.fromPartial({ ...base, action: { $case: "buttons", value: { buttons } } });
    }
    case "list": {
      const sections = arr(action.sections).map((s) => {
        const sec = obj(s) ?? {};
        return { title: str(sec.title), rows: arr(sec.rows).map((r) => ({ id: str(obj(r)?.id), title: str(obj(r)?.title), description: str(obj(r)?.description) })) };
      });
      return InteractiveContent.fromPartial({ ...base, action: { $case: "list", value: { button: str(action.button), sections } } });
    }
    case "cta_url": {
      const p = obj(action.parameters) ?? {};
      if (action.name !== undefined && action.name !== "cta_url") throw invalidParameter("interactive.action.name", "must be \"cta_url\"");
      return InteractiveContent.fromPartial({ ...base, action: { $case: "ctaUrl", value: { displayText: str(p.display_text), url: str(p.url) } } });
    }
    case "product":
      return InteractiveContent.fromPartial({ ...base, action: { $case: "product", value: { catalogId: str(action.catalog_id), productRetailerId: str(action.product_retailer_id) } } });
    case "product_list": {
      const sections = arr(action.sections).map((s) => {
        const sec = obj(s) ?? {};
        return { title: str(sec.title), productRetailerIds: arr(sec.product_items).map((p) => str(obj(p)?.product_retailer_id)) };
      });
      return InteractiveContent.fromPartial({ ...base, action: { $case: "productList", value: { catalogId: str(action.catalog_id), sections } } });
    }
    default:
      throw invalidParameter("interactive.type", `"${type}" is not supported (button, list, cta_url, product, product_list)`);
  }
}

function templateOf(t: Json) {
  const name = str(t.name);
  if (!name) throw new GraphError(131008, "Parameter template.name is required.");
  const language = obj(t.language);
  const code = language ? str(language.code) : "";
  if (!code) throw new GraphError(131008, "Parameter template.language.code is required.");
  if (language?.policy !== undefined && language.policy !== "deterministic") throw invalidParameter("template.language.policy", "must be \"deterministic\"");
  const components = arr(t.components).map((c, i) => componentOf(obj(c) ?? {}, `template.components[${i}]`));
  return { name, languageCode: code, components, rendered: undefined };
}

function componentOf(c: Json, field: string): TemplateComponent {
  const type = str(c.type).toLowerCase();
  if (!["header", "body", "button", "carousel", "limited_time_offer"].includes(type)) throw invalidParameter(`${field}.type`, "must be header, body or button");
  const index = c.index === undefined ? 0 : Number(c.index);
  if (!Number.isInteger(index) || index < 0 || index > 9) throw invalidParameter(`${field}.index`, "must be a button position from 0 to 9");
  const parameters = arr(c.parameters).map((p, i) => parameterOf(obj(p) ?? {}, `${field}.parameters[${i}]`));
  return TemplateComponent.fromPartial({ type, subType: str(c.sub_type).toLowerCase(), index, parameters });
}

function parameterOf(p: Json, field: string): TemplateParameter {
  const type = str(p.type);
  const base = { type, parameterName: str(p.parameter_name) };
  switch (type) {
    case "text":
      return TemplateParameter.fromPartial({ ...base, text: str(p.text) });
    case "currency": {
      const c = obj(p.currency) ?? {};
      const amount = Number(c.amount_1000);
      if (!Number.isSafeInteger(amount)) throw invalidParameter(`${field}.currency.amount_1000`, "must be an integer");
      return TemplateParameter.fromPartial({ ...base, currency: { fallbackValue: str(c.fallback_value), code: str(c.code), amount1000: String(amount) } });
    }
    case "date_time":
      return TemplateParameter.fromPartial({ ...base, dateTime: str(obj(p.date_time)?.fallback_value) });
    case "image":
    case "video":
    case "document":
      return TemplateParameter.fromPartial({ ...base, media: mediaOf(type, obj(p[type]) ?? {}, `${field}.${type}`) });
    case "location": {
      const l = obj(p.location) ?? {};
      return TemplateParameter.fromPartial({ ...base, location: { latitude: coordinate(l.latitude, `${field}.location.latitude`, 90), longitude: coordinate(l.longitude, `${field}.location.longitude`, 180), name: str(l.name), address: str(l.address) } });
    }
    case "payload":
      return TemplateParameter.fromPartial({ ...base, payload: str(p.payload) });
    case "coupon_code":
      return TemplateParameter.fromPartial({ ...base, couponCode: str(p.coupon_code) });
    default:
      throw invalidParameter(`${field}.type`, `"${type}" is not a supported parameter type`);
  }
}

/**
 * Every media a message carries, with the parameter the client named it by
 * and the kind its place takes: the message's own (image.id), an interactive
 * header's (interactive.header.image), a template parameter's
 * (template.components[0].parameters[0].document). Uploaded ids are checked
 * the same way wherever they appear.
 */
export function mediaOfContent(content: Content, type: string): { media: MediaContent; param: string; kind: string }[] {
  const kind = content.kind;
  const out: { media: MediaContent; param: string; kind: string }[] = [];
  const kindName = (k: MediaKind) => Object.entries(MEDIA_KINDS).find(([, v]) => v === k)?.[0] ?? "document";
  if (kind?.$case === "media") out.push({ media: kind.value, param: type, kind: type });
  else if (kind?.$case === "interactive" && kind.value.header?.kind?.$case === "media") {
    const k = kindName(kind.value.header.kind.value.kind);
    out.push({ media: kind.value.header.kind.value, param: `interactive.header.${k}`, kind: k });
  } else if (kind?.$case === "template") {
    kind.value.components.forEach((c, i) =>
      c.parameters.forEach((p, j) => {
        if (p.media) {
          const k = kindName(p.media.kind);
          out.push({ media: p.media, param: `template.components[${i}].parameters[${j}].${k}`, kind: k });
        }
      }),
    );
  }
  return out;
}

/**
 * A messaging field path (content.text.body) → the parameter the client
 * sent (text.body): what a Graph error names.
 */
export function cloudFieldOf(protoField: string, type: string): string {
  let f = protoField.replace(/^content\./, "");
  if (f.startsWith("media.")) f = `${type}.${f.slice(6)}`;
  f = f
    .replace(/^template\.language_code/, "template.language.code")
    .replace(/^interactive\.buttons\.buttons/, "interactive.action.buttons")
    .replace(/^interactive\.(buttons|list|cta_url|product|product_list)\b/, "interactive.action")
    .replace(/^interactive\.body$/, "interactive.body.text")
    .replace(/^interactive\.footer$/, "interactive.footer.text");
  if (f === "to" || f === "recipient") return "to";
  if (f === "context.message_id") return "context.message_id";
  return f;
}

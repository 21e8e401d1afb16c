import {
  MediaKind,
  type Content,
  type InteractiveContent,
  type MediaContent,
  type TemplateContent,
  type ContactsContent,
  type LocationContent,
} from "@kontor/proto/messaging/v1/message";
import { InvalidInput } from "@kontor/service-kit/errors";
import { contentCodes, type ContentCase } from "./status.js";

/** Limits from the Cloud API (spec/cloud-api.md §1, §7). */
export const limits = {
  textBody: 4096,
  caption: 1024,
  interactiveBody: 1024,
  listBody: 4096,
  headerText: 60,
  footer: 60,
  buttons: 3,
  buttonId: 256,
  buttonTitle: 20,
  listButton: 20,
  listSections: 10,
  listRows: 10,
  sectionTitle: 24,
  rowId: 200,
  rowTitle: 24,
  rowDescription: 72,
  ctaText: 20,
  productSections: 10,
  products: 30,
  contacts: 20,
  templateName: 512,
  callbackData: 512,
  clientMessageId: 128,
  /** Ids of catalogs, products and orders, as the Cloud API's commerce manager allows. */
  id: 128,
  mediaLink: 2048,
  /** A template: one header, one body, a carousel or limited-time offer, ≤ 10 buttons. */
  templateComponents: 14,
  /** Parameters over all of a template's components; the body they fill is ≤ 1,024 characters. */
  templateParameters: 100,
  templateParameterText: 1024,
  templateParameterShort: 128,
  couponCode: 15,
  /** Items of one order (a cart). */
  orderItems: 100,
  orderText: 1024,
  /** Each sub-field of a contact card, and each of its lists (addresses, emails, phones, urls). */
  contactField: 256,
  contactList: 20,
  systemBody: 4096,
  paymentDescription: 1024,
} as const;

const mediaMax: Record<MediaKind, number> = {
  [MediaKind.MEDIA_KIND_UNSPECIFIED]: 0,
  [MediaKind.MEDIA_KIND_IMAGE]: 5 * 1024 * 1024,
  [MediaKind.MEDIA_KIND_VIDEO]: 16 * 1024 * 1024,
  [MediaKind.MEDIA_KIND_AUDIO]: 16 * 1024 * 1024,
  [MediaKind.MEDIA_KIND_DOCUMENT]: 100 * 1024 * 1024,
  [MediaKind.MEDIA_KIND_STICKER]: 500 * 1024,
  [MediaKind.UNRECOGNIZED]: 0,
};

const mediaMimes: Partial<Record<MediaKind, RegExp>> = {
  [MediaKind.MEDIA_KIND_IMAGE]: /^image\/(jpeg|png)$/,
  [MediaKind.MEDIA_KIND_VIDEO]: /^video\/(mp4|3gpp)$/,
  [MediaKind.MEDIA_KIND_AUDIO]: /^audio\/(aac|amr|mpeg|mp4|ogg)$/,
  [MediaKind.MEDIA_KIND_STICKER]: /^image\/webp$/,
  [MediaKind.MEDIA_KIND_DOCUMENT]: /^(text\/plain|application\/(pdf|msword|vnd\.ms-excel|vnd\.ms-powerpoint|vnd\.openxmlformats-officedocument\.[a-z.]+))$/,
};

/** Characters as a person counts them (code points), like the Cloud API. */
function chars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function maxLen(field: string, value: string, max: number): void {
  // Fast path: UTF-16 length is an upper bound of the code point count.
  if (value.length > max && chars(value) > max) throw new InvalidInput(field, `must be at most ${max} characters`);
}

/** Every string field of a flat message (a contact's name, org, address …) within `max`. */
function fieldsMax(field: string, message: object, max: number): void {
  for (const [key, value] of Object.entries(message)) if (typeof value === "string") maxLen(`${field}.${snake(key)}`, value, max);
}

function required(field: string, value: string): void {
  if (value.trim() === "") throw new InvalidInput(field, "is required");
}

function httpsUrl(field: string, value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== "https:") throw new InvalidInput(field, "must be an https URL");
}

export function validateMedia(field: string, m: MediaContent, allowed?: MediaKind[]): void {
  if (m.kind === MediaKind.MEDIA_KIND_UNSPECIFIED || m.kind === MediaKind.UNRECOGNIZED) throw new InvalidInput(`${field}.kind`, "is required");
  if (allowed && !allowed.includes(m.kind)) throw new InvalidInput(`${field}.kind`, "is not allowed here");
  if (!m.source) throw new InvalidInput(`${field}.media_id`, "one of media_id or link is required");
  if (m.source.$case === "mediaId") {
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(m.source.value)) throw new InvalidInput(`${field}.media_id`, "is not a media id");
  } else {
    maxLen(`${field}.link`, m.source.value, limits.mediaLink);
    httpsUrl(`${field}.link`, m.source.value);
  }
  const noCaption = m.kind === MediaKind.MEDIA_KIND_AUDIO || m.kind === MediaKind.MEDIA_KIND_STICKER;
  if (m.caption && noCaption) throw new InvalidInput(`${field}.caption`, "is not allowed on audio or sticker");
  maxLen(`${field}.caption`, m.caption, limits.caption);
  if (m.filename && m.kind !== MediaKind.MEDIA_KIND_DOCUMENT) throw new InvalidInput(`${field}.filename`, "is only allowed on documents");
  maxLen(`${field}.filename`, m.filename, 240);
  if (m.voice && m.kind !== MediaKind.MEDIA_KIND_AUDIO) throw new InvalidInput(`${field}.voice`, "is only allowed on audio");
  if (m.animated && m.kind !== MediaKind.MEDIA_KIND_STICKER) throw new InvalidInput(`${field}.animated`, "is only allowed on stickers");
  if (m.mimeType) {
    const re = mediaMimes[m.kind];
    if (re && !re.test(m.mimeType)) throw new InvalidInput(`${field}.mime_type`, "is not supported for this media kind");
  }
  const size = Number(m.sizeBytes);
  if (size < 0) throw new InvalidInput(`${field}.size_bytes`, "must not be negative");
  if (size > mediaMax[m.kind]) throw new InvalidInput(`${field}.size_bytes`, `must be at most ${mediaMax[m.kind]} bytes for this kind`);
  if (m.sha256 && !/^[0-9a-f]{64}$/i.test(m.sha256)) throw new InvalidInput(`${field}.sha256`, "must be 64 hex characters");
}

function validateLocation(field: string, l: LocationContent): void {
  if (!Number.isFinite(l.latitude) || l.latitude < -90 || l.latitude > 90) throw new InvalidInput(`${field}.latitude`, "must be within -90..90");
  if (!Number.isFinite(l.longitude) || l.longitude < -180 || l.longitude > 180) throw new InvalidInput(`${field}.longitude`, "must be within -180..180");
  maxLen(`${field}.name`, l.name, 1000);
  maxLen(`${field}.address`, l.address, 1000);
}

function validateContacts(field: string, c: ContactsContent): void {
  if (c.contacts.length === 0) throw new InvalidInput(`${field}.contacts`, "must have at least one contact");
  if (c.contacts.length > limits.contacts) throw new InvalidInput(`${field}.contacts`, `must have at most ${limits.contacts} contacts`);
  c.contacts.forEach((contact, i) => {
    const f = `${field}.contacts[${i}]`;
    if (!contact.name) throw new InvalidInput(`${f}.name.formatted_name`, "is required");
    required(`${f}.name.formatted_name`, contact.name.formattedName);
    fieldsMax(`${f}.name`, contact.name, limits.contactField);
    if (contact.birthday && !/^\d{4}-\d{2}-\d{2}$/.test(contact.birthday)) throw new InvalidInput(`${f}.birthday`, "must be YYYY-MM-DD");
    if (contact.org) fieldsMax(`${f}.org`, contact.org, limits.contactField);
    for (const list of ["addresses", "emails", "phones", "urls"] as const) {
      const items: object[] = contact[list];
      if (items.length > limits.contactList) throw new InvalidInput(`${f}.${list}`, `must have at most ${limits.contactList} entries`);
      items.forEach((item, j) => fieldsMax(`${f}.${list}[${j}]`, item, limits.contactField));
    }
    contact.emails.forEach((e, j) => {
      if (!/^[^@\s]+@[^@\s]+$/.test(e.email)) throw new InvalidInput(`${f}.emails[${j}].email`, "is not an email address");
    });
    contact.phones.forEach((p, j) => required(`${f}.phones[${j}].phone`, p.phone));
  });
}

function uniqueOrThrow(field: string, values: string[], what: string): void {
  if (new Set(values).size !== values.length) throw new InvalidInput(field, `${what} must be unique`);
}

function validateInteractive(field: string, it: InteractiveContent, sender: "business" | "customer"): void {
  const action = it.action;
  if (!action) throw new InvalidInput(`${field}.action`, "is required (buttons, list, cta_url, product, product_list, button_reply, list_reply)");
  const isReply = action.$case === "buttonReply" || action.$case === "listReply";
  if (sender === "customer" && !isReply) throw new InvalidInput(`${field}.${snake(action.$case)}`, "customers may only send button_reply or list_reply");
  if (sender === "business" && isReply) throw new InvalidInput(`${field}.${snake(action.$case)}`, "is a customer reply; businesses send buttons or lists");
  maxLen(`${field}.footer`, it.footer, limits.footer);
  const header = it.header?.kind;
  if (header?.$case === "text") maxLen(`${field}.header.text`, header.value, limits.headerText);
  if (header?.$case === "media") validateMedia(`${field}.header.media`, header.value, [MediaKind.MEDIA_KIND_IMAGE, MediaKind.MEDIA_KIND_VIDEO, MediaKind.MEDIA_KIND_DOCUMENT]);
  switch (action.$case) {
    case "buttons": {
      required(`${field}.body`, it.body);
      maxLen(`${field}.body`, it.body, limits.interactiveBody);
      const buttons = action.value.buttons;
      if (buttons.length < 1 || buttons.length > limits.buttons) throw new InvalidInput(`${field}.buttons.buttons`, `must have 1 to ${limits.buttons} buttons`);
      buttons.forEach((b, i) => {
        required(`${field}.buttons.buttons[${i}].id`, b.id);
        if (b.id !== b.id.trim()) throw new InvalidInput(`${field}.buttons.buttons[${i}].id`, "must not have leading or trailing spaces");
        maxLen(`${field}.buttons.buttons[${i}].id`, b.id, limits.buttonId);
        required(`${field}.buttons.buttons[${i}].title`, b.title);
        maxLen(`${field}.buttons.buttons[${i}].title`, b.title, limits.buttonTitle);
      });
      uniqueOrThrow(`${field}.buttons.buttons`, buttons.map((b) => b.id), "button ids");
      uniqueOrThrow(`${field}.buttons.buttons`, buttons.map((b) => b.title), "button titles");
      return;
    }
    case "list": {
      if (header && header.$case !== "text") throw new InvalidInput(`${field}.header`, "must be text for a list");
      required(`${field}.body`, it.body);
      maxLen(`${field}.body`, it.body, limits.listBody);
      required(`${field}.list.button`, action.value.button);
      maxLen(`${field}.list.button`, action.value.button, limits.listButton);
      const sections = action.value.sections;
      if (sections.length < 1 || sections.length > limits.listSections) throw new InvalidInput(`${field}.list.sections`, `must have 1 to ${limits.listSections} sections`);
      let rows = 0;
      const ids: string[] = [];
      sections.forEach((s, i) => {
        if (sections.length > 1) required(`${field}.list.sections[${i}].title`, s.title);
        maxLen(`${field}.list.sections[${i}].title`, s.title, limits.sectionTitle);
        if (s.rows.length === 0) throw new InvalidInput(`${field}.list.sections[${i}].rows`, "must have at least one row");
        s.rows.forEach((r, j) => {
          const f = `${field}.list.sections[${i}].rows[${j}]`;
          required(`${f}.id`, r.id);
          maxLen(`${f}.id`, r.id, limits.rowId);
          required(`${f}.title`, r.title);
          maxLen(`${f}.title`, r.title, limits.rowTitle);
          maxLen(`${f}.description`, r.description, limits.rowDescription);
          ids.push(r.id);
        });
        rows += s.rows.length;
      });
      if (rows > limits.listRows) throw new InvalidInput(`${field}.list.sections`, `must have at most ${limits.listRows} rows in total`);
      uniqueOrThrow(`${field}.list.sections`, ids, "row ids");
      return;
    }
    case "ctaUrl":
      required(`${field}.body`, it.body);
      maxLen(`${field}.body`, it.body, limits.interactiveBody);
      required(`${field}.cta_url.display_text`, action.value.displayText);
      maxLen(`${field}.cta_url.display_text`, action.value.displayText, limits.ctaText);
      httpsUrl(`${field}.cta_url.url`, action.value.url);
      return;
    case "product":
      if (header) throw new InvalidInput(`${field}.header`, "is not allowed on a product message");
      maxLen(`${field}.body`, it.body, limits.interactiveBody);
      required(`${field}.product.catalog_id`, action.value.catalogId);
      maxLen(`${field}.product.catalog_id`, action.value.catalogId, limits.id);
      required(`${field}.product.product_retailer_id`, action.value.productRetailerId);
      maxLen(`${field}.product.product_retailer_id`, action.value.productRetailerId, limits.id);
      return;
    case "productList": {
      if (header?.$case !== "text" || header.value.trim() === "") throw new InvalidInput(`${field}.header.text`, "is required for a product list");
      required(`${field}.body`, it.body);
      maxLen(`${field}.body`, it.body, limits.interactiveBody);
      required(`${field}.product_list.catalog_id`, action.value.catalogId);
      maxLen(`${field}.product_list.catalog_id`, action.value.catalogId, limits.id);
      const sections = action.value.sections;
      if (sections.length < 1 || sections.length > limits.productSections) throw new InvalidInput(`${field}.product_list.sections`, `must have 1 to ${limits.productSections} sections`);
      let total = 0;
      sections.forEach((s, i) => {
        if (sections.length > 1) required(`${field}.product_list.sections[${i}].title`, s.title);
        maxLen(`${field}.product_list.sections[${i}].title`, s.title, limits.sectionTitle);
        if (s.productRetailerIds.length === 0) throw new InvalidInput(`${field}.product_list.sections[${i}].product_retailer_ids`, "must not be empty");
        total += s.productRetailerIds.length;
        // Counted before each id is read: one section cannot carry a million ids past the total.
        if (total > limits.products) throw new InvalidInput(`${field}.product_list.sections`, `must have at most ${limits.products} products in total`);
        s.productRetailerIds.forEach((id, j) => maxLen(`${field}.product_list.sections[${i}].product_retailer_ids[${j}]`, id, limits.id));
      });
      if (total > limits.products) throw new InvalidInput(`${field}.product_list.sections`, `must have at most ${limits.products} products in total`);
      return;
    }
    case "buttonReply":
      required(`${field}.button_reply.id`, action.value.id);
      maxLen(`${field}.button_reply.id`, action.value.id, limits.buttonId);
      maxLen(`${field}.button_reply.title`, action.value.title, limits.buttonTitle);
      return;
    case "listReply":
      required(`${field}.list_reply.id`, action.value.id);
      maxLen(`${field}.list_reply.id`, action.value.id, limits.rowId);
      maxLen(`${field}.list_reply.title`, action.value.title, limits.rowTitle);
      maxLen(`${field}.list_reply.description`, action.value.description, limits.rowDescription);
      return;
  }
}

function validateTemplate(field: string, t: TemplateContent): void {
  required(`${field}.name`, t.name);
  if (!/^[a-z0-9_]{1,512}$/.test(t.name)) throw new InvalidInput(`${field}.name`, "must be lower-case letters, digits and _");
  required(`${field}.language_code`, t.languageCode);
  if (!/^[a-z]{2,3}(_[A-Z]{2})?$/.test(t.languageCode)) throw new InvalidInput(`${field}.language_code`, "must look like en or en_US");
  if (t.components.length > limits.templateComponents) throw new InvalidInput(`${field}.components`, `must have at most ${limits.templateComponents} components`);
  let parameters = 0;
  t.components.forEach((c, i) => {
    if (!["header", "body", "button", "carousel", "limited_time_offer"].includes(c.type)) throw new InvalidInput(`${field}.components[${i}].type`, "is not a component type");
    maxLen(`${field}.components[${i}].sub_type`, c.subType, limits.templateParameterShort);
    parameters += c.parameters.length;
    if (parameters > limits.templateParameters) throw new InvalidInput(`${field}.components`, `must have at most ${limits.templateParameters} parameters in total`);
    c.parameters.forEach((p, j) => {
      const f = `${field}.components[${i}].parameters[${j}]`;
      maxLen(`${f}.type`, p.type, limits.templateParameterShort);
      maxLen(`${f}.parameter_name`, p.parameterName, limits.templateParameterShort);
      maxLen(`${f}.text`, p.text, limits.templateParameterText);
      maxLen(`${f}.date_time`, p.dateTime, limits.templateParameterShort);
      maxLen(`${f}.payload`, p.payload, limits.templateParameterText);
      maxLen(`${f}.coupon_code`, p.couponCode, limits.couponCode);
      if (p.currency) {
        maxLen(`${f}.currency.fallback_value`, p.currency.fallbackValue, limits.templateParameterShort);
        maxLen(`${f}.currency.code`, p.currency.code, limits.templateParameterShort);
      }
      if (p.media) validateMedia(`${f}.media`, p.media);
      if (p.location) validateLocation(`${f}.location`, p.location);
      if (p.parameterName && !/^[a-z_]+$/.test(p.parameterName)) throw new InvalidInput(`${f}.parameter_name`, "must be lower-case a-z and _");
    });
  });
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export interface ValidContent {
  contentType: number;
  kind: ContentCase;
}

/**
 * Checks a message body against the Cloud API limits; every problem names its
 * field path under `content`. Who may send which kind is part of the check.
 */
export function validateContent(content: Content | undefined, sender: "business" | "customer" | "service"): ValidContent {
  const kind = content?.kind;
  if (!kind) throw new InvalidInput("content", "is required (text, media, location, contacts, reaction, interactive, template, order, payment_request, system)");
  const f = `content.${snake(kind.$case)}`;
  const asParty = sender === "customer" ? "customer" : "business";
  switch (kind.$case) {
    case "text":
      required(`${f}.body`, kind.value.body);
      maxLen(`${f}.body`, kind.value.body, limits.textBody);
      break;
    case "media":
      validateMedia(f, kind.value);
      break;
    case "location":
      validateLocation(f, kind.value);
      break;
    case "contacts":
      validateContacts(f, kind.value);
      break;
    case "reaction":
      required(`${f}.message_id`, kind.value.messageId);
      if (!/^wamid\.[A-Za-z0-9_-]{10,64}$/.test(kind.value.messageId)) throw new InvalidInput(`${f}.message_id`, "is not a message id");
      if (chars(kind.value.emoji) > 8) throw new InvalidInput(`${f}.emoji`, "must be a single emoji (or empty to remove)");
      break;
    case "interactive":
      validateInteractive(f, kind.value, asParty);
      break;
    case "template":
      if (sender === "customer") throw new InvalidInput(f, "only businesses send templates");
      validateTemplate(f, kind.value);
      break;
    case "order":
      if (sender !== "customer") throw new InvalidInput(f, "orders come from customers");
      required(`${f}.catalog_id`, kind.value.catalogId);
      maxLen(`${f}.catalog_id`, kind.value.catalogId, limits.id);
      maxLen(`${f}.text`, kind.value.text, limits.orderText);
      if (kind.value.items.length === 0) throw new InvalidInput(`${f}.items`, "must have at least one item");
      if (kind.value.items.length > limits.orderItems) throw new InvalidInput(`${f}.items`, `must have at most ${limits.orderItems} items`);
      kind.value.items.forEach((it, i) => {
        required(`${f}.items[${i}].product_retailer_id`, it.productRetailerId);
        maxLen(`${f}.items[${i}].product_retailer_id`, it.productRetailerId, limits.id);
        if (it.quantity < 1 || it.quantity > 99) throw new InvalidInput(`${f}.items[${i}].quantity`, "must be 1 to 99");
      });
      break;
    case "paymentRequest":
      if (sender === "customer") throw new InvalidInput(f, "only businesses request payments");
      if (!/^[A-Za-z0-9_.-]{1,60}$/.test(kind.value.referenceId)) throw new InvalidInput(`${f}.reference_id`, "must be 1-60 characters of [A-Za-z0-9_.-]");
      if (!kind.value.total) throw new InvalidInput(`${f}.total`, "is required");
      if (!/^[A-Z]{3}$/.test(kind.value.total.currency)) throw new InvalidInput(`${f}.total.currency`, "must be an ISO 4217 code");
      if (!/^[1-9]\d{0,17}$/.test(kind.value.total.amountMinor)) throw new InvalidInput(`${f}.total.amount_minor`, "must be a positive integer");
      maxLen(`${f}.description`, kind.value.description, limits.paymentDescription);
      maxLen(`${f}.order_id`, kind.value.orderId, limits.id);
      break;
    case "system":
      if (sender !== "service") throw new InvalidInput(f, "system notices are sent by Kontor services only");
      required(`${f}.body`, kind.value.body);
      maxLen(`${f}.body`, kind.value.body, limits.systemBody);
      break;
  }
  return { contentType: contentCodes[kind.$case], kind: kind.$case };
}

export function validateEnvelope(input: { clientMessageId: string; bizOpaqueCallbackData: string; contextMessageId: string; kind: ContentCase }): void {
  if (input.clientMessageId.length > limits.clientMessageId) throw new InvalidInput("client_message_id", `must be at most ${limits.clientMessageId} characters`);
  if (Buffer.byteLength(input.bizOpaqueCallbackData) > limits.callbackData) throw new InvalidInput("biz_opaque_callback_data", `must be at most ${limits.callbackData} bytes`);
  if (input.contextMessageId) {
    if (input.kind === "reaction") throw new InvalidInput("context", "reactions cannot carry a reply context");
    if (!/^wamid\.[A-Za-z0-9_-]{10,64}$/.test(input.contextMessageId)) throw new InvalidInput("context.message_id", "is not a message id");
  }
}

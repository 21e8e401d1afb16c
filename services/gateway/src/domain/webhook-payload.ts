import { createHmac } from "node:crypto";
import { MediaKind, MessageStatus, type Content, type Message, type Referral } from "@kontor/proto/messaging/v1/message";
import { GRAPH_CODES, titleOf } from "./graph-error.js";
import { digitsOf } from "./phone.js";

/**
 * Webhook notifications in the Cloud API's exact envelope (cloud-api.md §3.3–3.7),
 * the bytes they are sent as, and their signature.
 */

type Json = Record<string, unknown>;

export interface NumberMetadata {
  /** E.164 of the business number; metadata shows its digits. */
  e164: string;
  phoneNumberId: string;
}

const seconds = (d: Date | undefined) => String(Math.floor((d ?? new Date()).getTime() / 1000));

/** `{object, entry:[{id, changes:[{field, value}]}]}`; template and account fields add entry[].time. */
export function envelope(wabaId: string, field: string, value: Json, time?: Date): Json {
  return {
    object: "whatsapp_business_account",
    entry: [{ id: wabaId, ...(time ? { time: Math.floor(time.getTime() / 1000) } : {}), changes: [{ value, field }] }],
  };
}

function messagesValue(number: NumberMetadata, rest: Json): Json {
  return { messaging_product: "whatsapp", metadata: { display_phone_number: digitsOf(number.e164), phone_number_id: number.phoneNumberId }, ...rest };
}

const MEDIA_TYPES: Record<number, string> = {
  [MediaKind.MEDIA_KIND_IMAGE]: "image",
  [MediaKind.MEDIA_KIND_VIDEO]: "video",
  [MediaKind.MEDIA_KIND_AUDIO]: "audio",
  [MediaKind.MEDIA_KIND_DOCUMENT]: "document",
  [MediaKind.MEDIA_KIND_STICKER]: "sticker",
};

const ZERO_DECIMAL = new Set(["JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF", "KMF", "GNF", "DJF", "BIF", "MGA", "VUV", "XPF"]);
const major = (minor: string, currency: string) => Number(minor) / (ZERO_DECIMAL.has(currency) ? 1 : 100);

/** An inbound message's type and payload keys (§3.5). */
export function inboundContent(content: Content | undefined): Json {
  const k = content?.kind;
  switch (k?.$case) {
    case "text":
      return { type: "text", text: { body: k.value.body } };
    case "media": {
      const type = MEDIA_TYPES[k.value.kind] ?? "document";
      const m = k.value;
      const media: Json = { ...(m.source?.$case === "mediaId" ? { id: m.source.value } : {}), mime_type: m.mimeType, ...(m.sha256 ? { sha256: m.sha256 } : {}) };
      if (m.source?.$case === "link") media.url = m.source.value;
      if (m.caption) media.caption = m.caption;
      if (type === "document" && m.filename) media.filename = m.filename;
      if (type === "audio") media.voice = m.voice;
      if (type === "sticker") media.animated = m.animated;
      return { type, [type]: media };
    }
    case "location":
      return { type: "location", location: { latitude: k.value.latitude, longitude: k.value.longitude, ...(k.value.name ? { name: k.value.name } : {}), ...(k.value.address ? { address: k.value.address } : {}) } };
    case "contacts":
      return {
        type: "contacts",
        contacts: k.value.contacts.map((c) => ({
          name: { formatted_name: c.name?.formattedName ?? "", ...(c.name?.firstName ? { first_name: c.name.firstName } : {}), ...(c.name?.lastName ? { last_name: c.name.lastName } : {}) },
          ...(c.birthday ? { birthday: c.birthday } : {}),
          phones: c.phones.map((p) => ({ phone: p.phone, ...(p.waId ? { wa_id: p.waId } : {}), ...(p.type ? { type: p.type } : {}) })),
          emails: c.emails.map((e) => ({ email: e.email, ...(e.type ? { type: e.type } : {}) })),
          urls: c.urls.map((u) => ({ url: u.url, ...(u.type ? { type: u.type } : {}) })),
          addresses: c.addresses.map((a) => ({ street: a.street, city: a.city, state: a.state, zip: a.zip, country: a.country, country_code: a.countryCode, type: a.type })),
          ...(c.org ? { org: { company: c.org.company, department: c.org.department, title: c.org.title } } : {}),
        })),
      };
    case "reaction":
      return { type: "reaction", reaction: { message_id: k.value.messageId, ...(k.value.emoji ? { emoji: k.value.emoji } : {}) } };
    case "interactive": {
      const a = k.value.action;
      if (a?.$case === "buttonReply") return { type: "interactive", interactive: { type: "button_reply", button_reply: { id: a.value.id, title: a.value.title } } };
      if (a?.$case === "listReply") return { type: "interactive", interactive: { type: "list_reply", list_reply: { id: a.value.id, title: a.value.title, description: a.value.description } } };
      return unsupported("interactive");
    }
    case "order":
      return {
        type: "order",
        order: {
          catalog_id: k.value.catalogId,
          ...(k.value.text ? { text: k.value.text } : {}),
          product_items: k.value.items.map((i) => ({ product_retailer_id: i.productRetailerId, quantity: i.quantity, item_price: major(i.itemPrice?.amountMinor ?? "0", i.itemPrice?.currency ?? ""), currency: i.itemPrice?.currency ?? "" })),
        },
      };
    default:
      return unsupported(k?.$case ?? "unknown");
  }
}

function unsupported(kind: string): Json {
  return { type: "unsupported", unsupported: { type: kind }, errors: [webhookError(131051, "Message type is not currently supported.")] };
}

/** An error object inside a webhook (§2.2): `message` equals `title`. */
export function webhookError(code: number, details: string): Json {
  const title = titleOf(code);
  return { code, title, message: title, error_data: { details }, href: "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/" };
}

export function referralJson(r: Referral): Json {
  const out: Json = { source_url: r.sourceUrl, source_id: r.sourceId, source_type: r.sourceType };
  for (const [key, value] of [["body", r.body], ["headline", r.headline], ["media_type", r.mediaType], ["image_url", r.imageUrl], ["video_url", r.videoUrl], ["thumbnail_url", r.thumbnailUrl], ["ctwa_clid", r.ctwaClid]] as const) {
    if (value) out[key] = value;
  }
  return out;
}

/** `messages` field for one inbound message. `waId` is the customer's number (digits); `contextFrom` the business's. */
export function inboundNotification(input: { wabaId: string; number: NumberMetadata; message: Message; waId: string; profileName?: string; referral?: Referral }): Json {
  const { message } = input;
  const msg: Json = { from: input.waId, id: message.id, timestamp: seconds(message.createdAt), ...inboundContent(message.content) };
  if (message.context?.messageId) msg.context = { from: digitsOf(input.number.e164), id: message.context.messageId };
  if (input.referral && (input.referral.sourceId || input.referral.sourceUrl)) msg.referral = referralJson(input.referral);
  const contact: Json = { ...(input.profileName ? { profile: { name: input.profileName } } : {}), wa_id: input.waId };
  return envelope(input.wabaId, "messages", messagesValue(input.number, { contacts: [contact], messages: [msg] }));
}

const STATUS_NAMES: Partial<Record<MessageStatus, string>> = {
  [MessageStatus.MESSAGE_STATUS_SENT]: "sent",
  [MessageStatus.MESSAGE_STATUS_DELIVERED]: "delivered",
  [MessageStatus.MESSAGE_STATUS_READ]: "read",
  [MessageStatus.MESSAGE_STATUS_FAILED]: "failed",
};

/** The Cloud API status of a messaging status; undefined for ACCEPTED (the send's own answer). */
export const statusName = (s: MessageStatus) => STATUS_NAMES[s];

/**
 * pricing on `sent` (§3.6): messaging's own pricing of the message when the
 * event carries it; else inferred from the category (per-message pricing,
 * service messages free inside the window).
 */
export function pricingOf(category: string, priced?: { type: string; model: string; billable: boolean }): Json | undefined {
  if (!category) return undefined;
  if (priced) return { billable: priced.billable, pricing_model: priced.model, type: priced.type, category };
  const free = category === "service" || category === "referral_conversion";
  return { billable: !free, pricing_model: "PMP", type: category === "referral_conversion" ? "free_entry_point" : free ? "free_customer_service" : "regular", category };
}

/** `messages` field for one outbound status. */
export function statusNotification(input: {
  wabaId: string;
  number: NumberMetadata;
  messageId: string;
  status: MessageStatus;
  at: Date | undefined;
  waId: string;
  errorCode: number;
  pricingCategory: string;
  pricing?: { type: string; model: string; billable: boolean };
  bizOpaqueCallbackData: string;
}): Json | undefined {
  const name = statusName(input.status);
  if (!name) return undefined;
  const status: Json = { id: input.messageId, status: name, timestamp: seconds(input.at), recipient_id: input.waId };
  if (input.bizOpaqueCallbackData) status.biz_opaque_callback_data = input.bizOpaqueCallbackData;
  const pricing = name === "sent" ? pricingOf(input.pricingCategory, input.pricing) : undefined;
  if (pricing) status.pricing = pricing;
  if (name === "failed") {
    const code = input.errorCode && GRAPH_CODES[input.errorCode] ? input.errorCode : 131000;
    status.errors = [webhookError(code, code === 131000 ? "The message could not be delivered." : titleOf(code))];
  }
  return envelope(input.wabaId, "messages", messagesValue(input.number, { statuses: [status] }));
}

/** `message_template_status_update` (§3.7). */
export function templateStatusNotification(input: { wabaId: string; templateId: string; name: string; language: string; category: string; event: string; reason: string; at: Date | undefined }): Json {
  const id = /^\d{1,15}$/.test(input.templateId) ? Number(input.templateId) : input.templateId;
  return envelope(
    input.wabaId,
    "message_template_status_update",
    {
      event: input.event,
      message_template_id: id,
      message_template_name: input.name,
      message_template_language: input.language,
      ...(input.category ? { message_template_category: input.category } : {}),
      reason: input.reason || "NONE",
    },
    input.at ?? new Date(),
  );
}

/** The bytes sent: JSON with every non-ASCII character as a lowercase \uXXXX escape, as Meta sends them (§3.3). */
export function webhookBytes(payload: Json): string {
  return JSON.stringify(payload).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** X-Hub-Signature-256 and the legacy X-Hub-Signature over the exact bytes. */
export function signatures(body: string | Buffer, appSecret: string): { sha256: string; sha1: string } {
  return {
    // A string is hashed as its UTF-8 bytes, the bytes sent.
    sha256: `sha256=${createHmac("sha256", appSecret).update(body).digest("hex")}`,
    sha1: `sha1=${createHmac("sha1", appSecret).update(body).digest("hex")}`,
  };
}

/** Delay before retry `attempt` (1 = the first retry): base × 2^(attempt-1), capped, with ±20 % jitter. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.max(1, Math.round(raw * (0.8 + 0.4 * random())));
}

const ENVELOPE_HEAD = '{"object":"whatsapp_business_account","entry":[';
const ENVELOPE_TAIL = "]}";

/**
 * Several queued notifications of one WABA as one POST: their entries in
 * queue order in one envelope (the Cloud API batches many entries, changes
 * and statuses per POST; every status and message keeps its own id, so a
 * receiver dedupes per item). The bodies are spliced, not re-serialised, so
 * each entry keeps the exact bytes it was queued with.
 */
export function mergeNotifications(bodies: readonly string[]): string {
  if (bodies.length === 1) return bodies[0]!;
  const entries: string[] = [];
  for (const b of bodies) {
    if (b.startsWith(ENVELOPE_HEAD) && b.endsWith(ENVELOPE_TAIL)) {
      const inner = b.slice(ENVELOPE_HEAD.length, b.length - ENVELOPE_TAIL.length);
      if (inner) entries.push(inner);
    } else {
      const parsed = JSON.parse(b) as { entry?: unknown[] };
      for (const e of parsed.entry ?? []) entries.push(webhookBytes(e as Json));
    }
  }
  return `${ENVELOPE_HEAD}${entries.join(",")}${ENVELOPE_TAIL}`;
}

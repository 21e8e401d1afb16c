import { TemplateCategory, TemplateStatus, type TemplateComponentSpec } from "@kontor/proto/messaging/v1/template";
import type { TemplateDefinition } from "./validate.js";

/** The automatic review's verdict on a template whose structure is valid (validate.ts). */
export interface ReviewOutcome {
  status: TemplateStatus.TEMPLATE_STATUS_APPROVED | TemplateStatus.TEMPLATE_STATUS_REJECTED;
  /** The category it is approved under (review may re-categorize UTILITY as MARKETING). */
  category: TemplateCategory;
  /** The category asked for, when it was changed; UNSPECIFIED otherwise. */
  previousCategory: TemplateCategory;
  /** Why it was rejected, or why it was re-categorized; empty for a plain approval. */
  reason: string;
}

/**
 * Promotional wording (English, German, Spanish, Portuguese, French).
 * Matched case-insensitively on word boundaries in every text a customer
 * sees: header, body, footer, button labels.
 */
const PROMOTIONAL: RegExp[] = [
  /\b\d{1,3}\s?% (off|rabatt|de descuento|de desconto)\b/iu,
  /\b(sale|discounts?|offers?|promo(tion)?s?|promo ?codes?|coupons?|deals?|voucher|clearance|black friday|cyber monday)\b/iu,
  /\b(buy now|shop now|order now|limited[- ]time|special price|free gift|don't miss|last chance)\b/iu,
  /\b(rabatt|angebot(e)?|gutschein|sonderangebot|schnäppchen|jetzt kaufen|ausverkauf)\b/iu,
  /\b(descuentos?|ofertas?|promoción|cupón|rebajas|compra ya)\b/iu,
  /\b(desconto|promoção|cupom|liquidação|compre já)\b/iu,
  /\b(soldes|promotion|réduction|bon de réduction)\b/iu,
];

/** Link shorteners hide where a button or link leads. */
const SHORTENERS = /\b(bit\.ly|tinyurl\.com|t\.co|goo\.gl|ow\.ly|is\.gd|buff\.ly|rebrand\.ly|cutt\.ly|shorturl\.at|tiny\.cc)\b/iu;

/** Asking a customer for secrets is what phishing does; AUTHENTICATION templates send a code, they never ask for one. */
const CREDENTIALS = /\b(password|passwort|contraseña|senha|mot de passe|cvv|cvc|card number|kartennummer|número de tarjeta|pin code|social security number)\b/iu;

/** Every text of a template a customer reads, with urls. */
function textsOf(components: TemplateComponentSpec[]): { visible: string[]; urls: string[] } {
  const visible: string[] = [];
  const urls: string[] = [];
  for (const c of components) {
    if (c.text) visible.push(c.text);
    for (const b of c.buttons) {
      if (b.text) visible.push(b.text);
      if (b.url) urls.push(b.url);
    }
  }
  return { visible, urls };
}

/** The first promotional phrase of the texts, if any. */
export function promotionalPhrase(texts: string[]): string | undefined {
  for (const t of texts) {
    for (const re of PROMOTIONAL) {
      const m = re.exec(t);
      if (m) return m[0];
    }
  }
  return undefined;
}

/**
 * The automatic review, in order:
 * 1. a link shortener in a url or a text → REJECTED (INVALID_FORMAT);
 * 2. asking for a password, card number or the like → REJECTED (SCAM);
 * 3. an AUTHENTICATION template with promotional wording → REJECTED
 *    (TAG_CONTENT_MISMATCH): it carries a code, nothing else;
 * 4. a UTILITY template with promotional wording → APPROVED as MARKETING,
 *    with UTILITY as its previous category (what the Cloud API does since
 *    April 2025, cloud-api.md §4.2: it is not rejected);
 * 5. otherwise APPROVED in the category asked for.
 */
export function reviewTemplate(def: TemplateDefinition): ReviewOutcome {
  const { visible, urls } = textsOf(def.components);
  const approved = (reason = "", category = def.category, previousCategory = TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED): ReviewOutcome => ({
    status: TemplateStatus.TEMPLATE_STATUS_APPROVED,
    category,
    previousCategory,
    reason,
  });
  const rejected = (reason: string): ReviewOutcome => ({ status: TemplateStatus.TEMPLATE_STATUS_REJECTED, category: def.category, previousCategory: TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED, reason });

  const short = [...urls, ...visible].map((t) => SHORTENERS.exec(t)?.[0]).find((m) => m !== undefined);
  if (short) return rejected(`INVALID_FORMAT: link shorteners (${short}) hide where a link leads; use the full address`);
  const secret = visible.map((t) => CREDENTIALS.exec(t)?.[0]).find((m) => m !== undefined);
  if (secret) return rejected(`SCAM: a template must not ask customers for secrets ("${secret}")`);
  const promo = promotionalPhrase(visible);
  if (promo && def.category === TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION) {
    return rejected(`TAG_CONTENT_MISMATCH: an AUTHENTICATION template carries only a code; promotional wording found ("${promo}")`);
  }
  if (promo && def.category === TemplateCategory.TEMPLATE_CATEGORY_UTILITY) {
    return approved(`re-categorized from UTILITY to MARKETING: promotional wording ("${promo}")`, TemplateCategory.TEMPLATE_CATEGORY_MARKETING, TemplateCategory.TEMPLATE_CATEGORY_UTILITY);
  }
  return approved();
}

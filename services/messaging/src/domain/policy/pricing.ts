import { DAY_MS } from "./clock.js";
import { FREE_ENTRY_MS } from "./window.js";

/**
 * Pricing (Cloud API §9.5). The operator picks the model: PMP, per-message
 * pricing (the Cloud API's since July 2025: every template message is priced
 * by its category; utility templates inside an open customer service window
 * and everything inside a free entry point are free; free-form service
 * messages are free), or CBP, conversation-based pricing (a 24 h conversation
 * per category, opened by the business message that finds none open; service
 * conversations free since November 2024, marketing, utility and
 * authentication billed; the free entry point is one free 72 h conversation).
 */
export type PricingModel = "PMP" | "CBP";

export const CATEGORIES = ["service", "marketing", "utility", "authentication"] as const;
export type PricingCategory = (typeof CATEGORIES)[number];

/** A conversation window per category lasts 24 h from the message that opened it. */
export const CONVERSATION_WINDOW_MS = DAY_MS;

/**
 * Bits a send carries to the group commit (SendItem.policy): what the
 * commit must update in the conversation row under its lock. 0 = nothing
 * (a free-form reply inside windows this replica knows are open).
 */
export const POLICY = {
  /** A customer's message: the customer service window restarts. */
  inbound: 1,
  /** … that followed a click-to-chat ad: the business may open a free entry point by replying within 24 h. */
  referral: 2,
  /** A business message that may open the free entry point. */
  business: 4,
  /** A business message that opens its category's window unless one is open: service, marketing, utility, authentication. */
  service: 8,
  marketing: 16,
  utility: 32,
  authentication: 64,
} as const;

export const CATEGORY_BIT: Readonly<Record<PricingCategory, number>> = {
  service: POLICY.service,
  marketing: POLICY.marketing,
  utility: POLICY.utility,
  authentication: POLICY.authentication,
};

/**
 * A conversation's windows as the store holds them after the commit, epoch
 * ms (0 = never): the truth every replica's memory follows.
 */
export interface ConversationWindows {
  lastInboundAt: number;
  referralReplyBy: number;
  freeEntryUntil: number;
  /** Until when each category's conversation is open, in CATEGORIES order. */
  categoryUntil: [number, number, number, number];
}

/** What the commit opened at `at`: the free entry point, or a category's conversation (it ends exactly one window after `at`). */
export function openedAt(w: ConversationWindows, at: number): { freeEntry: boolean; categories: PricingCategory[] } {
  const categories: PricingCategory[] = [];
  for (let i = 0; i < CATEGORIES.length; i++) if (w.categoryUntil[i] === at + CONVERSATION_WINDOW_MS) categories.push(CATEGORIES[i]!);
  return { freeEntry: w.freeEntryUntil === at + FREE_ENTRY_MS, categories };
}

export type PricingType = "regular" | "free_customer_service" | "free_entry_point";

export interface Pricing {
  category: PricingCategory;
  model: PricingModel;
  billable: boolean;
  type: PricingType;
}

/**
 * The price of one business message sent at `at` with the windows as they
 * stood once it committed. A free-form message is a service message.
 */
export function priceMessage(model: PricingModel, category: PricingCategory, w: ConversationWindows, at: number): Pricing {
  if (at < w.freeEntryUntil) return { category, model, billable: false, type: "free_entry_point" };
  if (category === "service") return { category, model, billable: false, type: "free_customer_service" };
  const serviceOpen = at < w.lastInboundAt + DAY_MS;
  if (model === "PMP") {
    if (category === "utility" && serviceOpen) return { category, model, billable: false, type: "free_customer_service" };
    return { category, model, billable: true, type: "regular" };
  }
  // CBP: the conversation is billed when it opens (conversation.opened), not per message.
  return { category, model, billable: false, type: "regular" };
}

/** Is the conversation window that opened billed? CBP only, and never service or the free entry point. */
export function conversationBillable(model: PricingModel, category: PricingCategory | "referral_conversion"): boolean {
  return model === "CBP" && category !== "service" && category !== "referral_conversion";
}

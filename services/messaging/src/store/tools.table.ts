import type { Generated } from "kysely";

/** A business's saved answers (business tools). */
export interface QuickReplyTable {
  id: string;
  business_id: string;
  shortcut: string;
  text: string;
  media_id: string;
  created_at: Date;
  updated_at: Date;
}

export interface LabelTable {
  id: string;
  business_id: string;
  name: string;
  color: string;
  created_at: Date;
}

export interface ConversationLabelTable {
  conversation_id: string;
  label_id: string;
}

/** A label a business put on a customer (its view of the customer). */
export interface CustomerLabelTable {
  business_id: string;
  customer_id: string;
  label_id: string;
}

export interface BroadcastTable {
  id: string;
  business_id: string;
  phone_number_id: string;
  template_name: string;
  template_language: string;
  /** The default parameters: TemplateComponent.toJSON() each. */
  components: unknown;
  /** BroadcastStatus. */
  status: number;
  total: string | number;
  created_at: Date;
  updated_at: Date;
  /** Nothing is sent before it (a scheduled broadcast); null: at once. */
  send_at: Date | null;
}

export interface BroadcastRecipientTable {
  // Defaults in the store: a new recipient has no attempt, message or error.
  broadcast_id: string;
  idx: string | number;
  customer_id: string;
  e164: string;
  components: unknown;
  /** RecipientState: 1 pending, 2 accepted, 3 failed. */
  state: number;
  next_attempt_at: Date;
  attempts: Generated<number>;
  message_id: Generated<string>;
  error_code: Generated<number>;
  error_reason: Generated<string>;
  /** How far its message got, DELIVERED (3) or READ (4), else 0 (the analytics consumer, from the message's status events). */
  reached: Generated<number>;
  /** When the recipient first tapped a quick-reply button of its message (the analytics consumer). */
  clicked_at: Generated<Date | null>;
}

/** A run of a broadcast's recipients (first_idx..last_idx), the unit the sender claims. */
export interface BroadcastChunkTable {
  broadcast_id: string;
  first_idx: string | number;
  last_idx: string | number;
  /** When its first pending recipient may go. */
  next_attempt_at: Date;
  /** Nobody in it is pending. */
  done: Generated<boolean>;
}

/** A count per business, number, UTC day and metric (domain/tools/analytics.ts). */
export interface AnalyticsDayTable {
  business_id: string;
  phone_number_id: string;
  day: string;
  metric: string;
  value: string | number;
}

export interface AnalyticsAwaitingTable {
  conversation_id: string;
  since: Date;
}

/** Every saved version of a business's flow (its definition as parsed, plain JSON). */
export interface FlowTable {
  business_id: string;
  name: string;
  version: number;
  definition: unknown;
  created_at: Date;
}

export interface FlowNameTable {
  business_id: string;
  name: string;
  webhook_secret: string;
  deleted_at: Date | null;
}

/** A conversation's place in a flow (domain/tools/flows/engine.ts Session). */
export interface FlowSessionTable {
  conversation_id: string;
  business_id: string;
  session: unknown;
  updated_at: Date;
}

/** A catalog product as catalog's events describe it (catalog-products.ts). */
export interface CatalogProductTable {
  catalog_id: string;
  retailer_id: string;
  business_id: string;
  sendable: boolean;
  version: string | number;
}

/** A customer following a business, as directory's latest follow.changed event for the pair says (following false: unfollowed). */
export interface CustomerFollowTable {
  business_id: string;
  customer_id: string;
  following: boolean;
  changed_at: Date;
  event_id: string;
}

import type { ColumnType, Generated } from "kysely";
import type { KitTables } from "@kontor/service-kit/kit-migrations";

export interface PartnerTable {
  id: string;
  name: string;
  /** HMAC key of X-Hub-Signature-256 (the partner app's secret). */
  app_secret: string;
  /** The app-level webhook verify token. */
  verify_token: string;
  /** The app-level callback URL; a WABA's override wins. */
  callback_url: string | null;
  created_at: Generated<Date>;
}

export interface PartnerTokenTable {
  /** Hex SHA-256 of the access token: the token itself is never stored. */
  token_hash: string;
  partner_id: string;
  label: Generated<string>;
  scopes: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
  created_at: Generated<Date>;
}

export interface PartnerBusinessTable {
  partner_id: string;
  business_id: string;
  /** The Cloud API's WhatsApp Business Account id of this business (numeric string). */
  waba_id: string;
  created_at: Generated<Date>;
}

export interface BusinessTable {
  business_id: string;
  display_name: string;
  verified: boolean;
  verified_name: string;
  /** Directory's snapshot version: an older snapshot changes nothing. */
  version: ColumnType<string, string | number, string | number>;
}

export interface BusinessNumberTable {
  phone_number_id: string;
  business_id: string;
  e164: string;
  display_name: string;
  active: boolean;
}

export interface CustomerContactTable {
  customer_id: string;
  /** Digits of the customer's number, as the Cloud API shows it (wa_id). */
  wa_id: string;
  updated_at: Generated<Date>;
}

export interface WebhookSubscriptionTable {
  waba_id: string;
  partner_id: string;
  override_callback_uri: string | null;
  override_verify_token: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface WebhookDeliveryTable {
  id: Generated<string>;
  partner_id: string;
  waba_id: string;
  event_id: string;
  /** Deliveries with the same key go out one at a time, in id order (a conversation, a template). */
  order_key: string;
  /** The exact bytes POSTed and signed. */
  body: string;
  /** pending → delivered, or dead once its retries ran out. */
  status: Generated<"pending" | "delivered" | "dead">;
  attempts: Generated<number>;
  next_attempt_at: Generated<Date>;
  locked_until: Date | null;
  last_error: Generated<string>;
  created_at: Generated<Date>;
  finished_at: Date | null;
  /** "" for a notification as queued; a replay's id on its copies (a copy is never replayed again). */
  replay_id: Generated<string>;
  /** Where a replayed copy goes instead of the WABA's subscription, null: the subscription's URL. */
  callback_uri: string | null;
}

/** When a periodic job last ran (one replica runs it per interval). */
export interface JobRunTable {
  name: string;
  ran_at: Date;
}

/** Uploaded media: metadata here, the bytes in the MediaStore under storage_key. */
export interface MediaTable {
  id: string;
  partner_id: string;
  business_id: string;
  phone_number_id: string;
  mime_type: string;
  sha256: string;
  /** bigint: pg returns it as a string. */
  file_size: ColumnType<string, number, never>;
  filename: string;
  storage_key: string;
  created_at: Generated<Date>;
  expires_at: Date;
}

export interface GatewayDatabase extends KitTables {
  media: MediaTable;
  partner: PartnerTable;
  partner_token: PartnerTokenTable;
  partner_business: PartnerBusinessTable;
  business: BusinessTable;
  business_number: BusinessNumberTable;
  customer_contact: CustomerContactTable;
  webhook_subscription: WebhookSubscriptionTable;
  webhook_delivery: WebhookDeliveryTable;
  job_run: JobRunTable;
}

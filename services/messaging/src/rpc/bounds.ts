import type { InputBounds } from "@kontor/service-kit/input";

/**
 * Messaging's limits over the kit's defaults (input.ts), from the Cloud API
 * where it has one; the content rules (domain/content.ts) check the finer
 * ones (a caption, a button title, parameters over a whole template).
 */
export const bounds: InputBounds = {
  "content.text.body": 4096,
  "content.system.body": 4096,
  client_message_id: 128,
  biz_opaque_callback_data: 512,
  business_id: 128,
  customer_id: 128,
  phone_number_id: 128,
  conversation_id: 128,
  message_id: 128,
  catalog_id: 128,
  product_retailer_id: 128,
  "product_retailer_ids": { count: 30, length: 128 },
  "template.components": 14,
  "components.parameters": 100,
  "order.items": 100,
  "contacts.contacts": 20,
  page_token: 512,
  resume_cursor: 32,
  ref: 128,
  // Templates: the domain checks the Cloud API's limits (domain/templates/validate.ts) and names the field.
  template_id: 64,
  name_prefix: 512,
  proof: 1000,
  // A report's words (ReportBusiness).
  comment: 1000,
  // Broadcasts: recipients per call (the domain checks the total).
  recipients: 10000,
  // A CSV upload's chunks (UploadBroadcastRecipients); the handler bounds the whole file.
  chunk: 1024 * 1024,
};

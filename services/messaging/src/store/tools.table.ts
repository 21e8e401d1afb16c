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

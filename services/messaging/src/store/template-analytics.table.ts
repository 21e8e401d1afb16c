/** The template of a template message, for per-template delivered, read and click counts (analytics). */
export interface AnalyticsTemplateMessageTable {
  message_id: string;
  template_name: string;
  sent_at: Date;
}

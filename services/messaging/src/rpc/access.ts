import type { MessagingServiceServer } from "@kontor/proto/messaging/v1/messaging_service";
import type { TemplateServiceServer } from "@kontor/proto/messaging/v1/template_service";
import type { BusinessToolsServiceServer } from "@kontor/proto/messaging/v1/tools_service";
import { OPERATOR_ROLE, services, type AccessTableOf, type Caller } from "@kontor/service-kit/access";

/** The participants of a chat: a business number (the business or its partner) and a customer. */
const PARTIES: readonly Caller[] = ["business", "partner", "customer"];

/**
 * Who may call each MessagingService RPC; the kit refuses everyone else
 * before a handler runs. The gateway acts for the partners it authenticated
 * (Cloud API /messages, mark-as-read, typing, webhooks from the inbox).
 */
export const messagingAccess: AccessTableOf<MessagingServiceServer> = {
  // Catalog, payments and ads send system notices (orders, payments, marketing deliveries).
  SendMessage: [...PARTIES, ...services("gateway", "catalog", "payments", "ads")],
  SendMessageStream: [...PARTIES, ...services("gateway", "catalog", "payments", "ads")],
  StreamInbox: [...PARTIES, ...services("gateway")],
  ReportReceipt: [...PARTIES, ...services("gateway")],
  SendTyping: [...PARTIES, ...services("gateway")],
  ListConversations: PARTIES,
  ListMessages: PARTIES,
  GetMessage: PARTIES,
  // Onboarding registers customers; a customer updates its own profile.
  UpsertCustomer: ["customer", ...services("onboarding")],
  // The gateway reports what it could not deliver, with its Cloud API code.
  FailMessage: services("gateway"),
  // Crypto-shredding destroys a business's history: an operator's decision, never a service's.
  EraseBusinessKey: [`staff:${OPERATOR_ROLE}`],
  // A customer's own consent; a business (its partner, the gateway for it) reads and records opt-in for its own business.
  GetConsent: ["customer", "business", "partner", ...services("gateway")],
  SetMarketingConsent: ["customer", "business", "partner", ...services("gateway")],
  // Privacy settings are the customer's alone.
  SetPrivacySettings: ["customer"],
  // A customer's data-subject export: the customer, or an operator handling its request.
  ExportCustomerData: ["customer", `staff:${OPERATOR_ROLE}`],
  // Erasure: the customer, or an operator handling its request.
  EraseCustomerData: ["customer", `staff:${OPERATOR_ROLE}`],
  // Blocks and reports are the customer's own.
  SetBusinessBlocked: ["customer"],
  ReportBusiness: ["customer"],
  ListBlockedBusinesses: ["customer"],
  // The business's side (Cloud API block_users): the business, its partner, the gateway for them.
  BlockUsers: ["business", "partner", ...services("gateway")],
  UnblockUsers: ["business", "partner", ...services("gateway")],
  ListBlockedUsers: ["business", "partner", ...services("gateway")],
  // A business's limits and quality: itself, its partner, the gateway (Cloud API phone numbers), staff.
  GetMessagingLimits: ["business", "partner", ...services("gateway"), `staff:${OPERATOR_ROLE}`],
};

/** Staff role that overrides the automatic template review. */
export const TEMPLATE_REVIEWER_ROLE = "messaging.template_reviewer";

/** A business's own templates: the business, its partner, the gateway (Cloud API /message_templates). */
const TEMPLATE_OWNERS: readonly Caller[] = ["business", "partner", ...services("gateway")];

/** Who may call each TemplateService RPC (the same kit server serves both tables). */
export const templateAccess: AccessTableOf<TemplateServiceServer> = {
  CreateTemplate: TEMPLATE_OWNERS,
  ListTemplates: TEMPLATE_OWNERS,
  GetTemplate: TEMPLATE_OWNERS,
  EditTemplate: TEMPLATE_OWNERS,
  DeleteTemplate: TEMPLATE_OWNERS,
  ReviewTemplate: [`staff:${TEMPLATE_REVIEWER_ROLE}`],
};

/** The business's inbox tools: the business, its partner, the gateway and the console for them. */
const TOOL_USERS: readonly Caller[] = ["business", "partner", ...services("gateway", "console")];

/** Who may call each BusinessToolsService RPC. */
export const toolsAccess: AccessTableOf<BusinessToolsServiceServer> = {
  CreateQuickReply: TOOL_USERS,
  ListQuickReplies: TOOL_USERS,
  UpdateQuickReply: TOOL_USERS,
  DeleteQuickReply: TOOL_USERS,
  CreateLabel: TOOL_USERS,
  ListLabels: TOOL_USERS,
  UpdateLabel: TOOL_USERS,
  DeleteLabel: TOOL_USERS,
  SetConversationLabels: TOOL_USERS,
  SetCustomerLabels: TOOL_USERS,
  AssignConversation: TOOL_USERS,
  CreateBroadcast: TOOL_USERS,
  AddBroadcastRecipients: TOOL_USERS,
  GetBroadcast: TOOL_USERS,
  ListBroadcastRecipients: TOOL_USERS,
  StartBroadcast: TOOL_USERS,
  PauseBroadcast: TOOL_USERS,
  CancelBroadcast: TOOL_USERS,
  GetAnalytics: TOOL_USERS,
  SaveFlow: TOOL_USERS,
  ListFlows: TOOL_USERS,
  DeleteFlow: TOOL_USERS,
  DryRunFlow: TOOL_USERS,
  HandBackConversation: TOOL_USERS,
  SetAutoReplies: TOOL_USERS,
  GetAutoReplies: TOOL_USERS,
  UploadBroadcastRecipients: TOOL_USERS,
  WatchBroadcast: TOOL_USERS,
};

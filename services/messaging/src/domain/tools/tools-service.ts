import { AlreadyExists, InvalidInput, NotFound, OverLimit } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { isValidId } from "../participant.js";

/** The Business app's numbers: 50 quick replies, shortcuts of 25 characters; labels are ours. */
export const TOOL_LIMITS = { quickReplies: 50, shortcut: 25, text: 4096, mediaId: 256, labels: 100, labelName: 50, agentId: 64 } as const;

export interface QuickReplyRecord {
  id: string;
  businessId: string;
  shortcut: string;
  text: string;
  mediaId: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface LabelRecord {
  id: string;
  businessId: string;
  name: string;
  color: string;
  createdAt: Date;
}

export interface ConversationRef {
  id: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  assignedAgentId: string;
}

/** One transaction of the tools' store. */
export interface ToolsTransaction {
  /** Locks the business's tools (counts and names race on one row lock per business). */
  lockBusiness(businessId: string): Promise<void>;
  countQuickReplies(businessId: string): Promise<number>;
  insertQuickReply(q: QuickReplyRecord): Promise<void>;
  updateQuickReply(q: QuickReplyRecord): Promise<void>;
  findQuickReply(businessId: string, id: string): Promise<QuickReplyRecord | undefined>;
  shortcutTaken(businessId: string, shortcut: string, exceptId: string): Promise<boolean>;
  deleteQuickReply(businessId: string, id: string): Promise<boolean>;
  countLabels(businessId: string): Promise<number>;
  labelNameTaken(businessId: string, name: string, exceptId: string): Promise<boolean>;
  insertLabel(l: LabelRecord): Promise<void>;
  findLabel(businessId: string, id: string): Promise<LabelRecord | undefined>;
  updateLabel(l: LabelRecord): Promise<void>;
  deleteLabel(businessId: string, id: string): Promise<boolean>;
  /** The business's labels among these ids. */
  labelsOf(businessId: string, ids: string[]): Promise<string[]>;
  findConversationForUpdate(id: string): Promise<ConversationRef | undefined>;
  setConversationLabels(conversationId: string, add: string[], remove: string[]): Promise<string[]>;
  setCustomerLabels(businessId: string, customerId: string, add: string[], remove: string[]): Promise<string[]>;
  assign(conversationId: string, agentId: string, at: Date): Promise<void>;
  enqueue(events: OutboxEvent[]): Promise<void>;
}

export interface ToolsPorts {
  store: {
    transaction<T>(work: (tx: ToolsTransaction) => Promise<T>): Promise<T>;
    listQuickReplies(businessId: string): Promise<QuickReplyRecord[]>;
    listLabels(businessId: string): Promise<LabelRecord[]>;
    customerExists(customerId: string): Promise<boolean>;
  };
  assignedEvent(e: { conversation: ConversationRef; agentId: string; previousAgentId: string; assignedBy: string; at: Date }): OutboxEvent;
  now: () => Date;
  newId: () => string;
}

const SHORTCUT = /^[a-z0-9_-]+$/;
const COLOR = /^#[0-9A-Fa-f]{6}$/;
const AGENT = /^[A-Za-z0-9_.@-]+$/;

/** A shortcut as agents type it: "/Thanks" and "thanks" are the same one. */
export function normalizeShortcut(raw: string, field = "shortcut"): string {
  const s = raw.trim().replace(/^\//, "").toLowerCase();
  if (!s) throw new InvalidInput(field, "is required");
  if ([...s].length > TOOL_LIMITS.shortcut) throw new InvalidInput(field, `must be at most ${TOOL_LIMITS.shortcut} characters`);
  if (!SHORTCUT.test(s)) throw new InvalidInput(field, "must be letters, digits, _ or - (after an optional /)");
  return s;
}

export function validateQuickReplyText(text: string, mediaId: string): void {
  if (!text.trim()) throw new InvalidInput("text", "is required");
  if ([...text].length > TOOL_LIMITS.text) throw new InvalidInput("text", `must be at most ${TOOL_LIMITS.text} characters`);
  if (mediaId.length > TOOL_LIMITS.mediaId) throw new InvalidInput("media_id", `must be at most ${TOOL_LIMITS.mediaId} characters`);
}

export function validateLabel(name: string, color: string): { name: string; color: string } {
  const n = name.trim();
  if (!n) throw new InvalidInput("name", "is required");
  if ([...n].length > TOOL_LIMITS.labelName) throw new InvalidInput("name", `must be at most ${TOOL_LIMITS.labelName} characters`);
  if (!COLOR.test(color)) throw new InvalidInput("color", 'must be "#RRGGBB"');
  return { name: n, color: color.toUpperCase() };
}

export function validateAgentId(agentId: string): void {
  if (agentId.length > TOOL_LIMITS.agentId) throw new InvalidInput("agent_id", `must be at most ${TOOL_LIMITS.agentId} characters`);
  if (agentId && !AGENT.test(agentId)) throw new InvalidInput("agent_id", "must be letters, digits, _ . @ or -");
}

function requireIds(ids: string[], field: string): void {
  ids.forEach((id, i) => {
    if (!isUuid(id)) throw new InvalidInput(`${field}[${i}]`, "must be a label id");
  });
}

/** Quick replies, labels and assignment for a business's inbox. The caller is authorized for `businessId` (rpc/authorize.ts). */
export function createToolsService(ports: ToolsPorts) {
  const { store } = ports;
  const quickReplyMissing = () => new NotFound("quick reply");
  const labelMissing = () => new NotFound("label");
  const conversationMissing = () => new NotFound("conversation");

  async function conversationOf(tx: ToolsTransaction, businessId: string, id: string): Promise<ConversationRef> {
    if (!isUuid(id)) throw new InvalidInput("conversation_id", "must be a conversation id");
    const c = await tx.findConversationForUpdate(id);
    // Another business's conversation is as unknown as a missing one.
    if (!c || c.businessId !== businessId) throw conversationMissing();
    return c;
  }

  /** Every id must be one of the business's labels (another business's is unknown). */
  async function ownLabels(tx: ToolsTransaction, businessId: string, add: string[], remove: string[]): Promise<void> {
    requireIds(add, "add_label_ids");
    requireIds(remove, "remove_label_ids");
    const wanted = [...new Set([...add, ...remove])];
    if (wanted.length === 0) return;
    const own = new Set(await tx.labelsOf(businessId, wanted));
    const unknown = wanted.find((id) => !own.has(id));
    if (unknown) throw labelMissing();
  }

  return {
    async createQuickReply(businessId: string, input: { shortcut: string; text: string; mediaId: string }): Promise<QuickReplyRecord> {
      const shortcut = normalizeShortcut(input.shortcut);
      validateQuickReplyText(input.text, input.mediaId);
      return store.transaction(async (tx) => {
        await tx.lockBusiness(businessId);
        if ((await tx.countQuickReplies(businessId)) >= TOOL_LIMITS.quickReplies) {
          throw new OverLimit("QUICK_REPLY_LIMIT", `a business has at most ${TOOL_LIMITS.quickReplies} quick replies`);
        }
        if (await tx.shortcutTaken(businessId, shortcut, "")) throw new AlreadyExists(`quick reply /${shortcut}`, "shortcut");
        const at = ports.now();
        const q: QuickReplyRecord = { id: ports.newId(), businessId, shortcut, text: input.text, mediaId: input.mediaId, createdAt: at, updatedAt: at };
        await tx.insertQuickReply(q);
        return q;
      });
    },

    listQuickReplies: (businessId: string) => store.listQuickReplies(businessId),

    async updateQuickReply(businessId: string, id: string, input: { shortcut: string; text: string; mediaId: string }): Promise<QuickReplyRecord> {
      if (!isUuid(id)) throw new InvalidInput("id", "must be a quick reply id");
      const shortcut = normalizeShortcut(input.shortcut);
      validateQuickReplyText(input.text, input.mediaId);
      return store.transaction(async (tx) => {
        await tx.lockBusiness(businessId);
        const old = await tx.findQuickReply(businessId, id);
        if (!old) throw quickReplyMissing();
        if (await tx.shortcutTaken(businessId, shortcut, id)) throw new AlreadyExists(`quick reply /${shortcut}`, "shortcut");
        const q = { ...old, shortcut, text: input.text, mediaId: input.mediaId, updatedAt: ports.now() };
        await tx.updateQuickReply(q);
        return q;
      });
    },

    async deleteQuickReply(businessId: string, id: string): Promise<void> {
      if (!isUuid(id)) throw new InvalidInput("id", "must be a quick reply id");
      const gone = await store.transaction((tx) => tx.deleteQuickReply(businessId, id));
      if (!gone) throw quickReplyMissing();
    },

    async createLabel(businessId: string, input: { name: string; color: string }): Promise<LabelRecord> {
      const { name, color } = validateLabel(input.name, input.color);
      return store.transaction(async (tx) => {
        await tx.lockBusiness(businessId);
        if ((await tx.countLabels(businessId)) >= TOOL_LIMITS.labels) throw new OverLimit("LABEL_LIMIT", `a business has at most ${TOOL_LIMITS.labels} labels`);
        if (await tx.labelNameTaken(businessId, name, "")) throw new AlreadyExists(`label ${name}`, "name");
        const l: LabelRecord = { id: ports.newId(), businessId, name, color, createdAt: ports.now() };
        await tx.insertLabel(l);
        return l;
      });
    },

    listLabels: (businessId: string) => store.listLabels(businessId),

    async updateLabel(businessId: string, id: string, input: { name: string; color: string }): Promise<LabelRecord> {
      if (!isUuid(id)) throw new InvalidInput("id", "must be a label id");
      const { name, color } = validateLabel(input.name, input.color);
      return store.transaction(async (tx) => {
        await tx.lockBusiness(businessId);
        const old = await tx.findLabel(businessId, id);
        if (!old) throw labelMissing();
        if (await tx.labelNameTaken(businessId, name, id)) throw new AlreadyExists(`label ${name}`, "name");
        const l = { ...old, name, color };
        await tx.updateLabel(l);
        return l;
      });
    },

    async deleteLabel(businessId: string, id: string): Promise<void> {
      if (!isUuid(id)) throw new InvalidInput("id", "must be a label id");
      const gone = await store.transaction((tx) => tx.deleteLabel(businessId, id));
      if (!gone) throw labelMissing();
    },

    async setConversationLabels(businessId: string, conversationId: string, add: string[], remove: string[]): Promise<string[]> {
      return store.transaction(async (tx) => {
        const c = await conversationOf(tx, businessId, conversationId);
        await ownLabels(tx, businessId, add, remove);
        return tx.setConversationLabels(c.id, add, remove);
      });
    },

    async setCustomerLabels(businessId: string, customerId: string, add: string[], remove: string[]): Promise<string[]> {
      if (!isValidId(customerId)) throw new InvalidInput("customer_id", "must be 1-64 characters of [A-Za-z0-9_-]");
      if (!(await store.customerExists(customerId))) throw new NotFound("customer");
      return store.transaction(async (tx) => {
        await ownLabels(tx, businessId, add, remove);
        return tx.setCustomerLabels(businessId, customerId, add, remove);
      });
    },

    /** Assigns (or, with an empty agent id, unassigns); the change is an event, a repeat is not. */
    async assign(businessId: string, conversationId: string, agentId: string, assignedBy: string): Promise<{ agentId: string; at: Date }> {
      validateAgentId(agentId);
      return store.transaction(async (tx) => {
        const c = await conversationOf(tx, businessId, conversationId);
        const at = ports.now();
        if (c.assignedAgentId === agentId) return { agentId, at };
        await tx.assign(c.id, agentId, at);
        await tx.enqueue([ports.assignedEvent({ conversation: c, agentId, previousAgentId: c.assignedAgentId, assignedBy, at })]);
        return { agentId, at };
      });
    },
  };
}

export type ToolsService = ReturnType<typeof createToolsService>;

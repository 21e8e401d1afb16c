import { StoredBody } from "@kontor/proto/messaging/v1/live";
import type { Message } from "@kontor/proto/messaging/v1/message";
import { DataCorrupted, NotFound, NotYours } from "@kontor/service-kit/errors";
import { keyToPb, type Party } from "./participant.js";

/**
 * key_id of a body removed by a customer's erasure (data keys are numbered
 * from 1): the row keeps its place in the conversation, its body is empty,
 * and it reads back as content_erased.
 */
export const ERASED_BODY_KEY_ID = 0;

/** A stored body: sealed with data key `keyId`, the message id as its AAD (crypto.ts). */
export interface SealedBody {
  id: string;
  keyId: number;
  body: Uint8Array;
}

/** A stored message. Participants are keys ("c_<customer id>", "b_<phone number id>"). */
export interface StoredMessage extends SealedBody {
  conversationId: string;
  seq: string;
  sender: string;
  recipient: string;
  clientMessageId: string;
  contentType: number;
  status: number;
  errorCode: number;
  createdAt: Date;
}

/** A stored message with its conversation's parties. */
export interface MessageInConversation extends StoredMessage {
  businessId: string;
  phoneNumberId: string;
  customerId: string;
}

export interface Conversation {
  id: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  lastSeq: string;
  lastActivityAt: Date;
  createdAt: Date;
}

/** A conversation as one participant lists it. */
export interface ConversationSummary extends Conversation {
  /** Messages to the participant after its read mark. */
  unread: string;
  counterpartName: string;
  verified: boolean;
  /** The business's side only: its labels on the conversation, and the agent it is assigned to. */
  labelIds: string[];
  assignedAgentId: string;
}

/** Which conversations a business's inbox lists (ListConversations' filter): every condition given holds. */
export interface ConversationFilter {
  /** Any of these labels, on the conversation or on its customer. */
  labelIds: string[];
  unreadOnly: boolean;
  assignedAgentId: string;
  unassignedOnly: boolean;
  window: "any" | "open" | "closed";
  activeSince: Date | undefined;
  /** Part of the customer's profile name (case-insensitive) or number. */
  query: string;
}

export const NO_FILTER: ConversationFilter = Object.freeze({ labelIds: [], unreadOnly: false, assignedAgentId: "", unassignedOnly: false, window: "any", activeSince: undefined, query: "" });

export interface Customer {
  id: string;
  e164: string;
  profileName: string;
  readReceipts: boolean;
  locale: string;
  createdAt: Date;
}

/**
 * Opens sealed bodies (the keyring): undefined once the key is erased; a body
 * that fails its tag under a key that exists throws DataCorrupted (logged there).
 */
export interface OpeningKeys {
  open(keyId: number, blob: Uint8Array, aad: Buffer): Promise<Buffer | undefined>;
}

export interface ConversationLookup {
  findConversation(id: string): Promise<Conversation | undefined>;
}

/** The conversation, if `party` is one of its two parties. */
export async function conversationOf(store: ConversationLookup, party: Party, conversationId: string): Promise<Conversation> {
  const conv = await store.findConversation(conversationId);
  if (!conv) throw new NotFound("conversation");
  const member = party.kind === "customer" ? conv.customerId === party.id : conv.phoneNumberId === party.id;
  if (!member) throw new NotYours("not a party of this conversation");
  return conv;
}

/** Opens stored bodies and builds the Message a participant sees. */
export function createMessageOpener(keys: OpeningKeys) {
  /**
   * The decrypted body; undefined once its key or the body itself is erased
   * (content_erased). A body that fails its tag under a live key was altered
   * or torn: that is corruption, never reported as erased.
   */
  async function body(row: SealedBody): Promise<StoredBody | undefined> {
    if (row.keyId === ERASED_BODY_KEY_ID) return undefined;
    const plain = await keys.open(row.keyId, row.body, Buffer.from(row.id));
    return plain && StoredBody.decode(plain);
  }

  /** The message as `viewerKey` sees it: callback data and client id only for its sender. */
  async function toMessage(row: StoredMessage, viewerKey: string): Promise<Message> {
    const b = await body(row);
    const own = row.sender === viewerKey;
    return {
      id: row.id,
      conversationId: row.conversationId,
      seq: row.seq,
      sender: keyToPb(row.sender),
      recipient: keyToPb(row.recipient),
      content: b?.content,
      context: b?.context,
      bizOpaqueCallbackData: own ? (b?.bizOpaqueCallbackData ?? "") : "",
      clientMessageId: own ? row.clientMessageId : "",
      status: row.status,
      errorCode: row.errorCode,
      createdAt: row.createdAt,
      contentErased: !b,
    };
  }

  return { body, toMessage };
}

export type MessageOpener = ReturnType<typeof createMessageOpener>;

import type { Message } from "@kontor/proto/messaging/v1/message";
import { InvalidInput, NotFound, NotYours } from "@kontor/service-kit/errors";
import { conversationOf, NO_FILTER, type ConversationFilter, type ConversationLookup, type ConversationSummary, type MessageInConversation, type MessageOpener, type StoredMessage } from "./message.js";
import { partyKey, type Party } from "./participant.js";

export interface HistoryPorts {
  store: ConversationLookup & {
    listConversations(side: "customer" | "business", id: string, after: { t: Date; id: string } | undefined, limit: number, filter: ConversationFilter): Promise<ConversationSummary[]>;
    listMessages(conversationId: string, afterSeq: number | undefined, newestFirst: boolean, limit: number): Promise<StoredMessage[]>;
    findMessage(id: string): Promise<MessageInConversation | undefined>;
  };
  opener: MessageOpener;
}

const MESSAGE_ID = /^wamid\.[A-Za-z0-9_-]{10,64}$/;

/** History: a participant's conversations and their messages, as that participant sees them. */
export function createHistoryService(ports: HistoryPorts) {
  const { store, opener } = ports;

  return {
    /** By last activity, newest first, with unread counts; a business number's inbox may be filtered. */
    listConversations(party: Party, after: { t: Date; id: string } | undefined, limit: number, filter: ConversationFilter = NO_FILTER): Promise<ConversationSummary[]> {
      if (party.kind !== "business" && filter !== NO_FILTER) throw new InvalidInput("filter", "only a business number's inbox is filtered");
      return store.listConversations(party.kind, party.id, after, limit, filter);
    },

    async listMessages(party: Party, conversationId: string, afterSeq: number | undefined, newestFirst: boolean, limit: number): Promise<Message[]> {
      const conv = await conversationOf(store, party, conversationId);
      const rows = await store.listMessages(conv.id, afterSeq, newestFirst, limit);
      const key = partyKey(party);
      return Promise.all(rows.map((r) => opener.toMessage(r, key)));
    },

    async getMessage(party: Party, messageId: string): Promise<Message> {
      const key = partyKey(party);
      const row = MESSAGE_ID.test(messageId) ? await store.findMessage(messageId) : undefined;
      if (!row) throw new NotFound("message");
      if (row.sender !== key && row.recipient !== key) throw new NotYours("not a party of this message");
      return opener.toMessage(row, key);
    },
  };
}

export type HistoryService = ReturnType<typeof createHistoryService>;

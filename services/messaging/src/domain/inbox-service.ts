import type { Message } from "@kontor/proto/messaging/v1/message";
import type { StatusUpdate, TypingIndicator } from "@kontor/proto/messaging/v1/messaging_service";
import type { MessageOpener, StoredMessage } from "./message.js";

/** A message for a recipient: its inbox number and its encoded InboxEvent. */
export interface LiveFrame {
  rseq: number;
  frame: Uint8Array;
}

/** What an inbox stream needs from the store: committed inbox entries, already decrypted. */
export interface InboxReader {
  read(recipientKey: string, after: number, before: number | undefined, limit: number): Promise<{ rseq: number; message: Message }[]>;
  heads(keys: string[]): Promise<Map<string, number>>;
}

/** Live delivery to a participant's streams on every replica (events/live.ts). */
export interface LivePublisher {
  /** Messages for one recipient, in inbox order (the send path). */
  publishItems(key: string, items: readonly LiveFrame[]): void;
  /** Ready InboxEvent status frames for one participant (the send path's SENT statuses). */
  publishStatusFrames(key: string, frames: readonly Uint8Array[]): void;
  publishStatuses(key: string, statuses: StatusUpdate[]): void;
  publishTyping(key: string, typing: TypingIndicator): void;
}

export interface InboxStore {
  /** Inbox entries numbered in (after, before), oldest first, each with its number. */
  readInbox(participant: string, after: number, before: number | undefined, limit: number): Promise<{ n: number; message: StoredMessage }[]>;
  inboxHeads(participants: string[]): Promise<Map<string, number>>;
}

export interface InboxPorts {
  store: InboxStore;
  opener: MessageOpener;
}

/**
 * The inbox: what inbox streams read besides live delivery (the backlog
 * when they start or resume, and what live delivery missed).
 */
export function createInboxService(ports: InboxPorts) {
  const { store, opener } = ports;

  const reader: InboxReader = {
    async read(recipientKey, after, before, limit) {
      const rows = await store.readInbox(recipientKey, after, before, limit);
      const out: { rseq: number; message: Message }[] = [];
      for (const row of rows) out.push({ rseq: row.n, message: await opener.toMessage(row.message, recipientKey) });
      return out;
    },
    heads: (keys) => store.inboxHeads(keys),
  };

  return { reader };
}

export type InboxService = ReturnType<typeof createInboxService>;

import type { Message } from "@kontor/proto/messaging/v1/message";
import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import type { MarketingConsentEntry, PrivacySettings } from "./consent-service.js";
import type { Conversation, Customer, MessageOpener, StoredMessage } from "./message.js";
import { isValidId, partyKey } from "./participant.js";

/** A stored message as the export reads it: with when its status last moved. */
export interface ExportRow extends StoredMessage {
  statusAt: Date;
}

/** Keyset pages over the store: conversations by (created_at, id), messages by seq within one. */
export interface ExportStorePort {
  customer(customerId: string): Promise<Customer | undefined>;
  privacy(customerId: string): Promise<PrivacySettings>;
  marketing(customerId: string): Promise<MarketingConsentEntry[]>;
  conversations(customerId: string, after: { createdAt: Date; id: string } | undefined, limit: number): Promise<Conversation[]>;
  messages(conversationId: string, afterSeq: number, limit: number): Promise<ExportRow[]>;
}

export interface ExportPorts {
  store: ExportStorePort;
  opener: MessageOpener;
  /** Rows per store query; a history never sits in memory beyond one page. */
  pageSize: number;
}

export type ExportedItem =
  | { kind: "customer"; customer: Customer }
  | { kind: "privacy"; privacy: PrivacySettings }
  | { kind: "marketing"; entry: MarketingConsentEntry }
  | { kind: "message"; message: Message; conversation: Conversation; inbound: boolean; statusAt: Date };

export function requireExportCustomerId(customerId: string): void {
  if (!customerId) throw new InvalidInput("customer_id", "is required");
  if (!isValidId(customerId)) throw new InvalidInput("customer_id", "must be [A-Za-z0-9_-], at most 64 characters");
}

/** A customer's data (rule 9, access): its account, consent, then every message of its conversations in order. */
export function createExportService(ports: ExportPorts) {
  const { store, opener, pageSize } = ports;

  /** Everything before the first item is checked, so a refusal is the call's status, not a cut stream. */
  async function start(customerId: string): Promise<Customer> {
    requireExportCustomerId(customerId);
    const customer = await store.customer(customerId);
    if (!customer) throw new NotFound("customer");
    return customer;
  }

  /**
   * The items, one store page at a time: the consumer pulls (and so holds
   * back the next query while it waits for its writes to drain); an aborted
   * signal stops before the next query.
   */
  async function* items(customer: Customer, signal: AbortSignal): AsyncGenerator<ExportedItem> {
    yield { kind: "customer", customer };
    yield { kind: "privacy", privacy: await store.privacy(customer.id) };
    for (const entry of await store.marketing(customer.id)) yield { kind: "marketing", entry };
    const viewer = partyKey({ kind: "customer", id: customer.id });
    let afterConv: { createdAt: Date; id: string } | undefined;
    for (;;) {
      if (signal.aborted) return;
      const convs = await store.conversations(customer.id, afterConv, pageSize);
      for (const conversation of convs) {
        let afterSeq = 0;
        for (;;) {
          if (signal.aborted) return;
          const rows = await store.messages(conversation.id, afterSeq, pageSize);
          const messages = await Promise.all(rows.map((r) => opener.toMessage(r, viewer)));
          for (const [i, message] of messages.entries()) {
            const row = rows[i]!;
            yield { kind: "message", message, conversation, inbound: row.sender === viewer, statusAt: row.statusAt };
          }
          if (rows.length < pageSize) break;
          afterSeq = Number(rows[rows.length - 1]!.seq);
        }
      }
      if (convs.length < pageSize) return;
      const last = convs[convs.length - 1]!;
      afterConv = { createdAt: last.createdAt, id: last.id };
    }
  }

  return { start, items };
}

export type ExportService = ReturnType<typeof createExportService>;

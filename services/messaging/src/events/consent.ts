import type { Kysely } from "kysely";
import { ConsentSetting, ConsentSource as PbSource } from "@kontor/proto/messaging/v1/consent";
import { ConsentChanged, MessageReceived } from "@kontor/proto/messaging/v1/events";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { once } from "@kontor/service-kit/nats";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { ConsentCache } from "../domain/consent-cache.js";
import type { MarketingUpdate } from "../domain/consent-service.js";
import { classifyInbound, type ConsentSource, type KeywordTable } from "../domain/policy/consent.js";
import type { MessagingDatabase } from "../store/database.js";
import { ABANDONED_AFTER_MS, replicaDurable } from "./replica-consumer.js";
import { subjects } from "./subjects.js";

export const SOURCE_TO_PB: Record<ConsentSource, PbSource> = {
  keyword: PbSource.CONSENT_SOURCE_KEYWORD,
  rpc: PbSource.CONSENT_SOURCE_RPC,
  import: PbSource.CONSENT_SOURCE_IMPORT,
};
const SOURCE_FROM_PB = new Map<PbSource, ConsentSource>(Object.entries(SOURCE_TO_PB).map(([k, v]) => [v, k as ConsentSource]));

export interface ConsentEventInput {
  eventId: string;
  customerId: string;
  businessId: string;
  setting: ConsentSetting;
  value: boolean;
  source: ConsentSource;
  at: Date;
  proof: string;
  messageId: string;
}

/** kontor.messaging.consent.changed.v1, written through the outbox with the change. */
export function consentChangedEvent(e: ConsentEventInput): OutboxEvent {
  return {
    eventId: e.eventId,
    subject: subjects.consentChanged,
    payload: ConsentChanged.encode({
      meta: { eventId: e.eventId, occurredAt: e.at, businessId: e.businessId },
      customerId: e.customerId,
      businessId: e.businessId,
      setting: e.setting,
      value: e.value,
      source: SOURCE_TO_PB[e.source],
      at: e.at,
      proof: e.proof,
      messageId: e.messageId,
    }).finish(),
  };
}

/** The keyword path's durable consumer: one for the service (each received message is handled by one replica). */
export const KEYWORD_DURABLE = "messaging-consent-keywords";

/** The recording of one keyword: the inbound message's own id makes it once-only. */
export const keywordEventId = (messageId: string) => `${messageId}:consent`;

/**
 * The keyword path (rule 2): messaging consumes its own
 * kontor.messaging.message.received.v1 and, for a text that is an opt-out or
 * opt-in keyword as a whole, records the change for that business with the
 * message's time and text as proof, and its ConsentChanged event, in one
 * transaction that also marks the message handled (the kit's `once`): a
 * redelivery records nothing and emits nothing. The send path stays as it is.
 */
export function registerKeywordConsumer(
  rt: Runtime<MessagingDatabase>,
  keywords: KeywordTable,
  record: (trx: Kysely<MessagingDatabase>, update: MarketingUpdate, eventId: string) => Promise<unknown>,
): void {
  rt.consume<MessageReceived>({
    durable: KEYWORD_DURABLE,
    domain: "messaging",
    subject: subjects.messageReceived,
    decode: (data) => MessageReceived.decode(data),
    async handle(event) {
      const m = event.message;
      const businessId = event.meta?.businessId ?? "";
      if (!m || !m.id || !businessId || !event.customerId) return "term";
      if (m.content?.kind?.$case !== "text") return "ack";
      const text = m.content.kind.value.body;
      const match = classifyInbound(keywords, text);
      if (match === "none") return "ack";
      const update: MarketingUpdate = {
        customerId: event.customerId,
        businessId,
        optIn: match === "opt_in",
        at: (m.createdAt ?? new Date()).getTime(),
        source: "keyword",
        proof: text,
        by: `customer:${event.customerId}`,
        messageId: m.id,
      };
      return once(rt.db, KEYWORD_DURABLE, keywordEventId(m.id), (trx) => record(trx, update, keywordEventId(m.id)).then(() => undefined));
    },
  });
}

/** This replica's own consumer of consent events (every replica must see every change; see key-erasure.ts). */
export function consentCacheDurable(): string {
  return replicaDurable("consent-cache");
}

/**
 * Keeps this replica's marketing consent cache fresh: each change merges by
 * time, so redeliveries and replays need no dedupe. Privacy changes are not
 * cached (the send path does not read them).
 */
export function registerConsentCacheConsumer(rt: Runtime<MessagingDatabase>, cache: Pick<ConsentCache, "apply">, durable = consentCacheDurable()): void {
  rt.consume<ConsentChanged>({
    durable,
    domain: "messaging",
    subject: subjects.consentChanged,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => ConsentChanged.decode(data),
    async handle(event) {
      if (event.setting !== ConsentSetting.CONSENT_SETTING_MARKETING) return "ack";
      const source = SOURCE_FROM_PB.get(event.source);
      if (!event.customerId || !event.businessId || !event.at || !source) return "term";
      cache.apply({ customerId: event.customerId, businessId: event.businessId, optIn: event.value, record: { at: event.at.getTime(), source, proof: event.proof } });
      return "ack";
    },
  });
}

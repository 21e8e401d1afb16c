import { ConversationOpened, MessageBilled, MessageReceived, MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { AnalyticsEvent } from "../domain/tools/analytics.js";
import type { MessagingDatabase } from "../store/database.js";
import { ANALYTICS_CONSUMER } from "../store/analytics-store.js";
import { subjects } from "./subjects.js";
import { expandStatuses } from "@kontor/service-kit/message-status";

const STATUS: Record<number, "sent" | "delivered" | "read" | "failed"> = {
  [MessageStatus.MESSAGE_STATUS_SENT]: "sent",
  [MessageStatus.MESSAGE_STATUS_DELIVERED]: "delivered",
  [MessageStatus.MESSAGE_STATUS_READ]: "read",
  [MessageStatus.MESSAGE_STATUS_FAILED]: "failed",
};

function statusOf(e: MessageStatusChanged): AnalyticsEvent | undefined {
  const status = STATUS[e.status];
  if (!status) return undefined;
  return {
    kind: "status",
    eventId: e.meta?.eventId ?? "",
    businessId: e.meta?.businessId ?? "",
    phoneNumberId: e.phoneNumberId,
    conversationId: e.conversationId,
    status,
    errorCode: e.errorCode,
    fromBusiness: e.sender?.kind?.$case === "phoneNumberId",
    at: e.meta?.occurredAt?.getTime() ?? 0,
    messageId: e.messageId,
    broadcast: e.bizOpaqueCallbackData.startsWith("broadcast:"),
  };
}

/**
 * The events analytics counts, decoded to what it needs: several for a
 * message.status event holding many statuses (each with its own id), none
 * for any other subject of the stream (acked, ignored).
 */
export function decodeAnalytics(subject: string, data: Uint8Array): AnalyticsEvent[] {
  if (subject.endsWith(subjects.messageStatus)) {
    const e = MessageStatusChanged.decode(data);
    const out: AnalyticsEvent[] = [];
    for (const s of expandStatuses(e)) {
      const a = statusOf(s);
      if (a) out.push(a);
    }
    return out;
  }
  const one = decodeOne(subject, data);
  return one ? [one] : [];
}

function decodeOne(subject: string, data: Uint8Array): AnalyticsEvent | undefined {
  if (subject.endsWith(subjects.messageReceived)) {
    const e = MessageReceived.decode(data);
    const action = e.message?.content?.kind?.$case === "interactive" ? e.message.content.kind.value.action : undefined;
    // A tap on a reply button answers the message carrying it (a template's quick reply): its context.
    const buttonReplyTo = action?.$case === "buttonReply" ? e.message?.context?.messageId || undefined : undefined;
    return { kind: "received", eventId: e.meta?.eventId ?? "", businessId: e.meta?.businessId ?? "", phoneNumberId: e.phoneNumberId, conversationId: e.message?.conversationId ?? "", at: e.meta?.occurredAt?.getTime() ?? 0, buttonReplyTo };
  }
  if (subject.endsWith(subjects.conversationOpened)) {
    const e = ConversationOpened.decode(data);
    return { kind: "opened", eventId: e.meta?.eventId ?? "", businessId: e.businessId, phoneNumberId: e.phoneNumberId, category: e.category, at: e.openedAt?.getTime() ?? 0 };
  }
  if (subject.endsWith(subjects.messageBilled)) {
    const e = MessageBilled.decode(data);
    return { kind: "billed", eventId: e.meta?.eventId ?? "", businessId: e.businessId, phoneNumberId: e.phoneNumberId, templateName: e.templateName, at: e.sentAt?.getTime() ?? 0, messageId: e.messageId };
  }
  return undefined;
}

/** Most events one batch (one transaction) carries. */
const BATCH = 500;

/**
 * Analytics' consumer, shared by the replicas: events are gathered while a
 * batch commits and written as the next one, so the count of transactions
 * follows the load, not the number of events; each delivery is acked once
 * its batch committed (a crash redelivers it; processed_events drops the
 * repeat). With `pollMs` the events are read in bursts that often.
 */
export function registerAnalyticsConsumer(rt: Runtime<MessagingDatabase>, store: { applyBatch(events: AnalyticsEvent[]): Promise<void> }, pollMs = 0): void {
  const pending: { event: AnalyticsEvent; done: (err?: unknown) => void }[] = [];
  let writing = false;
  const flush = () => {
    if (writing || pending.length === 0) return;
    writing = true;
    const batch = pending.splice(0, BATCH);
    store.applyBatch(batch.map((p) => p.event)).then(
      () => batch.forEach((p) => p.done()),
      (err: unknown) => batch.forEach((p) => p.done(err)),
    ).finally(() => {
      writing = false;
      flush();
    });
  };
  rt.consume<AnalyticsEvent[]>({
    durable: ANALYTICS_CONSUMER,
    domain: "messaging",
    subject: "kontor.messaging.>",
    batch: 512,
    inFlight: 1024,
    // Read in bursts: a count may lag a second, and nats-server is woken per burst, not per event.
    ...(pollMs > 0 ? { pollMs } : {}),
    decode: (data, subject) => decodeAnalytics(subject, data).filter((e) => e.businessId !== ""),
    handle(events) {
      if (events.length === 0) return Promise.resolve("ack" as const);
      // A delivery is acked once every event it holds is written (a batch may split one across two commits).
      let left = events.length;
      return new Promise((resolve, reject) => {
        const done = (err?: unknown) => {
          if (err) return reject(err);
          if (--left === 0) resolve("ack");
        };
        for (const event of events) pending.push({ event, done });
        if (!writing) setImmediate(flush);
      });
    },
  });
}

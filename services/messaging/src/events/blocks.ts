import { BlockChanged, BusinessReported } from "@kontor/proto/messaging/v1/events";
import { ReportReason as PbReason } from "@kontor/proto/messaging/v1/messaging_service";
import type { Logger } from "@kontor/service-kit/log";
import type { Outcome } from "@kontor/service-kit/nats";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { BlockCache, BlockChange, QualitySignals } from "../domain/block-cache.js";
import type { NewReport, ReportReason } from "../domain/block-service.js";
import type { MessagingDatabase } from "../store/database.js";
import { ABANDONED_AFTER_MS, replicaDurable } from "./replica-consumer.js";
import { subjects } from "./subjects.js";

/** A report reason's proto number: also the code business_report stores. */
export const REASON_TO_PB: Record<ReportReason, PbReason> = {
  spam: PbReason.REPORT_REASON_SPAM,
  scam: PbReason.REPORT_REASON_SCAM,
  offensive: PbReason.REPORT_REASON_OFFENSIVE,
  not_signed_up: PbReason.REPORT_REASON_NOT_SIGNED_UP,
  other: PbReason.REPORT_REASON_OTHER,
};
export const REASON_FROM_PB = new Map<PbReason, ReportReason>(Object.entries(REASON_TO_PB).map(([k, v]) => [v, k as ReportReason]));

/** kontor.messaging.block.changed.v1, written through the outbox with the change. */
export function blockChangedEvent(eventId: string, change: BlockChange): OutboxEvent {
  const at = new Date(change.at);
  return {
    eventId,
    subject: subjects.blockChanged,
    payload: BlockChanged.encode({
      meta: { eventId, occurredAt: at, businessId: change.businessId },
      customerId: change.customerId,
      businessId: change.businessId,
      blocked: change.blocked,
      at,
    }).finish(),
  };
}

/** kontor.messaging.business.reported.v1, written through the outbox with the report. */
export function businessReportedEvent(eventId: string, report: NewReport): OutboxEvent {
  const at = new Date(report.at);
  return {
    eventId,
    subject: subjects.businessReported,
    payload: BusinessReported.encode({
      meta: { eventId, occurredAt: at, businessId: report.businessId },
      reportId: report.id,
      customerId: report.customerId,
      businessId: report.businessId,
      phoneNumberId: report.phoneNumberId ?? "",
      reason: REASON_TO_PB[report.reason],
      at,
    }).finish(),
  };
}

/** This replica's own consumers (replica-consumer.ts): every replica applies every block and hears every report. */
export function blockDurables(): { blocks: string; reports: string } {
  return { blocks: replicaDurable("block-cache"), reports: replicaDurable("report-signals") };
}

/** Quality looks back seven days; a signal's event id is kept a day longer than that. */
const SIGNALLED_KEPT_MS = 8 * 24 * 3600 * 1000;

/**
 * Passes each event's signal to the quality port once, by event id: a
 * redelivery, or the same event published again, signals nothing. A new
 * consumer replays the stream (its seven days are the quality window), so a
 * replica that starts rebuilds its signals from it. Ids are kept in arrival
 * order and dropped once older than the window. The port is in memory; if
 * it throws, the signal is logged and dropped and the event still handled.
 */
function signalOnce(log: Logger, what: string) {
  const signalled = new Map<string, number>();
  return (eventId: string, at: number, signal: () => void): void => {
    if (signalled.has(eventId)) return;
    signalled.set(eventId, at);
    for (const [id, t] of signalled) {
      if (t >= at - SIGNALLED_KEPT_MS) break;
      signalled.delete(id);
    }
    try {
      signal();
    } catch (err) {
      log.warn({ err: { message: (err as Error).message }, signal: what }, "quality signal failed");
    }
  };
}

/** The block.changed handler: merges into the cache, and signals a block that turns on. */
export function blockChangedHandler(cache: Pick<BlockCache, "apply">, quality: QualitySignals | undefined, log: Logger) {
  const signal = signalOnce(log, "blocked");
  return (event: BlockChanged): Outcome => {
    const eventId = event.meta?.eventId;
    if (!eventId || !event.customerId || !event.businessId || !event.at) return "term";
    const at = event.at.getTime();
    cache.apply({ customerId: event.customerId, businessId: event.businessId, blocked: event.blocked, at });
    if (quality && event.blocked) signal(eventId, at, () => quality.blocked(event.businessId, undefined, at, event.customerId));
    return "ack";
  };
}

/** The business.reported handler: signals each report. */
export function businessReportedHandler(quality: QualitySignals, log: Logger) {
  const signal = signalOnce(log, "reported");
  return (event: BusinessReported): Outcome => {
    const eventId = event.meta?.eventId;
    if (!eventId || !event.businessId || !event.at) return "term";
    const at = event.at.getTime();
    signal(eventId, at, () => quality.reported(event.businessId, event.phoneNumberId || undefined, at, event.customerId));
    return "ack";
  };
}

/**
 * Keeps this replica's blocks fresh from block.changed (changes merge by
 * time, so redeliveries and replays need no dedupe table) and, when a
 * quality port is given, passes it every block that turns on and every
 * report (read from business.reported by a consumer of this replica's own),
 * each once.
 */
export function registerBlockConsumers(rt: Runtime<MessagingDatabase>, cache: Pick<BlockCache, "apply">, quality: QualitySignals | undefined, durables = blockDurables()): void {
  const onBlock = blockChangedHandler(cache, quality, rt.log);
  rt.consume<BlockChanged>({
    durable: durables.blocks,
    domain: "messaging",
    subject: subjects.blockChanged,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => BlockChanged.decode(data),
    handle: async (event) => onBlock(event),
  });
  if (!quality) return;
  const onReport = businessReportedHandler(quality, rt.log);
  rt.consume<BusinessReported>({
    durable: durables.reports,
    domain: "messaging",
    subject: subjects.businessReported,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => BusinessReported.decode(data),
    handle: async (event) => onReport(event),
  });
}

import { TemplateStatusChanged } from "@kontor/proto/messaging/v1/events";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { TemplateCache } from "../domain/template-cache.js";
import type { MessagingDatabase } from "../store/database.js";
import { ABANDONED_AFTER_MS, replicaDurable } from "./replica-consumer.js";
import { subjects } from "./subjects.js";

/**
 * Every replica's consumer of the template status events (named per
 * process): each change, an edit included, reads the template again into
 * the send path's cache. It starts shortly before the replica loaded every
 * template, so no change falls between the load and the first event.
 */
export function registerTemplateCacheConsumer(rt: Runtime<MessagingDatabase>, cache: Pick<TemplateCache, "refresh">, startAt: Date): void {
  rt.consume<TemplateStatusChanged>({
    durable: replicaDurable("templates"),
    domain: "messaging",
    subject: subjects.templateStatus,
    inactiveMs: ABANDONED_AFTER_MS,
    startAt,
    decode: (data) => TemplateStatusChanged.decode(data),
    async handle(event) {
      if (!event.templateId) return "term";
      await cache.refresh(event.templateId, event.businessId, event.name, event.language);
      return "ack";
    },
  });
}

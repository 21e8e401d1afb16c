import { MessageReceived } from "@kontor/proto/messaging/v1/events";
import type { Content } from "@kontor/proto/messaging/v1/message";
import type { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import type { Logger } from "@kontor/service-kit/log";
import { once } from "@kontor/service-kit/nats";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { AutoReplyService } from "../domain/tools/auto-replies.js";
import type { EffectRunner, FlowService, InboundForFlows } from "../domain/tools/flow-service.js";
import type { CustomerMessage, Effect } from "../domain/tools/flows/engine.js";
import { buildWebhookRequest } from "../domain/tools/flows/webhook.js";
import type { MessagingDatabase } from "../store/database.js";
import { subjects } from "./subjects.js";

export const FLOWS_CONSUMER = "messaging-flows";

/** MediaKind (proto) → the engine's media kind. */
const MEDIA_KINDS: Record<number, "image" | "video" | "audio" | "document" | "sticker"> = { 1: "image", 2: "video", 3: "audio", 4: "document", 5: "sticker" };

/** A stored customer message as the flow engine reads it; undefined for kinds a flow does not react to. */
export function customerMessageOf(content: Content | undefined, first: boolean, referralSourceId: string): CustomerMessage | undefined {
  const facts = { first, ...(referralSourceId ? { referral: { sourceId: referralSourceId } } : {}) };
  const k = content?.kind;
  if (!k) return undefined;
  switch (k.$case) {
    case "text":
      return { kind: "text", text: k.value.body, ...facts };
    case "interactive": {
      const a = k.value.action;
      if (a?.$case === "buttonReply") return { kind: "button_reply", id: a.value.id, title: a.value.title, ...facts };
      if (a?.$case === "listReply") return { kind: "list_reply", id: a.value.id, title: a.value.title, ...facts };
      return undefined;
    }
    case "media":
      return { kind: "media", media: MEDIA_KINDS[k.value.kind] ?? "other", caption: k.value.caption || undefined, ...facts };
    case "location":
      return { kind: "media", media: "location", ...facts };
    case "contacts":
      return { kind: "media", media: "contacts", ...facts };
    default:
      return undefined;
  }
}

/** An effect's message content, as the business number sends it. */
function contentOf(e: Effect): Content | undefined {
  switch (e.kind) {
    case "send_text":
      return { kind: { $case: "text", value: { body: e.text, previewUrl: false } } };
    case "send_template":
      return {
        kind: {
          $case: "template",
          value: {
            name: e.name,
            languageCode: e.language,
            rendered: undefined,
            components: [
              {
                type: "body",
                subType: "",
                index: 0,
                parameters: e.parameters.map((p) => ({ type: "text", parameterName: p.name ?? "", text: p.text, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" })),
              },
            ],
          },
        },
      };
    case "send_interactive":
      return {
        kind: {
          $case: "interactive",
          value: {
            header: undefined,
            body: e.body,
            footer: "",
            action: e.buttons
              ? { $case: "buttons", value: { buttons: e.buttons } }
              : { $case: "list", value: { button: e.list!.button, sections: e.list!.sections.map((s) => ({ title: s.title ?? "", rows: s.rows.map((r) => ({ id: r.id, title: r.title, description: r.description ?? "" })) })) } },
          },
        },
      };
    case "send_product":
      return { kind: { $case: "interactive", value: { header: undefined, body: e.body ?? "", footer: e.footer ?? "", action: { $case: "product", value: { catalogId: e.catalogId, productRetailerId: e.productRetailerId } } } } };
    case "send_product_list":
      return {
        kind: {
          $case: "interactive",
          value: {
            header: { kind: { $case: "text", value: e.header } },
            body: e.body,
            footer: e.footer ?? "",
            action: { $case: "productList", value: { catalogId: e.catalogId, sections: e.sections.map((s) => ({ title: s.title ?? "", productRetailerIds: s.productRetailerIds })) } },
          },
        },
      };
    default:
      return undefined;
  }
}

/**
 * Carries out a flow's effects for one conversation, in order: messages
 * through the send path as the business number (every policy rule applies;
 * client id `flow:<event id>:<n>`, so a redelivered event sends nothing
 * twice), labels, and signed webhook calls with their timeout. A failed
 * effect is logged and the next one runs.
 */
export function createEffectRunner(ports: {
  send(req: SendMessageRequest, phoneNumberId: string): Promise<unknown>;
  label(businessId: string, conversationId: string, labelId: string): Promise<unknown>;
  secret(businessId: string, flowName: string): Promise<string | undefined>;
  fetch: typeof fetch;
  log: Logger;
  now: () => number;
}): EffectRunner {
  return {
    async run(target: InboundForFlows, flowName: string, effects: Effect[]): Promise<void> {
      for (const [n, e] of effects.entries()) {
        try {
          const content = contentOf(e);
          if (content) {
            await ports.send(
              {
                sender: { kind: { $case: "phoneNumberId", value: target.phoneNumberId } },
                recipient: { kind: { $case: "customerId", value: target.customerId } },
                to: "",
                clientMessageId: `flow:${target.eventId}:${n}`,
                content,
                context: undefined,
                bizOpaqueCallbackData: `flow:${flowName}`,
                referral: undefined,
              },
              target.phoneNumberId,
            );
          } else if (e.kind === "set_label") {
            await ports.label(target.businessId, target.conversationId, e.labelId);
          } else if (e.kind === "call_webhook") {
            const secret = await ports.secret(target.businessId, flowName);
            if (!secret) continue;
            const req = buildWebhookRequest(e, secret, ports.now());
            const res = await ports.fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(req.timeoutMs), redirect: "error" });
            if (!res.ok) ports.log.warn({ flow: flowName, status: res.status }, "flow webhook answered an error");
          }
          // handoff: the session records it; the agents' inbox shows the conversation as the business's to answer.
        } catch (err) {
          ports.log.warn({ flow: flowName, effect: e.kind, err: { message: (err as Error).message } }, "flow effect failed");
        }
      }
    },
  };
}

/**
 * The flows' consumer of customer messages, shared by the replicas; each
 * message is stepped once (processed_events). The greeting and away messages
 * are decided in the same transaction, after the flow: only a message no
 * flow answers or holds gets one.
 */
export function registerFlowConsumer(
  rt: Runtime<MessagingDatabase>,
  flows: FlowService<import("kysely").Kysely<MessagingDatabase>>,
  autoReplies?: Pick<AutoReplyService<import("kysely").Kysely<MessagingDatabase>>, "onInbound">,
): void {
  rt.consume<MessageReceived>({
    durable: FLOWS_CONSUMER,
    domain: "messaging",
    subject: subjects.messageReceived,
    decode: (data) => MessageReceived.decode(data),
    async handle(e) {
      const message = e.message;
      const eventId = e.meta?.eventId ?? "";
      if (!message || !eventId) return "term";
      const event = customerMessageOf(message.content, message.seq === "1", e.referral?.sourceId ?? "");
      if (!event) return "ack";
      const businessId = e.meta?.businessId ?? "";
      return once(rt.db, FLOWS_CONSUMER, eventId, async (trx) => {
        const outcome = await flows.onInbound(
          {
            eventId,
            businessId,
            phoneNumberId: e.phoneNumberId,
            customerId: e.customerId,
            conversationId: message.conversationId,
            event,
            customer: { name: e.customerProfileName || undefined, phone: e.customerE164 || undefined },
          },
          trx,
        );
        if (!autoReplies) return;
        const at = (message.createdAt ?? e.meta?.occurredAt ?? new Date()).getTime();
        await autoReplies.onInbound(
          { eventId, businessId, phoneNumberId: e.phoneNumberId, customerId: e.customerId, conversationId: message.conversationId, seq: Number(message.seq), at },
          outcome !== undefined && outcome !== "ignored",
          trx,
        );
      });
    },
  });
}

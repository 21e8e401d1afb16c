import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import type { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { GraphError, invalidParameter } from "../domain/graph-error.js";
import { sendableAs } from "../domain/media-kinds.js";
import { findMedia } from "../store/media-records.js";
import { normalizePhone } from "../domain/phone.js";
import { cloudFieldOf, mediaOfContent, planSend } from "../domain/send-mapping.js";
import type { ServiceClients } from "../clients/services.js";
import { ServiceCallFailed } from "../clients/services.js";
import { TtlCache } from "../domain/ttl-cache.js";
import { rememberCustomer } from "../store/directory-store.js";
import type { GatewayDatabase } from "../store/tables.js";
import { numberOf, ok, toGraphError } from "./server.js";
import type { Logger } from "@kontor/service-kit/log";

const media = {
  type: "object",
  additionalProperties: false,
  properties: {
    id: { type: "string", maxLength: 256 },
    link: { type: "string", maxLength: 2048 },
    caption: { type: "string", maxLength: 1024 },
    filename: { type: "string", maxLength: 240 },
    voice: { type: "boolean" },
    mime_type: { type: "string", maxLength: 100 },
  },
} as const;

const looseObject = { type: "object" } as const;

/** The send envelope (cloud-api.md §1.1) and the shapes of its simple kinds; the rest is checked by the mapper. */
export const sendBodySchema = {
  type: "object",
  additionalProperties: false,
  required: ["messaging_product"],
  properties: {
    messaging_product: { type: "string", enum: ["whatsapp"] },
    recipient_type: { type: "string", enum: ["individual", "group"] },
    to: { type: "string", maxLength: 64 },
    recipient: { type: "string", maxLength: 256 },
    context: { type: "object", additionalProperties: false, required: ["message_id"], properties: { message_id: { type: "string", minLength: 1, maxLength: 256 } } },
    biz_opaque_callback_data: { type: "string", maxLength: 512 },
    recipient_identity_key_hash: { type: "string", maxLength: 256 },
    type: { type: "string", enum: ["text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive", "template", "reaction"] },
    text: {
      type: "object",
      additionalProperties: false,
      required: ["body"],
      properties: { body: { type: "string", minLength: 1, maxLength: 4096 }, preview_url: { type: "boolean" } },
    },
    image: media,
    audio: media,
    video: media,
    document: media,
    sticker: media,
    location: {
      type: "object",
      additionalProperties: false,
      required: ["latitude", "longitude"],
      properties: { latitude: { type: "number" }, longitude: { type: "number" }, name: { type: "string", maxLength: 1000 }, address: { type: "string", maxLength: 1000 } },
    },
    contacts: { type: "array", minItems: 1, maxItems: 257, items: looseObject },
    reaction: {
      type: "object",
      additionalProperties: false,
      required: ["message_id", "emoji"],
      properties: { message_id: { type: "string", minLength: 1, maxLength: 256 }, emoji: { type: "string", maxLength: 32 } },
    },
    interactive: {
      type: "object",
      required: ["type", "action"],
      properties: {
        type: { type: "string" },
        header: looseObject,
        body: { type: "object", properties: { text: { type: "string", maxLength: 4096 } } },
        footer: { type: "object", properties: { text: { type: "string", maxLength: 60 } } },
        action: looseObject,
      },
    },
    template: {
      type: "object",
      additionalProperties: false,
      required: ["name", "language"],
      properties: {
        name: { type: "string", minLength: 1, maxLength: 512 },
        namespace: { type: "string", maxLength: 256 },
        language: {
          type: "object",
          additionalProperties: false,
          required: ["code"],
          properties: { code: { type: "string", minLength: 1, maxLength: 20 }, policy: { type: "string", enum: ["deterministic"] } },
        },
        components: { type: "array", maxItems: 20, items: looseObject },
      },
    },
    status: { type: "string", enum: ["read"] },
    message_id: { type: "string", minLength: 1, maxLength: 256 },
    typing_indicator: { type: "object", additionalProperties: false, required: ["type"], properties: { type: { type: "string", enum: ["text"] } } },
  },
} as const;

const params = { type: "object", required: ["id"], properties: { id: { type: "string", maxLength: 64 } } } as const;

/** POST (and PUT, as Meta's old collection used for mark-as-read) /{phone-number-id}/messages. */
export function registerMessagesRoute(app: FastifyInstance, deps: { db: Kysely<GatewayDatabase>; clients: ServiceClients; log: Logger }): void {
  const { db, clients, log } = deps;
  // Numbers already written: a send to a known customer writes nothing (webhooks' fallback only needs it once).
  const remembered = new TtlCache<string>(10 * 60_000, 100_000);
  for (const method of ["POST", "PUT"] as const) {
    app.route({
      method,
      url: "/:id/messages",
      schema: { params, body: sendBodySchema },
      async handler(req, reply) {
        const { id } = req.params as { id: string };
        const { partner, number } = await numberOf(db, req, id, "whatsapp_business_messaging");
        const plan = planSend(req.body as Record<string, unknown>);
        const actingFor = { partnerId: partner.partnerId, businessId: number.businessId };
        const sender = { kind: { $case: "phoneNumberId" as const, value: number.phoneNumberId } };

        if (plan.kind === "read") {
          try {
            const { message } = await clients.call(clients.messaging, clients.messaging.getMessage, { participant: sender, messageId: plan.messageId }, actingFor);
            const conversationId = message?.conversationId ?? "";
            await clients.call(
              clients.messaging,
              clients.messaging.reportReceipt,
              { reader: sender, conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "0", messageId: plan.messageId },
              actingFor,
            );
            if (plan.typing) await clients.call(clients.messaging, clients.messaging.sendTyping, { sender, conversationId }, actingFor);
          } catch (err) {
            if (err instanceof ServiceCallFailed && err.failure.grpcCode === 5) throw invalidParameter("message_id", "does not name a message this number received");
            throw toGraphError(err, req, log, (f) => (f === "message_id" ? "message_id" : f));
          }
          return ok(reply, { success: true });
        }

        // Uploaded media ids, wherever the message carries media: each must be this business's, of a type its
        // place takes; messaging gets its type and hash.
        for (const { media: m, param, kind } of mediaOfContent(plan.content, plan.type)) {
          if (m.source?.$case !== "mediaId") continue;
          const found = await findMedia(db, m.source.value, [number.businessId]);
          if (!found) throw invalidParameter(`${param}.id`, "is not a media id this business uploaded, or it has expired");
          if (!sendableAs(found.mimeType, kind)) throw new GraphError(131053, `Media ${found.id} (${param}.id) is ${found.mimeType}, which cannot be sent as ${kind}.`);
          m.mimeType = found.mimeType;
          m.sha256 = found.sha256;
          m.sizeBytes = String(found.fileSize);
          if (kind === "document" && !m.filename) m.filename = found.filename;
        }
        const phone = normalizePhone(plan.to, number.e164);
        if (!phone.ok) throw invalidParameter("to", phone.problem);
        const request: SendMessageRequest = {
          sender,
          recipient: undefined,
          to: phone.e164,
          clientMessageId: "",
          content: plan.content,
          context: plan.contextMessageId ? { messageId: plan.contextMessageId } : undefined,
          bizOpaqueCallbackData: plan.bizOpaqueCallbackData,
          referral: undefined,
        };
        let result;
        try {
          result = await clients.send(request, actingFor);
        } catch (err) {
          throw toGraphError(err, req, log, (f) => cloudFieldOf(f, plan.type));
        }
        const customerId = result?.recipient?.kind?.$case === "customerId" ? result.recipient.kind.value : "";
        if (customerId && remembered.get(customerId) !== phone.waId) {
          await rememberCustomer(db, customerId, phone.waId);
          remembered.set(customerId, phone.waId);
        }
        return ok(reply, {
          messaging_product: "whatsapp",
          contacts: [{ input: plan.to, wa_id: phone.waId }],
          messages: [{ id: result?.messageId ?? "", ...(plan.type === "template" ? { message_status: "accepted" } : {}) }],
        });
      },
    });
  }
}

import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import type { BlockedUserResult, FailedUserResult } from "@kontor/proto/messaging/v1/messaging_service";
import { GraphError, fbtraceId, invalidParameter } from "../domain/graph-error.js";
import { normalizePhone } from "../domain/phone.js";
import type { ServiceClients } from "../clients/services.js";
import type { GatewayDatabase } from "../store/tables.js";
import { baseUrl, numberOf, ok, toGraphError } from "./server.js";
import { idParams, pagingProperties } from "./schemas.js";

/** The POST and DELETE body (cloud-api.md §10.4): at most 1,000 users per request. */
export const blockUsersBody = {
  type: "object",
  required: ["messaging_product", "block_users"],
  additionalProperties: false,
  properties: {
    messaging_product: { type: "string", enum: ["whatsapp"] },
    block_users: {
      type: "array",
      maxItems: 1000,
      // `user_id`: a business-scoped user id (newer SDKs send it beside or instead of the number); Kontor blocks by number.
      items: { type: "object", additionalProperties: false, properties: { user: { type: "string", minLength: 1, maxLength: 64 }, user_id: { type: "string", minLength: 1, maxLength: 256 } } },
    },
  },
} as const;

const listQuery = { type: "object", properties: pagingProperties } as const;

/** The Cloud API's block failure (139100) for one user, as failed_users lists it. */
function failedUser(input: string, code: number, details: string) {
  return { input, errors: [{ message: code === 139101 ? "Blocklist limit reached" : "Failed to block/unblock users", code, error_data: { details } }] };
}

/**
 * POST, DELETE and GET /{phone-number-id}/block_users (cloud-api.md §10.4)
 * onto messaging's BlockUsers, UnblockUsers and ListBlockedUsers. Users are
 * read as `to` is (phone.ts). A request where some users failed answers 400
 * with the Graph error 139100 and, beside it, the users added and failed.
 */
export function registerBlockRoutes(app: FastifyInstance, deps: { db: Kysely<GatewayDatabase>; clients: ServiceClients; log: Logger; publicUrl: string }): void {
  const { db, clients, log } = deps;

  async function change(req: FastifyRequest, blocked: boolean) {
    const { id } = req.params as { id: string };
    const { partner, number } = await numberOf(db, req, id, "whatsapp_business_management");
    const body = req.body as { block_users: { user?: string; user_id?: string }[] };
    const failed: ReturnType<typeof failedUser>[] = [];
    const byE164 = new Map<string, string[]>();
    for (const [i, { user, user_id }] of body.block_users.entries()) {
      if (user === undefined) {
        if (user_id === undefined) throw new GraphError(131008, `Parameter block_users[${i}].user is required.`);
        failed.push(failedUser(user_id, 139100, "business-scoped user ids are not supported: name the user by phone number"));
        continue;
      }
      const n = normalizePhone(user, number.e164);
      if (!n.ok) {
        failed.push(failedUser(user, 139100, `user ${n.problem}`));
        continue;
      }
      byE164.set(n.e164, [...(byE164.get(n.e164) ?? []), user]);
    }
    let applied: BlockedUserResult[] = [];
    let refused: FailedUserResult[] = [];
    if (byE164.size > 0) {
      const request = { phoneNumberId: number.phoneNumberId, users: [...byE164.keys()] };
      const actingFor = { partnerId: partner.partnerId, businessId: number.businessId };
      try {
        if (blocked) {
          const r = await clients.call(clients.messaging, clients.messaging.blockUsers, request, actingFor);
          [applied, refused] = [r.added, r.failed];
        } else {
          const r = await clients.call(clients.messaging, clients.messaging.unblockUsers, request, actingFor);
          [applied, refused] = [r.removed, r.failed];
        }
      } catch (err) {
        throw toGraphError(err, req, log, (f) => (f === "users" ? "block_users" : f));
      }
    }
    // Messaging answers per normalized number; every input that named it gets the answer.
    const users = applied.flatMap((u) => (byE164.get(u.input) ?? [u.input]).map((input) => ({ input, wa_id: u.waId })));
    for (const f of refused) for (const input of byE164.get(f.input) ?? [f.input]) failed.push(failedUser(input, f.cloudApiCode || 139100, f.message));
    const key = blocked ? "added_users" : "removed_users";
    const result: Record<string, unknown> = { messaging_product: "whatsapp", block_users: { [key]: users, ...(failed.length > 0 ? { failed_users: failed } : {}) } };
    if (failed.length === 0) return result;
    const error = new GraphError(139100, `Failed to ${blocked ? "block" : "unblock"} some users; see block_users.failed_users.`);
    return { ...result, error: { ...error.toBody().error, fbtrace_id: fbtraceId() } };
  }

  const send = (reply: Parameters<typeof ok>[0], result: Record<string, unknown>) => ("error" in result ? reply.code(400).header("content-type", "application/json; charset=UTF-8").send(result) : ok(reply, result));

  app.post("/:id/block_users", { schema: { params: idParams, body: blockUsersBody } }, async (req, reply) => send(reply, await change(req, true)));
  app.delete("/:id/block_users", { schema: { params: idParams, body: blockUsersBody } }, async (req, reply) => send(reply, await change(req, false)));

  app.get("/:id/block_users", { schema: { params: idParams, querystring: listQuery } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, number } = await numberOf(db, req, id, "whatsapp_business_management");
    const q = req.query as { limit?: number; after?: string; before?: string };
    if (q.before) throw invalidParameter("before", "is not supported: page forward with after");
    const limit = q.limit ?? 100;
    let res;
    try {
      res = await clients.call(clients.messaging, clients.messaging.listBlockedUsers, { phoneNumberId: number.phoneNumberId, page: { pageSize: limit, pageToken: q.after ?? "" } }, { partnerId: partner.partnerId, businessId: number.businessId });
    } catch (err) {
      throw toGraphError(err, req, log, (f) => (f.startsWith("page.page_token") ? "after" : f.startsWith("page.page_size") ? "limit" : f));
    }
    const data = res.users.map((u) => ({ messaging_product: "whatsapp", wa_id: u.e164.replace(/^\+/, "") }));
    const next = res.page?.nextPageToken ?? "";
    const paging: Record<string, unknown> = { cursors: { before: q.after ?? "", after: next } };
    if (next) paging.next = `${baseUrl(req, deps.publicUrl)}/${req.graphVersion || "v23.0"}/${id}/block_users?limit=${limit}&after=${encodeURIComponent(next)}`;
    return ok(reply, { data, paging });
  });
}

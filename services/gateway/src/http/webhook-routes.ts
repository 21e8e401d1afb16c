import { randomInt, randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import { GraphError, invalidParameter } from "../domain/graph-error.js";
import { getPartner } from "../store/partner-store.js";
import type { GatewayDatabase } from "../store/tables.js";
import { deleteSubscription, getSubscription, listDead, replayDead, replayRange, upsertSubscription } from "../store/webhook-store.js";
import { ok, wabaOf } from "./server.js";
import { idParams } from "./schemas.js";

export interface WebhookRouteDeps {
  db: Kysely<GatewayDatabase>;
  requireHttps: boolean;
  timeoutMs: number;
  /** Most notifications one replay copies. */
  replayMax: number;
  /** How long finished notifications are kept (the replay window), ms. */
  retentionMs: number;
  wake: () => void;
  /** A subscription was made, changed or removed (cached targets are stale). */
  subscriptionsChanged: () => void;
}

/**
 * The verification handshake (cloud-api.md §3.2): GET the callback with
 * hub.mode, hub.challenge and hub.verify_token; it must answer 200 with the
 * challenge as its body, or the URL is not used.
 */
export async function verifyCallback(url: string, verifyToken: string, timeoutMs: number): Promise<string | undefined> {
  const challenge = String(randomInt(1_000_000_000, 2_000_000_000));
  const target = new URL(url);
  target.searchParams.set("hub.mode", "subscribe");
  target.searchParams.set("hub.challenge", challenge);
  target.searchParams.set("hub.verify_token", verifyToken);
  try {
    const res = await fetch(target, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs), headers: { "user-agent": "kontor-gateway" } });
    const body = (await res.text()).trim();
    if (res.status !== 200) return `the callback answered HTTP ${res.status}`;
    if (body !== challenge) return "the callback did not echo hub.challenge";
    return undefined;
  } catch (err) {
    return `the callback could not be reached (${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message})`;
  }
}

/** A time parameter as Graph takes it: unix seconds, or an ISO 8601 date-time. */
function timeParam(name: string, v: unknown): Date | undefined {
  if (v === undefined || v === "") return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d{1,12}$/.test(v) ? Number(v) : NaN;
  const d = Number.isFinite(n) ? new Date(n * 1000) : typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v) ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw invalidParameter(name, "must be a unix time in seconds or an ISO 8601 date-time");
  return d;
}

function callbackProblem(value: string, requireHttps: boolean): string | undefined {
  if (value.length > 200) return "must be at most 200 characters";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an absolute URL";
  }
  if (url.protocol !== "https:" && (requireHttps || url.protocol !== "http:")) return requireHttps ? "must be an https URL" : "must be an http(s) URL";
  if (url.username || url.password) return "must not hold credentials";
  return undefined;
}

/** POST/GET/DELETE /{waba-id}/subscribed_apps, and the gateway's own dead-letter list and replay. */
export function registerWebhookRoutes(app: FastifyInstance, deps: WebhookRouteDeps): void {
  const { db } = deps;

  app.post("/:id/subscribed_apps", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, wabaId } = wabaOf(req, id, "whatsapp_business_management");
    const p = req.params_;
    const uri = typeof p.override_callback_uri === "string" ? p.override_callback_uri : undefined;
    const token = typeof p.verify_token === "string" ? p.verify_token : undefined;
    for (const key of Object.keys(p)) if (key !== "override_callback_uri" && key !== "verify_token") throw invalidParameter(key, "is not a known parameter");
    if (uri === undefined) {
      if (token !== undefined) throw new GraphError(131008, "Parameter override_callback_uri is required with verify_token.");
      await upsertSubscription(db, { wabaId, partnerId: partner.partnerId, overrideCallbackUri: null, overrideVerifyToken: null });
      deps.subscriptionsChanged();
      return ok(reply, { success: true });
    }
    if (!token) throw new GraphError(131008, "Parameter verify_token is required with override_callback_uri.");
    const problem = callbackProblem(uri, deps.requireHttps);
    if (problem) throw invalidParameter("override_callback_uri", problem);
    const failed = await verifyCallback(uri, token, deps.timeoutMs);
    if (failed) throw invalidParameter("override_callback_uri", `failed verification: ${failed}`);
    await upsertSubscription(db, { wabaId, partnerId: partner.partnerId, overrideCallbackUri: uri, overrideVerifyToken: token });
    deps.subscriptionsChanged();
    deps.wake();
    return ok(reply, { success: true });
  });

  app.get("/:id/subscribed_apps", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, wabaId } = wabaOf(req, id, "whatsapp_business_management");
    const sub = await getSubscription(db, wabaId);
    const app_ = await getPartner(db, partner.partnerId);
    const data = sub
      ? [{ whatsapp_business_api_data: { id: partner.partnerId, link: app_?.callbackUrl ?? "", name: app_?.name ?? "" }, ...(sub.overrideCallbackUri ? { override_callback_uri: sub.overrideCallbackUri } : {}) }]
      : [];
    return ok(reply, { data });
  });

  app.delete("/:id/subscribed_apps", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { wabaId } = wabaOf(req, id, "whatsapp_business_management");
    await deleteSubscription(db, wabaId);
    deps.subscriptionsChanged();
    return ok(reply, { success: true });
  });

  // Kontor's own edge (not in the Cloud API): deliver again what was queued since a time or an event, to the
  // subscription or to another URL (which must pass the handshake). Copies carry their original event ids.
  app.post("/:id/webhook_replay", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { wabaId } = wabaOf(req, id, "whatsapp_business_management");
    const p = req.params_;
    const known = new Set(["since", "since_event_id", "until", "override_callback_uri", "verify_token"]);
    for (const key of Object.keys(p)) if (!known.has(key)) throw invalidParameter(key, "is not a known parameter");
    const since = timeParam("since", p.since);
    const until = timeParam("until", p.until);
    const sinceEventId = p.since_event_id === undefined || p.since_event_id === "" ? undefined : String(p.since_event_id);
    if ((since ? 1 : 0) + (sinceEventId ? 1 : 0) !== 1) throw new GraphError(131008, "Parameter since or since_event_id is required (exactly one).");
    if (sinceEventId && sinceEventId.length > 200) throw invalidParameter("since_event_id", "must be at most 200 characters");
    const windowStart = new Date(Date.now() - deps.retentionMs);
    if (since && since < windowStart) throw invalidParameter("since", `is before the replay window (notifications are kept ${Math.round(deps.retentionMs / 3600_000)} hours): the earliest is ${windowStart.toISOString()}`);
    if (since && until && until <= since) throw invalidParameter("until", "must be after since");
    const uri = typeof p.override_callback_uri === "string" ? p.override_callback_uri : undefined;
    if (uri !== undefined) {
      const token = typeof p.verify_token === "string" ? p.verify_token : "";
      if (!token) throw new GraphError(131008, "Parameter verify_token is required with override_callback_uri.");
      const problem = callbackProblem(uri, deps.requireHttps);
      if (problem) throw invalidParameter("override_callback_uri", problem);
      const failed = await verifyCallback(uri, token, deps.timeoutMs);
      if (failed) throw invalidParameter("override_callback_uri", `failed verification: ${failed}`);
    } else if (!(await getSubscription(db, wabaId))) {
      throw invalidParameter("override_callback_uri", "is required: the WABA has no subscription to replay to");
    }
    const replayId = randomUUID();
    const replayed = await replayRange(db, { wabaId, since, sinceEventId, until, callbackUri: uri, replayId, limit: deps.replayMax });
    if (replayed === undefined) throw invalidParameter("since_event_id", "names no notification of this WABA in the replay window");
    deps.wake();
    return ok(reply, { success: true, replay_id: replayId, replayed, truncated: replayed >= deps.replayMax });
  });

  // Kontor's own edges (not in the Cloud API): notifications whose retries ran out, and putting them back in the queue.
  app.get("/:id/webhook_dead_letters", { schema: { params: idParams, querystring: { type: "object", properties: { limit: { type: "integer", minimum: 1, maximum: 1000 } } } } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { wabaId } = wabaOf(req, id, "whatsapp_business_management");
    const dead = await listDead(db, wabaId, (req.query as { limit?: number }).limit ?? 100);
    return ok(reply, { data: dead.map((d) => ({ id: d.id, event_id: d.eventId, attempts: d.attempts, last_error: d.lastError, created_time: d.createdAt.toISOString() })) });
  });

  app.post("/:id/webhook_dead_letters", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { wabaId } = wabaOf(req, id, "whatsapp_business_management");
    const raw = req.params_.ids;
    const ids = raw === undefined ? undefined : Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
    if (ids && ids.some((x) => !/^\d{1,19}$/.test(x))) throw invalidParameter("ids", "must be delivery ids");
    const replayed = await replayDead(db, wabaId, ids);
    deps.wake();
    return ok(reply, { success: true, replayed });
  });
}

import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import { GraphError, badToken, expiredToken, graphErrorFromFailure, internalError, invalidParameter, missingPermission, missingToken, revokedToken, unknownObject, type FieldNamer } from "../domain/graph-error.js";
import { hashToken, type PartnerPrincipal, type Scope } from "../domain/partners.js";
import { HourlyLimiter, RateLimiter, usageHeader } from "../domain/rate-limit.js";
import { TtlCache } from "../domain/ttl-cache.js";
import { ServiceCallFailed } from "../clients/services.js";
import { authenticate } from "../store/partner-store.js";
import { findNumber, type NumberRecord } from "../store/directory-store.js";
import type { GatewayDatabase } from "../store/tables.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Phone-number ids resolved lately (AUTH_CACHE_MS). */
    numberCache: TtlCache<NumberRecord>;
    limits: { management: HourlyLimiter; sends: RateLimiter; templateCreations: HourlyLimiter };
  }
  interface FastifyRequest {
    /** The Graph version segment the client used ("v23.0"), "" when unversioned. */
    graphVersion: string;
    partner: PartnerPrincipal | undefined;
    /** Query, form and JSON parameters merged (Graph takes them from any of the three). */
    params_: Record<string, unknown>;
    /** X-Business-Use-Case-Usage of this call, once it was counted against a limit. */
    usage: string | undefined;
  }
}

/** Graph's own parameters: they select or authenticate, they are never an API parameter. */
const META_PARAMS = new Set(["access_token", "appsecret_proof", "appsecret_time", "debug", "format", "pretty", "suppress_http_code", "method"]);

const VERSION = /^\/(v\d{1,2}\.\d)(?=\/|\?|$)/;

export interface HttpDeps {
  db: Kysely<GatewayDatabase>;
  log: Logger;
  bodyLimit: number;
  /** How long an accepted token and a resolved phone-number id are remembered, ms. */
  authCacheMs: number;
  /** Management calls per app and WABA per rolling hour. */
  managementCallsPerHour: number;
  /** Sends per app and phone number per second (and as a burst). */
  sendsPerSecond: number;
  /** Template creations per app and WABA per rolling hour. */
  templateCreationsPerHour: number;
}

/**
 * The Graph conventions every route shares (cloud-api.md §0): any /vNN.N
 * prefix or none; the token from `Authorization: Bearer|OAuth` or
 * `access_token`; query, form and JSON parameters merged; application/json
 * answers; every failure a Graph error.
 */
export function createHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimit,
    // Graph ids are numeric strings; a path longer than this is not one of ours.
    routerOptions: { maxParamLength: 200 },
    rewriteUrl(req) {
      const url = req.url ?? "/";
      const m = VERSION.exec(url);
      (req as unknown as { graphVersion?: string }).graphVersion = m?.[1] ?? "";
      return m ? url.slice(m[0].length) || "/" : url;
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: false, allErrors: false } },
  });
  // Accepted tokens by hash, until AUTH_CACHE_MS or their expiry: a revoked token is refused at most that late.
  const principals = new TtlCache<PartnerPrincipal>(deps.authCacheMs);
  app.decorate("numberCache", new TtlCache<NumberRecord>(deps.authCacheMs));
  app.decorate("limits", { management: new HourlyLimiter(deps.managementCallsPerHour), sends: new RateLimiter(deps.sendsPerSecond, Math.max(1, deps.sendsPerSecond)), templateCreations: new HourlyLimiter(deps.templateCreationsPerHour) });
  app.decorateRequest("usage", undefined);
  app.addHook("onSend", async (req, reply) => {
    if (req.usage) void reply.header("x-business-use-case-usage", req.usage);
  });
  app.decorateRequest("graphVersion", "");
  app.decorateRequest("partner", undefined);
  app.decorateRequest("params_", undefined as unknown as Record<string, unknown>);

  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.addHook("onRequest", async (req) => {
    req.graphVersion = (req.raw as unknown as { graphVersion?: string }).graphVersion ?? "";
  });

  // Merge, then authenticate (the token may be a form or query parameter), then the route's schema validates the merged body.
  app.addHook("preValidation", async (req) => {
    const merged: Record<string, unknown> = {};
    for (const [k, v] of Object.entries((req.query as Record<string, unknown>) ?? {})) merged[k] = fromForm(v);
    const body = req.body;
    if (body !== undefined && body !== null && (typeof body !== "object" || Array.isArray(body))) throw invalidParameter("body", "must be a JSON object");
    const form = req.headers["content-type"]?.startsWith("application/x-www-form-urlencoded") ?? false;
    for (const [k, v] of Object.entries((body as Record<string, unknown>) ?? {})) merged[k] = form ? fromForm(v) : v;
    const token = bearer(req) ?? (typeof merged.access_token === "string" ? merged.access_token : undefined);
    for (const k of META_PARAMS) delete merged[k];
    req.params_ = merged;
    if (req.routeOptions.config && (req.routeOptions.config as { public?: boolean }).public) return;
    if (!token) throw missingToken();
    const key = hashToken(token);
    let principal = principals.get(key);
    if (!principal) {
      const auth = await authenticate(deps.db, token);
      if (auth.verdict !== "ok") throw auth.verdict === "expired" ? expiredToken() : auth.verdict === "revoked" ? revokedToken() : badToken();
      principal = auth.principal;
      principals.set(key, principal, auth.expiresAt?.getTime());
    }
    req.partner = principal;
    // The route schemas validate the merged parameters.
    if (req.method !== "GET") req.body = merged;
  });

  app.setErrorHandler((err: FastifyError | GraphError | ServiceCallFailed, req, reply) => {
    const graph = toGraphError(err, req, deps.log);
    void reply.code(graph.http).header("content-type", "application/json; charset=UTF-8").send(graph.toBody());
  });

  app.setNotFoundHandler((req, reply) => {
    const id = req.url.split("?")[0]?.split("/")[1] ?? "";
    const e = id ? unknownObject(decodeURIComponentSafe(id), req.method) : new GraphError(100, "Unknown path components");
    void reply.code(e.http).send(e.toBody());
  });

  return app;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s).slice(0, 200);
  } catch {
    return s.slice(0, 200);
  }
}

/** Form and query values that hold JSON objects or arrays (Graph's encoding of nested parameters) are parsed. */
function fromForm(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const t = v.trim();
  if ((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"))) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return v;
    }
  }
  return v;
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^(Bearer|OAuth)\s+(\S+)\s*$/i.exec(h);
  return m?.[2];
}

/** Which parameter an ajv error is about, as the client wrote it (text.body, contacts[0].name). */
function paramOf(v: { instancePath: string; params: Record<string, unknown> }): string {
  const path = v.instancePath
    .split("/")
    .filter(Boolean)
    .map((seg, i) => (/^\d+$/.test(seg) ? `[${seg}]` : i === 0 ? seg : `.${seg}`))
    .join("");
  const extra = (v.params.missingProperty ?? v.params.additionalProperty) as string | undefined;
  if (extra) return path ? `${path}.${extra}` : extra;
  return path || "body";
}

/** Every failure → one Graph error. Unexpected ones are logged with their cause and answered with code 1, no trace. */
export function toGraphError(err: unknown, req: FastifyRequest, log: Logger, nameField?: FieldNamer): GraphError {
  if (err instanceof GraphError) return err;
  if (err instanceof ServiceCallFailed) {
    const id = (req.params as { id?: string } | undefined)?.id ?? "";
    return graphErrorFromFailure(err.failure, nameField, id);
  }
  const fe = err as FastifyError & { validation?: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[] };
  if (fe.validation && fe.validation.length > 0) {
    const v = fe.validation[0]!;
    const param = paramOf(v);
    if (v.keyword === "required") return new GraphError(131008, `Parameter ${param} is required.`);
    if (v.keyword === "additionalProperties") return invalidParameter(param, "is not a known parameter");
    return invalidParameter(param, v.message ?? "is not valid");
  }
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new GraphError(100, "The request body is too large.", { http: 413 });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return invalidParameter("Content-Type", "must be application/json or application/x-www-form-urlencoded");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return invalidParameter("body", "is empty but Content-Type says JSON");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return invalidParameter("Content-Length", "does not match the body");
  }
  if (err instanceof SyntaxError || fe.code === "FST_ERR_CTP_INVALID_JSON_BODY") return invalidParameter("body", "is not valid JSON");
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) return new GraphError(100, "The request is not valid.");
  log.error({ err, url: req.url.split("?")[0], method: req.method }, "unexpected error answering a Graph request");
  return internalError();
}

/** The partner of an authenticated request, holding `scope` (#10 without it). */
export function partnerWith(req: FastifyRequest, scope: Scope): PartnerPrincipal {
  const p = req.partner;
  if (!p) throw missingToken();
  if (!p.scopes.includes(scope)) throw missingPermission(scope);
  return p;
}

/** A phone-number id the partner manages, or the same "no such object" as for an id that does not exist. */
export async function numberOf(db: Kysely<GatewayDatabase>, req: FastifyRequest, id: string, scope: Scope): Promise<{ partner: PartnerPrincipal; number: NumberRecord }> {
  const partner = partnerWith(req, scope);
  let number = req.server.numberCache.get(id);
  if (!number && /^\d{1,30}$/.test(id)) {
    number = await findNumber(db, id);
    if (number) req.server.numberCache.set(id, number);
  }
  const business = number && partner.businesses.find((b) => b.businessId === number.businessId);
  if (!number || !business) throw unknownObject(id, req.method);
  if (scope === "whatsapp_business_messaging") charge(req, req.server.limits.sends, `${partner.partnerId}\u0000${number.phoneNumberId}`, business.wabaId, 130429);
  else charge(req, req.server.limits.management, `${partner.partnerId}\u0000${business.wabaId}`, business.wabaId, 80007);
  return { partner, number };
}

/** A WABA id of the partner, or "no such object". */
export function wabaOf(req: FastifyRequest, id: string, scope: Scope): { partner: PartnerPrincipal; businessId: string; wabaId: string } {
  const partner = partnerWith(req, scope);
  const b = partner.businesses.find((x) => x.wabaId === id);
  if (!b) throw unknownObject(id, req.method);
  charge(req, req.server.limits.management, `${partner.partnerId}\u0000${b.wabaId}`, b.wabaId, 80007);
  return { partner, businessId: b.businessId, wabaId: b.wabaId };
}

/** Counts a management call on this WABA (80007 past the limit). */
export function chargeManagement(req: FastifyRequest, partnerId: string, wabaId: string): void {
  charge(req, req.server.limits.management, `${partnerId}\u0000${wabaId}`, wabaId, 80007);
}

/** Counts a template creation on this WABA (cloud-api.md §4.1: 100 per hour; 80007 past it). */
export function chargeTemplateCreation(req: FastifyRequest, partnerId: string, wabaId: string): void {
  charge(req, req.server.limits.templateCreations, `${partnerId}\u0000${wabaId}`, wabaId, 80007, "There were too many template creations for this WhatsApp Business Account in the last hour.");
}

/** Counts the call against the app's limit for this WABA or number; past it, the Graph rate-limit error. */
function charge(req: FastifyRequest, limiter: HourlyLimiter | RateLimiter, key: string, wabaId: string, code: 80007 | 130429, details?: string): void {
  const verdict = limiter.take(key);
  req.usage = usageHeader(wabaId, verdict.usage);
  if (!verdict.allowed) {
    throw new GraphError(code, details ?? (code === 80007 ? "There were too many management calls for this WhatsApp Business Account in the last hour." : "Too many messages were sent from this phone number through this app in a short period of time."));
  }
}

/** Sends a Graph success body. */
export function ok(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.code(200).header("content-type", "application/json; charset=UTF-8").send(body);
}

/** The public base URL (paging `next` links, media URLs). */
export function baseUrl(req: FastifyRequest, configured: string): string {
  if (configured) return configured.replace(/\/$/, "");
  return `${req.protocol}://${req.headers.host ?? "127.0.0.1"}`;
}

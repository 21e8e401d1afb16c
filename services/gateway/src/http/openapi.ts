import type { FastifyInstance, RouteOptions } from "fastify";
import { baseUrl, ok } from "./server.js";

/** What each operation does, by "METHOD /path" as registered (the path's version prefix is optional). */
const SUMMARIES: Record<string, string> = {
  "POST /:id/messages": "Send a message (text, media, location, contacts, reaction, interactive, template) or mark one as read, from a phone number",
  "PUT /:id/messages": "Mark a message as read (older clients)",
  "GET /:id": "A node: a WABA (with fields=analytics.start(…).end(…).granularity(DAY|MONTH).phone_numbers([…]): messages sent and delivered per period), a phone number (quality rating, messaging limit), a message template or a media item (url, mime_type, sha256, file_size)",
  "POST /:id": "Edit a message template: components replaced wholesale; category and parameter_format optional",
  "DELETE /:id": "Delete a media item",
  "GET /:id/phone_numbers": "The WABA's phone numbers",
  "GET /:id/message_templates": "The WABA's message templates (paging, filters name, status, category, language)",
  "POST /:id/message_templates": "Create a message template",
  "DELETE /:id/message_templates": "Delete a message template by name (and hsm_id)",
  "POST /:id/media": "Upload media (multipart/form-data: file, messaging_product, type)",
  "GET /media_download/:id": "The bytes of a media item, through the signed URL GET /{media-id} returned (5 minutes)",
  "POST /:id/subscribed_apps": "Subscribe the app to the WABA's webhooks (override_callback_uri after the hub.challenge handshake)",
  "GET /:id/subscribed_apps": "The WABA's subscribed app",
  "DELETE /:id/subscribed_apps": "Unsubscribe the app",
  "GET /:id/webhook_dead_letters": "Kontor: notifications whose retries ran out, with their last error",
  "POST /:id/webhook_dead_letters": "Kontor: deliver dead-lettered notifications again (all, or the ids given)",
  "POST /:id/webhook_replay": "Kontor: deliver again what was queued since a time or an event id (the replay window is the retention), to the subscription or another URL",
  "GET /:id/whatsapp_business_profile": "The business profile of the phone number's business (directory)",
  "POST /:id/whatsapp_business_profile": "Update the business profile (about, address, description, email, websites)",
  "POST /:id/block_users": "Block users of the phone number (only those who wrote in the last 24 hours): added_users, failed_users (400 with 139100 when any failed)",
  "DELETE /:id/block_users": "Unblock users of the phone number: removed_users, failed_users",
  "GET /:id/block_users": "The users the phone number blocks, most recently blocked first (limit, after)",
  "GET /:id/whatsapp_commerce_settings": "The commerce settings of the phone number's business (is_cart_enabled, is_catalog_visible)",
  "POST /:id/whatsapp_commerce_settings": "Change is_cart_enabled and/or is_catalog_visible (query, form or JSON); a disabled cart refuses cart additions and checkouts",
  "GET /:id/template_analytics": "Per template and UTC day: sent, delivered, read, clicked (granularity DAILY, template_ids ≤ 10, metric_types)",
};

const graphError = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["message", "type", "code", "error_data", "fbtrace_id"],
      properties: {
        message: { type: "string" },
        type: { type: "string" },
        code: { type: "integer" },
        error_subcode: { type: "integer" },
        error_data: { type: "object", properties: { messaging_product: { type: "string" }, details: { type: "string" } } },
        fbtrace_id: { type: "string" },
      },
    },
  },
};

/**
 * OpenAPI 3.1 from the routes as fastify registered them (their JSON schemas
 * for path, query and body), at GET /openapi.json, and a page reading it at
 * GET /docs. Call before any route is registered.
 */
export function registerOpenApi(app: FastifyInstance, publicUrl: string): void {
  const routes: RouteOptions[] = [];
  app.addHook("onRoute", (r) => {
    if (r.url === "/openapi.json" || r.url === "/docs" || r.method === "HEAD") return;
    routes.push(r);
  });

  const document = (base: string) => {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of routes) {
      const path = r.url.replace(/:([A-Za-z_]+)/g, "{$1}");
      const key = `${String(r.method)} ${r.url}`;
      const schema = (r.schema ?? {}) as { params?: { properties?: Record<string, unknown> }; querystring?: { properties?: Record<string, unknown> }; body?: unknown };
      const parameters = [
        ...Object.entries(schema.params?.properties ?? {}).map(([name, s]) => ({ name, in: "path", required: true, schema: s })),
        ...Object.entries(schema.querystring?.properties ?? {}).map(([name, s]) => ({ name, in: "query", required: false, schema: s })),
      ];
      const body =
        r.url === "/:id/media"
          ? { content: { "multipart/form-data": { schema: { type: "object", required: ["file", "messaging_product"], properties: { file: { type: "string", format: "binary" }, messaging_product: { type: "string", enum: ["whatsapp"] }, type: { type: "string" } } } } } }
          : schema.body
            ? { content: { "application/json": { schema: schema.body }, "application/x-www-form-urlencoded": { schema: schema.body } } }
            : undefined;
      const isPublic = (r.config as { public?: boolean } | undefined)?.public === true;
      paths[path] ??= {};
      paths[path]![String(r.method).toLowerCase()] = {
        summary: SUMMARIES[key] ?? key,
        operationId: `${String(r.method).toLowerCase()}${r.url.replace(/[/:](\w)/g, (_m, c: string) => c.toUpperCase()).replace(/\W/g, "")}`,
        parameters,
        ...(body ? { requestBody: body } : {}),
        ...(isPublic ? { security: [] } : {}),
        responses: {
          "200": { description: "Graph JSON (the bytes, for a media download)" },
          default: { description: "A Graph error", content: { "application/json": { schema: graphError } } },
        },
      };
    }
    return {
      openapi: "3.1.0",
      info: {
        title: "Kontor Cloud API",
        version: "v23.0",
        description: "The WhatsApp Cloud API on Kontor: every path also answers under any /vNN.N prefix; the token as Authorization: Bearer or ?access_token=; parameters from the query, a form or JSON.",
      },
      servers: [{ url: base }, { url: `${base}/v23.0` }],
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" }, access_token: { type: "apiKey", in: "query", name: "access_token" } } },
      security: [{ bearer: [] }, { access_token: [] }],
      paths,
    };
  };

  app.get("/openapi.json", { config: { public: true } }, async (req, reply) => ok(reply, document(baseUrl(req, publicUrl))));
  app.get("/docs", { config: { public: true } }, async (_req, reply) => reply.code(200).header("content-type", "text/html; charset=utf-8").send(DOCS_PAGE));
}

/** A self-contained page (no CDN) listing the operations of /openapi.json with their parameters and bodies. */
const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kontor Cloud API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}.op{border:1px solid #ddd;border-radius:6px;margin:.8em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:600}.get{color:#0a6}.post{color:#06c}.delete{color:#c30}.put{color:#a60}
code,pre{font:13px ui-monospace,monospace}pre{background:#f6f6f6;padding:.6em;overflow:auto}details summary{cursor:pointer}</style></head>
<body><h1>Kontor Cloud API</h1><p id="intro"></p><div id="ops">Loading /openapi.json …</div>
<script>
fetch("openapi.json").then(r=>r.json()).then(doc=>{
  document.getElementById("intro").textContent=doc.info.description+" Servers: "+doc.servers.map(s=>s.url).join(", ");
  const ops=document.getElementById("ops");ops.textContent="";
  for(const [path,methods] of Object.entries(doc.paths)){for(const [m,op] of Object.entries(methods)){
    const d=document.createElement("div");d.className="op";
    const h=document.createElement("div");h.innerHTML='<span class="m '+m+'">'+m.toUpperCase()+'</span> <code></code>';h.querySelector("code").textContent=path;
    const s=document.createElement("div");s.textContent=op.summary;d.append(h,s);
    const det=document.createElement("details");const sum=document.createElement("summary");sum.textContent="parameters and body";
    const pre=document.createElement("pre");pre.textContent=JSON.stringify({parameters:op.parameters,requestBody:op.requestBody},null,2);
    det.append(sum,pre);d.append(det);ops.append(d);}}
}).catch(e=>{document.getElementById("ops").textContent="Could not load openapi.json: "+e});
</script></body></html>`;

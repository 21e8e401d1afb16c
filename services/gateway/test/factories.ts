import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BusinessRegistered } from "@kontor/proto/directory/v1/events";
import { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { generateSigningKeys } from "@kontor/service-kit/auth";
import type { TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { createMessaging, type MessagingApp } from "@kontor/messaging/app";
import { createDirectory, type DirectoryApp } from "@kontor/directory/app";
import { loadConfig as loadDirectoryConfig } from "@kontor/directory/config";
import { loadConfig as loadMessagingConfig } from "@kontor/messaging/config";
import { createCatalog, type CatalogApp } from "@kontor/catalog/app";
import { loadConfig as loadCatalogConfig } from "@kontor/catalog/config";
import { createGateway, type GatewayApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { type Scope, SCOPES, newNumericId } from "../src/domain/partners.js";
import { issueToken, linkBusiness, upsertPartner } from "../src/store/partner-store.js";

let n = 0;
export const uid = (p: string) => `${p}${++n}${randomBytes(3).toString("hex")}`;
export const e164 = () => `+4915${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;

export interface Stack {
  messaging: MessagingApp;
  /** Started only with `withDirectory` (the business profile routes call it), and its gRPC port. */
  directory?: DirectoryApp;
  directoryPort: number;
  /** Started only with `withCatalog` (commerce settings). */
  catalog?: CatalogApp;
  catalogPort: number;
  messagingClient: MessagingServiceClient;
  gateway: GatewayApp;
  /** http://127.0.0.1:<port> */
  base: string;
  serviceToken: string;
  /** Stops the gateway and starts a new one on the same database and HTTP port (a restart). */
  restartGateway(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Messaging (in-process, as its own tests start it) and the gateway on port 0,
 * over the test file's real PostgreSQL and NATS. The gateway signs with a key
 * of its own that messaging trusts next to the test key.
 */
export async function startStack(env: TestEnv, options: { messaging?: Record<string, string>; gateway?: Record<string, string>; withDirectory?: boolean; withCatalog?: boolean } = {}): Promise<Stack> {
  const gatewayKeys = await generateSigningKeys(`gw-${randomBytes(3).toString("hex")}`);
  const keys = JSON.stringify([...(JSON.parse(env.authPublicKeys) as object[]), gatewayKeys.publicJwk]);
  const messaging = await createMessaging(
    loadMessagingConfig(env.env({ AUTH_PUBLIC_KEYS: keys, MESSAGE_MASTER_KEY: randomBytes(32).toString("base64"), INBOX_SWEEP_MS: "300", ...options.messaging })),
  );
  const { port } = await messaging.start();
  let directory: DirectoryApp | undefined;
  let directoryPort = 0;
  if (options.withDirectory) {
    directory = await createDirectory(loadDirectoryConfig(env.env({ AUTH_PUBLIC_KEYS: keys })));
    ({ port: directoryPort } = await directory.start());
  }
  let catalog: CatalogApp | undefined;
  let catalogPort = 0;
  if (options.withCatalog) {
    catalog = await createCatalog(loadCatalogConfig(env.env({ AUTH_PUBLIC_KEYS: keys })));
    ({ port: catalogPort } = await catalog.start());
  }
  const gatewayConfig = loadConfig(
      env.env({
        AUTH_PUBLIC_KEYS: keys,
        GATEWAY_SIGNING_KEY: JSON.stringify(gatewayKeys.privateJwk),
        MESSAGING_ADDRESS: `127.0.0.1:${port}`,
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        MEDIA_DIR: mkdtempSync(join(tmpdir(), "gateway-media-")),
        WEBHOOK_RETRY_BASE_MS: "50",
        WEBHOOK_RETRY_MAX_MS: "400",
        WEBHOOK_POLL_MS: "50",
        ...(directory ? { DIRECTORY_ADDRESS: `127.0.0.1:${directoryPort}` } : {}),
        ...(catalog ? { CATALOG_ADDRESS: `127.0.0.1:${catalogPort}` } : {}),
        ...options.gateway,
      }),
  );
  let gateway = await createGateway(gatewayConfig);
  const { httpPort } = await gateway.start();
  const messagingClient = clientFor(MessagingServiceClient, port);
  const stack: Stack = {
    messaging,
    directory,
    directoryPort,
    catalog,
    catalogPort,
    messagingClient,
    gateway,
    base: `http://127.0.0.1:${httpPort}`,
    serviceToken: await env.token({ kind: "service", service: "onboarding" }),
    async restartGateway() {
      await gateway.stop();
      gateway = await createGateway({ ...gatewayConfig, HTTP_PORT: httpPort });
      await gateway.start();
      stack.gateway = gateway;
    },
    async stop() {
      messagingClient.close();
      await gateway.stop();
      await messaging.stop();
      await directory?.stop();
      await catalog?.stop();
    },
  };
  return stack;
}

export interface PartnerFixture {
  partnerId: string;
  token: string;
  appSecret: string;
  verifyToken: string;
  businessId: string;
  wabaId: string;
  phoneNumberId: string;
  businessE164: string;
}

/** Publishes directory's BusinessRegistered (as directory's outbox does) and waits until both services know the number. */
export async function registerBusiness(env: TestEnv, stack: Stack, businessId: string, phoneNumberId: string, number: string): Promise<void> {
  const nc = await env.nats();
  const eventId = randomUUID();
  const business = BusinessSnapshot.fromPartial({
    businessId,
    displayName: `Biz ${businessId}`,
    category: "retail.pottery",
    country: "DE",
    phoneNumbers: [{ phoneNumberId, e164: number, displayName: `Biz ${businessId}` }],
    verified: false,
    updatedAt: new Date(),
    version: "1",
  });
  await nc.jetstream().publish(`${env.natsPrefix}kontor.directory.business.registered.v1`, BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId }, business }).finish(), { msgID: eventId });
  await waitFor(() => stack.messaging.directory.get(phoneNumberId));
  await waitFor(() => stack.gateway.db.selectFrom("business_number").select("phone_number_id").where("phone_number_id", "=", phoneNumberId).executeTakeFirst());
}

/** A partner with one business and number, and an access token with the given scopes. */
export async function createPartner(env: TestEnv, stack: Stack, options: { scopes?: Scope[]; expiresAt?: Date } = {}): Promise<PartnerFixture> {
  const partnerId = uid("partner-");
  const appSecret = randomBytes(16).toString("hex");
  const verifyToken = randomBytes(8).toString("hex");
  await upsertPartner(stack.gateway.db, { id: partnerId, name: `BSP ${partnerId}`, appSecret, verifyToken });
  const businessId = randomUUID();
  const wabaId = newNumericId();
  const phoneNumberId = newNumericId();
  const businessE164 = e164();
  await registerBusiness(env, stack, businessId, phoneNumberId, businessE164);
  await linkBusiness(stack.gateway.db, partnerId, businessId, wabaId);
  const token = await issueToken(stack.gateway.db, partnerId, options.scopes ?? [...SCOPES], { expiresAt: options.expiresAt ?? null });
  return { partnerId, token, appSecret, verifyToken, businessId, wabaId, phoneNumberId, businessE164 };
}

/** A customer registered in messaging (as onboarding does); returns its number. */
export async function registerCustomer(stack: Stack, customerId = randomUUID(), number = e164(), name = "Ana"): Promise<{ customerId: string; number: string }> {
  await unaryCall(stack.messagingClient.upsertCustomer.bind(stack.messagingClient), { customerId, e164: number, profileName: name, settings: undefined }, { token: stack.serviceToken });
  return { customerId, number };
}

export interface GraphResponse {
  status: number;
  contentType: string;
  body: Record<string, any>;
  text: string;
}

/** A Cloud API call as a client makes it. */
export async function graph(base: string, method: string, path: string, options: { token?: string; json?: unknown; form?: Record<string, string>; raw?: string; contentType?: string; headers?: Record<string, string> } = {}): Promise<GraphResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  } else if (options.raw !== undefined) {
    headers["content-type"] = options.contentType ?? "application/json";
    body = options.raw;
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: Record<string, any> = {};
  try {
    parsed = JSON.parse(text) as Record<string, any>;
  } catch {
    parsed = { __not_json: text };
  }
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body: parsed, text };
}

/** The exact Graph error envelope (cloud-api.md §2.1): no key more, none less. */
export function expectGraphError(r: GraphResponse, code: number, http: number): Record<string, any> {
  const e = r.body.error as Record<string, any> | undefined;
  const problems: string[] = [];
  if (r.status !== http) problems.push(`status ${r.status} != ${http}`);
  if (!r.contentType.startsWith("application/json")) problems.push(`content-type ${r.contentType}`);
  if (!e) problems.push("no error object");
  else {
    if (e.code !== code) problems.push(`code ${e.code} != ${code}`);
    if (typeof e.message !== "string" || !e.message.startsWith(`(#${code}) `)) problems.push(`message ${e.message}`);
    if (typeof e.type !== "string") problems.push("type");
    if (e.error_data?.messaging_product !== "whatsapp" || typeof e.error_data?.details !== "string") problems.push("error_data");
    if (typeof e.fbtrace_id !== "string" || e.fbtrace_id.length < 10) problems.push("fbtrace_id");
    const extra = Object.keys(e).filter((k) => !["message", "type", "code", "error_subcode", "error_data", "fbtrace_id"].includes(k));
    if (extra.length) problems.push(`extra keys ${extra.join(",")}`);
    if (/\bat \S+ \(|node_modules|\.ts:\d+/.test(r.text)) problems.push("stack trace in body");
  }
  if (Object.keys(r.body).length !== 1) problems.push("body has keys besides error");
  if (problems.length) throw new Error(`not the Graph error (#${code}, HTTP ${http}): ${problems.join("; ")}\n${r.text}`);
  return e!;
}

/** POST /{phone-number-id}/media as SDKs send it (multipart: messaging_product, type, file); returns the media id. */
export async function uploadMedia(base: string, token: string, phoneNumberId: string, bytes: Buffer, mimeType: string, filename: string): Promise<string> {
  const form = new FormData();
  form.append("messaging_product", "whatsapp");
  form.append("type", mimeType);
  form.append("file", new Blob([bytes], { type: mimeType }), filename);
  const res = await fetch(`${base}/v23.0/${phoneNumberId}/media`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 200 || !body.id) throw new Error(`upload failed: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.id;
}

import { spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { createServer, type Server } from "node:http";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusinessRegistered } from "@kontor/proto/directory/v1/events";
import { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import { MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { generateSigningKeys } from "@kontor/service-kit/auth";
import { createPool } from "@kontor/service-kit/db";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";

/**
 * The gateway as its own process (src/main.ts, as `npm start` runs it), killed
 * with SIGKILL while webhooks are pending against a slow receiver: after a
 * restart every notification arrives (at least once; the receiver dedupes by
 * status id), in order per conversation. Messaging's status events are
 * published here as messaging publishes them.
 */

const here = dirname(fileURLToPath(import.meta.url));
const EVENTS = 1000;
const CONVERSATIONS = 20;

let env: TestEnv;
let db: ReturnType<typeof createPool>;
let gateway: ChildProcess | undefined;
let receiver: Server;
let gatewayEnv: Record<string, string>;
let httpPort = 0;
const token = randomBytes(32).toString("base64url");
const appSecret = randomBytes(16).toString("hex");
const verifyToken = randomBytes(8).toString("hex");
const wabaId = `1${String(Date.now()).slice(-14)}`;
const phoneNumberId = `2${String(Date.now()).slice(-14)}`;
const businessId = randomUUID();

/** Status id → first arrival index; and per conversation the order in which its statuses first arrived. */
const firstSeen = new Map<string, number>();
const orderByConversation = new Map<string, number[]>();
let posts = 0;
let badSignatures = 0;

/** Whether the port can be bound now (then released). */
function bindable(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createNetServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

/**
 * A port for the gateway's two lives. Above the kernel's ephemeral range
 * where there is room: a port from inside it could be taken by another test
 * file's outgoing connection while the gateway is down between its lives.
 */
async function freePort(): Promise<number> {
  let high = 60_999;
  try {
    high = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[1]) || high;
  } catch {
    // not Linux
  }
  for (let attempt = 0; high < 65_000 && attempt < 50; attempt++) {
    const port = high + 1 + Math.floor(Math.random() * (65_535 - high));
    if (await bindable(port)) return port;
  }
  return new Promise((res) => {
    const s = createNetServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

function startGateway(): ChildProcess {
  const child = spawn(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", resolve(here, "../src/main.ts")], {
    cwd: resolve(here, ".."),
    env: { ...process.env, ...gatewayEnv },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return child;
}

/** Answering HTTP, with the partner seeded. */
async function gatewayUp(): Promise<void> {
  await waitFor(async () => {
    const r = await fetch(`http://127.0.0.1:${httpPort}/v23.0/${wabaId}/subscribed_apps?access_token=${token}`).catch(() => undefined);
    return r?.status === 200;
  }, 90_000, 100);
}

async function gatewayRows(query: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query<{ n: string }>(query, params);
  return Number(rows[0]?.n ?? 0);
}

function stopped(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

beforeAll(async () => {
  env = await createTestEnv();
  const keys = await generateSigningKeys(`gw-crash-${randomBytes(3).toString("hex")}`);
  httpPort = await freePort();
  // A slow receiver: each POST answered after 150 ms.
  receiver = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET") {
      const ok = url.searchParams.get("hub.verify_token") === verifyToken;
      res.writeHead(ok ? 200 : 403).end(ok ? url.searchParams.get("hub.challenge") : "no");
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      if (req.headers["x-hub-signature-256"] !== `sha256=${createHmac("sha256", appSecret).update(raw).digest("hex")}`) badSignatures++;
      posts++;
      const body = JSON.parse(raw.toString()) as { entry: { changes: { value: { statuses?: { id: string; recipient_id: string }[] } }[] }[] };
      for (const e of body.entry)
        for (const c of e.changes)
          for (const s of c.value.statuses ?? []) {
            if (firstSeen.has(s.id)) continue;
            firstSeen.set(s.id, firstSeen.size);
            const n = Number(s.id.replace("wamid.crash", ""));
            const conv = `conv-${n % CONVERSATIONS}`;
            orderByConversation.set(conv, [...(orderByConversation.get(conv) ?? []), n]);
          }
      setTimeout(() => res.writeHead(200).end("ok"), 150);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  gatewayEnv = env.env({
    GATEWAY_SIGNING_KEY: JSON.stringify(keys.privateJwk),
    MESSAGING_ADDRESS: "127.0.0.1:1",
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: String(httpPort),
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    // Small POSTs, two at a time, against a slow receiver: ~1,000 notifications stay pending for seconds.
    WEBHOOK_MAX_BATCH: "5",
    WEBHOOK_MAX_IN_FLIGHT: "2",
    WEBHOOK_TIMEOUT_MS: "2000",
    WEBHOOK_RETRY_BASE_MS: "100",
    WEBHOOK_RETRY_MAX_MS: "1000",
    WEBHOOK_POLL_MS: "100",
    GATEWAY_SEED: JSON.stringify([{ id: "crash-partner", name: "Crash BSP", appSecret, verifyToken, tokenSha256: createHash("sha256").update(token).digest("hex"), businesses: [{ businessId, wabaId }] }]),
  });
  db = createPool({ url: env.databaseUrl, schema: "gateway", max: 1 });
  gateway = startGateway();
  // Its consumers create the streams; then directory's event for the number.
  await gatewayUp();
  const nc = await env.nats();
  const business = BusinessSnapshot.fromPartial({ businessId, displayName: "Crash Co", country: "DE", phoneNumbers: [{ phoneNumberId, e164: "+493000000077", displayName: "" }], version: "1" });
  const eventId = randomUUID();
  await nc.jetstream().publish(`${env.natsPrefix}kontor.directory.business.registered.v1`, BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId }, business }).finish(), { msgID: eventId });
  await waitFor(() => gatewayRows("SELECT count(*) AS n FROM business_number WHERE phone_number_id = $1", [phoneNumberId]), 60_000, 100);
  const port = (receiver.address() as { port: number }).port;
  const sub = await fetch(`http://127.0.0.1:${httpPort}/v23.0/${wabaId}/subscribed_apps`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ override_callback_uri: `http://127.0.0.1:${port}/hook`, verify_token: verifyToken }),
  });
  expect(sub.status, await sub.text()).toBe(200);
}, 120_000);

afterAll(async () => {
  if (gateway) {
    gateway.kill("SIGKILL");
    await stopped(gateway);
  }
  await db?.end();
  receiver?.closeAllConnections();
  receiver?.close();
  await env?.cleanup();
});

describe("a gateway killed with webhooks pending", () => {
  it("when it is SIGKILLed mid-delivery and restarted, then every notification arrives, in order per conversation", async () => {
    const js = (await env.nats()).jetstream();
    for (let n = 0; n < EVENTS; n++) {
      const eventId = randomUUID();
      const e = MessageStatusChanged.fromPartial({
        meta: { eventId, occurredAt: new Date(), businessId },
        messageId: `wamid.crash${n}`,
        conversationId: `conv-${n % CONVERSATIONS}`,
        sender: { kind: { $case: "phoneNumberId", value: phoneNumberId } },
        status: MessageStatus.MESSAGE_STATUS_DELIVERED,
        phoneNumberId,
        customerId: `c-${n % CONVERSATIONS}`,
        customerE164: `+4917000000${String(n % CONVERSATIONS).padStart(2, "0")}`,
      });
      await js.publish(`${env.natsPrefix}kontor.messaging.message.status.v1`, MessageStatusChanged.encode(e).finish(), { msgID: eventId });
    }
    // Kill it once deliveries are under way and most are still pending.
    await waitFor(() => firstSeen.size >= 20, 60_000, 10);
    gateway!.kill("SIGKILL");
    await stopped(gateway!);
    // Pending: queued and not delivered, or not even queued yet (still in JetStream).
    const queued = await gatewayRows("SELECT count(*) AS n FROM webhook_delivery WHERE waba_id = $1", [wabaId]);
    const undelivered = await gatewayRows("SELECT count(*) AS n FROM webhook_delivery WHERE waba_id = $1 AND status <> 'delivered'", [wabaId]);
    expect(undelivered + (EVENTS - queued)).toBeGreaterThan(EVENTS / 2);

    gateway = startGateway();
    await gatewayUp();
    await waitFor(() => firstSeen.size >= EVENTS, 150_000, 100);

    for (let n = 0; n < EVENTS; n++) expect(firstSeen.has(`wamid.crash${n}`), `wamid.crash${n}`).toBe(true);
    for (const [conv, order] of orderByConversation) expect(order, conv).toEqual([...order].sort((a, b) => a - b));
    expect(badSignatures).toBe(0);
    expect(posts).toBeGreaterThan(1);
  }, 300_000);
});

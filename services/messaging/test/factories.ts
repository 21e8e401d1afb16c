import { randomBytes, randomUUID } from "node:crypto";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { BusinessRegistered, BusinessVerificationRevoked, BusinessVerified } from "@kontor/proto/directory/v1/events";
import { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import type { Content, Participant } from "@kontor/proto/messaging/v1/message";
import { type InboxEvent, MessagingServiceClient, type SendMessageRequest, type StreamInboxResponse } from "@kontor/proto/messaging/v1/messaging_service";
import type { TestEnv } from "@kontor/testkit/env";
import { authMetadata, clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";

export const masterKey = () => randomBytes(32).toString("base64");

/**
 * Config of tests about routing, storage and delivery: the policy rules
 * (windows, templates, limits) have tests of their own (policy.int.test.ts),
 * and here a business messages customers that never wrote to it.
 */
export const ROUTING_ONLY = { MESSAGING_POLICY: "off" } as const;

export const customer = (id: string): Participant => ({ kind: { $case: "customerId", value: id } });
export const number = (id: string): Participant => ({ kind: { $case: "phoneNumberId", value: id } });
export const text = (body: string): Content => ({ kind: { $case: "text", value: { body, previewUrl: false } } });

let n = 0;
export const uid = (p: string) => `${p}${++n}${randomBytes(3).toString("hex")}`;
export const e164 = () => `+4915${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;

export function snapshot(businessId: string, numbers: { phoneNumberId: string; e164: string; displayName?: string }[], extra: { verified?: boolean; version?: number } = {}) {
  // fromPartial: directory adds snapshot fields over time; defaults fill what this test does not care about.
  return BusinessSnapshot.fromPartial({
    businessId,
    displayName: `Biz ${businessId}`,
    category: "retail.pottery",
    country: "DE",
    phoneNumbers: numbers.map((x) => ({ phoneNumberId: x.phoneNumberId, e164: x.e164, displayName: x.displayName ?? "" })),
    hours: undefined,
    verified: extra.verified ?? false,
    verifiedName: extra.verified ? `Biz ${businessId}` : "",
    profilePictureUrl: "",
    updatedAt: new Date(),
    version: String(extra.version ?? 1),
  });
}

/** Publishes directory's BusinessRegistered the way directory's outbox does, and waits until messaging knows the number. */
export async function registerBusiness(env: TestEnv, app: MessagingApp, businessId: string, phoneNumberId: string, e164Number = e164()): Promise<void> {
  const nc = await env.nats();
  const eventId = randomUUID();
  await nc.jetstream().publish(
    `${env.natsPrefix}kontor.directory.business.registered.v1`,
    BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId }, business: snapshot(businessId, [{ phoneNumberId, e164: e164Number }]) }).finish(),
    { msgID: eventId },
  );
  await waitFor(() => app.directory.get(phoneNumberId), 10_000);
}

/** The service on port 0 (with the given config on top of the test defaults), a client, and one registered business number. */
export async function startWithBusiness(env: TestEnv, businessId: string, phoneNumberId: string, config: Record<string, string> = {}) {
  const app = await createMessaging(loadConfig(env.env({ MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", ...config })));
  const { port, metricsPort } = await app.start();
  const client = clientFor(MessagingServiceClient, port);
  await registerBusiness(env, app, businessId, phoneNumberId);
  return { app, client, port, metricsPort, bizToken: await env.token({ kind: "business", businessId }) };
}

export async function verifyBusiness(env: TestEnv, businessId: string, phoneNumberId: string, e164Number: string, version: number): Promise<void> {
  const nc = await env.nats();
  const eventId = randomUUID();
  await nc.jetstream().publish(
    `${env.natsPrefix}kontor.directory.business.verified.v1`,
    BusinessVerified.encode({
      meta: { eventId, occurredAt: new Date(), businessId },
      business: snapshot(businessId, [{ phoneNumberId, e164: e164Number }], { verified: true, version }),
      verifiedName: `Biz ${businessId}`,
    }).finish(),
    { msgID: eventId },
  );
}

export async function revokeVerification(env: TestEnv, businessId: string, phoneNumberId: string, e164Number: string, version: number): Promise<void> {
  const nc = await env.nats();
  const eventId = randomUUID();
  await nc.jetstream().publish(
    `${env.natsPrefix}kontor.directory.business.verification_revoked.v1`,
    BusinessVerificationRevoked.encode({
      meta: { eventId, occurredAt: new Date(), businessId },
      business: snapshot(businessId, [{ phoneNumberId, e164: e164Number }], { verified: false, version }),
      reason: "test",
    }).finish(),
    { msgID: eventId },
  );
}

export async function registerCustomer(client: MessagingServiceClient, serviceToken: string, id: string, number = e164(), name = "Ana"): Promise<string> {
  await unaryCall(client.upsertCustomer.bind(client), { customerId: id, e164: number, profileName: name, settings: undefined }, { token: serviceToken });
  return number;
}

export function sendReq(sender: Participant, recipient: Participant, content: Content, over: Partial<SendMessageRequest> = {}): SendMessageRequest {
  return { sender, recipient, to: "", clientMessageId: uid("cm"), content, context: undefined, bizOpaqueCallbackData: "", referral: undefined, ...over };
}

/** An open StreamInbox that records everything it receives. */
export class Inbox {
  readonly events: InboxEvent[] = [];
  readonly call: ClientReadableStream<StreamInboxResponse>;
  error: Error | undefined;
  ended = false;

  constructor(client: MessagingServiceClient, token: string, participant: Participant, cursor = "") {
    this.call = client.streamInbox({ participant, resumeCursor: cursor }, authMetadata(token));
    this.call.on("data", (r: StreamInboxResponse) => this.events.push(...r.events));
    this.call.on("error", (err: Error & { code?: number }) => {
      if (err.code !== 1) this.error = err;
      this.ended = true;
    });
    this.call.on("end", () => {
      this.ended = true;
    });
  }

  messages() {
    return this.events.flatMap((e) => (e.event?.$case === "message" ? [e.event.value] : []));
  }

  statuses() {
    return this.events.flatMap((e) => (e.event?.$case === "status" ? [e.event.value] : []));
  }

  caughtUp(): boolean {
    return this.events.some((e) => e.event?.$case === "caughtUp");
  }

  lastCursor(): string {
    const m = this.messages();
    return m[m.length - 1]?.cursor ?? "";
  }

  async waitForMessages(count: number, timeoutMs = 10_000) {
    await waitFor(() => {
      if (this.error) throw this.error;
      return this.messages().length >= count;
    }, timeoutMs);
    return this.messages();
  }

  /**
   * Waits for the text message `body` and returns everything received so far.
   * As a barrier: a stream delivers in cursor order, so once a marker sent
   * last is in, whatever was sent before it (a gap, a copy, an echo) has shown.
   */
  async waitForText(body: string) {
    await waitFor(() => {
      if (this.error) throw this.error;
      return this.messages().some((m) => m.message?.content?.kind?.$case === "text" && m.message.content.kind.value.body === body);
    });
    return this.messages();
  }

  async waitCaughtUp(timeoutMs = 10_000) {
    await waitFor(() => {
      if (this.error) throw this.error;
      return this.caughtUp();
    }, timeoutMs);
  }

  close(): void {
    this.call.cancel();
  }
}

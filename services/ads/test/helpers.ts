import { BidKind, CampaignObjective, Placement, type AdsServiceClient, type Campaign, type CreateCampaignRequest, type SelectAdsRequest } from "@kontor/proto/ads/v1/ads_service";
import { ConsentChanged, MessageReceived } from "@kontor/proto/messaging/v1/events";
import { ConsentSetting, ConsentSource } from "@kontor/proto/messaging/v1/consent";
import { OrderPlaced } from "@kontor/proto/catalog/v1/events";
import type { TestEnv } from "@kontor/testkit/env";
import { unaryCall, waitFor } from "@kontor/testkit/grpc";
import { domainStream, ensureStream } from "@kontor/service-kit/nats";
import { randomUUID } from "node:crypto";
import { loadConfig } from "../src/config.js";
import { createAds, type AdsOverrides } from "../src/app.js";
import { TOKEN_SECRET, buildCreateCampaign } from "./factories.js";

export const HOUR = 3600_000;
export const DAY = 24 * HOUR;

/** A clock the test moves by hand. */
export function manualClock(startMs: number) {
  let ms = startMs;
  return {
    now: () => new Date(ms),
    get ms() {
      return ms;
    },
    set(v: number) {
      ms = v;
    },
    advance(by: number) {
      ms += by;
    },
  };
}

export function startAds(env: TestEnv, extra: Record<string, string> = {}, overrides: AdsOverrides = {}) {
  return createAds(loadConfig(env.env({ ADS_TOKEN_SECRET: TOKEN_SECRET, ADS_FLUSH_MS: "100", ADS_SETTLE_MS: "200", ...extra })), overrides);
}

/** Creates, submits and approves a campaign whose flight started an hour before `nowMs`. */
export async function activeCampaign(client: AdsServiceClient, owner: string, reviewer: string, nowMs: number, overrides: Partial<CreateCampaignRequest> = {}): Promise<Campaign> {
  const start = new Date(nowMs - HOUR);
  const request = buildCreateCampaign({ flight: { startTime: start, endTime: new Date(nowMs + 30 * DAY) }, ...overrides });
  const { campaign } = await unaryCall(client.createCampaign.bind(client), request, { token: owner });
  await unaryCall(client.submitCampaign.bind(client), { campaignId: campaign!.id }, { token: owner });
  const { campaign: approved } = await unaryCall(client.reviewCampaign.bind(client), { campaignId: campaign!.id, approve: true, reasons: [] }, { token: reviewer });
  return approved!;
}

export const cpm = (amountMinor: string) => ({ kind: BidKind.BID_KIND_CPM, amount: { amountMinor, currency: "EUR" } });
export const cpc = (amountMinor: string) => ({ kind: BidKind.BID_KIND_CPC, amount: { amountMinor, currency: "EUR" } });
export const CTC = CampaignObjective.CAMPAIGN_OBJECTIVE_CLICK_TO_CHAT;

export function selectRequest(overrides: Partial<SelectAdsRequest> = {}): SelectAdsRequest {
  return {
    placement: Placement.PLACEMENT_APP_FEED,
    customerId: "",
    context: { country: "PT", region: "PT-11", language: "pt", age: 30, interests: ["beauty"], query: "" },
    count: 1,
    ...overrides,
  };
}

/** Selects until an ad of `campaignId` comes back (its budget lease arrives after the first ask), or fails after the deadline. */
export async function selectUntil(client: AdsServiceClient, token: string, request: SelectAdsRequest, campaignId: string) {
  return waitFor(async () => {
    const { ads } = await unaryCall(client.selectAds.bind(client), request, { token });
    return ads.find((a) => a.campaignId === campaignId);
  });
}

/** Publishes another domain's event on this test file's streams, as its producer would. */
export async function publish(env: TestEnv, domain: string, subject: string, data: Uint8Array, eventId: string): Promise<void> {
  const nc = await env.nats();
  await ensureStream(await nc.jetstreamManager(), domainStream(env.natsPrefix, domain));
  await nc.jetstream().publish(env.natsPrefix + subject, data, { msgID: eventId });
}

export async function publishPersonalization(env: TestEnv, customerId: string, on: boolean, at: Date): Promise<void> {
  const eventId = randomUUID();
  const data = ConsentChanged.encode({
    meta: { eventId, occurredAt: at, businessId: "" },
    customerId,
    businessId: "",
    setting: ConsentSetting.CONSENT_SETTING_AD_PERSONALIZATION,
    value: on,
    source: ConsentSource.CONSENT_SOURCE_RPC,
    at,
    proof: "",
    messageId: "",
  }).finish();
  await publish(env, "messaging", "kontor.messaging.consent.changed.v1", data, eventId);
}

export async function publishMarketing(env: TestEnv, customerId: string, businessId: string, optedIn: boolean, at: Date): Promise<void> {
  const eventId = randomUUID();
  const data = ConsentChanged.encode({
    meta: { eventId, occurredAt: at, businessId },
    customerId,
    businessId,
    setting: ConsentSetting.CONSENT_SETTING_MARKETING,
    value: optedIn,
    source: ConsentSource.CONSENT_SOURCE_RPC,
    at,
    proof: "form",
    messageId: "",
  }).finish();
  await publish(env, "messaging", "kontor.messaging.consent.changed.v1", data, eventId);
}

export async function publishInbound(env: TestEnv, m: { customerId: string; businessId: string; conversationId: string; at: Date; clickId?: string }): Promise<void> {
  const eventId = randomUUID();
  const data = MessageReceived.encode(MessageReceived.fromPartial({
    meta: { eventId, occurredAt: m.at, businessId: m.businessId },
    message: { id: randomUUID(), conversationId: m.conversationId },
    phoneNumberId: "pn_1",
    customerId: m.customerId,
    type: "text",
    referral: m.clickId ? { sourceUrl: "", sourceId: "", sourceType: "ad", headline: "", body: "", mediaType: "", imageUrl: "", videoUrl: "", thumbnailUrl: "", ctwaClid: m.clickId } : undefined,
    customerE164: "+351900000000",
    customerProfileName: "Ana",
  })).finish();
  await publish(env, "messaging", "kontor.messaging.message.received.v1", data, eventId);
}

export async function publishOrder(env: TestEnv, o: { orderId: string; customerId: string; businessId: string; at: Date; totalMinor: string }): Promise<void> {
  const eventId = randomUUID();
  const data = OrderPlaced.encode(
    OrderPlaced.fromPartial({
      meta: { eventId, occurredAt: o.at, businessId: o.businessId },
      order: { id: o.orderId, businessId: o.businessId, customerId: o.customerId, total: { amountMinor: o.totalMinor, currency: "EUR" }, createdAt: o.at },
    }),
  ).finish();
  await publish(env, "catalog", "kontor.catalog.order.placed.v1", data, eventId);
}

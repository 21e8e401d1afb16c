import { credentials, type Client, type ServiceError } from "@grpc/grpc-js";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { TemplateServiceClient } from "@kontor/proto/messaging/v1/template_service";
import { DirectoryServiceClient } from "@kontor/proto/directory/v1/directory_service";
import { CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { BusinessToolsServiceClient } from "@kontor/proto/messaging/v1/tools_service";
import type { TokenSigner } from "@kontor/service-kit/auth";
import { standardDetails } from "@kontor/service-kit/errors";
import { createClient, unaryCall } from "@kontor/service-kit/grpc-client";
import type { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import type { SendResult } from "@kontor/proto/messaging/v1/messaging_service";
import type { ServiceFailure } from "../domain/graph-error.js";
import { createSendStreams, StreamSendFailed } from "./send-streams.js";

/** Raised for every failed call to a service: the status and its standard details, decoded once. */
export class ServiceCallFailed extends Error {
  constructor(readonly failure: ServiceFailure) {
    super(failure.message);
    this.name = "ServiceCallFailed";
  }
}

export function failureOf(err: unknown): ServiceFailure {
  const e = err as ServiceError;
  const details = typeof e?.code === "number" ? standardDetails(e) : undefined;
  const info = details?.errorInfo;
  const violation = details?.fieldViolations[0];
  const field = info?.metadata.field ?? violation?.field ?? "";
  return {
    grpcCode: typeof e?.code === "number" ? e.code : 13,
    message: details?.message ?? (typeof e?.details === "string" ? e.details : ""),
    reason: info?.reason ?? "",
    cloudApiCode: Number(info?.metadata.cloud_api_code ?? 0) || 0,
    field,
    fieldDescription: violation?.description ?? "",
  };
}

type UnaryMethod<Req, Res> = Parameters<typeof unaryCall<Req, Res>>[0];

/**
 * The services as one partner acting for one business sees them. Every call
 * carries a short-lived partner token the gateway signs for exactly that
 * business, so the services' own tenant checks hold as for a partner that
 * called them directly: one partner never reaches another's businesses.
 */
export interface ServiceClients {
  messaging: MessagingServiceClient;
  /**
   * One send, over the partner-and-business's SendMessageStream (send-streams.ts);
   * fails with ServiceCallFailed as a unary SendMessage would.
   */
  send(request: SendMessageRequest, actingFor: { partnerId: string; businessId: string }): Promise<SendResult | undefined>;
  templates: TemplateServiceClient;
  /** Directory: the business profile (/{phone-number-id}/whatsapp_business_profile). */
  directory: DirectoryServiceClient;
  /** Catalog: commerce settings (/{phone-number-id}/whatsapp_commerce_settings). */
  catalog: CatalogServiceClient;
  /** Messaging's business tools: analytics (the WABA's analytics field, template_analytics). */
  tools: BusinessToolsServiceClient;
  call<Req, Res>(client: Client, method: UnaryMethod<Req, Res>, request: Req, actingFor: { partnerId: string; businessId: string }): Promise<Res>;
  close(): void;
}

/** Tokens live this long; a cached one is replaced a minute before it expires. */
const TOKEN_TTL_S = 300;

export function createServiceClients(options: { directoryAddress?: string; catalogAddress?: string; messagingAddress: string; signer: TokenSigner; timeoutMs: number; channels: number; sends?: "stream" | "unary" }): ServiceClients {
  const messaging = createClient(MessagingServiceClient, options.messagingAddress);
  // Each its own connection (a local subchannel pool): clients with equal options would otherwise share one.
  const senders = Array.from({ length: Math.max(1, options.channels) }, () =>
    new MessagingServiceClient(options.messagingAddress, credentials.createInsecure(), {
      "grpc.keepalive_time_ms": 30_000,
      "grpc.max_receive_message_length": 8 * 1024 * 1024,
      "grpc.enable_channelz": 0,
      "grpc.use_local_subchannel_pool": 1,
    }),
  );
  const templates = createClient(TemplateServiceClient, options.messagingAddress);
  const directory = createClient(DirectoryServiceClient, options.directoryAddress ?? "127.0.0.1:50052");
  const catalog = createClient(CatalogServiceClient, options.catalogAddress ?? "127.0.0.1:50053");
  const tools = createClient(BusinessToolsServiceClient, options.messagingAddress);
  const tokens = new Map<string, { token: string; renewAt: number }>();
  async function tokenFor(partnerId: string, businessId: string): Promise<string> {
    const key = `${partnerId}\u0000${businessId}`;
    const hit = tokens.get(key);
    if (hit && hit.renewAt > Date.now()) return hit.token;
    const token = await options.signer.sign({ kind: "partner", partnerId, businessIds: [businessId] }, { expiresIn: `${TOKEN_TTL_S}s` });
    if (tokens.size > 10_000) tokens.clear();
    tokens.set(key, { token, renewAt: Date.now() + (TOKEN_TTL_S - 60) * 1000 });
    return token;
  }
  const streams = createSendStreams({
    channels: senders,
    // A stream is authenticated when it opens: each gets a fresh token and retires a minute before it expires.
    token: (partnerId, businessId) => options.signer.sign({ kind: "partner", partnerId, businessIds: [businessId] }, { expiresIn: `${TOKEN_TTL_S}s` }),
    timeoutMs: options.timeoutMs,
    maxAgeMs: (TOKEN_TTL_S - 60) * 1000,
  });
  let next = 0;
  return {
    messaging,
    async send(request, actingFor) {
      if (options.sends === "unary") {
        const channel = senders[next++ % senders.length]!;
        const { result } = await this.call(channel, channel.sendMessage, request, actingFor);
        return result;
      }
      try {
        return await streams.send(actingFor, request);
      } catch (err) {
        throw new ServiceCallFailed(err instanceof StreamSendFailed ? err.failure : failureOf(err));
      }
    },
    templates,
    directory,
    catalog,
    tools,
    async call(client, method, request, actingFor) {
      const token = await tokenFor(actingFor.partnerId, actingFor.businessId);
      try {
        return await unaryCall(method.bind(client), request, { token, timeoutMs: options.timeoutMs });
      } catch (err) {
        throw new ServiceCallFailed(failureOf(err));
      }
    },
    close() {
      streams.close();
      messaging.close();
      for (const c of senders) c.close();
      templates.close();
      directory.close();
      catalog.close();
      tools.close();
    },
  };
}

import { z } from "zod";
import { loadConfig as load, serviceConfigSchema } from "@kontor/service-kit/config";

const privateJwk = z.string().refine((value) => {
  try {
    const k = JSON.parse(value) as { kty?: unknown; d?: unknown };
    return k.kty === "OKP" && typeof k.d === "string";
  } catch {
    return false;
  }
}, "must be a private Ed25519 JWK as JSON (its public half in the services' AUTH_PUBLIC_KEYS)");

const url = z.string().refine((value) => value === "" || /^https?:\/\/[^\s]+$/.test(value), "must be an http(s) URL or empty");

export const configSchema = serviceConfigSchema({ grpcPort: 50056, metricsPort: 9466 }, {
  /** Interface of the Cloud API HTTP listener. */
  HTTP_HOST: z.string().min(1).default("0.0.0.0"),
  /** Port of the Cloud API HTTP listener; 0 picks a free one (tests). */
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
  /** The public base URL clients reach the gateway at (paging `next` links); empty: from the request's Host. */
  PUBLIC_URL: url.default(""),
  /** Where messaging serves gRPC (MessagingService and TemplateService). */
  MESSAGING_ADDRESS: z.string().min(1).default("127.0.0.1:50051"),
  /** Where directory serves gRPC (the business profile). */
  DIRECTORY_ADDRESS: z.string().min(1).default("127.0.0.1:50052"),
  /** Where catalog serves gRPC (commerce settings). */
  CATALOG_ADDRESS: z.string().min(1).default("127.0.0.1:50053"),
  /** Connections to messaging that sends are spread over. */
  MESSAGING_CHANNELS: z.coerce.number().int().min(1).max(64).default(4),
  /**
   * How sends reach messaging: "stream" (a long-lived SendMessageStream per partner and business, the default:
   * a third of the CPU of a unary call on both sides) or "unary" (one SendMessage call each, for a proxy in
   * between that does not carry long-lived streams).
   */
  MESSAGING_SENDS: z.enum(["stream", "unary"]).default("stream"),
  /** Signs the short-lived partner tokens the gateway calls the services with. Required. */
  GATEWAY_SIGNING_KEY: privateJwk,
  /** Deadline of a call to a service, ms. */
  CALL_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Largest request body, bytes (bigger: 413 with Graph error 100). */
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  /**
   * Partners to create or update at start, as JSON (the local stack's demo partner):
   * [{"id","name","appSecret","verifyToken","callbackUrl"?,"tokenSha256","scopes":[…],"businesses":[{"businessId","wabaId"}]}].
   */
  GATEWAY_SEED: z.string().default("[]"),
  /** First retry of a failed webhook after this many ms, doubling per attempt … */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).default(1000),
  /** … up to this many ms between attempts. */
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(10).default(900_000),
  /** A webhook not delivered this long after it was queued is dead-lettered (cloud-api.md §3.3: 7 days). */
  WEBHOOK_MAX_AGE_MS: z.coerce.number().int().min(1000).default(7 * 24 * 3600 * 1000),
  /**
   * Delivered and dead-lettered notifications are kept this long after they were queued, ms: the replay window
   * (POST /{waba-id}/webhook_replay copies what is still kept). Pending ones are never deleted.
   */
  WEBHOOK_RETENTION_MS: z.coerce.number().int().min(60_000).default(7 * 24 * 3600 * 1000),
  /** How often one replica deletes what is past retention, ms (0: never). */
  WEBHOOK_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(600_000),
  /** Most notifications one replay copies. */
  WEBHOOK_REPLAY_MAX: z.coerce.number().int().min(1).default(100_000),
  /** A receiver has this long to answer, ms. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** How often the delivery loop looks for due webhooks, ms (it is also woken by new ones). */
  WEBHOOK_POLL_MS: z.coerce.number().int().min(10).default(1000),
  /** Most notifications (envelope entries) in one webhook POST; 1 sends each alone. */
  WEBHOOK_MAX_BATCH: z.coerce.number().int().min(1).max(1000).default(100),
  /** A burst of new notifications is gathered this long before its first POST, ms (0: at once). */
  WEBHOOK_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(5),
  /** Most webhook POSTs in flight at once. */
  WEBHOOK_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1000).default(32),
  /** An accepted access token and a phone-number id are remembered this long, ms: a revoked token or a removed number is refused at most this late. */
  AUTH_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  /** Management calls per partner app and WABA per rolling hour (cloud-api.md §9.6: 5,000 for an active WABA); past it 80007. */
  MANAGEMENT_CALLS_PER_HOUR: z.coerce.number().int().min(1).default(5000),
  /** Template creations per partner app and WABA per rolling hour (cloud-api.md §4.1: 100); past it 80007. The cap on how many a WABA holds (250, 6,000 verified; 2388019) is messaging's. */
  TEMPLATE_CREATIONS_PER_HOUR: z.coerce.number().int().min(1).default(100),
  /** Sends per partner app and phone number per second, also the burst (this replica's count); past it 130429. */
  SENDS_PER_SECOND_PER_NUMBER: z.coerce.number().positive().default(1000),
  /** Where uploaded media bytes live: "local" (a directory, MEDIA_DIR) or "s3" (a bucket, MEDIA_S3_*). */
  MEDIA_STORE: z.enum(["local", "s3"]).default("local"),
  /** The local media store's directory (relative to the working directory). */
  MEDIA_DIR: z.string().min(1).default(".kontor/media"),
  /** The S3 media store's bucket (required with MEDIA_STORE=s3). */
  MEDIA_S3_BUCKET: z.string().default(""),
  /** An S3-compatible server's URL; empty: AWS's for the region. */
  MEDIA_S3_ENDPOINT: url.default(""),
  MEDIA_S3_REGION: z.string().min(1).default("us-east-1"),
  /** Path-style addressing (most S3-compatible servers want it). */
  MEDIA_S3_FORCE_PATH_STYLE: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
  /** Static credentials; empty: the SDK's default chain (environment, workload identity, instance role). */
  MEDIA_S3_ACCESS_KEY_ID: z.string().default(""),
  MEDIA_S3_SECRET_ACCESS_KEY: z.string().default(""),
  /** Prefix of every object key. */
  MEDIA_S3_PREFIX: z.string().default("media/"),
  /** Callback URLs must be https (production); the local stack and tests allow http. */
  WEBHOOK_REQUIRE_HTTPS: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
});

export type Config = z.infer<typeof configSchema>;

/** The only reader of process.env in this service. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  return load(configSchema, env);
}

import { z } from "zod";
import { loadConfig as load, serviceConfigSchema } from "@kontor/service-kit/config";

const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(",")
        .map((v) => v.trim().toLowerCase())
        .filter(Boolean),
    );

export const configSchema = serviceConfigSchema({ grpcPort: 50055, metricsPort: 9465 }, {
  /** Largest page a list RPC returns. */
  MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  /** Signs served ads' tokens (HMAC-SHA256); every replica needs the same one. At least 32 characters. */
  ADS_TOKEN_SECRET: z.string().min(32),
  /** Words no creative may contain (comma-separated, whole words, any case). */
  ADS_BANNED_WORDS: list("casino,gambling,bet,loan shark,guaranteed cure,miracle cure,weapons,firearms"),
  /** Hosts (and subdomains) creatives' images and links may point at besides their landing domain. */
  ADS_ALLOWED_URL_HOSTS: list("cdn.kontor.local,images.kontor.local"),
  /** Landing domains no ad may lead to (and their subdomains). */
  ADS_BLOCKED_LANDING_DOMAINS: list("bit.ly,tinyurl.com,example-phishing.com"),
  /** Ranking units per minor unit of each accepted currency (JSON); campaigns in other currencies are refused. */
  ADS_CURRENCY_RATES: z
    .string()
    .default('{"EUR":1,"USD":0.92,"GBP":1.17,"BRL":0.17,"INR":0.011,"IDR":0.000058,"MXN":0.05}')
    .transform((s, ctx) => {
      try {
        const v = JSON.parse(s) as Record<string, unknown>;
        if (typeof v !== "object" || v === null || Object.values(v).some((r) => typeof r !== "number" || !(r > 0))) throw new Error();
        return v as Record<string, number>;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be a JSON object of currency → positive number" });
        return z.NEVER;
      }
    }),
  /** Lowest eCPM an ad must bid to be served, in ranking units (minor units of the reference currency per 1000 impressions). */
  ADS_RESERVE_ECPM: z.coerce.number().min(0).default(1),
  /** The CTR a new ad is assumed to have, and how many impressions that assumption weighs. */
  ADS_PRIOR_CTR: z.coerce.number().gt(0).lt(1).default(0.01),
  ADS_PRIOR_IMPRESSIONS: z.coerce.number().int().min(1).default(200),
  /** Budget slices per day a replica leases at a time (a larger number: finer pacing, more lease writes). */
  ADS_LEASE_SLICES_PER_DAY: z.coerce.number().int().min(1).max(100_000).default(96),
  /** How far ahead of the even line pacing lets a campaign lease (ms). */
  ADS_PACING_AHEAD_MS: z.coerce.number().int().min(0).max(86_400_000).default(900_000),
  /** Most ads one customer sees in one placement in any 24 hours, all campaigns together (0: no cap). */
  ADS_PLACEMENT_DAILY_CAP: z.coerce.number().int().min(0).default(50),
  /** How often served impressions and their spend are written (ms). */
  ADS_FLUSH_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  /** How often a replica records the spend of the campaign-days it touched into the spend ledger and spend.recorded (ms). */
  ADS_SETTLE_MS: z.coerce.number().int().min(10).max(600_000).default(10_000),
  /** Where click-to-chat links point: <base>/chat/<business>?text=…&ctwa_clid=…. */
  ADS_CHAT_LINK_BASE_URL: z.string().url().default("https://chat.kontor.local"),
  /** Conversions count for the last click within this many days. */
  ADS_ATTRIBUTION_DAYS: z.coerce.number().int().min(1).max(90).default(7),
  /** Most sponsored messages one customer gets in any 7 days, all businesses together. */
  ADS_SPONSORED_WEEKLY_CAP: z.coerce.number().int().min(0).default(2),
  /** Messaging's gRPC address, for sponsored messages; empty: sponsored sends are refused as unavailable. */
  MESSAGING_ADDR: z.string().default(""),
  /** Signs this service's own tokens (service:ads) for calling messaging: a private JWK (EdDSA) whose public half messaging trusts. */
  ADS_SIGNING_KEY: z.string().default(""),
  /** Deadline of a call to messaging (ms). */
  CALL_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
});

export type Config = z.infer<typeof configSchema>;

/** The only reader of process.env in this service. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  return load(configSchema, env);
}

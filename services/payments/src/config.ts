import { z } from "zod";
import { ConfigError, loadConfig as load, serviceConfigSchema } from "@kontor/service-kit/config";
import { parseRateCard } from "./domain/billing.js";

const key32 = z.string().refine((value) => Buffer.from(value, "base64").length === 32 && /^[A-Za-z0-9+/]+={0,2}$/.test(value), "must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)");

const plans = z.string().refine((value) => {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === "object" && parsed !== null && Object.values(parsed).every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 10_000);
  } catch {
    return false;
  }
}, 'must be a JSON object of plan name to basis points 0-10000, e.g. {"starter":290}');

export const configSchema = serviceConfigSchema({ grpcPort: 50054, metricsPort: 9464 }, {
  /** Encrypts linked bank account numbers at rest (AES-256-GCM); base64 of 32 bytes. Unset: linking is refused. */
  BANK_DATA_KEY: key32.optional(),
  /** The bank rail; "sandbox" is the built-in deterministic bank. */
  BANK_RAIL: z.enum(["sandbox"]).default("sandbox"),
  /** Shared secret the rail signs its callbacks with (HMAC-SHA256). */
  BANK_WEBHOOK_SECRET: z.string().min(16).default("sandbox-webhook-secret-not-for-production"),
  /** Sandbox bank: delay before each callback (ms), share of orders that fail (0-1), and the seed that decides which. */
  BANK_SANDBOX_LATENCY_MS: z.coerce.number().int().min(0).max(600_000).default(300),
  BANK_SANDBOX_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  BANK_SANDBOX_SEED: z.string().default("kontor"),
  // The HTTP endpoint banks call back (POST /bank/callbacks/<rail>); 0 picks a free port. The sandbox calls it too.
  BANK_CALLBACK_HOST: z.string().default("127.0.0.1"),
  BANK_CALLBACK_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** A payout's reservation is voided if the bank has not answered by then (ms). */
  // A submitted bank order unanswered for this long is submitted again (the bank dedupes by our reference).
  BANK_ASK_AGAIN_AFTER_MS: z.coerce.number().int().min(100).default(10 * 60 * 1000),
  // How often a business's scheduled settlement runs.
  SETTLEMENT_INTERVAL_MS: z.coerce.number().int().min(1000).default(24 * 3600 * 1000),
  PAYOUT_TIMEOUT_MS: z.coerce.number().int().min(1000).default(3 * 24 * 3600 * 1000),
  /** scrypt cost (log2 N) for new payment PINs. */
  PIN_SCRYPT_COST: z.coerce.number().int().min(10).max(20).default(14),
  /** How long a PIN that passed scrypt is then checked by a keyed hash in memory (ms); 0 runs scrypt every time. */
  PIN_VERIFIED_TTL_MS: z.coerce.number().int().min(0).default(5 * 60 * 1000),
  /** How long payments stay locked after the fifth wrong PIN (ms). */
  PIN_COOLING_OFF_MS: z.coerce.number().int().min(1000).default(30 * 60 * 1000),
  /** Collect requests expire after this unless the request says otherwise (ms). */
  COLLECT_TTL_MS: z.coerce.number().int().min(1000).default(24 * 3600 * 1000),
  /** Payment intents fail as EXPIRED if not confirmed within this (ms). */
  PAYMENT_INTENT_TTL_MS: z.coerce.number().int().min(1000).default(30 * 60 * 1000),
  /** Plans and their transaction fee in basis points; DEFAULT_PLAN applies to businesses without one. */
  PLAN_FEE_BPS: plans.default('{"starter":290,"growth":190,"enterprise":90}'),
  DEFAULT_PLAN: z.string().default("starter"),
  /**
   * Messaging prices in minor units of one currency: per billable message
   * (per-message pricing) and per billable conversation (conversation-based),
   * by category, with per-country overrides.
   */
  BILLING_RATES: z
    .string()
    .default('{"currency":"EUR","message":{"marketing":5,"utility":2,"authentication":2,"service":0},"conversation":{"marketing":7,"utility":3,"authentication":3,"service":0},"countries":{}}'),
  /** How often expired pending transfers, payment intents and unsubmitted bank orders are swept (ms). */
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
  /** Most transfers one group commit carries. */
  TRANSFER_BATCH_MAX: z.coerce.number().int().min(1).max(5000).default(512),
  // Group commits in flight at once per replica (each holds a connection while it commits).
  TRANSFER_BATCHES_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(2),
});

export type Config = z.infer<typeof configSchema>;

/** The only reader of process.env in this service. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  const config = load(configSchema, env);
  const plans = JSON.parse(config.PLAN_FEE_BPS) as Record<string, number>;
  if (plans[config.DEFAULT_PLAN] === undefined) throw new ConfigError("DEFAULT_PLAN", "must name a plan of PLAN_FEE_BPS");
  try {
    parseRateCard(config.BILLING_RATES);
  } catch {
    throw new ConfigError("BILLING_RATES", "must be JSON with a currency and message/conversation prices by category");
  }
  return config;
}

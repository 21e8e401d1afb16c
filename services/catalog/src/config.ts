import { z } from "zod";
import { loadConfig as load, serviceConfigSchema } from "@kontor/service-kit/config";

export const configSchema = serviceConfigSchema({ grpcPort: 50053, metricsPort: 9463 }, {
  /** Largest page a list RPC returns. */
  MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  /** Matches a text-only search ranks at most (a broader word pages through the first this many the index finds). */
  SEARCH_RANK_CAP: z.coerce.number().int().min(1).max(1_000_000).default(200),
  /** How long an unpaid order holds its stock, in ms (default 15 minutes). */
  RESERVATION_TTL_MS: z.coerce.number().int().min(1).max(7 * 24 * 3600 * 1000).default(15 * 60 * 1000),
  /** How often each replica looks for expired reservations, in ms; 0 turns the sweeper off on this replica. */
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).max(3600 * 1000).default(5000),
  /** Group commit of new orders: most orders in one transaction. */
  ORDER_BATCH_MAX: z.coerce.number().int().min(1).max(1000).default(128),
  /** Group commit of new orders: order transactions in flight at once per replica. */
  ORDER_BATCH_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(2),
  /** Consume payments' outcomes (payment.succeeded|failed|refunded) to move orders. */
  CONSUME_PAYMENTS: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** Consume customers' messages (message.received): an order message makes an order. */
  CONSUME_CHAT_ORDERS: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
});

export type Config = z.infer<typeof configSchema>;

/** The only reader of process.env in this service. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  return load(configSchema, env);
}

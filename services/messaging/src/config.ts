import { z } from "zod";
import { loadConfig as load, serviceConfigSchema } from "@kontor/service-kit/config";

const masterKey = z.string().refine((value) => {
  try {
    return Buffer.from(value, "base64").length === 32 && /^[A-Za-z0-9+/]+={0,2}$/.test(value);
  } catch {
    return false;
  }
}, "must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)");

export const configSchema = serviceConfigSchema({ grpcPort: 50051, metricsPort: 9461 }, {
  /** Wraps every business's message data key (AES-256-GCM); base64 of 32 bytes. Required. */
  MESSAGE_MASTER_KEY: masterKey,
  /** Largest page a list RPC returns. */
  MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  /**
   * Most messages written by one group commit. Consecutive batches that share a
   * conversation or recipient run one after the other (row locks held to
   * COMMIT), so under load bigger batches carry more per lock hand-over
   * (BENCHMARKS.md: 2,000 streamed ~30% more than 500).
   */
  SEND_BATCH_MAX: z.coerce.number().int().min(1).max(5000).default(2000),
  /** Group-commit batches in flight at once; the next takes its locks only after the previous holds its own. */
  SEND_PIPELINE: z.coerce.number().int().min(1).max(8).default(2),
  /**
   * message.status events: "per_commit" packs a group commit's (or a
   * receipt's) statuses into one event per business number, each status
   * keeping its own id (EVENTS.md); "per_message" publishes one event each,
   * for consumers outside Kontor that read only the single form.
   */
  STATUS_EVENTS: z.enum(["per_commit", "per_message"]).default("per_commit"),
  /**
   * "handoff": each group commit's events go to a relay in memory right after COMMIT (the row,
   * in send_outbox, is only for recovery); "table": into the kit's outbox with a NOTIFY, read back
   * by the runtime's relay (the A/B baseline).
   */
  SEND_EVENTS: z.enum(["handoff", "table"]).default("handoff"),
  /**
   * "one_round_trip": business sends to conversations this replica remembers commit in one round
   * trip (the insert moves the conversation numbers it expects; a stale one falls back);
   * "two_round_trips": every batch upserts its conversations first (the A/B baseline).
   */
  SEND_COMMIT: z.enum(["one_round_trip", "two_round_trips"]).default("one_round_trip"),
  /** Sends queued in one replica before new ones are refused with RESOURCE_EXHAUSTED. */
  SEND_QUEUE_MAX: z.coerce.number().int().min(100).default(50_000),
  /** How often a replica checks connected inboxes for messages whose live publish was lost (ms). */
  INBOX_SWEEP_MS: z.coerce.number().int().min(100).default(2000),
  /** How often a replica announces which participants' shards it streams (live delivery's interest, events/live.ts), ms. */
  LIVE_INTEREST_MS: z.coerce.number().int().min(50).default(2000),
  /** "1" prints group-commit statement timings to stderr every 2 s (benchmarks, diagnosis); "pg" also has PostgreSQL log each writer statement's duration. */
  MESSAGING_TRACE_WRITER: z.enum(["0", "1", "pg"]).default("0"),
  /** How often business numbers are re-read from the table (other replicas' consumer updates), ms. */
  DIRECTORY_REFRESH_MS: z.coerce.number().int().min(100).default(2000),
  /** Rows per store query of ExportCustomerData: the most of a customer's history held in memory at once. */
  EXPORT_PAGE_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** Templates per business, each language counted (cloud-api.md §4.3: 250; 6,000 when verified). */
  TEMPLATE_LIMIT: z.coerce.number().int().min(1).default(250),
  TEMPLATE_LIMIT_VERIFIED: z.coerce.number().int().min(1).default(6000),
  /**
   * "enforce" applies the policy rules on the send path (README "Policy on the send path");
   * "off" routes every send without them (benchmarks measure the rules' cost against it).
   */
  MESSAGING_POLICY: z.enum(["enforce", "off"]).default("enforce"),
  /** How often a replica applies quality (template pauses) and steps tiers up (ms). */
  POLICY_EVALUATION_MS: z.coerce.number().int().min(100).default(60_000),
  /** "on": this replica takes part in counting analytics from the events (a consumer shared by the replicas). */
  MESSAGING_ANALYTICS: z.enum(["on", "off"]).default("on"),
  /**
   * How often analytics reads what the stream gathered, in one burst (ms; 0: each event as it is
   * stored). Counts lag by up to this; nats-server is woken once a burst instead of per event.
   */
  ANALYTICS_POLL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  /** Broadcast recipients one replica claims per pass of its sender, and how often it passes (ms). */
  BROADCAST_BATCH: z.coerce.number().int().min(1).max(5000).default(200),
  BROADCAST_INTERVAL_MS: z.coerce.number().int().min(10).default(200),
  BROADCAST_PASSES: z.coerce.number().int().min(1).max(8).default(2),
  /** Pricing model of the billing events: PMP (per-message, the Cloud API's since July 2025) or CBP (conversation-based). */
  PRICING_MODEL: z.enum(["PMP", "CBP"]).default("PMP"),
  /** Messages per second per business number (cloud-api.md §9.3: 80; 1,000 after the upgrade), shared by the replicas. */
  THROUGHPUT_PER_SECOND: z.coerce.number().positive().default(80),
  /** Replicas serving sends behind one address: each enforces its share of a number's throughput. */
  MESSAGING_REPLICAS: z.coerce.number().int().min(1).default(1),
  /** Pair rate business number → customer (§9.4): one message per this many ms … */
  PAIR_INTERVAL_MS: z.coerce.number().positive().default(6000),
  /** … with bursts of up to this many messages within one interval. */
  PAIR_BURST_MAX: z.coerce.number().int().min(1).default(45),
  /**
   * Opt-out / opt-in keywords per language over the defaults (domain/policy/consent.ts), as JSON:
   * {"de":{"optOut":["stopp"],"optIn":["start"]}}; a language given replaces its defaults.
   */
  CONSENT_KEYWORDS: z
    .string()
    .default("{}")
    .transform((value, ctx) => {
      try {
        return z.record(z.string(), z.object({ optOut: z.array(z.string()), optIn: z.array(z.string()) })).parse(JSON.parse(value));
      } catch {
        ctx.addIssue({ code: "custom", message: 'must be JSON like {"de":{"optOut":["stopp"],"optIn":["start"]}}' });
        return z.NEVER;
      }
    }),
});

export type Config = z.infer<typeof configSchema>;

/** The only reader of process.env in this service. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  return load(configSchema, env);
}

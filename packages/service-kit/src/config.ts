import { z } from "zod";

/**
 * Thrown when the environment does not satisfy a service's schema. The
 * message names the variable and what is wrong, never its value, so main.ts
 * can print it as one line and exit non-zero.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

const postgresUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === "postgres:" || url.protocol === "postgresql:") && url.hostname !== "";
  } catch {
    return false;
  }
}, "must be a postgres:// URL, e.g. postgres://user@127.0.0.1:5432/kontor");

const natsUrl = z.string().refine((value) => {
  return value.split(",").every((part) => {
    try {
      const url = new URL(part.includes("://") ? part : `nats://${part}`);
      return ["nats:", "tls:", "ws:", "wss:"].includes(url.protocol) && url.hostname !== "";
    } catch {
      return false;
    }
  });
}, "must be a nats:// URL (comma-separated for a cluster)");

const port = z.coerce.number().int().min(0, "must be a port number 0-65535").max(65535, "must be a port number 0-65535");

/** Variables every Kontor service reads. Services extend this schema with their own keys. */
export const baseConfigShape = {
  /** PostgreSQL connection URL; the service keeps its tables in its own schema. */
  DATABASE_URL: postgresUrl,
  /** Schema owned by this service (defaults to the service name). */
  DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier").optional(),
  /** Upper bound of the pg connection pool. */
  DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /** NATS server URL(s). */
  NATS_URL: natsUrl.default("nats://127.0.0.1:4222"),
  /** Prefix for every NATS subject and stream (test isolation, shared brokers); empty in production. */
  NATS_PREFIX: z
    .string()
    .regex(/^([a-z0-9_-]+\.)?$/i, "must be empty or one token followed by a dot, e.g. 't42.'")
    .default(""),
  /** Interface the gRPC server binds to. */
  GRPC_HOST: z.string().min(1).default("0.0.0.0"),
  /** gRPC port; 0 picks a free one (tests). */
  GRPC_PORT: port,
  /** HTTP port for /metrics and /healthz; 0 picks a free one. */
  METRICS_PORT: port,
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Public key(s) that verify principal tokens: a JWK or a JSON array of JWKs (Ed25519, "OKP"). */
  AUTH_PUBLIC_KEYS: z.string().refine((value) => {
    try {
      const parsed: unknown = JSON.parse(value);
      const keys = Array.isArray(parsed) ? parsed : [parsed];
      return keys.length > 0 && keys.every((k) => typeof k === "object" && k !== null && (k as { kty?: unknown }).kty === "OKP");
    } catch {
      return false;
    }
  }, "must be an Ed25519 JWK (or a JSON array of them) as JSON"),
  /** Grace period for draining calls on SIGTERM, in ms. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /**
   * The whole stop (drain, stop hooks, relay, NATS, pool) gives up after this
   * many ms and the process exits 1, so a stuck dependency cannot keep a
   * stopping replica alive. Kubernetes' default termination grace period.
   */
  SHUTDOWN_LIMIT_MS: z.coerce.number().int().min(0).default(30_000),
};

export type BaseConfig = {
  DATABASE_URL: string;
  DB_SCHEMA?: string | undefined;
  DB_POOL_MAX: number;
  NATS_URL: string;
  NATS_PREFIX: string;
  GRPC_HOST: string;
  GRPC_PORT: number;
  METRICS_PORT: number;
  LOG_LEVEL: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  AUTH_PUBLIC_KEYS: string;
  SHUTDOWN_GRACE_MS: number;
  SHUTDOWN_LIMIT_MS: number;
};

/**
 * Parses the environment with a zod object schema and returns a frozen config.
 * The first problem becomes a ConfigError naming the variable.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.infer<S>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = String(issue?.path[0] ?? "environment");
    const problem = issue?.code === "invalid_type" && env[variable] === undefined ? "is required" : (issue?.message ?? "is invalid");
    throw new ConfigError(variable, problem);
  }
  return Object.freeze(result.data) as Readonly<z.infer<S>>;
}

/** Builds a service's schema from the base keys with per-service defaults and extra keys. */
export function serviceConfigSchema<E extends z.ZodRawShape>(defaults: { grpcPort: number; metricsPort: number }, extra: E) {
  return z.object({
    ...baseConfigShape,
    GRPC_PORT: port.default(defaults.grpcPort),
    METRICS_PORT: port.default(defaults.metricsPort),
    ...extra,
  });
}

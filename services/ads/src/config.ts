import { z } from "zod";
import { loadConfig as load, serviceConfigSchema } from "@kontor/service-kit/config";

export const configSchema = serviceConfigSchema({ grpcPort: 50055, metricsPort: 9465 }, {
  /** Largest page a list RPC returns. */
  MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
});

export type Config = z.infer<typeof configSchema>;

/** The only reader of process.env in this service. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  return load(configSchema, env);
}

import type { z } from "zod";
import { loadConfig as load, serviceConfigSchema } from "@kontor/service-kit/config";

export const configSchema = serviceConfigSchema({ grpcPort: 50054, metricsPort: 9464 }, {});

export type Config = z.infer<typeof configSchema>;

/** The only reader of process.env in this service. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  return load(configSchema, env);
}

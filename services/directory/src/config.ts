import { z } from "zod";
import { loadConfig as load, serviceConfigSchema } from "@kontor/service-kit/config";

export const configSchema = serviceConfigSchema({ grpcPort: 50052, metricsPort: 9462 }, {
  /** Largest page a list or search RPC returns. */
  MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  /** Public base URL of chat links: <base>/c/<code>. */
  CHAT_LINK_BASE_URL: z
    .string()
    .refine((v) => {
      try {
        return ["http:", "https:"].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, "must be an http(s) URL")
    .default("http://127.0.0.1:8080"),
  /** Count inbound messages (kontor.messaging.message.received.v1) into popularity. */
  POPULARITY_FROM_MESSAGING: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
});

export type Config = z.infer<typeof configSchema>;

/** The only reader of process.env in this service. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  return load(configSchema, env);
}

import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, loadConfig, serviceConfigSchema } from "./config.js";

const schema = serviceConfigSchema({ grpcPort: 50099, metricsPort: 9499 }, { EXTRA: z.string().default("x") });
const jwk = JSON.stringify({ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" });
const good = { DATABASE_URL: "postgres://u@127.0.0.1:5432/db", AUTH_PUBLIC_KEYS: jwk };

function problem(env: Record<string, string>): ConfigError {
  try {
    loadConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("when the environment is valid, then defaults fill the rest and the result is frozen", () => {
    const config = loadConfig(schema, good);
    expect(config.GRPC_PORT).toBe(50099);
    expect(config.NATS_URL).toBe("nats://127.0.0.1:4222");
    expect(config.EXTRA).toBe("x");
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("when DATABASE_URL is nonsense, then the error names DATABASE_URL and not its value", () => {
    const err = problem({ ...good, DATABASE_URL: "nonsense" });
    expect(err.variable).toBe("DATABASE_URL");
    expect(err.message).toMatch(/^invalid configuration: DATABASE_URL must be a postgres:\/\/ URL/);
    expect(err.message).not.toContain("nonsense");
  });

  it("when a required variable is missing, then it says so by name", () => {
    const err = problem({ DATABASE_URL: good.DATABASE_URL });
    expect(err.message).toBe("invalid configuration: AUTH_PUBLIC_KEYS is required");
  });

  it("when a port or prefix is malformed, then that variable is named", () => {
    expect(problem({ ...good, GRPC_PORT: "70000" }).variable).toBe("GRPC_PORT");
    expect(problem({ ...good, NATS_PREFIX: "a b" }).variable).toBe("NATS_PREFIX");
    expect(problem({ ...good, NATS_URL: "http://x" }).variable).toBe("NATS_URL");
  });
});

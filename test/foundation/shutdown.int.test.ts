import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, serviceConfigSchema } from "@kontor/service-kit/config";
import { createLogger } from "@kontor/service-kit/log";
import { createRuntime } from "@kontor/service-kit/runtime";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";

// The runtime's stop gives up after SHUTDOWN_LIMIT_MS, whatever is stuck.

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.cleanup();
});

const schema = serviceConfigSchema({ grpcPort: 0, metricsPort: 0 }, {});

describe("runtime stop", () => {
  it("when a stop hook never finishes, then stop() rejects after SHUTDOWN_LIMIT_MS, naming the limit", async () => {
    const config = loadConfig(schema, env.env({ GRPC_PORT: "0", METRICS_PORT: "0", SHUTDOWN_LIMIT_MS: "400" }));
    const stuck = await createRuntime({ name: "probe_stuck", domain: "probe", config, migrations: {}, access: {}, log: createLogger("probe", "silent") });
    await stuck.start();
    stuck.onStop(() => new Promise<void>(() => undefined));
    // Without the limit stop() would wait for the hook forever: the test's own timeout is the bound, not a duration asserted here.
    await expect(stuck.stop()).rejects.toThrow("probe_stuck did not stop within SHUTDOWN_LIMIT_MS (400 ms)");
    // What the stuck hook kept from stopping (a process would exit here).
    await stuck.outbox.stop();
    await stuck.nc.close();
    await stuck.database.db.destroy();
  });
});

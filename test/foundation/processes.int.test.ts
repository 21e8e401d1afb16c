import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKeys } from "@kontor/service-kit/auth";
import { checkHealth } from "@kontor/service-kit/grpc-client";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";

const root = fileURLToPath(new URL("../../", import.meta.url));
const services = ["messaging", "directory", "catalog", "payments", "ads", "gateway"] as const;

let env: TestEnv;
/** The gateway signs its calls to the services with a key of its own. */
let gatewayKey: string;

beforeAll(async () => {
  env = await createTestEnv();
  gatewayKey = JSON.stringify((await generateSigningKeys("gw-processes")).privateJwk);
});

afterAll(async () => {
  await env?.cleanup();
});

interface Started {
  port: number;
  stop(): Promise<number | null>;
}

/** Runs a service's real entry point (main.ts) as its own process, the way npm start and Kubernetes do. */
function runService(name: string, extraEnv: Record<string, string>): { child: ReturnType<typeof spawn>; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", `services/${name}/src/main.ts`], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function serviceEnv(): Record<string, string> {
  return env.env({ LOG_LEVEL: "info", MESSAGE_MASTER_KEY: randomBytes(32).toString("base64"), GATEWAY_SIGNING_KEY: gatewayKey, ADS_TOKEN_SECRET: randomBytes(32).toString("base64"), HTTP_PORT: "0" });
}

async function start(name: string): Promise<Started> {
  const proc = runService(name, serviceEnv());
  const deadline = Date.now() + 60_000;
  for (;;) {
    const line = proc.stdout().split("\n").find((l) => l.includes(`"${name} serving"`));
    if (line) {
      const port = (JSON.parse(line) as { port: number }).port;
      return {
        port,
        async stop() {
          proc.child.kill("SIGTERM");
          return proc.exited;
        },
      };
    }
    if (proc.child.exitCode !== null) throw new Error(`${name} exited during start: ${proc.stderr()}`);
    if (Date.now() > deadline) throw new Error(`${name} did not start within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("every service process", () => {
  it("when started from its entry point, then it answers grpc.health.v1 SERVING, and SIGTERM exits 0", async () => {
    const started = await Promise.all(services.map(async (name) => [name, await start(name)] as const));
    try {
      for (const [name, s] of started) {
        expect(await checkHealth(`127.0.0.1:${s.port}`), name).toBe("SERVING");
      }
    } finally {
      const codes = await Promise.all(started.map(([, s]) => s.stop()));
      expect(codes).toEqual(services.map(() => 0));
    }
  });

  it.each(services)("when %s gets DATABASE_URL=nonsense, then it exits non-zero with one line naming the variable", async (name) => {
    const proc = runService(name, { ...serviceEnv(), DATABASE_URL: "nonsense" });
    const code = await proc.exited;
    expect(code).not.toBe(0);
    const lines = proc.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("DATABASE_URL");
    expect(lines[0]).not.toContain("nonsense");
    expect(proc.stdout()).toBe("");
  });

  it("when the database cannot be reached, then it exits non-zero with one clear line", async () => {
    const proc = runService("catalog", { ...serviceEnv(), DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" });
    const code = await proc.exited;
    expect(code).not.toBe(0);
    const lines = proc.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/catalog: failed to start: cannot migrate the database at DATABASE_URL/);
  });
});

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { checkHealth } from "@kontor/service-kit/grpc-client";
import { gatewaySeed, type Secrets } from "./credentials.js";
import { repoRoot } from "./paths.js";
import { exited, sleep, stopChild } from "./process.js";

export interface ServiceSpec {
  name: string;
  grpcPort: number;
  metricsPort: number;
  /** Variables only this service reads (beyond the kit's base config). */
  env?: (secrets: Secrets, run: RunInfo) => Record<string, string>;
  /** An HTTP port it serves besides gRPC and metrics (the gateway's Cloud API). */
  httpPort?: number;
  /** Node/V8 flags the service runs with (its package.json start script has the same). */
  nodeArgs?: readonly string[];
}

/** What one `npm start` decided that services may need. */
export interface RunInfo {
  /** The demo partner's token for this run (the gateway registers its hash). */
  partnerToken: string;
}

/** Shifts every service port, so a second stack (another checkout, the smoke test) can run beside the first. */
const PORT_OFFSET = (() => {
  const value = Number(process.env.KONTOR_PORT_OFFSET ?? 0);
  // At most what keeps the highest gRPC port (50056) a port: 15479.
  if (!Number.isInteger(value) || value < 0 || value > 15_479) throw new Error("KONTOR_PORT_OFFSET must be a whole number from 0 to 15479");
  return value;
})();

/**
 * Every service the local stack knows, with its default ports (README "Ports").
 * A service is started only when its services/<name>/src/main.ts exists.
 * Adding a service: docs/adding-a-service.md.
 */
export const SERVICES: readonly ServiceSpec[] = ([
  // A bigger young generation: the send path keeps thousands of sends in flight (messaging's BENCHMARKS.md).
  { name: "messaging", grpcPort: 50051, metricsPort: 9461, env: (s: Secrets) => ({ MESSAGE_MASTER_KEY: s.messageMasterKey }), nodeArgs: ["--max-semi-space-size=64"] },
  { name: "directory", grpcPort: 50052, metricsPort: 9462 },
  { name: "catalog", grpcPort: 50053, metricsPort: 9463 },
  // The bank data key is derived from the stack's own secret, so the linked bank accounts stay readable across restarts.
  { name: "payments", grpcPort: 50054, metricsPort: 9464, env: (s: Secrets) => ({ BANK_DATA_KEY: createHash("sha256").update("kontor-payments-bank-data:").update(s.messageMasterKey).digest("base64") }) },
  // Ad tokens are signed with a key derived from the stack's own secret, so clicks on ads served before a restart still count.
  // Sponsored messages go through messaging, with tokens the stack's own signing key signs (messaging trusts it).
  {
    name: "ads",
    grpcPort: 50055,
    metricsPort: 9465,
    env: (s: Secrets) => ({
      ADS_TOKEN_SECRET: createHash("sha256").update("kontor-ads-token:").update(s.messageMasterKey).digest("base64"),
      ADS_SIGNING_KEY: JSON.stringify(s.signingKey.privateJwk),
      MESSAGING_ADDR: `127.0.0.1:${50051 + PORT_OFFSET}`,
    }),
  },
  // The Cloud API on HTTP 8090; gRPC only for health. It calls messaging, directory and catalog and signs with a key of its own.
  {
    name: "gateway",
    grpcPort: 50056,
    metricsPort: 9466,
    httpPort: 8090,
    env: (s: Secrets, run: RunInfo) => ({
      GATEWAY_SIGNING_KEY: JSON.stringify(s.gatewaySigningKey.privateJwk),
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(8090 + PORT_OFFSET),
      MESSAGING_ADDRESS: `127.0.0.1:${50051 + PORT_OFFSET}`,
      DIRECTORY_ADDRESS: `127.0.0.1:${50052 + PORT_OFFSET}`,
      CATALOG_ADDRESS: `127.0.0.1:${50053 + PORT_OFFSET}`,
      GATEWAY_SEED: gatewaySeed(s, run.partnerToken),
    }),
  },
] satisfies ServiceSpec[]).map((spec) => ({
  ...spec,
  grpcPort: spec.grpcPort + PORT_OFFSET,
  metricsPort: spec.metricsPort + PORT_OFFSET,
  ...(spec.httpPort ? { httpPort: spec.httpPort + PORT_OFFSET } : {}),
}));

export const serviceDir = (name: string) => join(repoRoot, "services", name);
export const mainFile = (name: string) => join(serviceDir(name), "src", "main.ts");
export const isPresent = (spec: ServiceSpec) => existsSync(mainFile(spec.name));
export const grpcAddress = (spec: ServiceSpec) => `127.0.0.1:${spec.grpcPort}`;
export const metricsUrl = (spec: ServiceSpec) => `http://127.0.0.1:${spec.metricsPort}/metrics`;
export const httpUrl = (spec: ServiceSpec) => (spec.httpPort ? `http://127.0.0.1:${spec.httpPort}` : undefined);

export class ServiceExited extends Error {
  constructor(
    readonly service: string,
    readonly code: number | string,
    readonly stderr: string[],
  ) {
    super(`${service} exited (${typeof code === "number" ? `code ${code}` : code})`);
  }
}

export interface RunningService {
  spec: ServiceSpec;
  child: ChildProcess;
  /** The last lines it wrote to stderr: shown when it dies. */
  stderrTail: string[];
  exit: Promise<number | string>;
  stop(graceMs: number): Promise<"stopped" | "killed">;
}

const STDERR_TAIL = 40;

/**
 * Runs a service the way its own `npm start` does (node + tsx on the source),
 * in its own process group so that Ctrl-C reaches only start.ts, which then
 * sends one SIGTERM (a second signal makes the kit exit without draining).
 */
export function startService(spec: ServiceSpec, env: Record<string, string>, onLine: (service: string, line: string, stream: "stdout" | "stderr") => void): RunningService {
  const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), "--conditions=@kontor/source", "--import", "tsx", mainFile(spec.name)], {
    cwd: serviceDir(spec.name),
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const stderrTail: string[] = [];
  if (child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on("line", (line) => onLine(spec.name, line, "stdout"));
  if (child.stderr) {
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on("line", (line) => {
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
      onLine(spec.name, line, "stderr");
    });
  }
  return {
    spec,
    child,
    stderrTail,
    exit: exited(child),
    stop: (graceMs) => stopChild(child, "SIGTERM", graceMs),
  };
}

/** Polls grpc.health.v1 until the service says SERVING; throws ServiceExited if it dies first. */
export async function waitServing(service: RunningService, timeoutMs: number, cancelled: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  let dead = false;
  void service.exit.then(() => (dead = true));
  for (;;) {
    if (dead) {
      // Let the last stderr lines arrive before reporting them.
      await sleep(100);
      throw new ServiceExited(service.spec.name, await service.exit, service.stderrTail);
    }
    if (cancelled()) throw new Error("cancelled");
    try {
      last = await checkHealth(grpcAddress(service.spec), "", 1000);
      if (last === "SERVING") return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${service.spec.name} did not report SERVING within ${Math.round(timeoutMs / 1000)} s (last: ${last})`);
    await sleep(200);
  }
}

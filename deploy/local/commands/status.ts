import { parseArgs } from "node:util";
import { checkHealth } from "@kontor/service-kit/grpc-client";
import { readLocalJson } from "../lib/credentials.js";
import { ensureDatabase } from "../lib/postgres.js";
import { useExternalNats } from "../lib/nats.js";
import { paths, shown } from "../lib/paths.js";
import { liveOrchestrator, readRunState } from "../lib/run-state.js";
import { color, table } from "../lib/text.js";
import type { Command } from "./command.js";

async function probe(check: () => Promise<string>): Promise<string> {
  try {
    return await check();
  } catch (err) {
    return `unreachable (${(err as Error).message.split("\n")[0]})`;
  }
}

export const status: Command = {
  name: "status",
  summary: "is the local stack up? checks every service in .kontor/local.json, PostgreSQL and NATS",
  usage: `kontor status [--json]

Reads ${shown(paths.localJson)} (written by \`npm start\`) and asks every service
for its grpc.health.v1 status. Exits 0 when all are SERVING, 1 otherwise.`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { json: { type: "boolean", default: false } }, strict: true });
    const local = readLocalJson();
    const orchestrator = liveOrchestrator(readRunState());
    const checks = await Promise.all([
      ...Object.entries(local.services).map(async ([name, address]) => ({
        name,
        address,
        status: await probe(() => checkHealth(address, "", 1500)),
      })),
      {
        name: "postgres",
        address: local.postgres.url,
        status: await probe(async () => (await ensureDatabase(local.postgres.url, 1500), "SERVING")),
      },
      {
        name: "nats",
        address: local.nats.url,
        status: await probe(async () => {
          const result = await useExternalNats(local.nats.url);
          if ("unreachable" in result) throw new Error(result.unreachable);
          return "SERVING";
        }),
      },
    ]);
    const healthy = checks.every((c) => c.status === "SERVING");
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ healthy, orchestratorPid: orchestrator ?? null, checks }, null, 2)}\n`);
      return healthy ? 0 : 1;
    }
    const paint = (s: string) => (s === "SERVING" ? color.green(s) : color.red(s));
    process.stdout.write(
      [
        orchestrator !== undefined ? `npm start is running (pid ${orchestrator}), started ${local.generatedAt}` : color.yellow("no `npm start` is running from this checkout"),
        "",
        table([[color.bold("component"), color.bold("address"), color.bold("status")], ...checks.map((c) => [c.name, c.address, paint(c.status)])]),
        "",
        healthy ? color.green("all healthy") : color.red("not all healthy"),
        "",
      ].join("\n"),
    );
    return healthy ? 0 : 1;
  },
};

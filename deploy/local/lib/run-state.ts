import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { paths } from "./paths.js";
import { commandLine, isAlive } from "./process.js";

/** Who the running stack started: lets the next `npm start` (and `status`) tell a live stack from a crashed one. */
export interface RunState {
  orchestrator: number;
  startedAt: string;
  postgres?: number;
  nats?: number;
  services: Record<string, number>;
}

export function readRunState(): RunState | undefined {
  if (!existsSync(paths.pidsJson)) return undefined;
  try {
    return JSON.parse(readFileSync(paths.pidsJson, "utf8")) as RunState;
  } catch {
    return undefined;
  }
}

export function writeRunState(state: RunState): void {
  mkdirSync(dirname(paths.pidsJson), { recursive: true });
  writeFileSync(paths.pidsJson, `${JSON.stringify(state, null, 2)}\n`);
}

/** Removes the record, unless it belongs to another (running) stack. */
export function clearRunState(): void {
  if (readRunState()?.orchestrator === process.pid) rmSync(paths.pidsJson, { force: true });
}

/** The pid of a `npm start` that is still running from this checkout, if any. */
export function liveOrchestrator(state: RunState | undefined): number | undefined {
  if (!state || state.orchestrator === process.pid || !isAlive(state.orchestrator)) return undefined;
  const cmd = commandLine(state.orchestrator);
  // Where /proc is missing we cannot tell a recycled pid apart; assume it is ours.
  return cmd === undefined || cmd.includes("deploy/local/start.ts") ? state.orchestrator : undefined;
}

import { spawn, type ChildProcess } from "node:child_process";

/*
 * A service in a process of its own, for tests that kill it (SIGKILL) and
 * start it again: the entry is a TypeScript file run with tsx from the
 * workspace's sources, and it announces its port as the first line of
 * stdout that is JSON ({"port": …}), as the services' bench/server.ts do.
 */

const running = new Set<ChildProcess>();

/** Starts `entry` with `args` and only `env` (and PATH); resolves with the child and the port it announced. */
export function startServiceProcess(entry: string, args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", entry, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "inherit"] });
  running.add(child);
  child.on("exit", () => running.delete(child));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
    child.on("exit", (code) => reject(new Error(`the service exited during start (${code})`)));
  });
}

/** SIGKILLs a started process and waits until it is gone. */
export async function killServiceProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

/** SIGKILLs every process still running (a test file's afterAll). */
export function killServiceProcesses(): void {
  for (const c of running) c.kill("SIGKILL");
}

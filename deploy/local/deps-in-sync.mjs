// Exit 0 when node_modules holds exactly what package-lock.json asks for, 1 otherwise.
// Plain JavaScript on purpose: setup.sh runs it before tsx is installed. Reading
// ~250 small package.json files takes well under a second, so `npm run setup`
// stays fast on a machine that is already set up (npm ci would reinstall everything).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = process.cwd();
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
const problems = [];
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  if (path === "" || !path.includes("node_modules/")) continue;
  const dir = join(root, path);
  if (entry.link) {
    if (!existsSync(dir)) problems.push(`${path} (workspace link) is missing`);
    continue;
  }
  let installed;
  try {
    installed = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
  } catch {
    // Optional packages for other platforms (os/cpu) are legitimately absent.
    if (!entry.optional) problems.push(`${path} is missing`);
    continue;
  }
  if (entry.version && installed !== entry.version) problems.push(`${path} is ${installed}, the lockfile wants ${entry.version}`);
}
if (problems.length > 0) {
  console.log(`node_modules differs from package-lock.json: ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? ` (+${problems.length - 3} more)` : ""}`);
  process.exit(1);
}

// The npm mirror on our build machines lacks other platforms' binary packages
// (404), so `npm install` leaves them out of package-lock.json and `npm ci`
// then refuses the lockfile. This adds their entries (version, os, cpu; no
// tarball) so `npm ci` validates everywhere: each platform installs only its
// own package, and a machine with the full registry fetches it by version.
// Run after any `npm install` that touches turbo or @bufbuild/buf.
import { readFileSync, writeFileSync } from "node:fs";

const platforms = {
  "darwin-64": ["darwin", "x64"],
  "darwin-x64": ["darwin", "x64"],
  "darwin-arm64": ["darwin", "arm64"],
  "linux-armv7": ["linux", "arm"],
  "linux-64": ["linux", "x64"],
  "linux-x64": ["linux", "x64"],
  "linux-arm64": ["linux", "arm64"],
  "windows-64": ["win32", "x64"],
  "windows-arm64": ["win32", "arm64"],
  "win32-x64": ["win32", "x64"],
  "win32-arm64": ["win32", "arm64"],
};

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const at = `node_modules/${name}`;
    if (lock.packages[at]) continue;
    const suffix = name.split("/").pop().replace(/^[a-z]+-(?=(darwin|linux|win32|windows))/, "");
    const platform = Object.entries(platforms).find(([s]) => suffix.endsWith(s));
    if (!platform) continue;
    lock.packages[at] = { version, dev: entry.dev || undefined, optional: true, os: [platform[1][0]], cpu: [platform[1][1]] };
    added++;
    void key;
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: added ${added} platform entries`);

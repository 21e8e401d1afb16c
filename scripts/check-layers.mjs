// Import structure of every workspace's src/: no import cycle between files,
// and the layer direction each service keeps (rpc/ on top; domain/, events/,
// store/ and pb/ never import rpc/). Exits 1 naming each cycle or import found.
// Usage: node scripts/check-layers.mjs
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const roots = ["services", "packages"].flatMap((d) => readdirSync(join(root, d)).map((n) => join(root, d, n, "src"))).filter((p) => existsSync(p));
/** Layers that must not import rpc/ (the transport). */
const BELOW_RPC = ["domain", "events", "store", "pb"];

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Relative imports of a file, resolved to .ts paths (ESM source imports name the .js output). */
function importsOf(file) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, false);
  return importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith("."))
    .map((name) => resolve(dirname(file), name.replace(/\.js$/, ".ts")))
    .filter((path) => existsSync(path));
}

const problems = [];
for (const src of roots) {
  const graph = new Map(files(src).map((f) => [f, importsOf(f)]));
  const rel = (f) => relative(root, f);
  for (const [file, deps] of graph) {
    const layer = relative(src, file).split("/")[0];
    if (!BELOW_RPC.includes(layer)) continue;
    for (const dep of deps) if (relative(src, dep).split("/")[0] === "rpc") problems.push(`layer: ${rel(file)} imports ${rel(dep)}`);
  }
  // Depth-first search; a grey node reached again closes a cycle.
  const state = new Map();
  const stack = [];
  const visit = (file) => {
    state.set(file, "grey");
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === "grey") problems.push(`cycle: ${[...stack.slice(stack.indexOf(dep)), dep].map(rel).join(" -> ")}`);
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, "black");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
}

const checked = roots.map((r) => relative(root, r)).join(", ");
if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`${problems.length} import problem(s) in ${checked}`);
  process.exit(1);
}
console.log(`no import cycle, and nothing below rpc/ imports it: ${checked}`);

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { allocatorEnv, JEMALLOC_PATHS } from "./allocator.js";

describe("allocatorEnv", () => {
  const dir = mkdtempSync(join(tmpdir(), "kontor-alloc-"));
  const lib = join(dir, "libfake.so.2");
  writeFileSync(lib, "");
  const missing = join(dir, "missing.so.2");

  it("when the library is installed and nothing says otherwise, then it is preloaded; when none is installed, then glibc stays", () => {
    expect(allocatorEnv({}, { candidates: [missing, lib], platform: "linux" })).toEqual({ LD_PRELOAD: lib });
    expect(allocatorEnv({ KONTOR_ALLOCATOR: "auto" }, { candidates: [missing, lib], platform: "linux" })).toEqual({ LD_PRELOAD: lib });
    expect(allocatorEnv({}, { candidates: [missing], platform: "linux" })).toEqual({});
  });

  it("when KONTOR_ALLOCATOR is system, LD_PRELOAD is already set or the platform is not Linux, then nothing is preloaded", () => {
    expect(allocatorEnv({}, { candidates: [lib], platform: "darwin" })).toEqual({});
    expect(allocatorEnv({ KONTOR_ALLOCATOR: "system" }, { candidates: [lib], platform: "linux" })).toEqual({});
    expect(allocatorEnv({ LD_PRELOAD: "/opt/other.so" }, { candidates: [lib], platform: "linux" })).toEqual({});
  });

  it("when KONTOR_ALLOCATOR names a library, then that one is preloaded, and a missing or relative one is an error naming the variable", () => {
    expect(allocatorEnv({ KONTOR_ALLOCATOR: lib }, { candidates: [], platform: "linux" })).toEqual({ LD_PRELOAD: lib });
    expect(() => allocatorEnv({ KONTOR_ALLOCATOR: missing }, { candidates: [lib], platform: "linux" })).toThrow(/^KONTOR_ALLOCATOR names .*missing\.so\.2, which does not exist$/);
    expect(() => allocatorEnv({ KONTOR_ALLOCATOR: "jemalloc" }, { candidates: [lib], platform: "linux" })).toThrow(/^KONTOR_ALLOCATOR must be "auto", "system" or an absolute path/);
  });

  it("on this machine, a Node process started with the result runs and has the chosen library mapped (or none, when none is installed)", () => {
    const extra = allocatorEnv({}, { candidates: JEMALLOC_PATHS });
    const run = spawnSync(process.execPath, ["-e", "process.stdout.write(require('fs').readFileSync('/proc/self/maps', 'utf8'))"], {
      env: { PATH: process.env.PATH, ...extra },
      encoding: "utf8",
    });
    expect(run.status).toBe(0);
    if (extra.LD_PRELOAD) expect(run.stdout).toContain(extra.LD_PRELOAD);
    else expect(run.stdout).not.toMatch(/libjemalloc/);
  });
});

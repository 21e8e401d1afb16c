import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { benchKnob, machineBusyUs, pidsNamed, processCpuUs, sumProcessCpuUs } from "./bench.js";

const here = fileURLToPath(new URL(".", import.meta.url));

describe("benchmark knobs", () => {
  afterEach(() => {
    delete process.env.BENCH_PROBE;
  });

  it("when the variable is unset or empty, then the fallback applies; when it is a whole number at the minimum or above, then it is used", () => {
    expect(benchKnob("BENCH_PROBE", 7)).toBe(7);
    process.env.BENCH_PROBE = "";
    expect(benchKnob("BENCH_PROBE", 7)).toBe(7);
    process.env.BENCH_PROBE = "12";
    expect(benchKnob("BENCH_PROBE", 7)).toBe(12);
    process.env.BENCH_PROBE = "0";
    expect(benchKnob("BENCH_PROBE", 7, 0)).toBe(0);
  });

  it("when the variable is not a whole number or below the minimum, then the process stops with one line naming it", () => {
    for (const bad of ["abc", "1.5", "0", "-3"]) {
      const run = spawnSync(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", "-e", `import("./bench.ts").then((b) => b.benchKnob("BENCH_PROBE", 7))`], {
        cwd: here,
        env: { ...process.env, BENCH_PROBE: bad },
        encoding: "utf8",
      });
      expect(run.status).toBe(2);
      expect(run.stderr.trim()).toBe(`bench: BENCH_PROBE must be a whole number of at least 1, got "${bad}"`);
    }
  });
});

describe("process CPU from /proc", () => {
  it("when this process burns CPU, then its own time, the sum over its name's processes and the machine's busy time all grow by about as much", () => {
    const name = readFileSync(`/proc/${process.pid}/comm`, "utf8").trim();
    const own = pidsNamed([name, "no-such-process"]);
    expect(own.get(name)).toContain(process.pid);
    expect(own.get("no-such-process")).toEqual([]);
    const before = processCpuUs(process.pid);
    const machineBefore = machineBusyUs();
    const t0 = process.cpuUsage();
    const spin = Date.now() + 200;
    while (Date.now() < spin); // busy on purpose: 200 ms of CPU
    const used = process.cpuUsage(t0);
    const grown = processCpuUs(process.pid) - before;
    // /proc counts 10 ms ticks; process.cpuUsage() counts µs.
    expect(Math.abs(grown - (used.user + used.system))).toBeLessThanOrEqual(30_000);
    expect(machineBusyUs() - machineBefore).toBeGreaterThanOrEqual(grown - 30_000);
    expect(sumProcessCpuUs([process.pid, 999_999_999])).toBeGreaterThanOrEqual(before + grown - 20_000);
  });
});

import { execFile } from "node:child_process";
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

  // Four node processes with tsx take seconds on a busy host: the timeout only bounds a hang.
  it("when the variable is not a whole number or below the minimum, then the process stops with one line naming it", { timeout: 60_000 }, async () => {
    const runs = await Promise.all(
      ["abc", "1.5", "0", "-3"].map(
        (bad) =>
          new Promise<{ bad: string; code: number | null; stderr: string }>((resolve) => {
            const child = execFile(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", "-e", `import("./bench.ts").then((b) => b.benchKnob("BENCH_PROBE", 7))`], { cwd: here, env: { ...process.env, BENCH_PROBE: bad }, encoding: "utf8" }, (_err, _stdout, stderr) =>
              resolve({ bad, code: child.exitCode, stderr }),
            );
          }),
      ),
    );
    for (const run of runs) {
      expect(run.code, run.bad).toBe(2);
      expect(run.stderr.trim()).toBe(`bench: BENCH_PROBE must be a whole number of at least 1, got "${run.bad}"`);
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
    // Busy on purpose until 300 ms of CPU are used, however long that takes on a shared host:
    // a wall-clock spin gets less CPU the busier the machine, down to too little to tell a broken reading apart.
    const burn = 300_000;
    const cpu = () => {
      const u = process.cpuUsage(t0);
      return u.user + u.system;
    };
    // Mostly user time: asking for the CPU used is a system call, so ask once per chunk of arithmetic.
    let sink = 0;
    while (cpu() < burn) for (let i = 0; i < 100_000; i++) sink += i % 7;
    expect(sink).toBeGreaterThan(0);
    const used = cpu();
    const grown = processCpuUs(process.pid) - before;
    // /proc counts 10 ms ticks (each of user and system rounds down); process.cpuUsage() counts µs.
    expect(grown).toBeGreaterThanOrEqual(burn - 30_000);
    expect(Math.abs(grown - used)).toBeLessThanOrEqual(30_000);
    expect(machineBusyUs() - machineBefore).toBeGreaterThanOrEqual(grown - 30_000);
    expect(sumProcessCpuUs([process.pid, 999_999_999])).toBeGreaterThanOrEqual(before + grown - 20_000);
  });
});

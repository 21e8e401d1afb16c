import { afterAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { createPool } from "./db.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const pools: pg.Pool[] = [];

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

describe("createPool sessionSettings", () => {
  it("when a pool has session settings, then every connection starts with them and keeps its schema's search_path", async () => {
    const pool = createPool({ url, schema: "probe_schema", max: 2, sessionSettings: { jit: "off", max_parallel_workers_per_gather: "0" } });
    pools.push(pool);
    const [a, b] = await Promise.all([pool.connect(), pool.connect()]);
    try {
      for (const client of [a, b]) {
        const { rows } = await client.query<{ jit: string; workers: string; path: string }>(
          "SELECT current_setting('jit') AS jit, current_setting('max_parallel_workers_per_gather') AS workers, current_setting('search_path') AS path",
        );
        expect(rows[0]).toEqual({ jit: "off", workers: "0", path: "probe_schema,public" });
      }
    } finally {
      a.release();
      b.release();
    }
  });

  it("when a setting could smuggle another option, then the pool is refused", () => {
    expect(() => createPool({ url, schema: "probe_schema", sessionSettings: { jit: "off -c role=postgres" } })).toThrow(/invalid session setting/);
    expect(() => createPool({ url, schema: "probe_schema", sessionSettings: { "jit=off -c x": "on" } })).toThrow(/invalid session setting/);
  });
});

describe("createPool idleTimeoutMs", () => {
  const idleAfter = async (idleTimeoutMs: number | undefined) => {
    const pool = createPool({ url, schema: "probe_schema", max: 1, ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) });
    pools.push(pool);
    const first = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    await new Promise((r) => setTimeout(r, 300));
    const open = pool.totalCount;
    const again = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    return { open, sameBackend: again.rows[0]!.pid === first.rows[0]!.pid };
  };

  it("when a pool keeps idle connections (0), then a statement after a quiet spell runs on the same backend", async () => {
    expect(await idleAfter(0)).toEqual({ open: 1, sameBackend: true });
    expect((pools.at(-1) as unknown as { options: { idleTimeoutMillis: number } }).options.idleTimeoutMillis).toBe(0);
  });

  it("when idle connections time out, then the next statement needs a new backend", async () => {
    expect(await idleAfter(50)).toEqual({ open: 0, sameBackend: false });
  });
});

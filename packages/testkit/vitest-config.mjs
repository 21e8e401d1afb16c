/**
 * Shared vitest settings: resolve workspace packages to their TypeScript
 * sources, and split unit (src/**\/*.test.ts, pure) from int
 * (test/**\/*.int.test.ts, real PostgreSQL and NATS).
 */
/** @param {{ intTimeoutMs?: number }} [options] */
export function kontorVitestConfig(options = {}) {
  const conditions = ["@kontor/source", "module", "node", "development|production"];
  return {
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      allowOnly: false,
      maxWorkers: 2,
      projects: [
        {
          extends: true,
          // Pure, but on a busy host loading a module graph (the generated protos) can take seconds.
          test: { name: "unit", include: ["src/**/*.test.ts"], environment: "node", testTimeout: 30_000, hookTimeout: 60_000 },
        },
        {
          extends: true,
          // Bounds for failures only: a case that starts services and databases takes tens of
          // seconds on a host three times slower than a quiet one, or beside other heavy work.
          test: {
            name: "int",
            include: ["test/**/*.int.test.ts"],
            environment: "node",
            testTimeout: options.intTimeoutMs ?? 60_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
}

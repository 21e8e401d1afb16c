import { defineConfig } from "vitest/config";

// Standalone (not @kontor/testkit/vitest): testkit depends on this package.
const conditions = ["@kontor/source", "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  // Generous: the first test files to load transform the generated protos while other packages test beside them.
  test: { allowOnly: false, include: ["src/**/*.test.ts"], environment: "node", testTimeout: 60_000, hookTimeout: 60_000 },
});

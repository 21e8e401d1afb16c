import { defineConfig } from "vitest/config";

// Standalone (not @kontor/testkit/vitest): testkit depends on this package.
const conditions = ["@kontor/source", "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: { allowOnly: false, include: ["src/**/*.test.ts"], environment: "node" },
});

import { defineConfig } from "vitest/config";
import { kontorVitestConfig } from "@kontor/testkit/vitest";

const base = kontorVitestConfig({ intTimeoutMs: 90_000 });

// This workspace is all integration tests, laid out by journey rather than src/ + test/.
export default defineConfig({
  ...base,
  test: { allowOnly: false, maxWorkers: 1, include: ["**/*.int.test.ts"], exclude: ["**/node_modules/**"], testTimeout: 90_000, hookTimeout: 60_000 },
});

import { defineConfig } from "vitest/config";
import { kontorVitestConfig } from "@kontor/testkit/vitest";

// Without the "module" condition: the AWS SDK's builds under it use extensionless imports that Node cannot load.
// Generous test deadlines: the CI host may be several times slower and busy.
const base = kontorVitestConfig({ intTimeoutMs: 120_000 });
const conditions = (base.resolve?.conditions ?? []).filter((c: string) => c !== "module");
export default defineConfig({ ...base, resolve: { ...base.resolve, conditions }, ssr: { ...base.ssr, resolve: { ...base.ssr?.resolve, conditions } } });

import { defineConfig } from "vitest/config";
import { kontorVitestConfig } from "@kontor/testkit/vitest";

export default defineConfig(kontorVitestConfig());

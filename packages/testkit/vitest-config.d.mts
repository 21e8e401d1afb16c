import type { UserConfig } from "vitest/config";
/** Shared vitest settings for Kontor packages (see vitest-config.mjs). */
export declare function kontorVitestConfig(options?: { intTimeoutMs?: number }): UserConfig;

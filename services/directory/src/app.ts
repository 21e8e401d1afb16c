import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { DirectoryDatabase } from "./store/database.js";
import { syncCategoryWords } from "./store/search-store.js";
import { createDirectoryService } from "./domain/directory-service.js";
import { createVerificationService } from "./domain/verification-service.js";
import { createFollowService } from "./domain/follow-service.js";
import { createChatLinkService } from "./domain/chat-link-service.js";
import { CATEGORIES } from "./domain/taxonomy.js";
import { registerDirectoryServer } from "./rpc/directory-server.js";
import { directoryAccess } from "./rpc/access.js";
import { bounds } from "./rpc/bounds.js";
import { registerConsumers } from "./events/consumers.js";

/** Taxonomy keywords (and English labels) for the query-word → category table. */
function categoryKeywords() {
  return CATEGORIES.flatMap((c) => [
    { category: c.code, keyword: c.label, lang: "en" },
    ...Object.entries(c.keywords).flatMap(([lang, words]) => words.map((keyword) => ({ category: c.code, keyword, lang }))),
  ]);
}

/** Composition root: build everything from config; start() returns the bound port. */
export async function createDirectory(config: Config, overrides: Partial<Pick<RuntimeOptions, "log" | "afterPublish">> & { clock?: () => Date } = {}) {
  const { clock, ...runtimeOverrides } = overrides;
  // Search statements are short and bounded: JIT compilation and parallel
  // workers would cost more to start than they save.
  const sessionSettings = { jit: "off", max_parallel_workers_per_gather: "0" };
  const rt = await createRuntime<DirectoryDatabase>({ name: "directory", domain: "directory", config, migrations, access: directoryAccess, bounds, sessionSettings, ...runtimeOverrides });
  const ports = { db: rt.db, enqueue: rt.enqueue, clock };
  const directory = createDirectoryService(ports);
  const verification = createVerificationService(ports, directory);
  const follow = createFollowService(ports, directory);
  const links = createChatLinkService(ports, directory, config.CHAT_LINK_BASE_URL);
  rt.onStart(() => syncCategoryWords(rt.db, categoryKeywords()));
  registerDirectoryServer(rt.grpc, { directory, verification, follow, links }, config.MAX_PAGE_SIZE);
  registerConsumers(rt, { messageVolume: config.POPULARITY_FROM_MESSAGING }, follow);
  return {
    log: rt.log,
    runtime: rt,
    services: { directory, verification, follow, links },
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type DirectoryApp = Awaited<ReturnType<typeof createDirectory>>;

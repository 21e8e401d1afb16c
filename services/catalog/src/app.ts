import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { CatalogDatabase } from "./store/database.js";
import { createCatalogService } from "./domain/catalog-service.js";
import { registerCatalogServer } from "./rpc/catalog-server.js";
import { catalogAccess } from "./rpc/access.js";
import { bounds } from "./rpc/bounds.js";

/** Composition root: build everything from config; start() returns the bound port. */
export async function createCatalog(config: Config, overrides: Partial<Pick<RuntimeOptions, "log" | "afterPublish">> = {}) {
  const rt = await createRuntime<CatalogDatabase>({ name: "catalog", domain: "catalog", config, migrations, access: catalogAccess, bounds, ...overrides });
  const catalog = createCatalogService({ db: rt.db, enqueue: rt.enqueue });
  registerCatalogServer(rt.grpc, catalog, config.MAX_PAGE_SIZE);
  return {
    log: rt.log,
    runtime: rt,
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type CatalogApp = Awaited<ReturnType<typeof createCatalog>>;

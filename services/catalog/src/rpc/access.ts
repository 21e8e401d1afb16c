import type { CatalogServiceServer } from "@kontor/proto/catalog/v1/catalog_service";
import { SERVICE_NAMES, services, type AccessTableOf, type Caller } from "@kontor/service-kit/access";

/** Visible products are public: every principal kind and every Kontor service reads them. */
const READERS: readonly Caller[] = ["business", "partner", "customer", ...services(...SERVICE_NAMES)];

/** Who may call each CatalogService RPC; the kit refuses everyone else before a handler runs. */
export const catalogAccess: AccessTableOf<CatalogServiceServer> = {
  // The gateway manages catalogs for the partners it authenticated.
  CreateProduct: ["business", "partner", ...services("gateway")],
  GetProduct: READERS,
  ListProducts: READERS,
};

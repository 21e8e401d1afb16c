import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { ProductTable } from "./product.table.js";

export interface CatalogDatabase extends KitTables {
  product: ProductTable;
}

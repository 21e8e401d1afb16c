import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { ProductTable } from "./product.table.js";
import type { CartItemTable, CartTable, CatalogTable, OrderChangeTable, OrderLineTable, OrderTable, ProductSearchTable, PaymentMismatchTable, ProductWordTable, ReservationTable } from "./commerce.table.js";

export interface CatalogDatabase extends KitTables {
  product: ProductTable;
  catalog: CatalogTable;
  product_word: ProductWordTable;
  product_search: ProductSearchTable;
  cart: CartTable;
  cart_item: CartItemTable;
  customer_order: OrderTable;
  order_line: OrderLineTable;
  reservation: ReservationTable;
  order_change: OrderChangeTable;
  payment_mismatch: PaymentMismatchTable;
}

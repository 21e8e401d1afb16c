import type { CatalogServiceServer } from "@kontor/proto/catalog/v1/catalog_service";
import { SERVICE_NAMES, services, type AccessTableOf, type Caller } from "@kontor/service-kit/access";

/** Visible products are public: every principal kind and every Kontor service reads them. */
const READERS: readonly Caller[] = ["business", "partner", "customer", ...services(...SERVICE_NAMES)];

/** A business's catalog: the business, its partner, the gateway acting for the partners it authenticated. */
const MANAGERS: readonly Caller[] = ["business", "partner", ...services("gateway")];

/**
 * A customer's cart and orders: the customer itself; messaging (carts and
 * orders from the chat), the gateway (Cloud API order webhooks) and the
 * console (customer app simulator) act for customers.
 */
const SHOPPERS: readonly Caller[] = ["customer", ...services("messaging", "gateway", "console")];

/** Who may call each CatalogService RPC; the kit refuses everyone else before a handler runs. */
export const catalogAccess: AccessTableOf<CatalogServiceServer> = {
  CreateProduct: MANAGERS,
  GetProduct: READERS,
  ListProducts: READERS,
  CreateCatalog: MANAGERS,
  ListCatalogs: READERS,
  UpdateProduct: MANAGERS,
  ArchiveProduct: MANAGERS,
  BulkUpsertProducts: MANAGERS,
  // The console and the CLI import files; the CLI runs with a business or partner token.
  ImportProducts: [...MANAGERS, ...services("console")],
  SearchProducts: READERS,
  // Messaging builds product messages for the business that sends them.
  GetProductMessage: [...MANAGERS, ...services("messaging")],
  GetCart: SHOPPERS,
  AddCartItem: SHOPPERS,
  SetCartItemQuantity: SHOPPERS,
  RemoveCartItem: SHOPPERS,
  Checkout: SHOPPERS,
  // The Cloud API order message: messaging (inbound chat), the gateway, or the customer's own app.
  CreateChatOrder: ["customer", ...services("messaging", "gateway")],
  // An order is read by its business (and partner) and its customer; payments and messaging read any.
  GetOrder: ["business", "partner", "customer", ...services("gateway", "messaging", "payments", "console")],
  ListOrders: ["business", "partner", "customer", ...services("gateway", "console")],
  // The business ships and delivers; the customer cancels an unpaid order. PAID and REFUNDED come from payments' events.
  UpdateOrderStatus: ["business", "partner", "customer", ...services("gateway")],
  // Commerce settings (Cloud API whatsapp_commerce_settings): read by anyone (whether the catalog shows), changed by the business.
  GetCommerceSettings: READERS,
  UpdateCommerceSettings: MANAGERS,
};

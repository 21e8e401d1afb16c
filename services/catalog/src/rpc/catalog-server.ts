import { CatalogServiceService, type CatalogServiceServer } from "@kontor/proto/catalog/v1/catalog_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { canActForBusiness, requireBusiness } from "@kontor/service-kit/auth";
import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { pageOf, readPage } from "@kontor/service-kit/paging";
import type { CatalogService } from "../domain/catalog-service.js";
import { productToPb } from "./mappers.js";

type Cursor = { t: string; id: string };
const isCursor = (v: unknown): v is Cursor =>
  typeof v === "object" && v !== null && typeof (v as Cursor).t === "string" && !Number.isNaN(Date.parse((v as Cursor).t)) && typeof (v as Cursor).id === "string" && isUuid((v as Cursor).id);

/** Thin handlers: decode → authorize → domain → map. */
export function registerCatalogServer(grpc: KitServer, catalog: CatalogService, maxPageSize: number): void {
  const handlers: CatalogServiceServer = {
    createProduct: grpc.unary("CreateProduct", async (req, ctx) => {
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      requireBusiness(ctx.principal, req.businessId);
      const product = await catalog.createProduct({
        businessId: req.businessId,
        retailerId: req.retailerId,
        name: req.name,
        description: req.description,
        price: req.price,
        imageUrl: req.imageUrl,
      });
      return { product: productToPb(product) };
    }),
    getProduct: grpc.unary("GetProduct", async (req, ctx) => {
      if (!req.productId) throw new InvalidInput("product_id", "is required");
      const product = await catalog.getProduct(req.productId);
      // Hidden products exist only for their owner.
      if (!product.visible && !canActForBusiness(ctx.principal, product.businessId)) throw new NotFound("product");
      return { product: productToPb(product) };
    }),
    listProducts: grpc.unary("ListProducts", async (req, ctx) => {
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      const { limit, take, cursor } = readPage(req.page, isCursor, maxPageSize);
      const after = cursor ? { createdAt: new Date(cursor.t), id: cursor.id } : undefined;
      // Hidden products exist only for their owner.
      const products = await catalog.listProducts(req.businessId, take, after, { includeHidden: canActForBusiness(ctx.principal, req.businessId) });
      const { items, page } = pageOf(products, limit, (last) => ({ t: last.createdAt.toISOString(), id: last.id }));
      return { products: items.map(productToPb), page };
    }),
  };
  grpc.addService(CatalogServiceService, handlers);
}

import { CatalogServiceService, type CatalogServiceServer } from "@kontor/proto/catalog/v1/catalog_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { canActForBusiness, requireBusiness } from "@kontor/service-kit/auth";
import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { decodeCursor, encodeCursor, pageSize } from "@kontor/service-kit/paging";
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
      const limit = pageSize(req.page?.pageSize, 20, maxPageSize);
      const cursor = decodeCursor(req.page?.pageToken ?? "", isCursor);
      const owner = canActForBusiness(ctx.principal, req.businessId);
      const products = (await catalog.listProducts(req.businessId, limit + 1, cursor ? { createdAt: new Date(cursor.t), id: cursor.id } : undefined)).filter(
        (p) => owner || p.visible,
      );
      const page = products.slice(0, limit);
      const last = page[page.length - 1];
      const more = products.length > limit && last;
      return {
        products: page.map(productToPb),
        page: { nextPageToken: more ? encodeCursor({ t: last.createdAt.toISOString(), id: last.id }) : "" },
      };
    }),
  };
  grpc.addService(CatalogServiceService, handlers);
}

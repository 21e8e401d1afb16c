import type { Product as ProductPb } from "@kontor/proto/catalog/v1/catalog_service";
import type { Product } from "../domain/product.js";

export function productToPb(p: Product): ProductPb {
  return {
    id: p.id,
    businessId: p.businessId,
    retailerId: p.retailerId,
    name: p.name,
    description: p.description,
    price: { amountMinor: p.price.amountMinor.toString(), currency: p.price.currency },
    imageUrl: p.imageUrl,
    visible: p.visible,
    createdAt: p.createdAt,
  };
}

import { CreateProductRequest } from "@kontor/proto/catalog/v1/catalog_service";

let n = 0;

export function buildCreateProduct(overrides: Partial<CreateProductRequest> = {}): CreateProductRequest {
  n += 1;
  return CreateProductRequest.fromPartial({
    businessId: "biz_pottery",
    retailerId: `SKU-${n}-${Math.random().toString(36).slice(2, 8)}`,
    name: "Clay mug",
    description: "Hand thrown, 300 ml",
    price: { amountMinor: "1999", currency: "EUR" },
    imageUrl: "https://cdn.example.com/mug.png",
    ...overrides,
  });
}

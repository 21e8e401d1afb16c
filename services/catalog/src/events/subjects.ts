/** Every subject the catalog service publishes (unprefixed). */
export const subjects = {
  productCreated: "kontor.catalog.product.created.v1",
} as const;

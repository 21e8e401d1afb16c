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

import { credentials, Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { CatalogServiceClient, CatalogServiceService, ProductInput, type BulkUpsertProductsResponse, type ImportProductsResponse, ImportFormat } from "@kontor/proto/catalog/v1/catalog_service";
import { errorDetail } from "@kontor/testkit/grpc";

export function buildProductInput(overrides: Partial<ProductInput> = {}): ProductInput {
  n += 1;
  return ProductInput.fromPartial({
    retailerId: `SKU-${n}-${Math.random().toString(36).slice(2, 8)}`,
    name: "Clay mug",
    description: "Hand thrown, 300 ml",
    price: { amountMinor: "1999", currency: "EUR" },
    imageUrls: ["https://cdn.example.com/mug.png"],
    ...overrides,
  });
}

type Methods = {
  [K in keyof CatalogServiceClient]: CatalogServiceClient[K] extends (req: infer Req, md: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: infer Res) => void) => ClientUnaryCall ? [Req, Res] : never;
};

/**
 * Calls one unary method with a partial request (the rest defaulted) as the
 * token's principal: `call(client, "getOrder", { orderId }, token)`.
 */
export function call<K extends keyof Methods>(client: CatalogServiceClient, method: K, request: Partial<Methods[K][0]>, token: string): Promise<Methods[K][1]> {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  const fn = client[method] as unknown as (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => unknown;
  const def = (CatalogServiceService as unknown as Record<string, { requestDeserialize(b: Buffer): object }>)[method]!;
  const full = { ...def.requestDeserialize(Buffer.alloc(0)), ...request };
  return new Promise((resolve, reject) => fn.call(client, full, md, (err, res) => (err ? reject(err) : resolve(res as Methods[K][1]))));
}

/** Calls and expects a failure: its code, the field it names and its reason. */
export async function refusal<K extends keyof Methods>(client: CatalogServiceClient, method: K, request: Partial<Methods[K][0]>, token: string): Promise<{ code: number; field: string | undefined; reason: string | undefined; details: string }> {
  try {
    await call(client, method, request, token);
  } catch (err) {
    const e = err as ServiceError;
    const d = errorDetail(e);
    return { code: e.code, field: d?.field, reason: d?.reason, details: e.details };
  }
  throw new Error(`expected ${String(method)} to fail`);
}

/** BulkUpsertProducts with the rows split over messages of `perMessage`. */
export function bulkUpsert(client: CatalogServiceClient, catalogId: string, products: ProductInput[], token: string, perMessage = 100): Promise<BulkUpsertProductsResponse> {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    const stream = client.bulkUpsertProducts(md, (err, res) => (err ? reject(err) : resolve(res!)));
    for (let i = 0; i < products.length || i === 0; i += perMessage) stream.write({ catalogId: i === 0 ? catalogId : "", products: products.slice(i, i + perMessage) });
    stream.end();
  });
}

/** ImportProducts with the file cut into chunks of `chunkSize` bytes; every progress message in order. */
export function importFile(client: CatalogServiceClient, catalogId: string, format: "csv" | "jsonl", file: string, token: string, chunkSize = 7): Promise<ImportProductsResponse[]> {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  const bytes = Buffer.from(file, "utf8");
  return new Promise((resolve, reject) => {
    const out: ImportProductsResponse[] = [];
    const stream = client.importProducts(md);
    stream.on("data", (m: ImportProductsResponse) => out.push(m));
    stream.on("error", reject);
    stream.on("end", () => resolve(out));
    const fmt = format === "csv" ? ImportFormat.IMPORT_FORMAT_CSV : ImportFormat.IMPORT_FORMAT_JSON_LINES;
    for (let i = 0; i < bytes.length; i += chunkSize) stream.write({ catalogId: i === 0 ? catalogId : "", format: i === 0 ? fmt : 0, chunk: bytes.subarray(i, i + chunkSize) });
    stream.end();
  });
}

export const clientAt = (port: number) => new CatalogServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());

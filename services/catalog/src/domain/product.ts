import { InvalidInput } from "@kontor/service-kit/errors";
import { parseMoney, type MoneyValue } from "@kontor/service-kit/money";

export interface Product {
  id: string;
  businessId: string;
  retailerId: string;
  name: string;
  description: string;
  price: MoneyValue;
  imageUrl: string;
  visible: boolean;
  createdAt: Date;
}

export interface NewProductInput {
  businessId: string;
  retailerId: string;
  name: string;
  description: string;
  price: { amountMinor: string; currency: string } | undefined;
  imageUrl: string;
}

export type ValidProduct = Omit<Product, "id" | "createdAt" | "visible">;

const MAX_NAME = 200;
const MAX_DESCRIPTION = 5000;
const MAX_ID = 128;
const MAX_IMAGE_URL = 2048;

/** Checks a new product; each problem names its field. */
export function validateNewProduct(input: NewProductInput): ValidProduct {
  if (!input.businessId) throw new InvalidInput("business_id", "is required");
  if (input.businessId.length > MAX_ID) throw new InvalidInput("business_id", `must be at most ${MAX_ID} characters`);
  const retailerId = input.retailerId.trim();
  if (!retailerId) throw new InvalidInput("retailer_id", "is required");
  if (retailerId.length > 100) throw new InvalidInput("retailer_id", "must be at most 100 characters");
  const name = input.name.trim();
  if (!name) throw new InvalidInput("name", "is required");
  if (name.length > MAX_NAME) throw new InvalidInput("name", `must be at most ${MAX_NAME} characters`);
  if (input.description.length > MAX_DESCRIPTION) throw new InvalidInput("description", `must be at most ${MAX_DESCRIPTION} characters`);
  const price = parseMoney("price", input.price);
  if (input.imageUrl.length > MAX_IMAGE_URL) throw new InvalidInput("image_url", `must be at most ${MAX_IMAGE_URL} characters`);
  if (input.imageUrl) {
    let url: URL | undefined;
    try {
      url = new URL(input.imageUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) throw new InvalidInput("image_url", "must be an http(s) URL");
  }
  return { businessId: input.businessId, retailerId, name, description: input.description, price, imageUrl: input.imageUrl };
}

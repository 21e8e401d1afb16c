import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { validateNewProduct, type NewProductInput } from "./product.js";

const valid: NewProductInput = {
  businessId: "biz_1",
  retailerId: "SKU-1",
  name: "Clay mug",
  description: "Hand thrown",
  price: { amountMinor: "1999", currency: "EUR" },
  imageUrl: "https://example.com/mug.png",
};

describe("validateNewProduct", () => {
  it("when the input is valid, then it returns the price as minor units", () => {
    expect(validateNewProduct(valid).price).toEqual({ amountMinor: 1999n, currency: "EUR" });
  });

  it("when a field is bad, then the error names that field", () => {
    expect(invalidField(() => validateNewProduct({ ...valid, name: " " }))).toBe("name");
    expect(invalidField(() => validateNewProduct({ ...valid, retailerId: "" }))).toBe("retailer_id");
    expect(invalidField(() => validateNewProduct({ ...valid, price: { amountMinor: "-1", currency: "EUR" } }))).toBe("price.amount_minor");
    expect(invalidField(() => validateNewProduct({ ...valid, price: { amountMinor: "1", currency: "EURO" } }))).toBe("price.currency");
    expect(invalidField(() => validateNewProduct({ ...valid, price: { amountMinor: "1", currency: "XYZ" } }))).toBe("price.currency");
    expect(invalidField(() => validateNewProduct({ ...valid, price: undefined }))).toBe("price");
    expect(invalidField(() => validateNewProduct({ ...valid, imageUrl: "javascript:alert(1)" }))).toBe("image_url");
  });

  it("when the image URL or the business id is longer than its limit, then it is refused; at the limit it passes", () => {
    const url = (n: number) => `https://example.com/${"a".repeat(n - "https://example.com/".length)}`;
    expect(validateNewProduct({ ...valid, imageUrl: url(2048) }).imageUrl).toHaveLength(2048);
    expect(invalidField(() => validateNewProduct({ ...valid, imageUrl: url(2049) }))).toBe("image_url");
    expect(validateNewProduct({ ...valid, businessId: "b".repeat(128) }).businessId).toHaveLength(128);
    expect(invalidField(() => validateNewProduct({ ...valid, businessId: "b".repeat(129) }))).toBe("business_id");
  });
});

import { describe, expect, it } from "vitest";
import { InvalidInput, PolicyRefused } from "@kontor/service-kit/errors";
import { OrderRefused } from "../domain/order-batcher.js";
import { rejectionOf, type ChatOrderMessage } from "./chat-orders.js";

const message = (over: Partial<ChatOrderMessage> = {}): ChatOrderMessage => ({
  messageId: "wamid.m1",
  businessId: "b",
  customerId: "c",
  catalogId: "cat",
  phoneNumberId: "pn",
  text: "",
  items: [
    { retailerId: "MUG", quantity: 150 },
    { retailerId: "CUP", quantity: 1 },
  ],
  ...over,
});

describe("rejectionOf", () => {
  it("when the batch refuses an order, then the rejection carries its reason and every item it named, with what is left", () => {
    const err = new OrderRefused("OUT_OF_STOCK", "MUG has fewer than 6 units left", 0, "items[0]", [{ retailerId: "MUG", name: "Clay mug", quantity: 6, available: 2n }]);
    expect(rejectionOf(message(), err)).toEqual({
      messageId: "wamid.m1",
      businessId: "b",
      customerId: "c",
      catalogId: "cat",
      phoneNumberId: "pn",
      reason: "OUT_OF_STOCK",
      items: [{ retailerId: "MUG", name: "Clay mug", quantity: 6, available: 2n }],
      detail: "MUG has fewer than 6 units left",
    });
  });

  it("when the checks before the batch refuse it, then too many units names the item and the limit, another catalog names every item without a name, the rest say what they are", () => {
    expect(rejectionOf(message(), new InvalidInput("items[0].quantity", "must be between 1 and 99"))).toMatchObject({ reason: "TOO_MANY_UNITS", items: [{ retailerId: "MUG", name: "", quantity: 150, maxQuantity: 99 }] });
    expect(rejectionOf(message(), "CATALOG_NOT_FOUND")).toMatchObject({ reason: "CATALOG_NOT_FOUND", items: [{ retailerId: "MUG", name: "" }, { retailerId: "CUP", name: "" }] });
    expect(rejectionOf(message({ items: Array.from({ length: 101 }, (_, i) => ({ retailerId: `P${i}`, quantity: 1 })) }), new InvalidInput("items", "an order holds at most 100 products"))).toMatchObject({ reason: "TOO_MANY_PRODUCTS", items: [] });
    expect(rejectionOf(message(), new InvalidInput("items[1].product_retailer_id", "appears twice"))).toMatchObject({ reason: "INVALID_ORDER", items: [{ retailerId: "CUP" }] });
    expect(rejectionOf(message(), new PolicyRefused("TOTAL_TOO_LARGE", "the order total is larger than an int64 amount", 0, "items"))).toMatchObject({ reason: "TOTAL_TOO_LARGE", items: [] });
  });
});

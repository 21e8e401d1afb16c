import { ProductCreated } from "@kontor/proto/catalog/v1/events";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { Product } from "../domain/product.js";
import { subjects } from "./subjects.js";

export function productCreatedEvent(product: Product): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.productCreated,
    payload: ProductCreated.encode({
      meta: { eventId, occurredAt: new Date(), businessId: product.businessId },
      productId: product.id,
      retailerId: product.retailerId,
      name: product.name,
      price: { amountMinor: product.price.amountMinor.toString(), currency: product.price.currency },
    }).finish(),
  };
}

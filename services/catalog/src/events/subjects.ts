/** Every subject the catalog service publishes (unprefixed). */
export const subjects = {
  productCreated: "kontor.catalog.product.created.v1",
  productUpserted: "kontor.catalog.product.upserted.v1",
  productArchived: "kontor.catalog.product.archived.v1",
  orderPlaced: "kontor.catalog.order.placed.v1",
  orderPaid: "kontor.catalog.order.paid.v1",
  orderShipped: "kontor.catalog.order.shipped.v1",
  orderDelivered: "kontor.catalog.order.delivered.v1",
  orderCancelled: "kontor.catalog.order.cancelled.v1",
  orderRefunded: "kontor.catalog.order.refunded.v1",
  orderRejected: "kontor.catalog.order.rejected.v1",
} as const;

/** What catalog consumes: payments' outcomes (succeeded, failed, refunded); customers' messages (their order messages). */
export const consumed = {
  messageReceived: "kontor.messaging.message.received.v1",
  payments: "kontor.payments.payment.>",
  paymentSucceeded: "kontor.payments.payment.succeeded.v1",
  paymentFailed: "kontor.payments.payment.failed.v1",
  paymentRefunded: "kontor.payments.payment.refunded.v1",
} as const;

/** Every subject the payments service publishes (unprefixed). */
export const subjects = {
  accountOpened: "kontor.payments.account.opened.v1",
  transferCompleted: "kontor.payments.transfer.completed.v1",
  paymentSucceeded: "kontor.payments.payment.succeeded.v1",
  paymentFailed: "kontor.payments.payment.failed.v1",
  paymentRefunded: "kontor.payments.payment.refunded.v1",
  payoutSettled: "kontor.payments.payout.settled.v1",
  payoutFailed: "kontor.payments.payout.failed.v1",
  invoiceIssued: "kontor.payments.invoice.issued.v1",
  invoicePaid: "kontor.payments.invoice.paid.v1",
} as const;

/** What payments consumes. */
export const consumed = {
  orderPlaced: "kontor.catalog.order.placed.v1",
  messageBilled: "kontor.messaging.message.billed.v1",
  conversationOpened: "kontor.messaging.conversation.opened.v1",
} as const;

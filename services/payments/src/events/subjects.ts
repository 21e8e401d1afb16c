/** Every subject the payments service publishes (unprefixed). */
export const subjects = {
  accountOpened: "kontor.payments.account.opened.v1",
  transferCompleted: "kontor.payments.transfer.completed.v1",
} as const;

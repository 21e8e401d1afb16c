/** Every subject the directory service publishes (unprefixed). */
export const subjects = {
  businessRegistered: "kontor.directory.business.registered.v1",
  businessUpdated: "kontor.directory.business.updated.v1",
  businessVerified: "kontor.directory.business.verified.v1",
  businessVerificationRejected: "kontor.directory.business.verification_rejected.v1",
  businessVerificationRevoked: "kontor.directory.business.verification_revoked.v1",
  followChanged: "kontor.directory.follow.changed.v1",
} as const;

/** Subjects directory consumes. */
export const consumed = {
  /** Inbound customer messages feed message_volume (popularity). */
  messageReceived: "kontor.messaging.message.received.v1",
  /** A customer's data was erased in messaging: its follows go. */
  customerErased: "kontor.messaging.customer.erased.v1",
} as const;

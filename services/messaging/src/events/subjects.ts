/** Every subject the messaging service publishes to JetStream (unprefixed). */
export const subjects = {
  messageStatus: "kontor.messaging.message.status.v1",
  messageReceived: "kontor.messaging.message.received.v1",
  conversationOpened: "kontor.messaging.conversation.opened.v1",
  messageBilled: "kontor.messaging.message.billed.v1",
  conversationAssigned: "kontor.messaging.conversation.assigned.v1",
  businessKeyErased: "kontor.messaging.business_key.erased.v1",
  templateStatus: "kontor.messaging.template.status.v1",
  consentChanged: "kontor.messaging.consent.changed.v1",
  blockChanged: "kontor.messaging.block.changed.v1",
  userBlockChanged: "kontor.messaging.user_block.changed.v1",
  businessReported: "kontor.messaging.business.reported.v1",
  customerErased: "kontor.messaging.customer.erased.v1",
} as const;

/** Directory events consumed (one durable consumer on the wildcard; NATS 2.9 takes one filter). */
export const directorySubjects = {
  all: "kontor.directory.business.>",
  registered: "kontor.directory.business.registered.v1",
  updated: "kontor.directory.business.updated.v1",
  verified: "kontor.directory.business.verified.v1",
  verificationRevoked: "kontor.directory.business.verification_revoked.v1",
  /** A follow or unfollow (its own consumer: the wildcard above is business events only). */
  followChanged: "kontor.directory.follow.changed.v1",
} as const;

/**
 * Core NATS subjects (not JetStream): live delivery per participant. Never
 * under kontor.messaging.>, which the domain stream captures.
 */
export const liveSubject = (participantKey: string) => `kontor.live.${participantKey}`;
/** Replicas announce which shards of participants they stream (events/live.ts); outside kontor.live.* so no participant key can collide. */
export const liveInterestSubject = "kontor.liveinterest";

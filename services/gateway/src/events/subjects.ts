/** Subjects the gateway consumes (unprefixed); it publishes none. */
export const subjects = {
  directoryBusiness: "kontor.directory.business.>",
  directoryRegistered: "kontor.directory.business.registered.v1",
  directoryUpdated: "kontor.directory.business.updated.v1",
  directoryVerified: "kontor.directory.business.verified.v1",
  directoryRevoked: "kontor.directory.business.verification_revoked.v1",
  messageReceived: "kontor.messaging.message.received.v1",
  messageStatus: "kontor.messaging.message.status.v1",
  templateStatus: "kontor.messaging.template.status.v1",
} as const;

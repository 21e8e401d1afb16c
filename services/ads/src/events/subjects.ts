/** Every subject the ads service publishes (unprefixed). */
export const subjects = {
  campaignCreated: "kontor.ads.campaign.created.v1",
  campaignUpdated: "kontor.ads.campaign.updated.v1",
  clickRecorded: "kontor.ads.click.recorded.v1",
  spendRecorded: "kontor.ads.spend.recorded.v1",
} as const;

/** What ads consumes from other domains (unprefixed). */
export const consumed = {
  consentChanged: "kontor.messaging.consent.changed.v1",
  messageReceived: "kontor.messaging.message.received.v1",
  messageStatus: "kontor.messaging.message.status.v1",
  orderPlaced: "kontor.catalog.order.placed.v1",
  /** Directory's business events (registered, updated, verified, …): the business's sending number. */
  directoryBusiness: "kontor.directory.business.>",
  followChanged: "kontor.directory.follow.changed.v1",
  /** Ads' own events, for every replica's serving state (campaign changes, clicks and impressions for CTR). */
  ownEvents: "kontor.ads.>",
} as const;

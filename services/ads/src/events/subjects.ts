/** Every subject the ads service publishes (unprefixed). */
export const subjects = {
  campaignCreated: "kontor.ads.campaign.created.v1",
} as const;

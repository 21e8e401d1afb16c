export type SponsoredDecision = "send" | "not_opted_in" | "not_following" | "stopped" | "weekly_cap" | "already_sent";

export interface SponsoredFacts {
  /** Marketing opt-in from the campaign's business, as messaging last reported it. */
  optedIn: boolean;
  /** The campaign wants followers and the customer does not follow the business. */
  notFollowing: boolean;
  /** The customer's one-tap stop, for this business or for all. */
  stopped: boolean;
  /** This campaign already reached the customer. */
  alreadySent: boolean;
  /** Sponsored messages the customer got in the last 7 days, from every business. */
  sentThisWeek: number;
  weeklyCap: number;
}

/** Whether a sponsored message may go to one customer; refusals in a fixed order so the reason is stable. */
export function sponsoredDecision(f: SponsoredFacts): SponsoredDecision {
  if (f.alreadySent) return "already_sent";
  if (!f.optedIn) return "not_opted_in";
  if (f.notFollowing) return "not_following";
  if (f.stopped) return "stopped";
  if (f.sentThisWeek >= f.weeklyCap) return "weekly_cap";
  return "send";
}

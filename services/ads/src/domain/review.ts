import type { Campaign, Creative } from "./campaign.js";

/** The operator's ad policy (config): checked on submit, before any reviewer sees the campaign. */
export interface PolicyRules {
  /** Lower-case words no creative may contain (whole words). */
  bannedWords: readonly string[];
  /** Hosts (and their subdomains) that images and links in creatives may point at, besides the landing domain. */
  allowedUrlHosts: readonly string[];
  /** Landing domains no ad may lead to (and their subdomains). */
  blockedLandingDomains: readonly string[];
}

const URL_IN_TEXT = /https?:\/\/[^\s<>"')]+/gi;

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function underDomain(host: string, domains: readonly string[]): boolean {
  return domains.some((d) => host === d || host.endsWith(`.${d}`));
}

function words(text: string): Set<string> {
  return new Set(text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean));
}

/**
 * Every rule a campaign's creatives break, as reasons a business can act on
 * ("creative c1: banned word \"casino\" in headline"); empty when clean.
 */
export function reviewCampaign(campaign: Pick<Campaign, "creatives">, rules: PolicyRules): string[] {
  const reasons: string[] = [];
  const landingDomains = new Set<string>();
  for (const c of campaign.creatives) {
    const fields: [string, string][] = [
      ["headline", c.headline],
      ["text", c.text],
      ["call_to_action", c.callToAction],
      ["prefilled_message", c.prefilledMessage],
    ];
    for (const [name, value] of fields) {
      const found = words(value);
      for (const banned of rules.bannedWords) if (found.has(banned)) reasons.push(`creative ${c.id}: banned word "${banned}" in ${name}`);
    }
    const landing = c.landingUrl ? hostOf(c.landingUrl) : undefined;
    if (landing) {
      landingDomains.add(landing);
      if (underDomain(landing, rules.blockedLandingDomains)) reasons.push(`creative ${c.id}: landing domain ${landing} is blocked`);
    }
    for (const [name, url] of linksOf(c)) {
      const host = hostOf(url);
      if (!host || (host !== landing && !underDomain(host, rules.allowedUrlHosts))) reasons.push(`creative ${c.id}: ${name} points at ${host ?? "an invalid URL"}, which is not on the URL allowlist`);
    }
  }
  if (landingDomains.size > 1) reasons.push(`creatives lead to ${landingDomains.size} landing domains; one campaign has one (${[...landingDomains].sort().join(", ")})`);
  return reasons;
}

function linksOf(c: Creative): [string, string][] {
  const out: [string, string][] = [];
  if (c.imageUrl) out.push(["image_url", c.imageUrl]);
  for (const [name, value] of [["text", c.text], ["prefilled_message", c.prefilledMessage]] as const) {
    for (const m of value.matchAll(URL_IN_TEXT)) out.push([name, m[0]]);
  }
  return out;
}

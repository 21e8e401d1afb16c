import { randomInt } from "node:crypto";
import { InvalidInput } from "@kontor/service-kit/errors";

export interface ChatLink {
  code: string;
  businessId: string;
  url: string;
  phoneNumberId: string;
  prefilledMessage: string;
  campaign: string;
  referralTag: string;
  active: boolean;
  openCount: number;
  createdAt: Date;
}

const ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
export const CODE_LENGTH = 8;
const CODE = new RegExp(`^[${ALPHABET}]{${CODE_LENGTH}}$`);
const TAG = /^[\p{L}\p{N} ._:/-]*$/u;

/** 8 characters without look-alikes (0/O, 1/l/I): 57^8 ≈ 1.1e14 codes. */
export function newCode(): string {
  let out = "";
  for (let i = 0; i < CODE_LENGTH; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export function isCode(code: string): boolean {
  return CODE.test(code);
}

export function linkUrl(baseUrl: string, code: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/c/${code}`;
}

export function validateLinkInput(input: { prefilledMessage: string; campaign: string; referralTag: string }) {
  if (input.prefilledMessage.length > 1000) throw new InvalidInput("prefilled_message", "must be at most 1000 characters");
  const campaign = input.campaign.trim();
  if (campaign.length > 100 || !TAG.test(campaign)) throw new InvalidInput("campaign", "must be at most 100 letters, digits, spaces and . _ : / -");
  const referralTag = input.referralTag.trim();
  if (referralTag.length > 100 || !TAG.test(referralTag)) throw new InvalidInput("referral_tag", "must be at most 100 letters, digits, spaces and . _ : / -");
  return { prefilledMessage: input.prefilledMessage, campaign, referralTag };
}

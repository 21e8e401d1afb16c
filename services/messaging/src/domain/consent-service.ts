import { InvalidInput } from "@kontor/service-kit/errors";
import { isValidId } from "./participant.js";
import type { ConsentCache, MarketingChange } from "./consent-cache.js";
import type { ConsentSource, MarketingConsent } from "./policy/consent.js";

/** Proof text kept with a consent record, at most this long (the bounds table refuses longer first). */
export const PROOF_MAX = 1000;

/** A customer's privacy settings; both off until the customer changes them. */
export interface PrivacySettings {
  adPersonalization: boolean;
  dataSharingOptOut: boolean;
  /** Undefined while never changed. */
  updatedAt: Date | undefined;
}

export const DEFAULT_PRIVACY: PrivacySettings = Object.freeze({ adPersonalization: false, dataSharingOptOut: false, updatedAt: undefined });

/** A consent record as stored: the policy record plus who recorded it. */
export interface StoredConsent {
  optIn: (NonNullable<MarketingConsent["optIn"]> & { by: string }) | undefined;
  optOut: (NonNullable<MarketingConsent["optOut"]> & { by: string }) | undefined;
}

export interface MarketingConsentEntry {
  businessId: string;
  consent: StoredConsent;
}

export interface MarketingUpdate {
  customerId: string;
  businessId: string;
  optIn: boolean;
  at: number;
  source: ConsentSource;
  proof: string;
  /** The principal that records it ("customer:c1"). */
  by: string;
  /** The inbound message of a keyword. */
  messageId?: string;
}

export interface PrivacyUpdate {
  customerId: string;
  adPersonalization: boolean | undefined;
  dataSharingOptOut: boolean | undefined;
  at: Date;
  by: string;
}

/** The store's consent part: each write stores the change and its ConsentChanged event in one transaction. */
export interface ConsentStorePort {
  marketingOf(customerId: string, businessId: string | undefined): Promise<MarketingConsentEntry[]>;
  privacyOf(customerId: string): Promise<PrivacySettings>;
  recordMarketing(update: MarketingUpdate): Promise<{ consent: StoredConsent; changed: boolean }>;
  setPrivacy(update: PrivacyUpdate): Promise<PrivacySettings>;
}

export interface ConsentPorts {
  store: ConsentStorePort;
  /** This replica's cache: its own changes apply at once, other replicas' through the events. */
  cache: Pick<ConsentCache, "apply">;
  now: () => number;
}

/** A customer or business id of a consent request (participant.ts rules). */
export function requireConsentId(value: string, field: string): void {
  if (!value) throw new InvalidInput(field, "is required");
  if (!isValidId(value)) throw new InvalidInput(field, "must be [A-Za-z0-9_-], at most 64 characters");
}

/** Consent and privacy settings by RPC (rule 7); the keyword path records through the same store (events/consent.ts). */
export function createConsentService(ports: ConsentPorts) {
  const { store } = ports;
  return {
    async get(customerId: string, businessId: string, withPrivacy: boolean): Promise<{ privacy: PrivacySettings | undefined; marketing: MarketingConsentEntry[] }> {
      requireConsentId(customerId, "customer_id");
      if (businessId) requireConsentId(businessId, "business_id");
      const [privacy, marketing] = await Promise.all([withPrivacy ? store.privacyOf(customerId) : undefined, store.marketingOf(customerId, businessId || undefined)]);
      if (businessId && marketing.length === 0) marketing.push({ businessId, consent: { optIn: undefined, optOut: undefined } });
      return { privacy, marketing };
    },

    async setMarketing(input: { customerId: string; businessId: string; optIn: boolean; source: ConsentSource; proof: string; by: string }) {
      requireConsentId(input.customerId, "customer_id");
      requireConsentId(input.businessId, "business_id");
      if (input.proof.length > PROOF_MAX) throw new InvalidInput("proof", `at most ${PROOF_MAX} characters`);
      const result = await store.recordMarketing({ ...input, at: ports.now() });
      if (result.changed) {
        const record = (input.optIn ? result.consent.optIn : result.consent.optOut)!;
        const change: MarketingChange = { customerId: input.customerId, businessId: input.businessId, optIn: input.optIn, record };
        ports.cache.apply(change);
      }
      return result;
    },

    async setPrivacy(input: Omit<PrivacyUpdate, "at">): Promise<PrivacySettings> {
      requireConsentId(input.customerId, "customer_id");
      if (input.adPersonalization === undefined && input.dataSharingOptOut === undefined) throw new InvalidInput("ad_personalization", "give ad_personalization or data_sharing_opt_out");
      return store.setPrivacy({ ...input, at: new Date(ports.now()) });
    },
  };
}

export type ConsentService = ReturnType<typeof createConsentService>;

import {
  VerificationState as VerificationStatePb,
  type Business as BusinessPb,
  type BusinessProfile as BusinessProfilePb,
  type BusinessSummary,
} from "@kontor/proto/directory/v1/directory_service";
import type { Business, Profile, VerificationState } from "../domain/business.js";
import type { SearchHit } from "../domain/directory-service.js";
import { hoursFromPb, hoursToPb } from "../pb/hours.js";

/** A request profile as domain input; absent sub-messages become empty values. */
export function profileFromPb(p: BusinessProfilePb | undefined): Profile {
  const a = p?.address;
  return {
    displayName: p?.displayName ?? "",
    legalName: p?.legalName ?? "",
    category: p?.category ?? "",
    description: p?.description ?? "",
    about: p?.about ?? "",
    address: {
      street: a?.street ?? "",
      city: a?.city ?? "",
      postalCode: a?.postalCode ?? "",
      region: a?.region ?? "",
      location: a?.location ? { lat: a.location.latitude, lng: a.location.longitude } : undefined,
    },
    country: p?.country ?? "",
    languages: p?.languages ?? [],
    hours: p?.hours ? hoursFromPb(p.hours) : undefined,
    websites: p?.websites ?? [],
    email: p?.email ?? "",
    profilePictureUrl: p?.profilePictureUrl ?? "",
    phoneNumbers: (p?.phoneNumbers ?? []).map((n) => ({ phoneNumberId: "", e164: n.e164, displayName: n.displayName })),
    handle: p?.handle ?? "",
  };
}

export function profileToPb(p: Profile): BusinessProfilePb {
  return {
    displayName: p.displayName,
    legalName: p.legalName,
    category: p.category,
    description: p.description,
    about: p.about,
    address: {
      street: p.address.street,
      city: p.address.city,
      postalCode: p.address.postalCode,
      region: p.address.region,
      location: p.address.location ? { latitude: p.address.location.lat, longitude: p.address.location.lng } : undefined,
    },
    country: p.country,
    languages: p.languages,
    hours: p.hours ? hoursToPb(p.hours) : undefined,
    websites: p.websites,
    email: p.email,
    profilePictureUrl: p.profilePictureUrl,
    phoneNumbers: p.phoneNumbers.map((n) => ({ ...n })),
    handle: p.handle,
  };
}

const STATES: Record<VerificationState, VerificationStatePb> = {
  unverified: VerificationStatePb.VERIFICATION_STATE_UNVERIFIED,
  pending: VerificationStatePb.VERIFICATION_STATE_PENDING,
  verified: VerificationStatePb.VERIFICATION_STATE_VERIFIED,
  rejected: VerificationStatePb.VERIFICATION_STATE_REJECTED,
  revoked: VerificationStatePb.VERIFICATION_STATE_REVOKED,
};

export function businessToPb(b: Business): BusinessPb {
  return {
    id: b.id,
    profile: profileToPb(b.profile),
    verified: b.verified,
    verifiedName: b.verifiedName,
    verificationState: STATES[b.verificationState],
    followerCount: String(b.followerCount),
    version: String(b.version),
    createdAt: b.createdAt,
    updatedAt: b.updatedAt,
  };
}

export function businessSummaryOf(b: Business): BusinessSummary {
  const loc = b.profile.address.location;
  return {
    id: b.id,
    displayName: b.profile.displayName,
    category: b.profile.category,
    about: b.profile.about,
    city: b.profile.address.city,
    country: b.profile.country,
    verified: b.verified,
    profilePictureUrl: b.profile.profilePictureUrl,
    followerCount: String(b.followerCount),
    languages: b.profile.languages,
    location: loc ? { latitude: loc.lat, longitude: loc.lng } : undefined,
    handle: b.profile.handle,
  };
}

export function hitSummary(h: SearchHit): BusinessSummary {
  return {
    id: h.businessId,
    displayName: h.displayName,
    category: h.category,
    about: h.about,
    city: h.city,
    country: h.country,
    verified: h.verified,
    profilePictureUrl: h.profilePictureUrl,
    followerCount: String(h.followerCount),
    languages: h.languages,
    location: h.location ? { latitude: h.location.lat, longitude: h.location.lng } : undefined,
    handle: h.handle,
  };
}

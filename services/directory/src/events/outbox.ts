import {
  BusinessRegistered,
  BusinessUpdated,
  BusinessVerificationRejected,
  BusinessVerificationRevoked,
  BusinessVerified,
  FollowChanged,
} from "@kontor/proto/directory/v1/events";
import type { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { Business } from "../domain/business.js";
import { hoursToPb } from "../pb/hours.js";
import { subjects } from "./subjects.js";

/** The profile facts other services mirror from directory events. */
function snapshotOf(b: Business): BusinessSnapshot {
  return {
    businessId: b.id,
    displayName: b.profile.displayName,
    category: b.profile.category,
    country: b.profile.country,
    phoneNumbers: b.profile.phoneNumbers.map((n) => ({ ...n })),
    hours: b.profile.hours ? hoursToPb(b.profile.hours) : undefined,
    verified: b.verified,
    verifiedName: b.verified ? b.verifiedName : "",
    profilePictureUrl: b.profile.profilePictureUrl,
    updatedAt: b.updatedAt,
    version: String(b.version),
    handle: b.profile.handle,
    languages: b.profile.languages,
  };
}

function meta(eventId: string, businessId: string) {
  return { eventId, occurredAt: new Date(), businessId };
}

export function businessRegisteredEvent(b: Business): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.businessRegistered,
    payload: BusinessRegistered.encode({ meta: meta(eventId, b.id), business: snapshotOf(b) }).finish(),
  };
}

export function businessUpdatedEvent(b: Business, changedFields: string[]): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.businessUpdated,
    payload: BusinessUpdated.encode({ meta: meta(eventId, b.id), business: snapshotOf(b), changedFields }).finish(),
  };
}

export function businessVerifiedEvent(b: Business): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.businessVerified,
    payload: BusinessVerified.encode({ meta: meta(eventId, b.id), business: snapshotOf(b), verifiedName: b.verifiedName }).finish(),
  };
}

export function verificationRejectedEvent(businessId: string, reason: string): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.businessVerificationRejected,
    payload: BusinessVerificationRejected.encode({ meta: meta(eventId, businessId), businessId, reason }).finish(),
  };
}

export function verificationRevokedEvent(b: Business, reason: string): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.businessVerificationRevoked,
    payload: BusinessVerificationRevoked.encode({ meta: meta(eventId, b.id), business: snapshotOf(b), reason }).finish(),
  };
}

export function followChangedEvent(businessId: string, customerId: string, following: boolean, followerCount: number): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.followChanged,
    payload: FollowChanged.encode({ meta: meta(eventId, businessId), businessId, customerId, following, followerCount: String(followerCount) }).finish(),
  };
}

import {
  BusinessRegistered,
  BusinessUpdated,
  BusinessVerificationRejected,
  BusinessVerificationRevoked,
  BusinessVerified,
  FollowChanged,
} from "@kontor/proto/directory/v1/events";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { Business } from "../domain/business.js";
import { snapshotOf } from "../rpc/mappers.js";
import { subjects } from "./subjects.js";

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

import { randomUUID } from "node:crypto";
import { AlreadyExists, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { closeCase, findCase, findPendingCase, insertCase, listCases } from "../store/verification-store.js";
import type { VerificationCaseRow } from "../store/verification.table.js";
import { setSearchVerified, similarVerifiedNames, updateBusiness, listPhoneNumbers } from "../store/business-store.js";
import { businessVerifiedEvent, verificationRejectedEvent, verificationRevokedEvent } from "../events/outbox.js";
import { businessRowToBusiness, IMPERSONATION, type DirectoryPorts, type DirectoryService } from "./directory-service.js";
import type { Business } from "./business.js";
import { requireReason, validateEvidence, type CaseState, type Evidence, type VerificationCase } from "./verification.js";

export function caseRowToCase(r: VerificationCaseRow): VerificationCase {
  return {
    id: r.id,
    businessId: r.business_id,
    state: r.state as CaseState,
    requestedName: r.requested_name,
    evidence: r.evidence,
    note: r.note,
    reviewerId: r.reviewer_id,
    decisionReason: r.decision_reason,
    createdAt: r.created_at,
    decidedAt: r.decided_at ?? undefined,
  };
}

/** The official-account badge: request with evidence, reviewer decides, reviewer may revoke. */
export function createVerificationService(ports: DirectoryPorts, directory: DirectoryService) {
  const { db } = ports;

  return {
    async request(input: { businessId: string; evidence: Evidence[]; note: string; actor: string }): Promise<VerificationCase> {
      const valid = validateEvidence(input.evidence, input.note);
      return db.transaction().execute(async (trx) => {
        const business = await directory.load(trx, input.businessId, true);
        if (!business) throw new NotFound("business");
        if (business.verified) throw new PolicyRefused("ALREADY_VERIFIED", "the business is already verified");
        if (await findPendingCase(trx, business.id)) throw new AlreadyExists("verification case", "business_id", "VERIFICATION_PENDING");
        const row = await insertCase(trx, {
          id: randomUUID(),
          business_id: business.id,
          state: "pending",
          requested_name: business.profile.displayName,
          evidence: JSON.stringify(valid.evidence),
          note: valid.note,
          requested_by: input.actor,
          // Millisecond clock: page cursors carry ms, so rows must not differ below that.
          created_at: new Date(),
        });
        await updateBusiness(trx, business.id, { verification_state: "pending" });
        return caseRowToCase(row);
      });
    },

    async list(filter: { state?: CaseState; businessId?: string }, limit: number, after?: { createdAt: Date; id: string }): Promise<VerificationCase[]> {
      return (await listCases(db, filter, limit, after)).map(caseRowToCase);
    },

    async decide(input: { caseId: string; approve: boolean; reason: string; reviewerId: string }): Promise<{ verificationCase: VerificationCase; business: Business }> {
      const reason = input.approve ? input.reason.trim() : requireReason(input.reason);
      return db.transaction().execute(async (trx) => {
        const found = isUuid(input.caseId) ? await findCase(trx, input.caseId, true) : undefined;
        if (!found) throw new NotFound("verification case");
        if (found.state !== "pending") throw new PolicyRefused("CASE_CLOSED", `the case was already ${found.state}`);
        const business = await directory.load(trx, found.business_id, true);
        if (!business) throw new NotFound("business");
        if (input.approve) {
          if (business.profile.displayName !== found.requested_name) {
            throw new PolicyRefused("NAME_CHANGED", "the display name changed since the request; the business must request again");
          }
          const similar = await similarVerifiedNames(trx, found.requested_name, business.id, IMPERSONATION);
          if (similar[0]) {
            throw new PolicyRefused("NAME_IMPERSONATION", `the name is too close to the verified business "${similar[0].displayName}"`);
          }
        }
        const closed = await closeCase(trx, found.id, input.approve ? "approved" : "rejected", input.reviewerId, reason);
        const row = await updateBusiness(
          trx,
          business.id,
          input.approve
            ? { verified: true, verified_name: found.requested_name, verified_at: new Date(), verification_state: "verified" }
            : { verification_state: business.verified ? "verified" : "rejected" },
        );
        const updated = businessRowToBusiness(row, await listPhoneNumbers(trx, [business.id]), business.followerCount);
        if (input.approve) {
          await setSearchVerified(trx, business.id, true);
          await ports.enqueue(trx, [businessVerifiedEvent(updated)]);
        } else {
          await ports.enqueue(trx, [verificationRejectedEvent(business.id, reason)]);
        }
        return { verificationCase: caseRowToCase(closed), business: updated };
      });
    },

    async revoke(input: { businessId: string; reason: string }): Promise<Business> {
      const reason = requireReason(input.reason);
      return db.transaction().execute(async (trx) => {
        const business = await directory.load(trx, input.businessId, true);
        if (!business) throw new NotFound("business");
        if (!business.verified) throw new PolicyRefused("NOT_VERIFIED", "the business is not verified");
        const row = await updateBusiness(trx, business.id, { verified: false, verified_at: null, verification_state: "revoked" });
        const updated = businessRowToBusiness(row, await listPhoneNumbers(trx, [business.id]), business.followerCount);
        await setSearchVerified(trx, business.id, false);
        await ports.enqueue(trx, [verificationRevokedEvent(updated, reason)]);
        return updated;
      });
    },
  };
}

export type VerificationService = ReturnType<typeof createVerificationService>;

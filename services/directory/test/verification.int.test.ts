import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import {
  DirectoryServiceClient,
  VerificationCaseState,
  VerificationDecision,
  VerificationState,
} from "@kontor/proto/directory/v1/directory_service";
import { BusinessVerificationRejected, BusinessVerificationRevoked, BusinessVerified } from "@kontor/proto/directory/v1/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createDirectory, type DirectoryApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildProfile, buildRegister, streamMessages } from "./factories.js";

let env: TestEnv;
let app: DirectoryApp;
let client: DirectoryServiceClient;
let onboarding: string;
let reviewer: string;

const evidence = [{ kind: "business_registration", uri: "docs://kyc/hrb-12345", description: "Handelsregister" }];

beforeAll(async () => {
  env = await createTestEnv();
  app = await createDirectory(loadConfig(env.env()));
  const { port } = await app.start();
  client = clientFor(DirectoryServiceClient, port);
  onboarding = await env.token({ kind: "service", service: "onboarding" });
  reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["directory.reviewer"] });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

async function registerAs(displayName: string) {
  const { business } = await unaryCall(client.registerBusiness.bind(client), buildRegister({ displayName, category: "retail.crafts" }), { token: onboarding });
  return { id: business!.id, token: await env.token({ kind: "business", businessId: business!.id }) };
}

async function verify(displayName: string) {
  const b = await registerAs(displayName);
  const { verificationCase } = await unaryCall(client.requestVerification.bind(client), { businessId: b.id, evidence, note: "" }, { token: b.token });
  const decided = await unaryCall(
    client.decideVerification.bind(client),
    { caseId: verificationCase!.id, decision: VerificationDecision.VERIFICATION_DECISION_APPROVE, reason: "" },
    { token: reviewer },
  );
  return { ...b, caseId: verificationCase!.id, decided };
}

const searchVerified = (query: string, verifiedOnly: boolean) =>
  unaryCall(
    client.searchBusinesses.bind(client),
    { query, category: "", near: undefined, openNow: false, verifiedOnly, language: "", country: "", page: undefined },
    { token: onboarding },
  );

describe("verification", () => {
  it("when a reviewer approves, then the badge shows on the profile and in search, and BusinessVerified reaches NATS", async () => {
    const v = await verify("Kontor Official Ceramics");
    expect(v.decided.verificationCase?.state).toBe(VerificationCaseState.VERIFICATION_CASE_STATE_APPROVED);
    expect(v.decided.business).toMatchObject({ verified: true, verifiedName: "Kontor Official Ceramics", verificationState: VerificationState.VERIFICATION_STATE_VERIFIED });
    const res = await searchVerified("kontor official ceramics", false);
    expect(res.results.find((r) => r.business?.id === v.id)?.business?.verified).toBe(true);
    const event = await waitFor(async () =>
      (await streamMessages(env, subjects.businessVerified)).map((d) => BusinessVerified.decode(d)).find((e) => e.business?.businessId === v.id),
    );
    expect(event.verifiedName).toBe("Kontor Official Ceramics");
    expect(event.business?.verified).toBe(true);
  });

  it("when verified_only is set, then unverified businesses are left out", async () => {
    await verify("Glimmerwick Lamps Official");
    await registerAs("Glimmerwick Lamps Copycat");
    const all = await searchVerified("glimmerwick", false);
    expect(all.results.length).toBe(2);
    const onlyVerified = await searchVerified("glimmerwick", true);
    expect(onlyVerified.results.map((r) => r.business!.displayName)).toEqual(["Glimmerwick Lamps Official"]);
    const browse = await searchVerified("", true);
    expect(browse.results.length).toBeGreaterThan(0);
    expect(browse.results.every((r) => r.business!.verified)).toBe(true);
  });

  it("when someone else registers or renames to a name close to a verified one, then INVALID_ARGUMENT names profile.display_name", async () => {
    await verify("Zentrale Marmorwerkstatt");
    for (const name of ["Zentrale Marmorwerkstat", "zentrale marmorwerkstatt", "Zentrale Marmorwerkstatt Berlin Shop"]) {
      const err = await expectFailure(client.registerBusiness.bind(client), buildRegister({ displayName: name }), { token: onboarding });
      expect([err.code, errorDetail(err)?.field, errorDetail(err)?.reason], name).toEqual([status.INVALID_ARGUMENT, "profile.display_name", "NAME_IMPERSONATION"]);
    }
    const other = await registerAs("Marmor Freunde");
    const rename = await expectFailure(
      client.updateBusiness.bind(client),
      { businessId: other.id, profile: buildProfile({ displayName: "Zentrale Marmorwerkstatt" }), updateMask: ["display_name"], expectedVersion: "0" },
      { token: other.token },
    );
    expect([rename.code, errorDetail(rename)?.field]).toEqual([status.INVALID_ARGUMENT, "profile.display_name"]);
    // Unrelated names stay free.
    await registerAs("Marmorkuchen Bäckerei");
  });

  it("when only businesses or staff without the role try to decide, then PERMISSION_DENIED", async () => {
    const b = await registerAs("Hafenkiosk Nord");
    const { verificationCase } = await unaryCall(client.requestVerification.bind(client), { businessId: b.id, evidence, note: "please" }, { token: b.token });
    for (const token of [b.token, await env.token({ kind: "staff", staffId: "support_1", roles: ["support"] })]) {
      const err = await expectFailure(
        client.decideVerification.bind(client),
        { caseId: verificationCase!.id, decision: VerificationDecision.VERIFICATION_DECISION_APPROVE, reason: "" },
        { token },
      );
      expect(err.code).toBe(status.PERMISSION_DENIED);
    }
    const again = await expectFailure(client.requestVerification.bind(client), { businessId: b.id, evidence, note: "" }, { token: b.token });
    expect([again.code, errorDetail(again)?.reason]).toEqual([status.ALREADY_EXISTS, "VERIFICATION_PENDING"]);
    const other = await expectFailure(client.requestVerification.bind(client), { businessId: b.id, evidence, note: "" }, { token: await env.token({ kind: "business", businessId: "biz_else" }) });
    expect(other.code).toBe(status.PERMISSION_DENIED);
  });

  it("when a reviewer rejects, then a reason is required and BusinessVerificationRejected carries it", async () => {
    const b = await registerAs("Seidenweberei Ost");
    const { verificationCase } = await unaryCall(client.requestVerification.bind(client), { businessId: b.id, evidence, note: "" }, { token: b.token });
    const noReason = await expectFailure(
      client.decideVerification.bind(client),
      { caseId: verificationCase!.id, decision: VerificationDecision.VERIFICATION_DECISION_REJECT, reason: " " },
      { token: reviewer },
    );
    expect([noReason.code, errorDetail(noReason)?.field]).toEqual([status.INVALID_ARGUMENT, "reason"]);
    const out = await unaryCall(
      client.decideVerification.bind(client),
      { caseId: verificationCase!.id, decision: VerificationDecision.VERIFICATION_DECISION_REJECT, reason: "registry extract is unreadable" },
      { token: reviewer },
    );
    expect(out.business?.verificationState).toBe(VerificationState.VERIFICATION_STATE_REJECTED);
    const closed = await expectFailure(
      client.decideVerification.bind(client),
      { caseId: verificationCase!.id, decision: VerificationDecision.VERIFICATION_DECISION_APPROVE, reason: "" },
      { token: reviewer },
    );
    expect([closed.code, errorDetail(closed)?.reason]).toEqual([status.FAILED_PRECONDITION, "CASE_CLOSED"]);
    const event = await waitFor(async () =>
      (await streamMessages(env, subjects.businessVerificationRejected)).map((d) => BusinessVerificationRejected.decode(d)).find((e) => e.businessId === b.id),
    );
    expect(event.reason).toBe("registry extract is unreadable");
    const mine = await unaryCall(
      client.listVerificationCases.bind(client),
      { state: VerificationCaseState.VERIFICATION_CASE_STATE_UNSPECIFIED, businessId: b.id, page: undefined },
      { token: b.token },
    );
    expect(mine.verificationCases.map((c) => c.decisionReason)).toEqual(["registry extract is unreadable"]);
    const queue = await expectFailure(
      client.listVerificationCases.bind(client),
      { state: VerificationCaseState.VERIFICATION_CASE_STATE_PENDING, businessId: "", page: undefined },
      { token: b.token },
    );
    expect(queue.code).toBe(status.PERMISSION_DENIED);
  });

  it("when a reviewer revokes or the business renames, then the badge goes and BusinessVerificationRevoked is published", async () => {
    const revoked = await verify("Lindenholz Tischlerei");
    const out = await unaryCall(client.revokeVerification.bind(client), { businessId: revoked.id, reason: "ownership changed" }, { token: reviewer });
    expect(out.business).toMatchObject({ verified: false, verificationState: VerificationState.VERIFICATION_STATE_REVOKED });
    const renamed = await verify("Ahornholz Tischlerei");
    const after = await unaryCall(
      client.updateBusiness.bind(client),
      { businessId: renamed.id, profile: buildProfile({ displayName: "Ahorn & Eiche Tischlerei" }), updateMask: ["display_name"], expectedVersion: "0" },
      { token: renamed.token },
    );
    expect(after.business).toMatchObject({ verified: false, verificationState: VerificationState.VERIFICATION_STATE_REVOKED });
    const events = await waitFor(async () => {
      const all = (await streamMessages(env, subjects.businessVerificationRevoked)).map((d) => BusinessVerificationRevoked.decode(d));
      const mine = all.filter((e) => [revoked.id, renamed.id].includes(e.business!.businessId));
      return mine.length === 2 ? mine : undefined;
    });
    expect(events.map((e) => e.reason).sort()).toEqual(["display name changed", "ownership changed"]);
    const res = await searchVerified("tischlerei", true);
    expect(res.results).toEqual([]);
  });

  it("when the queue is listed, then pending cases come oldest first for a reviewer", async () => {
    const a = await registerAs("Queue Alpha Studio");
    const b = await registerAs("Queue Beta Studio");
    await unaryCall(client.requestVerification.bind(client), { businessId: a.id, evidence, note: "" }, { token: a.token });
    await unaryCall(client.requestVerification.bind(client), { businessId: b.id, evidence, note: "" }, { token: b.token });
    const page1 = await unaryCall(
      client.listVerificationCases.bind(client),
      { state: VerificationCaseState.VERIFICATION_CASE_STATE_PENDING, businessId: "", page: { pageSize: 1, pageToken: "" } },
      { token: reviewer },
    );
    const ids: string[] = page1.verificationCases.map((c) => c.businessId);
    let token = page1.page!.nextPageToken;
    while (token) {
      const next = await unaryCall(
        client.listVerificationCases.bind(client),
        { state: VerificationCaseState.VERIFICATION_CASE_STATE_PENDING, businessId: "", page: { pageSize: 1, pageToken: token } },
        { token: reviewer },
      );
      ids.push(...next.verificationCases.map((c) => c.businessId));
      token = next.page!.nextPageToken;
    }
    // Both there, once each, the older first (other pending cases of this file may sit around them).
    expect(ids.filter((id) => id === a.id || id === b.id)).toEqual([a.id, b.id]);
    const badEvidence = await expectFailure(
      client.requestVerification.bind(client),
      { businessId: a.id, evidence: [{ kind: "selfie", uri: "docs://x", description: "" }], note: "" },
      { token: a.token },
    );
    expect(errorDetail(badEvidence)?.field).toBe("evidence[0].kind");
  });
});

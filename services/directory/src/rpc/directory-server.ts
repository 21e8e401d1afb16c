import {
  DirectoryServiceService,
  VerificationCaseState,
  VerificationDecision,
  type DirectoryServiceServer,
  type VerificationCase as VerificationCasePb,
  type ChatLink as ChatLinkPb,
} from "@kontor/proto/directory/v1/directory_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { principalLabel } from "@kontor/service-kit/auth";
import { InvalidInput } from "@kontor/service-kit/errors";
import { pageOf, pageSize, readPage } from "@kontor/service-kit/paging";
import type { DirectoryService } from "../domain/directory-service.js";
import type { VerificationService } from "../domain/verification-service.js";
import type { FollowService } from "../domain/follow-service.js";
import { isCustomerId } from "../domain/follow-service.js";
import type { ChatLinkService } from "../domain/chat-link-service.js";
import type { ChatLink } from "../domain/chat-link.js";
import type { CaseState, VerificationCase } from "../domain/verification.js";
import { CATEGORIES } from "../domain/taxonomy.js";
import { businessSummaryOf, businessToPb, hitSummary, profileFromPb } from "./mappers.js";
import * as authorize from "./authorize.js";

export { REVIEWER_ROLE } from "./access.js";

export interface DirectoryServices {
  directory: DirectoryService;
  verification: VerificationService;
  follow: FollowService;
  links: ChatLinkService;
}

type TimeCursor = { t: string; k: string };
const isTimeCursor = (v: unknown): v is TimeCursor =>
  typeof v === "object" && v !== null && typeof (v as TimeCursor).t === "string" && !Number.isNaN(Date.parse((v as TimeCursor).t)) && typeof (v as TimeCursor).k === "string";

function required(value: string, field: string): string {
  if (!value) throw new InvalidInput(field, "is required");
  return value;
}

const CASE_STATES: Record<CaseState, VerificationCaseState> = {
  pending: VerificationCaseState.VERIFICATION_CASE_STATE_PENDING,
  approved: VerificationCaseState.VERIFICATION_CASE_STATE_APPROVED,
  rejected: VerificationCaseState.VERIFICATION_CASE_STATE_REJECTED,
};

function caseToPb(c: VerificationCase): VerificationCasePb {
  return {
    id: c.id,
    businessId: c.businessId,
    state: CASE_STATES[c.state],
    requestedName: c.requestedName,
    evidence: c.evidence,
    note: c.note,
    reviewerId: c.reviewerId,
    decisionReason: c.decisionReason,
    createdAt: c.createdAt,
    decidedAt: c.decidedAt,
  };
}

function linkToPb(l: ChatLink): ChatLinkPb {
  return {
    code: l.code,
    businessId: l.businessId,
    url: l.url,
    phoneNumberId: l.phoneNumberId,
    prefilledMessage: l.prefilledMessage,
    campaign: l.campaign,
    referralTag: l.referralTag,
    active: l.active,
    openCount: String(l.openCount),
    createdAt: l.createdAt,
  };
}

/** Thin handlers: decode → authorize → domain → map. */
export function registerDirectoryServer(grpc: KitServer, services: DirectoryServices, maxPageSize: number): void {
  const { directory, verification, follow, links } = services;

  const partnerOf: authorize.PartnerOf = async (businessId) => (await directory.get(businessId)).partnerId;

  const page = (p: { pageSize: number; pageToken: string } | undefined) => readPage(p, isTimeCursor, maxPageSize);

  const handlers: DirectoryServiceServer = {
    registerBusiness: grpc.unary("RegisterBusiness", async (req, ctx) => {
      const p = ctx.principal;
      const business = await directory.register({
        businessId: req.businessId,
        profile: profileFromPb(req.profile),
        actor: { label: principalLabel(p), partnerId: p.kind === "partner" ? p.partnerId : undefined },
      });
      return { business: businessToPb(business) };
    }),

    getBusiness: grpc.unary("GetBusiness", async (req) => {
      return { business: businessToPb(await directory.get(required(req.businessId, "business_id"))) };
    }),

    updateBusiness: grpc.unary("UpdateBusiness", async (req, ctx) => {
      required(req.businessId, "business_id");
      await authorize.authorizeUpdateBusiness(ctx.principal, req.businessId, partnerOf);
      const business = await directory.update({
        businessId: req.businessId,
        patch: profileFromPb(req.profile),
        paths: req.updateMask ?? [],
        expectedVersion: Number(req.expectedVersion),
      });
      return { business: businessToPb(business) };
    }),

    lookupBusiness: grpc.unary("LookupBusiness", async (req) => {
      const key = req.key;
      if (!key || !key.value) throw new InvalidInput("key", "give phone_number, phone_number_id or handle");
      const found = await directory.lookup(
        key.$case === "phoneNumber" ? { phoneNumber: key.value } : key.$case === "phoneNumberId" ? { phoneNumberId: key.value } : { handle: key.value },
      );
      return { business: businessToPb(found.business), phoneNumber: found.phoneNumber };
    }),

    listCategories: grpc.unary("ListCategories", async () => ({ categories: CATEGORIES.map((c) => ({ code: c.code, label: c.label })) })),

    requestVerification: grpc.unary("RequestVerification", async (req, ctx) => {
      required(req.businessId, "business_id");
      await authorize.authorizeRequestVerification(ctx.principal, req.businessId, partnerOf);
      const c = await verification.request({ businessId: req.businessId, evidence: req.evidence, note: req.note, actor: principalLabel(ctx.principal) });
      return { verificationCase: caseToPb(c) };
    }),

    listVerificationCases: grpc.unary("ListVerificationCases", async (req, ctx) => {
      await authorize.authorizeListVerificationCases(ctx.principal, req.businessId, partnerOf);
      const { limit, take, cursor } = page(req.page);
      const states: Record<number, CaseState | undefined> = {
        [VerificationCaseState.VERIFICATION_CASE_STATE_PENDING]: "pending",
        [VerificationCaseState.VERIFICATION_CASE_STATE_APPROVED]: "approved",
        [VerificationCaseState.VERIFICATION_CASE_STATE_REJECTED]: "rejected",
      };
      if (req.state !== VerificationCaseState.VERIFICATION_CASE_STATE_UNSPECIFIED && !states[req.state]) throw new InvalidInput("state", "is not a case state");
      const cases = await verification.list(
        { state: states[req.state], businessId: req.businessId || undefined },
        take,
        cursor ? { createdAt: new Date(cursor.t), id: cursor.k } : undefined,
      );
      const { items, page: next } = pageOf(cases, limit, (last) => ({ t: last.createdAt.toISOString(), k: last.id }));
      return { verificationCases: items.map(caseToPb), page: next };
    }),

    decideVerification: grpc.unary("DecideVerification", async (req, ctx) => {
      authorize.authorizeDecideVerification(ctx.principal);
      required(req.caseId, "case_id");
      if (req.decision !== VerificationDecision.VERIFICATION_DECISION_APPROVE && req.decision !== VerificationDecision.VERIFICATION_DECISION_REJECT) {
        throw new InvalidInput("decision", "must be APPROVE or REJECT");
      }
      const out = await verification.decide({
        caseId: req.caseId,
        approve: req.decision === VerificationDecision.VERIFICATION_DECISION_APPROVE,
        reason: req.reason,
        reviewerId: principalLabel(ctx.principal),
      });
      return { verificationCase: caseToPb(out.verificationCase), business: businessToPb(out.business) };
    }),

    revokeVerification: grpc.unary("RevokeVerification", async (req, ctx) => {
      authorize.authorizeRevokeVerification(ctx.principal);
      const business = await verification.revoke({ businessId: required(req.businessId, "business_id"), reason: req.reason });
      return { business: businessToPb(business) };
    }),

    searchBusinesses: grpc.unary("SearchBusinesses", async (req) => {
      const size = pageSize(req.page?.pageSize, 20, Math.min(maxPageSize, 50));
      const out = await directory.search(
        {
          query: req.query,
          category: req.category,
          near: req.near ? { latitude: req.near.latitude, longitude: req.near.longitude, radiusKm: req.near.radiusKm } : undefined,
          openNow: req.openNow,
          verifiedOnly: req.verifiedOnly,
          language: req.language,
          country: req.country,
        },
        { pageSize: size, pageToken: req.page?.pageToken ?? "" },
      );
      return {
        results: out.hits.map((h) => ({ business: hitSummary(h), distanceKm: h.distanceKm ?? 0, openNow: h.openNow, score: h.score })),
        page: { nextPageToken: out.nextPageToken },
        correctedQuery: out.corrected ?? "",
      };
    }),

    suggestBusinesses: grpc.unary("SuggestBusinesses", async (req) => {
      const hits = await directory.suggest({
        prefix: req.prefix,
        near: req.near ? { latitude: req.near.latitude, longitude: req.near.longitude } : undefined,
        limit: req.limit,
      });
      return { suggestions: hits.map((h) => ({ business: hitSummary(h), distanceKm: h.distanceKm ?? 0 })) };
    }),

    followBusiness: grpc.unary("FollowBusiness", async (req, ctx) => {
      required(req.businessId, "business_id");
      if (!isCustomerId(required(req.customerId, "customer_id"))) throw new InvalidInput("customer_id", "is not a customer id");
      authorize.authorizeFollowBusiness(ctx.principal, req.customerId);
      return follow.follow(req.businessId, req.customerId).then((r) => ({ following: r.following, followerCount: String(r.followerCount) }));
    }),

    unfollowBusiness: grpc.unary("UnfollowBusiness", async (req, ctx) => {
      required(req.businessId, "business_id");
      if (!isCustomerId(required(req.customerId, "customer_id"))) throw new InvalidInput("customer_id", "is not a customer id");
      authorize.authorizeUnfollowBusiness(ctx.principal, req.customerId);
      return follow.unfollow(req.businessId, req.customerId).then((r) => ({ following: r.following, followerCount: String(r.followerCount) }));
    }),

    listFollowers: grpc.unary("ListFollowers", async (req, ctx) => {
      required(req.businessId, "business_id");
      await authorize.authorizeListFollowers(ctx.principal, req.businessId, partnerOf);
      const { limit, take, cursor } = page(req.page);
      const out = await follow.followers(req.businessId, take, cursor ? { at: new Date(cursor.t), key: cursor.k } : undefined);
      const { items, page: next } = pageOf(out.followers, limit, (last) => ({ t: last.followedAt.toISOString(), k: last.customerId }));
      return { followers: items, followerCount: String(out.followerCount), page: next };
    }),

    listFollowedBusinesses: grpc.unary("ListFollowedBusinesses", async (req, ctx) => {
      authorize.authorizeListFollowedBusinesses(ctx.principal, required(req.customerId, "customer_id"));
      const { limit, take, cursor } = page(req.page);
      const rows = await follow.followed(req.customerId, take, cursor ? { at: new Date(cursor.t), key: cursor.k } : undefined);
      const { items, page: next } = pageOf(rows, limit, (last) => ({ t: last.followedAt.toISOString(), k: last.business.id }));
      return { businesses: items.map((r) => ({ business: businessSummaryOf(r.business), followedAt: r.followedAt })), page: next };
    }),

    createChatLink: grpc.unary("CreateChatLink", async (req, ctx) => {
      required(req.businessId, "business_id");
      await authorize.authorizeCreateChatLink(ctx.principal, req.businessId, partnerOf);
      const link = await links.create({
        businessId: req.businessId,
        prefilledMessage: req.prefilledMessage,
        campaign: req.campaign,
        referralTag: req.referralTag,
        phoneNumberId: req.phoneNumberId,
        actor: principalLabel(ctx.principal),
      });
      return { chatLink: linkToPb(link) };
    }),

    listChatLinks: grpc.unary("ListChatLinks", async (req, ctx) => {
      required(req.businessId, "business_id");
      await authorize.authorizeListChatLinks(ctx.principal, req.businessId, partnerOf);
      const { limit, take, cursor } = page(req.page);
      const rows = await links.list(req.businessId, take, cursor ? { createdAt: new Date(cursor.t), code: cursor.k } : undefined);
      const { items, page: next } = pageOf(rows, limit, (last) => ({ t: last.createdAt.toISOString(), k: last.code }));
      return { chatLinks: items.map(linkToPb), page: next };
    }),

    deleteChatLink: grpc.unary("DeleteChatLink", async (req, ctx) => {
      required(req.businessId, "business_id");
      await authorize.authorizeDeleteChatLink(ctx.principal, req.businessId, partnerOf);
      await links.remove(req.businessId, required(req.code, "code"));
      return {};
    }),

    resolveChatLink: grpc.unary("ResolveChatLink", async (req) => {
      const out = await links.resolve(required(req.code, "code"));
      return {
        business: businessSummaryOf(out.business),
        phoneNumber: out.phoneNumber,
        prefilledMessage: out.link.prefilledMessage,
        referral: { sourceType: "chat_link", sourceUrl: out.link.url, code: out.link.code, campaign: out.link.campaign, referralTag: out.link.referralTag },
      };
    }),

    getChatLinkQrCode: grpc.unary("GetChatLinkQrCode", async (req, ctx) => {
      required(req.businessId, "business_id");
      await authorize.authorizeGetChatLinkQrCode(ctx.principal, req.businessId, partnerOf);
      return links.qrCode(req.businessId, required(req.code, "code"));
    }),

    isOpen: grpc.unary("IsOpen", async (req) => {
      const out = await directory.isOpen(required(req.businessId, "business_id"), req.at);
      return {
        open: out.state?.open ?? false,
        hoursKnown: out.state !== undefined,
        closesAt: out.state?.closesAt,
        nextOpenAt: out.state?.nextOpenAt,
        timeZone: out.timeZone,
      };
    }),
  };
  grpc.addService(DirectoryServiceService, handlers);
}

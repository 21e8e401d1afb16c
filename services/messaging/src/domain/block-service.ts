import { InvalidInput } from "@kontor/service-kit/errors";
import { isValidId } from "./participant.js";
import type { BlockCache, BlockChange } from "./block-cache.js";

/** A report's comment, at most this long (the bounds table refuses longer first). */
export const COMMENT_MAX = 1000;

/** Why a customer reports a business. */
export type ReportReason = "spam" | "scam" | "offensive" | "not_signed_up" | "other";

/** A pair's stored state; `at` is undefined while the customer never blocked the business. */
export interface BlockState {
  blocked: boolean;
  at: number | undefined;
}

export const NOT_BLOCKED: BlockState = Object.freeze({ blocked: false, at: undefined });

export interface BlockedBusiness {
  businessId: string;
  blockedAt: Date;
}

export interface NewReport {
  id: string;
  customerId: string;
  businessId: string;
  /** The number the reported messages came from, when known. */
  phoneNumberId: string | undefined;
  reason: ReportReason;
  comment: string;
  at: number;
}

/** The outcome of a block request: the state now, and the change when there was one. */
export interface BlockOutcome {
  state: BlockState;
  change: BlockChange | undefined;
}

/**
 * The change a block request makes to a pair's stored state, or undefined
 * when it is already so. Its time is `now`, or just after the pair's last
 * change when a clock behind it would not be later (so every pair's changes
 * are strictly ordered by time, whichever replica made them).
 */
export function blockChange(customerId: string, businessId: string, stored: BlockState, blocked: boolean, now: number): BlockChange | undefined {
  if (stored.at !== undefined && stored.blocked === blocked) return undefined;
  if (stored.at === undefined && !blocked) return undefined;
  const at = stored.at !== undefined && now <= stored.at ? stored.at + 1 : now;
  return { customerId, businessId, blocked, at };
}

/** The store's part: each write stores the change and its events in one transaction. */
export interface BlockStorePort {
  /** Sets the pair (row locked), with its BlockChanged event when it changed. */
  setBlocked(customerId: string, businessId: string, blocked: boolean, now: number): Promise<BlockOutcome>;
  /** Stores the report and its BusinessReported event, and with `block` blocks in the same transaction. */
  report(report: NewReport, block: boolean): Promise<BlockOutcome>;
  blockedBy(customerId: string): Promise<BlockedBusiness[]>;
}

export interface BlockPorts {
  store: BlockStorePort;
  /** This replica's blocks: its own changes apply at once, other replicas' through the events. */
  cache: Pick<BlockCache, "apply">;
  now: () => number;
  newId: () => string;
}

function requireId(value: string, field: string): void {
  if (!value) throw new InvalidInput(field, "is required");
  if (!isValidId(value)) throw new InvalidInput(field, "must be [A-Za-z0-9_-], at most 64 characters");
}

/** The ids of a block, report or list request (participant.ts rules); the phone number is optional. */
export function requireBlockIds(customerId: string, businessId?: string, phoneNumberId = ""): void {
  requireId(customerId, "customer_id");
  if (businessId !== undefined) requireId(businessId, "business_id");
  if (phoneNumberId) requireId(phoneNumberId, "phone_number_id");
}

/** Blocks and reports (rule 3): the customer's side; the send path reads the cache. */
export function createBlockService(ports: BlockPorts) {
  const { store, cache } = ports;
  const applied = (outcome: BlockOutcome): BlockOutcome => {
    if (outcome.change) cache.apply(outcome.change);
    return outcome;
  };
  return {
    async setBlocked(customerId: string, businessId: string, blocked: boolean): Promise<BlockState> {
      requireBlockIds(customerId, businessId);
      return applied(await store.setBlocked(customerId, businessId, blocked, ports.now())).state;
    },

    async report(input: { customerId: string; businessId: string; phoneNumberId: string; reason: ReportReason; comment: string; block: boolean }): Promise<{ reportId: string; blocked: boolean }> {
      requireBlockIds(input.customerId, input.businessId, input.phoneNumberId);
      // Characters as the bounds count them (code points), not UTF-16 units.
      if (input.comment.length > COMMENT_MAX && [...input.comment].length > COMMENT_MAX) throw new InvalidInput("comment", `at most ${COMMENT_MAX} characters`);
      const report: NewReport = {
        id: ports.newId(),
        customerId: input.customerId,
        businessId: input.businessId,
        phoneNumberId: input.phoneNumberId || undefined,
        reason: input.reason,
        comment: input.comment,
        at: ports.now(),
      };
      const outcome = applied(await store.report(report, input.block));
      return { reportId: report.id, blocked: outcome.state.blocked };
    },

    async list(customerId: string): Promise<BlockedBusiness[]> {
      requireBlockIds(customerId);
      return store.blockedBy(customerId);
    },
  };
}

export type BlockService = ReturnType<typeof createBlockService>;

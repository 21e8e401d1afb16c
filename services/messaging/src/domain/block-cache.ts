import { NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { withoutStack } from "./policy/refusals.js";

/** One block state of a customer × business as the store keeps it and BlockChanged carries it. */
export interface BlockChange {
  customerId: string;
  businessId: string;
  blocked: boolean;
  /** When it changed, epoch ms; strictly later than the pair's previous change (the store sees to it). */
  at: number;
}

/**
 * Where blocks and reports feed the quality rating of a business's numbers
 * (policy/quality.ts). Called by this replica's event consumers, once per
 * block that turns on and per report; `phoneNumberId` when known (a report
 * may name the number, a block never does).
 */
export interface QualitySignals {
  /** `customerId` lets quality find the marketing template the customer last got from the business. */
  blocked(businessId: string, phoneNumberId: string | undefined, at: number, customerId?: string): void;
  reported(businessId: string, phoneNumberId: string | undefined, at: number, customerId?: string): void;
}

/** One block state of a business number × customer (the business's side, block_users), as UserBlockChanged carries it. */
export interface UserBlockChange {
  phoneNumberId: string;
  customerId: string;
  businessId: string;
  blocked: boolean;
  /** When it changed, epoch ms; strictly later than the pair's previous change. */
  at: number;
}

/** A pair's state on this replica; updated in place. */
interface Entry {
  blocked: boolean;
  at: number;
}

/**
 * Every customer × business block in this replica's memory, for the send
 * path: loaded in full at start (blocks are few compared to messages), then
 * kept fresh by block.changed events (events/blocks.ts), and a change this
 * replica commits is applied at once. A change merges by time: one not later
 * than the change already applied for its pair changes nothing, so events
 * late, twice or out of order end in the stored state. Unblocked pairs keep
 * their time, so an older block cannot come back.
 */
export function createBlockCache() {
  /** business id → customer id → state: a lookup builds no key. */
  const byBusiness = new Map<string, Map<string, Entry>>();
  let blockedPairs = 0;

  function apply(change: BlockChange): boolean {
    let customers = byBusiness.get(change.businessId);
    if (!customers) byBusiness.set(change.businessId, (customers = new Map()));
    const entry = customers.get(change.customerId);
    if (!entry) {
      customers.set(change.customerId, { blocked: change.blocked, at: change.at });
      if (change.blocked) blockedPairs++;
      return true;
    }
    if (change.at <= entry.at) return false;
    if (entry.blocked !== change.blocked) blockedPairs += change.blocked ? 1 : -1;
    entry.blocked = change.blocked;
    entry.at = change.at;
    return true;
  }

  /** The business's side: phone number id → customer id → state (the same merge by time). */
  const byNumber = new Map<string, Map<string, Entry>>();
  let blockedUsers = 0;

  function applyUser(change: UserBlockChange): boolean {
    let customers = byNumber.get(change.phoneNumberId);
    if (!customers) byNumber.set(change.phoneNumberId, (customers = new Map()));
    const entry = customers.get(change.customerId);
    if (!entry) {
      customers.set(change.customerId, { blocked: change.blocked, at: change.at });
      if (change.blocked) blockedUsers++;
      return true;
    }
    if (change.at <= entry.at) return false;
    if (entry.blocked !== change.blocked) blockedUsers += change.blocked ? 1 : -1;
    entry.blocked = change.blocked;
    entry.at = change.at;
    return true;
  }

  return {
    /**
     * Does this business number block this customer (block_users)? Synchronous,
     * from memory, as isBlocked.
     */
    blocksUser(phoneNumberId: string, customerId: string): boolean {
      const customers = byNumber.get(phoneNumberId);
      if (customers === undefined) return false;
      const entry = customers.get(customerId);
      return entry !== undefined && entry.blocked;
    },

    /** A business-side change from a user_block event or this replica's own commit; true when applied. */
    applyUser,

    /** The business-side states at start. */
    loadUsers(rows: Iterable<UserBlockChange>): void {
      for (const row of rows) applyUser(row);
    },

    /** Users blocked by business numbers now (tests, metrics). */
    usersBlocked(): number {
      return blockedUsers;
    },

    /**
     * Does this customer block this business? Synchronous, from memory; an
     * allowed send allocates nothing here.
     */
    isBlocked(customerId: string, businessId: string): boolean {
      const customers = byBusiness.get(businessId);
      if (customers === undefined) return false;
      const entry = customers.get(customerId);
      return entry !== undefined && entry.blocked;
    },

    /**
     * A change from a block event or this replica's own commit. True when it
     * is later than the pair's applied change (and so was applied).
     */
    apply,

    /** The stored states at start (every row, unblocked ones for their time). */
    load(rows: Iterable<BlockChange>): void {
      for (const row of rows) apply(row);
    },

    /** Pairs blocked now (tests, metrics). */
    size(): number {
      return blockedPairs;
    },
  };
}

export type BlockCache = ReturnType<typeof createBlockCache>;


/**
 * The send path's answer to a business whose customer blocks it: exactly
 * the answer for an unknown recipient (NOT_FOUND, RECIPIENT_NOT_FOUND, Cloud
 * API 131026, "recipient not found"), so the business cannot tell a block
 * from an unknown number.
 */
export function undeliverable(): NotFound {
  return withoutStack(() => new NotFound("recipient", "RECIPIENT_NOT_FOUND", 131026));
}

/**
 * The send path's answer to a business number that blocks the customer it
 * sends to: FAILED_PRECONDITION USER_BLOCKED with Cloud API 131026 (message
 * undeliverable); the business knows it blocked the user, so it is told.
 */
export function userBlocked(): PolicyRefused {
  return withoutStack(() => new PolicyRefused("USER_BLOCKED", "this business number blocks the recipient; unblock the user to message them", 131026));
}

/** A customer's message to a business number that blocks it: refused, never stored nor delivered. */
export function blockedByBusiness(): PolicyRefused {
  return withoutStack(() => new PolicyRefused("BLOCKED_BY_BUSINESS", "this business number does not take messages from this customer"));
}

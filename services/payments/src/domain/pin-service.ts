import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import { PolicyRefused } from "@kontor/service-kit/errors";
import type { PaymentsDatabase } from "../store/database.js";
import { findPin, recordPinFailure, resetPinFailures, upsertPin } from "../store/payments-store.js";
import { afterWrongPin, hashPin, newSalt, pinMatches, validatePin } from "./pin.js";

export interface PinPorts {
  db: Kysely<PaymentsDatabase>;
  now(): Date;
  /** scrypt's log2(N) for new PINs. */
  scryptCost: number;
  coolingOffMs: number;
  /**
   * How long a PIN that passed scrypt is recognised by a keyed hash instead
   * (0: always scrypt). Only a match is remembered, only in memory, keyed by
   * a per-process secret and bound to the stored hash (a new PIN forgets it);
   * lockout is still read from the row on every check.
   */
  verifiedTtlMs: number;
}

/**
 * Payment PINs. Checks of one customer's PIN run one at a time in this
 * replica, so a burst of guesses cannot get past the fifth failure before
 * it locks; the PIN itself is never stored, logged or returned.
 */
export function createPinService(ports: PinPorts) {
  const chains = new Map<string, Promise<unknown>>();
  const secret = randomBytes(32);
  const verified = new Map<string, { mac: Buffer; until: number }>();
  const macOf = (customerId: string, storedHash: Buffer, pin: string) => createHmac("sha256", secret).update(customerId).update("\u0000").update(storedHash).update("\u0000").update(pin).digest();

  function recentlyVerified(customerId: string, storedHash: Buffer, pin: string, now: number): boolean {
    const hit = verified.get(customerId);
    if (!hit || hit.until <= now) return false;
    return timingSafeEqual(hit.mac, macOf(customerId, storedHash, pin));
  }

  function remember(customerId: string, storedHash: Buffer, pin: string, now: number): void {
    if (ports.verifiedTtlMs <= 0) return;
    if (verified.size >= 100_000) verified.clear();
    verified.set(customerId, { mac: macOf(customerId, storedHash, pin), until: now + ports.verifiedTtlMs });
  }

  function serialized<T>(customerId: string, work: () => Promise<T>): Promise<T> {
    const previous = chains.get(customerId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    chains.set(customerId, settled);
    void settled.then(() => {
      if (chains.get(customerId) === settled) chains.delete(customerId);
    });
    return next;
  }

  async function check(customerId: string, pin: string, field: string): Promise<void> {
    const row = await findPin(ports.db, customerId);
    if (!row) throw new PolicyRefused("PIN_NOT_SET", "set a payment PIN first", 0, field);
    const now = ports.now();
    if (row.locked_until && row.locked_until > now) {
      const err = new PolicyRefused("PAYMENTS_LOCKED", "too many wrong PINs; payments are locked for a while", 0, field);
      err.metadata = { locked_until: row.locked_until.toISOString() };
      throw err;
    }
    const at = Date.now();
    if (recentlyVerified(customerId, row.hash, pin, at) || (await pinMatches(pin, row))) {
      remember(customerId, row.hash, pin, at);
      if (row.failed_attempts > 0) await resetPinFailures(ports.db, customerId);
      return;
    }
    const next = afterWrongPin(row.failed_attempts, now, ports.coolingOffMs);
    await recordPinFailure(ports.db, customerId, next.failed, next.lockedUntil);
    if (next.lockedUntil) {
      const err = new PolicyRefused("PAYMENTS_LOCKED", "too many wrong PINs; payments are locked for a while", 0, field);
      err.metadata = { locked_until: next.lockedUntil.toISOString() };
      throw err;
    }
    throw new PolicyRefused("WRONG_PIN", "the PIN is wrong", 0, field);
  }

  return {
    /** Refuses (WRONG_PIN, PAYMENTS_LOCKED, PIN_NOT_SET) unless the PIN is the customer's. */
    verify(customerId: string, pin: string, field = "pin"): Promise<void> {
      validatePin(field, pin);
      return serialized(customerId, () => check(customerId, pin, field));
    },

    /** Sets the PIN; changing it needs the current one (which counts as an attempt). */
    async set(customerId: string, newPin: string, currentPin: string): Promise<void> {
      validatePin("new_pin", newPin);
      const existing = await findPin(ports.db, customerId);
      if (existing) {
        if (!currentPin) throw new PolicyRefused("PIN_REQUIRED", "changing the PIN needs the current one", 0, "current_pin");
        await this.verify(customerId, currentPin, "current_pin");
      }
      const salt = newSalt();
      await upsertPin(ports.db, { customer_id: customerId, hash: await hashPin(newPin, salt, ports.scryptCost), salt, cost: ports.scryptCost });
      verified.delete(customerId);
    },
  };
}

export type PinService = ReturnType<typeof createPinService>;

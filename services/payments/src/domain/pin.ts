import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { InvalidInput } from "@kontor/service-kit/errors";

/** A payment PIN: 4 to 6 digits. */
export function validatePin(field: string, pin: string): string {
  if (!/^[0-9]{4,6}$/.test(pin)) throw new InvalidInput(field, "must be 4 to 6 digits");
  return pin;
}

export const MAX_PIN_ATTEMPTS = 5;

/** scrypt with r=8, p=1 and N=2^cost; 32-byte hash over a per-customer 16-byte salt. */
export function hashPin(pin: string, salt: Buffer, cost: number): Promise<Buffer> {
  const N = 2 ** cost;
  return new Promise((resolve, reject) =>
    scrypt(pin, salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export function newSalt(): Buffer {
  return randomBytes(16);
}

export async function pinMatches(pin: string, stored: { hash: Buffer; salt: Buffer; cost: number }): Promise<boolean> {
  const candidate = await hashPin(pin, stored.salt, stored.cost);
  return candidate.length === stored.hash.length && timingSafeEqual(candidate, stored.hash);
}

/** After a wrong PIN: the new count of failures and, at the limit, until when payments are locked (the count restarts). */
export function afterWrongPin(failedBefore: number, now: Date, coolingOffMs: number): { failed: number; lockedUntil: Date | null } {
  const failed = failedBefore + 1;
  if (failed >= MAX_PIN_ATTEMPTS) return { failed: 0, lockedUntil: new Date(now.getTime() + coolingOffMs) };
  return { failed, lockedUntil: null };
}

import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import { InvalidInput, PolicyRefused } from "@kontor/service-kit/errors";
import type { PaymentsDatabase } from "../store/database.js";
import { claimIdempotencyKey, findIdempotencyRecord, setIdempotencyResult } from "../store/payments-store.js";

const MAX_KEY = 128;

export function validateIdempotencyKey(key: string): string {
  if (!key) throw new InvalidInput("idempotency_key", "is required");
  if (key.length > MAX_KEY || !/^[\x21-\x7e]+$/.test(key)) throw new InvalidInput("idempotency_key", `must be 1-${MAX_KEY} printable ASCII characters without spaces`);
  return key;
}

/** A request's fingerprint: a hash of its validated body (bigints as strings), secrets left out by the caller. */
export function fingerprint(body: unknown): string {
  const json = JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return createHash("sha256").update(json).digest("base64url");
}

export function idempotencyKeyReused(): PolicyRefused {
  return new PolicyRefused("IDEMPOTENCY_KEY_REUSED", "this idempotency_key was already used for a different request", 0, "idempotency_key");
}

/**
 * Stripe's idempotency keys inside the use case's transaction: the first
 * call with a key claims it and records what it made; a retry with the same
 * body gets that result again (load), another body is refused. A
 * concurrent retry waits on the claim's row until the first commits. A
 * first call that fails rolls its claim back, so it may be retried.
 */
export async function idempotent<T>(
  trx: Kysely<PaymentsDatabase>,
  claim: { caller: string; scope: string; key: string; body: unknown },
  run: () => Promise<{ id: string; value: T }>,
  load: (id: string) => Promise<T>,
): Promise<{ value: T; replayed: boolean }> {
  const print = fingerprint(claim.body);
  if (await claimIdempotencyKey(trx, claim.caller, claim.scope, claim.key, print)) {
    const made = await run();
    await setIdempotencyResult(trx, claim.caller, claim.scope, claim.key, made.id);
    return { value: made.value, replayed: false };
  }
  const record = await findIdempotencyRecord(trx, claim.caller, claim.scope, claim.key);
  if (!record || record.fingerprint !== print) throw idempotencyKeyReused();
  return { value: await load(record.result_id), replayed: true };
}

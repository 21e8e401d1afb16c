import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { MoneyValue } from "@kontor/service-kit/money";
import type { BankNumber } from "./bank.js";

/** Money between a wallet and a bank account: "pull" takes it from the bank (top-up), "push" sends it (payout). */
export interface RailOrder {
  /** Our operation id: the bank treats a second order with the same reference as the first. */
  reference: string;
  direction: "pull" | "push";
  account: BankNumber;
  amount: MoneyValue;
}

/** What the bank later says about an order, delivered as a signed callback (a webhook). */
export interface RailOutcome {
  reference: string;
  railReference: string;
  status: "settled" | "failed";
  reason: string;
}

/**
 * A bank rail: orders go out at once and are acknowledged; the outcome
 * arrives later through the callback, signed with the shared secret. The
 * receiver verifies the signature before it believes a word.
 */
export interface BankRail {
  readonly name: string;
  submit(order: RailOrder): Promise<{ railReference: string }>;
  /** Where outcomes go: the raw body and its signature, as a webhook would carry them. */
  onCallback(deliver: (body: Buffer, signature: string) => Promise<void>): void;
  stop(): void;
}

export function signCallback(secret: string, body: Buffer): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** Verifies a callback's signature; undefined when it does not match or the body is not an outcome. */
export function verifyCallback(secret: string, body: Buffer, signature: string): RailOutcome | undefined {
  const expected = Buffer.from(signCallback(secret, body), "hex");
  const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, "hex") : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const parsed = JSON.parse(body.toString("utf8")) as Partial<RailOutcome>;
    if (typeof parsed.reference !== "string" || (parsed.status !== "settled" && parsed.status !== "failed")) return undefined;
    return { reference: parsed.reference, railReference: String(parsed.railReference ?? ""), status: parsed.status, reason: String(parsed.reason ?? "") };
  } catch {
    return undefined;
  }
}

export interface SandboxOptions {
  secret: string;
  /** Delay before the callback, in ms (0: on the next tick). */
  latencyMs: number;
  /** Share of orders that fail, 0..1, decided by a hash of the seed and the reference (deterministic). */
  failureRate: number;
  seed: string;
  /** Deliver every callback twice (a webhook retry), to exercise idempotent handling. */
  duplicateCallbacks?: boolean;
}

/**
 * The built-in sandbox bank: deterministic (the same seed and reference give
 * the same outcome), with configurable latency and failure injection.
 * Accounts whose number ends in 0002 always fail ("account closed"), as
 * card networks' test numbers do. Failed callback deliveries are retried.
 */
export function createSandboxBank(options: SandboxOptions): BankRail {
  let deliver: ((body: Buffer, signature: string) => Promise<void>) | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const orders = new Map<string, RailOutcome>();
  let stopped = false;

  function outcomeOf(order: RailOrder): RailOutcome {
    const railReference = `sbx_${createHash("sha256").update(order.reference).digest("hex").slice(0, 16)}`;
    const number = order.account.scheme === "iban" ? order.account.iban : order.account.accountNumber;
    if (number.endsWith("0002")) return { reference: order.reference, railReference, status: "failed", reason: "ACCOUNT_CLOSED" };
    const roll = createHash("sha256").update(`${options.seed}:${order.reference}`).digest().readUInt32BE(0) / 2 ** 32;
    if (roll < options.failureRate) return { reference: order.reference, railReference, status: "failed", reason: "BANK_DECLINED" };
    return { reference: order.reference, railReference, status: "settled", reason: "" };
  }

  function send(outcome: RailOutcome, attempt: number): void {
    if (stopped) return;
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        if (stopped || !deliver) return;
        const body = Buffer.from(JSON.stringify(outcome));
        deliver(body, signCallback(options.secret, body)).catch(() => {
          if (attempt < 20) send(outcome, attempt + 1);
        });
      },
      attempt === 0 ? options.latencyMs : Math.min(5000, 50 * 2 ** attempt),
    );
    timers.add(timer);
  }

  return {
    name: "sandbox",
    async submit(order) {
      let outcome = orders.get(order.reference);
      if (!outcome) {
        outcome = outcomeOf(order);
        orders.set(order.reference, outcome);
      }
      send(outcome, 0);
      if (options.duplicateCallbacks) send(outcome, 0);
      return { railReference: outcome.railReference };
    },
    onCallback(fn) {
      deliver = fn;
    },
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

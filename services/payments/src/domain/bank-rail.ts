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

/** How far a callback's timestamp may be from our clock: an older one is a replay and is refused. */
export const CALLBACK_TOLERANCE_MS = 5 * 60 * 1000;

/**
 * The signature header of a callback (Stripe's scheme): `t=<ms>,v1=<hex>`,
 * an HMAC-SHA256 of "<t>.<body>", so the time is signed with the body.
 */
export function signCallback(secret: string, body: Buffer, at = Date.now()): string {
  return `t=${at},v1=${createHmac("sha256", secret).update(`${at}.`).update(body).digest("hex")}`;
}

/**
 * Verifies a callback: the signature over its time and body, and that the
 * time is within the tolerance of `now` (an old callback sent again is
 * refused; a repeat within it changes nothing, as outcomes apply once).
 * Undefined when any of it fails or the body is not an outcome.
 */
export function verifyCallback(secret: string, body: Buffer, header: string, now = Date.now()): RailOutcome | undefined {
  const parts = /^t=([0-9]{1,15}),v1=([0-9a-f]{64})$/.exec(header);
  if (!parts) return undefined;
  const at = Number(parts[1]);
  if (Math.abs(now - at) > CALLBACK_TOLERANCE_MS) return undefined;
  const expected = createHmac("sha256", secret).update(`${at}.`).update(body).digest();
  const given = Buffer.from(parts[2]!, "hex");
  if (!timingSafeEqual(given, expected)) return undefined;
  try {
    const parsed = JSON.parse(body.toString("utf8")) as Partial<RailOutcome>;
    if (typeof parsed.reference !== "string" || (parsed.status !== "settled" && parsed.status !== "failed")) return undefined;
    return { reference: parsed.reference, railReference: String(parsed.railReference ?? ""), status: parsed.status, reason: String(parsed.reason ?? "") };
  } catch {
    return undefined;
  }
}

/** The header a callback's signature travels in over HTTP. */
export const SIGNATURE_HEADER = "kontor-bank-signature";

export interface SandboxOptions {
  secret: string;
  /** Delay before the callback, in ms (0: on the next tick). */
  latencyMs: number;
  /** Share of orders that fail, 0..1, decided by a hash of the seed and the reference (deterministic). */
  failureRate: number;
  seed: string;
  /** Deliver every callback twice (a webhook retry), to exercise idempotent handling. */
  duplicateCallbacks?: boolean;
  /**
   * Where to POST callbacks, as a bank does (the service's own callback
   * endpoint); undefined, or a function that returns undefined, delivers in
   * process instead.
   */
  callbackUrl?: () => string | undefined;
}

/** POSTs a signed callback; anything but a 2xx is a failed delivery (retried). */
async function post(url: string, body: Buffer, signature: string): Promise<void> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature }, body, signal: AbortSignal.timeout(30_000) });
  await res.arrayBuffer();
  if (res.status < 200 || res.status > 299) throw new Error(`callback answered ${res.status}`);
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
        const url = options.callbackUrl?.();
        if (stopped || (!deliver && !url)) return;
        const body = Buffer.from(JSON.stringify(outcome));
        // Signed at each attempt, as a bank signs each delivery.
        const signature = signCallback(options.secret, body);
        (url ? post(url, body, signature) : deliver!(body, signature)).catch(() => {
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

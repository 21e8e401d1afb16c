import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidInput } from "@kontor/service-kit/errors";
import type { Effect, WebhookCall } from "./engine.js";

/**
 * The signed request a flow's `webhook` action becomes; the caller sends it
 * (POST, with the effect's timeout) and never follows redirects. Pure
 * computation: no network here.
 *
 * The body is JSON: the effect's call (flow, version, state, variables,
 * data) and `timestamp` (epoch ms). `X-Kontor-Signature` is `sha256=` and
 * the hex HMAC-SHA256 of exactly those body bytes under the business's
 * webhook secret; `X-Kontor-Timestamp` repeats the timestamp, which the
 * signature covers through the body, so a receiver can refuse replays.
 */

export const SIGNATURE_HEADER = "X-Kontor-Signature";
export const TIMESTAMP_HEADER = "X-Kontor-Timestamp";
/** How far a receiver may trust a signed timestamp from its own clock. */
export const WEBHOOK_TOLERANCE_MS = 5 * 60_000;

export type CallWebhookEffect = Extract<Effect, { kind: "call_webhook" }>;

/** What the body of a webhook call is: the effect's call and when it was sent. */
export interface WebhookBody extends WebhookCall {
  timestamp: number;
}

export interface WebhookRequest {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  /** The exact bytes signed; send them unchanged. */
  body: string;
  timeoutMs: number;
}

/** `sha256=<hex HMAC-SHA256 of the body>`. */
export function signWebhookBody(secret: string, body: string): string {
  if (!secret) throw new InvalidInput("secret", "must not be empty");
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** The request to send for a `call_webhook` effect at `now` (epoch ms). */
export function buildWebhookRequest(effect: CallWebhookEffect, secret: string, now: number): WebhookRequest {
  const payload: WebhookBody = { ...effect.call, timestamp: now };
  const body = JSON.stringify(payload);
  return {
    url: effect.url,
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      [SIGNATURE_HEADER]: signWebhookBody(secret, body),
      [TIMESTAMP_HEADER]: String(now),
    },
    body,
    timeoutMs: effect.timeoutMs,
  };
}

/**
 * Whether a webhook body carries a valid signature (constant-time compare).
 * With `now`, its signed timestamp must also be within `toleranceMs`.
 */
export function verifyWebhookSignature(secret: string, body: string, signature: string | undefined, now?: number, toleranceMs = WEBHOOK_TOLERANCE_MS): boolean {
  if (!signature || !secret) return false;
  const expected = Buffer.from(signWebhookBody(secret, body), "utf8");
  const given = Buffer.from(signature, "utf8");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
  if (now === undefined) return true;
  let timestamp: unknown;
  try {
    timestamp = (JSON.parse(body) as { timestamp?: unknown }).timestamp;
  } catch {
    return false;
  }
  return typeof timestamp === "number" && Math.abs(now - timestamp) <= toleranceMs;
}

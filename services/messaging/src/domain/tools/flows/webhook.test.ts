import { describe, expect, it } from "vitest";
import { InvalidInput } from "@kontor/service-kit/errors";
import { buildWebhookRequest, SIGNATURE_HEADER, signWebhookBody, TIMESTAMP_HEADER, verifyWebhookSignature, WEBHOOK_TOLERANCE_MS, type CallWebhookEffect } from "./webhook.js";

const T0 = Date.UTC(2026, 0, 10, 9, 30);
const SECRET = "whsec_test_5f2b";
const effect: CallWebhookEffect = {
  kind: "call_webhook",
  url: "https://hooks.example.com/flows",
  timeoutMs: 3000,
  call: { flow: "shop", version: 2, state: "thanks", variables: { email: "ana@example.com" }, data: { email: "ana@example.com", note: "ação ✓" } },
};

describe("a webhook request", () => {
  it("when built, then it is a POST of the call's JSON with the timestamp, signed over the exact body", () => {
    const req = buildWebhookRequest(effect, SECRET, T0);
    expect(req).toMatchObject({ url: effect.url, method: "POST", timeoutMs: 3000 });
    expect(JSON.parse(req.body)).toEqual({ ...effect.call, timestamp: T0 });
    expect(req.headers["Content-Type"]).toBe("application/json");
    expect(req.headers[TIMESTAMP_HEADER]).toBe(String(T0));
    expect(req.headers[SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(req.headers[SIGNATURE_HEADER]).toBe(signWebhookBody(SECRET, req.body));
  });

  it("when the known HMAC-SHA256 vector is signed, then the hex matches it", () => {
    // RFC 4231 test case 2.
    expect(signWebhookBody("Jefe", "what do ya want for nothing?")).toBe("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });

  it("when the receiver verifies an unchanged request in time, then it is valid", () => {
    const req = buildWebhookRequest(effect, SECRET, T0);
    expect(verifyWebhookSignature(SECRET, req.body, req.headers[SIGNATURE_HEADER])).toBe(true);
    expect(verifyWebhookSignature(SECRET, req.body, req.headers[SIGNATURE_HEADER], T0 + WEBHOOK_TOLERANCE_MS)).toBe(true);
  });

  it("when the body, the secret or the signature differ, or the timestamp is stale, then it is refused", () => {
    const req = buildWebhookRequest(effect, SECRET, T0);
    const signature = req.headers[SIGNATURE_HEADER];
    expect(verifyWebhookSignature(SECRET, req.body.replace("ana@", "eve@"), signature)).toBe(false);
    expect(verifyWebhookSignature(SECRET, `${req.body} `, signature)).toBe(false);
    expect(verifyWebhookSignature("another secret", req.body, signature)).toBe(false);
    expect(verifyWebhookSignature(SECRET, req.body, signature!.replace(/.$/, (c) => (c === "0" ? "1" : "0")))).toBe(false);
    expect(verifyWebhookSignature(SECRET, req.body, signature!.slice(7))).toBe(false);
    expect(verifyWebhookSignature(SECRET, req.body, undefined)).toBe(false);
    expect(verifyWebhookSignature(SECRET, req.body, signature, T0 + WEBHOOK_TOLERANCE_MS + 1)).toBe(false);
  });

  it("when there is no secret, then nothing is signed", () => {
    expect(() => buildWebhookRequest(effect, "", T0)).toThrow(InvalidInput);
    expect(verifyWebhookSignature("", "{}", "sha256=00")).toBe(false);
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
import { canActForBusiness, requireCustomer, requireRole, createTokenSigner, createTokenVerifier, generateSigningKeys, type Principal } from "./auth.js";
import { NotYours, Unauthenticated } from "./errors.js";

describe("principal tokens", () => {
  it("when signed and verified with the pair, then the principal round-trips for every kind", async () => {
    const keys = await generateSigningKeys("k1");
    const signer = await createTokenSigner(keys.privateJwk);
    const verifier = createTokenVerifier(JSON.stringify([keys.publicJwk]));
    const principals: Principal[] = [
      { kind: "business", businessId: "b1" },
      { kind: "customer", customerId: "c1" },
      { kind: "partner", partnerId: "p1", businessIds: ["b1", "b2"] },
      { kind: "staff", staffId: "s1", roles: ["directory.reviewer"] },
      { kind: "service", service: "gateway" },
    ];
    for (const p of principals) expect(await verifier.verify(await signer.sign(p))).toEqual(p);
  });

  it("when the token is signed by another key, tampered or expired, then it is refused", async () => {
    const keys = await generateSigningKeys("k1");
    const other = await generateSigningKeys("k2");
    const verifier = createTokenVerifier(JSON.stringify(keys.publicJwk));
    const foreign = await (await createTokenSigner(other.privateJwk)).sign({ kind: "business", businessId: "b1" });
    await expect(verifier.verify(foreign)).rejects.toBeInstanceOf(Unauthenticated);
    const signer = await createTokenSigner(keys.privateJwk);
    const token = await signer.sign({ kind: "business", businessId: "b1" });
    const [h, p, s] = token.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), sub: "b2" })).toString("base64url")}.${s}`;
    await expect(verifier.verify(forged)).rejects.toBeInstanceOf(Unauthenticated);
    const expired = await signer.sign({ kind: "business", businessId: "b1" }, { expiresIn: "-1m" });
    await expect(verifier.verify(expired)).rejects.toBeInstanceOf(Unauthenticated);
    await expect(verifier.verify("not-a-jwt")).rejects.toBeInstanceOf(Unauthenticated);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it("when a token was verified, then cached() answers for it until it expires, and never for one it has not verified", async () => {
    const keys = await generateSigningKeys("k1");
    const signer = await createTokenSigner(keys.privateJwk);
    const verifier = createTokenVerifier(JSON.stringify(keys.publicJwk));
    const token = await signer.sign({ kind: "customer", customerId: "c1" }, { expiresIn: "10m" });
    expect(verifier.cached!(token)).toBeUndefined();
    const foreign = await (await createTokenSigner((await generateSigningKeys("k2")).privateJwk)).sign({ kind: "customer", customerId: "c1" });
    await expect(verifier.verify(foreign)).rejects.toBeInstanceOf(Unauthenticated);
    expect(verifier.cached!(foreign)).toBeUndefined();
    await verifier.verify(token);
    expect(verifier.cached!(token)).toEqual({ kind: "customer", customerId: "c1" });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 11 * 60_000);
    expect(verifier.cached!(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(Unauthenticated);
  });

  it("when deciding who may act for a business, then only it, its partners and services may", () => {
    expect(canActForBusiness({ kind: "business", businessId: "b1" }, "b1")).toBe(true);
    expect(canActForBusiness({ kind: "business", businessId: "b2" }, "b1")).toBe(false);
    expect(canActForBusiness({ kind: "partner", partnerId: "p", businessIds: ["b1"] }, "b1")).toBe(true);
    expect(canActForBusiness({ kind: "partner", partnerId: "p", businessIds: ["b2"] }, "b1")).toBe(false);
    expect(canActForBusiness({ kind: "customer", customerId: "b1" }, "b1")).toBe(false);
    expect(canActForBusiness({ kind: "staff", staffId: "s", roles: ["directory.reviewer"] }, "b1")).toBe(false);
    expect(canActForBusiness({ kind: "service", service: "messaging" }, "b1")).toBe(true);
  });

  it("when a role is required, then only staff holding it pass, never a service", () => {
    expect(() => requireRole({ kind: "staff", staffId: "s", roles: ["operator"] }, "operator")).not.toThrow();
    expect(() => requireRole({ kind: "staff", staffId: "s", roles: ["support"] }, "operator")).toThrow(NotYours);
    expect(() => requireRole({ kind: "service", service: "gateway" }, "operator")).toThrow(NotYours);
    expect(() => requireRole({ kind: "business", businessId: "operator" }, "operator")).toThrow(NotYours);
  });

  it("when acting for a customer, then the customer itself or an (allow-listed) service", () => {
    expect(() => requireCustomer({ kind: "customer", customerId: "c1" }, "c1")).not.toThrow();
    expect(() => requireCustomer({ kind: "customer", customerId: "c2" }, "c1")).toThrow(NotYours);
    expect(() => requireCustomer({ kind: "service", service: "payments" }, "c1")).not.toThrow();
    expect(() => requireCustomer({ kind: "business", businessId: "c1" }, "c1")).toThrow(NotYours);
  });
});

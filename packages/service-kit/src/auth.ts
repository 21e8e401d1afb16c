import { LRUCache } from "lru-cache";
import { SignJWT, jwtVerify, importJWK, exportJWK, generateKeyPair, createLocalJWKSet, type JWK, type CryptoKey, type KeyObject } from "jose";
import { NotYours, Unauthenticated } from "./errors.js";

/**
 * Who is calling. Every RPC carries one as a signed token (EdDSA JWT) in the
 * `authorization: Bearer <token>` metadata.
 */
export type Principal =
  | { kind: "business"; businessId: string }
  | { kind: "customer"; customerId: string }
  /** A BSP acting for the businesses it manages. */
  | { kind: "partner"; partnerId: string; businessIds: string[] }
  /** Kontor staff (reviewers, support) with explicit roles. */
  | { kind: "staff"; staffId: string; roles: string[] }
  /** Another Kontor service. */
  | { kind: "service"; service: string };

const ISSUER = "kontor";
const AUDIENCE = "kontor";
const ALG = "EdDSA";

interface Claims {
  kind?: unknown;
  sub?: unknown;
  biz?: unknown;
  roles?: unknown;
}

function principalFromClaims(claims: Claims): Principal {
  const sub = typeof claims.sub === "string" ? claims.sub : "";
  if (!sub) throw new Unauthenticated("token has no subject");
  const list = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);
  switch (claims.kind) {
    case "business":
      return { kind: "business", businessId: sub };
    case "customer":
      return { kind: "customer", customerId: sub };
    case "partner":
      return { kind: "partner", partnerId: sub, businessIds: list(claims.biz) };
    case "staff":
      return { kind: "staff", staffId: sub, roles: list(claims.roles) };
    case "service":
      return { kind: "service", service: sub };
    default:
      throw new Unauthenticated("token has an unknown principal kind");
  }
}

function claimsFromPrincipal(p: Principal): { sub: string; kind: string; biz?: string[]; roles?: string[] } {
  switch (p.kind) {
    case "business":
      return { sub: p.businessId, kind: p.kind };
    case "customer":
      return { sub: p.customerId, kind: p.kind };
    case "partner":
      return { sub: p.partnerId, kind: p.kind, biz: p.businessIds };
    case "staff":
      return { sub: p.staffId, kind: p.kind, roles: p.roles };
    case "service":
      return { sub: p.service, kind: p.kind };
  }
}

export interface KeyPair {
  privateJwk: JWK;
  publicJwk: JWK;
}

/** A fresh Ed25519 key pair as JWKs (local stack, tests). */
export async function generateSigningKeys(kid = `k${Date.now().toString(36)}`): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { crv: "Ed25519", extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: "sig" };
  return { privateJwk, publicJwk };
}

export interface TokenSigner {
  sign(principal: Principal, options?: { expiresIn?: string }): Promise<string>;
}

/** Mints principal tokens: the local stack, tests and trusted issuers (gateway, console). */
export async function createTokenSigner(privateJwk: JWK): Promise<TokenSigner> {
  const key = (await importJWK(privateJwk, ALG)) as CryptoKey | KeyObject;
  return {
    async sign(principal, options = {}) {
      const { sub, ...rest } = claimsFromPrincipal(principal);
      return new SignJWT(rest)
        .setProtectedHeader({ alg: ALG, ...(privateJwk.kid ? { kid: privateJwk.kid } : {}) })
        .setSubject(sub)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? "12h")
        .sign(key);
    },
  };
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /** The principal of a token verified before and not expired, without a promise; else undefined. */
  cached?(token: string): Principal | undefined;
}

/**
 * Verifies tokens against a JWK set. Verified tokens are cached until they
 * expire: signature checks cost ~50 µs, too much on the messaging hot path.
 */
export function createTokenVerifier(publicKeysJson: string, cacheSize = 10_000): TokenVerifier {
  const parsed = JSON.parse(publicKeysJson) as JWK | JWK[];
  const keys = Array.isArray(parsed) ? parsed : [parsed];
  const jwks = createLocalJWKSet({ keys });
  // Each entry lives until its token's exp, a wall-clock time: hence Date, read at every get.
  const cache = new LRUCache<string, Principal>({ max: cacheSize, ttlResolution: 0, perf: { now: () => Date.now() } });
  const cached = (token: string): Principal | undefined => cache.get(token);
  return {
    cached,
    async verify(token) {
      const hit = cached(token);
      if (hit) return hit;
      let payload;
      try {
        ({ payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: AUDIENCE, algorithms: [ALG] }));
      } catch {
        throw new Unauthenticated("principal token is invalid or expired");
      }
      const principal = principalFromClaims(payload as Claims);
      const ttl = (payload.exp ?? 0) * 1000 - Date.now();
      if (ttl > 0) cache.set(token, principal, { ttl });
      return principal;
    },
  };
}

/**
 * May this principal act for (read or change the data of) the business?
 *
 * A service principal may act for any business and any customer: a service
 * reaches only the RPCs its service:<name> entry is on in each access table
 * (rpc/access.ts), and those it reaches exist to serve every tenant (the
 * gateway sends for every partner's businesses, payments charges every
 * customer). The allow-list, not the tenant check, is what scopes a service.
 */
export function canActForBusiness(principal: Principal, businessId: string): boolean {
  switch (principal.kind) {
    case "business":
      return principal.businessId === businessId;
    case "partner":
      return principal.businessIds.includes(businessId);
    case "service":
      return true;
    default:
      return false;
  }
}

export function requireBusiness(principal: Principal, businessId: string): void {
  if (!canActForBusiness(principal, businessId)) throw new NotYours("this principal may not act for that business");
}

/** The customer itself or an allow-listed service (see canActForBusiness). */
export function requireCustomer(principal: Principal, customerId: string): void {
  const ok = (principal.kind === "customer" && principal.customerId === customerId) || principal.kind === "service";
  if (!ok) throw new NotYours("this principal may not act for that customer");
}

/** Staff holding the role; never a service (a service's reach is its allow-list entries). */
export function requireRole(principal: Principal, role: string): void {
  const ok = principal.kind === "staff" && principal.roles.includes(role);
  if (!ok) throw new NotYours(`the ${role} role is required`);
}

/** Id used in logs for a principal; never the token. */
export function principalLabel(p: Principal): string {
  const { sub, kind } = claimsFromPrincipal(p);
  return `${kind}:${sub}`;
}

import { createHash, randomBytes, randomInt, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createTokenSigner, generateSigningKeys, type KeyPair, type Principal, type TokenSigner } from "@kontor/service-kit/auth";
import { paths, shown } from "./paths.js";
import type { SeededTemplate } from "./seed.js";

/**
 * What the local stack generates once and keeps in .kontor/secrets.json
 * (git-ignored, mode 0600): the token signing key, messaging's master key,
 * and the demo identities, so tokens and data stay valid across restarts.
 */
export interface Secrets {
  signingKey: KeyPair;
  /** The gateway's own key: it signs the short-lived partner tokens it calls the services with. */
  gatewaySigningKey: KeyPair;
  /** base64 of 32 random bytes: messaging's MESSAGE_MASTER_KEY. */
  messageMasterKey: string;
  partner: { id: string; name: string; appSecret: string; verifyToken: string };
  business: { id: string; name: string; wabaId: string; phoneNumberId: string; phoneNumber: string };
  customers: { id: string; number: string; name: string }[];
}

/** Cloud-API-like numeric ids (WABA id, phone number id). */
const numericId = () => `1${Array.from({ length: 14 }, () => randomInt(10)).join("")}`;

async function generate(): Promise<Secrets> {
  return {
    signingKey: await generateSigningKeys(`local-${Date.now().toString(36)}`),
    gatewaySigningKey: await generateSigningKeys(`gateway-${Date.now().toString(36)}`),
    messageMasterKey: randomBytes(32).toString("base64"),
    partner: { id: randomUUID(), name: "Demo BSP", appSecret: randomBytes(16).toString("hex"), verifyToken: randomBytes(12).toString("hex") },
    // +1 555 01xx numbers are reserved for fiction: they never reach a real phone.
    business: { id: randomUUID(), name: "Kontor Demo Pottery", wabaId: numericId(), phoneNumberId: numericId(), phoneNumber: "+15550100000" },
    customers: [
      { id: randomUUID(), number: "+15550100101", name: "Ada Lovelace" },
      { id: randomUUID(), number: "+15550100102", name: "Alan Turing" },
    ],
  };
}

function writePrivate(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Loads .kontor/secrets.json, generating it (or any key a newer version added) when missing. */
export async function loadOrCreateSecrets(): Promise<{ secrets: Secrets; created: boolean }> {
  const fresh = await generate();
  if (!existsSync(paths.secretsJson)) {
    writePrivate(paths.secretsJson, fresh);
    return { secrets: fresh, created: true };
  }
  const stored = JSON.parse(readFileSync(paths.secretsJson, "utf8")) as Partial<Secrets>;
  const merged = { ...fresh, ...stored } as Secrets;
  if (Object.keys(fresh).some((key) => !(key in stored))) writePrivate(paths.secretsJson, merged);
  return { secrets: merged, created: false };
}

/** The signer for the local key, for the CLI (which must not create keys the running services do not trust). */
export async function localSigner(): Promise<TokenSigner> {
  if (!existsSync(paths.secretsJson)) {
    throw new Error(`${shown(paths.secretsJson)} does not exist yet: run \`npm start\` once to create the local signing key.`);
  }
  const stored = JSON.parse(readFileSync(paths.secretsJson, "utf8")) as Partial<Secrets>;
  if (!stored.signingKey) throw new Error(`${shown(paths.secretsJson)} has no signing key; delete it and run \`npm start\` again.`);
  return createTokenSigner(stored.signingKey.privateJwk);
}

/** Demo tokens live a month: the local key never leaves the machine, and a newcomer's copied token should not expire mid-try. */
export const DEMO_TOKEN_TTL = "30d";

/** Every key the services trust: the local key and the gateway's. */
export function authPublicKeys(secrets: Secrets) {
  return [secrets.signingKey.publicJwk, secrets.gatewaySigningKey.publicJwk];
}

/**
 * The demo partner's token: a partner principal token (valid on the services'
 * gRPC APIs) that the gateway also accepts as its Cloud API access token,
 * since GATEWAY_SEED registers its hash. Minted once per start.
 */
export function mintPartnerToken(secrets: Secrets, signer: TokenSigner): Promise<string> {
  return signer.sign({ kind: "partner", partnerId: secrets.partner.id, businessIds: [secrets.business.id] }, { expiresIn: DEMO_TOKEN_TTL });
}

/** GATEWAY_SEED for the local stack: the demo partner, its token's hash, the demo business and its WABA id. */
export function gatewaySeed(secrets: Secrets, partnerToken: string): string {
  return JSON.stringify([
    {
      id: secrets.partner.id,
      name: secrets.partner.name,
      appSecret: secrets.partner.appSecret,
      verifyToken: secrets.partner.verifyToken,
      tokenSha256: createHash("sha256").update(partnerToken).digest("hex"),
      businesses: [{ businessId: secrets.business.id, wabaId: secrets.business.wabaId }],
    },
  ]);
}

export interface LocalJsonInput {
  secrets: Secrets;
  /** The partner token the gateway was seeded with (mintPartnerToken). */
  partnerToken: string;
  /** The gateway's Cloud API base URL, when it runs. */
  gatewayUrl?: string;
  /** The demo WABA's approved template (seed.ts), when messaging runs. */
  template?: SeededTemplate;
  services: Record<string, { grpc: string; metrics: string }>;
  postgres: { url: string; embedded: boolean };
  nats: { url: string; embedded: boolean };
}

/** The shape of DESIGN.md "Local credentials", plus ids and infrastructure for convenience. */
export async function buildLocalJson(input: LocalJsonInput, signer: TokenSigner) {
  const { secrets } = input;
  const sign = (p: Principal) => signer.sign(p, { expiresIn: DEMO_TOKEN_TTL });
  return {
    generatedAt: new Date().toISOString(),
    services: Object.fromEntries(Object.entries(input.services).map(([name, s]) => [name, s.grpc])),
    metrics: Object.fromEntries(Object.entries(input.services).map(([name, s]) => [name, s.metrics])),
    postgres: input.postgres,
    nats: input.nats,
    ...(input.gatewayUrl ? { gateway: { url: input.gatewayUrl } } : {}),
    partner: {
      id: secrets.partner.id,
      name: secrets.partner.name,
      businessIds: [secrets.business.id],
      /** Bearer token for the gateway's Cloud API and the services' gRPC APIs alike. */
      token: input.partnerToken,
      appSecret: secrets.partner.appSecret,
      verifyToken: secrets.partner.verifyToken,
      wabaId: secrets.business.wabaId,
      phoneNumberId: secrets.business.phoneNumberId,
      /** An approved UTILITY template of the WABA: send it with `bodyParameters` text parameters. */
      ...(input.template ? { template: input.template } : {}),
    },
    business: {
      ...secrets.business,
      token: await sign({ kind: "business", businessId: secrets.business.id }),
    },
    customers: await Promise.all(secrets.customers.map(async (c) => ({ ...c, token: await sign({ kind: "customer", customerId: c.id }) }))),
    authPublicKeys: authPublicKeys(secrets),
    tokenExpiresIn: DEMO_TOKEN_TTL,
  };
}

export type LocalJson = Awaited<ReturnType<typeof buildLocalJson>>;

export function writeLocalJson(value: LocalJson): void {
  writePrivate(paths.localJson, value);
}

export function readLocalJson(): LocalJson {
  if (!existsSync(paths.localJson)) throw new Error(`${shown(paths.localJson)} does not exist: start the stack with \`npm start\` first.`);
  return JSON.parse(readFileSync(paths.localJson, "utf8")) as LocalJson;
}

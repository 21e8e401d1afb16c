import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createTokenSigner, generateSigningKeys, type KeyPair, type Principal, type TokenSigner } from "@kontor/service-kit/auth";
import { paths, shown } from "./paths.js";

/**
 * What the local stack generates once and keeps in .kontor/secrets.json
 * (git-ignored, mode 0600): the token signing key, messaging's master key,
 * and the demo identities, so tokens and data stay valid across restarts.
 */
export interface Secrets {
  signingKey: KeyPair;
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

export interface LocalJsonInput {
  secrets: Secrets;
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
    partner: {
      id: secrets.partner.id,
      name: secrets.partner.name,
      businessIds: [secrets.business.id],
      token: await sign({ kind: "partner", partnerId: secrets.partner.id, businessIds: [secrets.business.id] }),
      appSecret: secrets.partner.appSecret,
      verifyToken: secrets.partner.verifyToken,
    },
    business: {
      ...secrets.business,
      token: await sign({ kind: "business", businessId: secrets.business.id }),
    },
    customers: await Promise.all(secrets.customers.map(async (c) => ({ ...c, token: await sign({ kind: "customer", customerId: c.id }) }))),
    authPublicKeys: [secrets.signingKey.publicJwk],
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

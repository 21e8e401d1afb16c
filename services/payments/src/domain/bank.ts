import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { DataCorrupted, InvalidInput } from "@kontor/service-kit/errors";

export type BankNumber = { scheme: "iban"; iban: string } | { scheme: "local"; accountNumber: string; routingNumber: string };

/** IBAN lengths by country (ISO 13616), for the countries Kontor's operators run in. */
const IBAN_LENGTH: Record<string, number> = {
  AD: 24, AT: 20, BE: 16, BG: 22, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20, ES: 24, FI: 18, FR: 27, GB: 22, GR: 27, HR: 21,
  HU: 28, IE: 22, IS: 26, IT: 27, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MT: 31, NL: 18, NO: 15, PL: 28, PT: 25, RO: 24, SE: 24,
  SI: 19, SK: 24, SM: 27, BR: 29, AE: 23, SA: 24, TR: 26, IL: 23, EG: 29, PK: 24,
};

/** ISO 7064 mod 97-10 over the rearranged IBAN: 1 when the check digits are right. */
export function ibanChecksumValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const digits = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of digits) remainder = (remainder * 10 + Number(d)) % 97;
  }
  return remainder === 1;
}

/** ABA routing number checksum: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 mod 10. */
export function abaChecksumValid(routing: string): boolean {
  if (!/^[0-9]{9}$/.test(routing)) return false;
  const d = [...routing].map(Number);
  const sum = 3 * (d[0]! + d[3]! + d[6]!) + 7 * (d[1]! + d[4]! + d[7]!) + (d[2]! + d[5]! + d[8]!);
  return sum % 10 === 0;
}

export function validateBankNumber(input: { iban?: string; local?: { accountNumber: string; routingNumber: string } }): BankNumber {
  if (input.iban !== undefined) {
    const iban = input.iban.replace(/\s+/g, "").toUpperCase();
    if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$/.test(iban)) throw new InvalidInput("iban", "must be an IBAN such as DE89 3704 0044 0532 0130 00");
    const length = IBAN_LENGTH[iban.slice(0, 2)];
    if (length === undefined) throw new InvalidInput("iban", "has a country this service does not support");
    if (iban.length !== length) throw new InvalidInput("iban", `must have ${length} characters for ${iban.slice(0, 2)}`);
    if (!ibanChecksumValid(iban)) throw new InvalidInput("iban", "has wrong check digits", "BAD_CHECKSUM");
    return { scheme: "iban", iban };
  }
  if (input.local !== undefined) {
    const accountNumber = input.local.accountNumber.replace(/[\s-]+/g, "");
    if (!/^[0-9]{4,17}$/.test(accountNumber)) throw new InvalidInput("local.account_number", "must be 4 to 17 digits");
    if (!/^[0-9]{9}$/.test(input.local.routingNumber)) throw new InvalidInput("local.routing_number", "must be 9 digits");
    if (!abaChecksumValid(input.local.routingNumber)) throw new InvalidInput("local.routing_number", "has a wrong checksum", "BAD_CHECKSUM");
    return { scheme: "local", accountNumber, routingNumber: input.local.routingNumber };
  }
  throw new InvalidInput("number", "is required: iban or local");
}

/** What people see: the country (or "acct") and the last four characters. */
export function maskBankNumber(n: BankNumber): string {
  if (n.scheme === "iban") return `${n.iban.slice(0, 2)}** **** ${n.iban.slice(-4)}`;
  return `****${n.accountNumber.slice(-4)} (routing ${n.routingNumber})`;
}

export function canonicalNumber(n: BankNumber): string {
  return n.scheme === "iban" ? `iban:${n.iban}` : `local:${n.routingNumber}:${n.accountNumber}`;
}

export function parseCanonicalNumber(s: string): BankNumber {
  const [scheme, a, b] = s.split(":");
  if (scheme === "iban" && a) return { scheme: "iban", iban: a };
  if (scheme === "local" && a && b) return { scheme: "local", routingNumber: a, accountNumber: b };
  throw new DataCorrupted("a stored bank account number has an unknown format");
}

/** Encryption at rest: AES-256-GCM, the row id as AAD. Layout: iv(12) | tag(16) | ciphertext. */
export function sealNumber(key: Buffer, n: BankNumber, rowId: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(rowId));
  const body = Buffer.concat([cipher.update(canonicalNumber(n), "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function openNumber(key: Buffer, sealed: Buffer, rowId: string): BankNumber {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from(rowId));
    decipher.setAuthTag(sealed.subarray(12, 28));
    return parseCanonicalNumber(Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString("utf8"));
  } catch (err) {
    if (err instanceof DataCorrupted) throw err;
    throw new DataCorrupted("a stored bank account number failed its integrity check");
  }
}

/** Keyed hash of the number: finds a second link of the same account without decrypting any. */
export function numberHmac(key: Buffer, n: BankNumber): string {
  return createHmac("sha256", key).update("bank-number:").update(canonicalNumber(n)).digest("base64url");
}

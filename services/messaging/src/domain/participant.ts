import type { Participant } from "@kontor/proto/messaging/v1/message";
import { InvalidInput } from "@kontor/service-kit/errors";

/** A resolved party: a customer account or a business number. */
export type Party = { kind: "customer"; id: string } | { kind: "business"; id: string };

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidId(id: string): boolean {
  return ID.test(id);
}

/**
 * Participant key used in tables and live subjects: "c_<customer id>" or
 * "b_<phone number id>". Ids are restricted to [A-Za-z0-9_-] so the key is a
 * single NATS subject token.
 */
export function partyKey(p: Party): string {
  return (p.kind === "customer" ? "c_" : "b_") + p.id;
}

export function partyFromKey(key: string): Party {
  return key.startsWith("c_") ? { kind: "customer", id: key.slice(2) } : { kind: "business", id: key.slice(2) };
}

export function parseParticipant(p: Participant | undefined, field: string): Party {
  const kind = p?.kind;
  if (!kind) throw new InvalidInput(field, "is required (customer_id or phone_number_id)");
  if (kind.$case === "customerId") {
    if (!ID.test(kind.value)) throw new InvalidInput(`${field}.customer_id`, "must be 1-64 characters of [A-Za-z0-9_-]");
    return { kind: "customer", id: kind.value };
  }
  if (!ID.test(kind.value)) throw new InvalidInput(`${field}.phone_number_id`, "must be 1-64 characters of [A-Za-z0-9_-]");
  return { kind: "business", id: kind.value };
}

export function partyToPb(p: Party): Participant {
  return { kind: p.kind === "customer" ? { $case: "customerId", value: p.id } : { $case: "phoneNumberId", value: p.id } };
}

export function keyToPb(key: string): Participant {
  return partyToPb(partyFromKey(key));
}

/** Normalises a phone number to E.164 ("+" and 7-15 digits); tolerates spaces, dashes, dots, parentheses. */
export function normalizeE164(raw: string): string | undefined {
  const cleaned = raw.replace(/[\s\-().]/g, "");
  const withPlus = cleaned.startsWith("+") ? cleaned : cleaned.startsWith("00") ? `+${cleaned.slice(2)}` : `+${cleaned}`;
  return /^\+[1-9]\d{6,14}$/.test(withPlus) ? withPlus : undefined;
}

const CALLING_CODES: Record<string, string> = {
  "1": "US", "7": "RU", "20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE", "33": "FR", "34": "ES", "36": "HU", "39": "IT",
  "40": "RO", "41": "CH", "43": "AT", "44": "GB", "45": "DK", "46": "SE", "47": "NO", "48": "PL", "49": "DE", "51": "PE", "52": "MX",
  "54": "AR", "55": "BR", "56": "CL", "57": "CO", "58": "VE", "60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG",
  "66": "TH", "81": "JP", "82": "KR", "84": "VN", "86": "CN", "90": "TR", "91": "IN", "92": "PK", "234": "NG", "254": "KE",
  "351": "PT", "353": "IE", "880": "BD", "966": "SA", "971": "AE", "972": "IL",
};

/** ISO 3166-1 alpha-2 of a number's calling code when known (shared codes like +1 map to the largest country). */
export function countryOfE164(e164: string): string {
  const digits = e164.slice(1);
  for (const len of [3, 2, 1]) {
    const hit = CALLING_CODES[digits.slice(0, len)];
    if (hit) return hit;
  }
  return "";
}

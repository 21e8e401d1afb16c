import { InvalidInput } from "@kontor/service-kit/errors";

export interface Evidence {
  kind: string;
  uri: string;
  description: string;
}

export type CaseState = "pending" | "approved" | "rejected";

export interface VerificationCase {
  id: string;
  businessId: string;
  state: CaseState;
  requestedName: string;
  evidence: Evidence[];
  note: string;
  reviewerId: string;
  decisionReason: string;
  createdAt: Date;
  decidedAt?: Date;
}

export const EVIDENCE_KINDS = ["business_registration", "tax_id", "utility_bill", "trademark", "website", "press", "other"] as const;
const MAX_EVIDENCE = 10;

/**
 * Evidence is a list of references (document store keys or URLs), never the
 * documents themselves: "docs://kyc/123", "s3://bucket/key", "https://…".
 */
export function validateEvidence(evidence: Evidence[], note: string): { evidence: Evidence[]; note: string } {
  if (evidence.length === 0) throw new InvalidInput("evidence", "at least one document is required");
  if (evidence.length > MAX_EVIDENCE) throw new InvalidInput("evidence", `at most ${MAX_EVIDENCE} documents`);
  const out = evidence.map((e, i) => {
    const kind = e.kind.trim();
    if (!(EVIDENCE_KINDS as readonly string[]).includes(kind)) throw new InvalidInput(`evidence[${i}].kind`, `must be one of ${EVIDENCE_KINDS.join(", ")}`);
    const uri = e.uri.trim();
    let ok = false;
    try {
      const u = new URL(uri);
      ok = u.protocol !== "javascript:" && u.protocol !== "data:" && u.protocol !== "file:" && uri.length <= 2000;
    } catch {
      ok = false;
    }
    if (!ok) throw new InvalidInput(`evidence[${i}].uri`, "must be a document reference URI such as docs://kyc/123 or https://…");
    if (e.description.length > 500) throw new InvalidInput(`evidence[${i}].description`, "must be at most 500 characters");
    return { kind, uri, description: e.description.trim() };
  });
  if (note.length > 1000) throw new InvalidInput("note", "must be at most 1000 characters");
  return { evidence: out, note: note.trim() };
}

export function requireReason(reason: string, field = "reason"): string {
  const r = reason.trim();
  if (!r) throw new InvalidInput(field, "is required");
  if (r.length > 500) throw new InvalidInput(field, "must be at most 500 characters");
  return r;
}

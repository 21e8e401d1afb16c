import type { Kysely } from "kysely";
import type { DirectoryDatabase } from "./database.js";
import type { NewVerificationCaseRow, VerificationCaseRow } from "./verification.table.js";

type Db = Kysely<DirectoryDatabase>;

export async function insertCase(db: Db, row: NewVerificationCaseRow): Promise<VerificationCaseRow> {
  return db.insertInto("verification_case").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findCase(db: Db, id: string, lock = false): Promise<VerificationCaseRow | undefined> {
  let q = db.selectFrom("verification_case").selectAll().where("id", "=", id);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function findPendingCase(db: Db, businessId: string): Promise<VerificationCaseRow | undefined> {
  return db.selectFrom("verification_case").selectAll().where("business_id", "=", businessId).where("state", "=", "pending").executeTakeFirst();
}

export async function closeCase(db: Db, id: string, state: "approved" | "rejected", reviewerId: string, reason: string): Promise<VerificationCaseRow> {
  return db
    .updateTable("verification_case")
    .set({ state, reviewer_id: reviewerId, decision_reason: reason, decided_at: new Date() })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Oldest first (the review queue); the cursor is (created_at, id) of the last row seen. */
export async function listCases(
  db: Db,
  filter: { state?: string; businessId?: string },
  limit: number,
  after?: { createdAt: Date; id: string },
): Promise<VerificationCaseRow[]> {
  let q = db.selectFrom("verification_case").selectAll();
  if (filter.state) q = q.where("state", "=", filter.state);
  if (filter.businessId) q = q.where("business_id", "=", filter.businessId);
  if (after) {
    q = q.where((eb) => eb.or([eb("created_at", ">", after.createdAt), eb.and([eb("created_at", "=", after.createdAt), eb("id", ">", after.id)])]));
  }
  return q.orderBy("created_at").orderBy("id").limit(limit).execute();
}

import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { BlockChange } from "../domain/block-cache.js";
import { blockChange, NOT_BLOCKED, type BlockedBusiness, type BlockOutcome, type BlockState, type NewReport } from "../domain/block-service.js";
import { blockChangedEvent, businessReportedEvent, REASON_TO_PB } from "../events/blocks.js";
import type { MessagingDatabase } from "./database.js";
import type { CustomerBlockRow } from "./customer-block.table.js";

type Enqueue = (trx: Kysely<MessagingDatabase>, events: OutboxEvent[]) => Promise<void>;

function rowToState(row: Pick<CustomerBlockRow, "blocked" | "changed_at"> | undefined): BlockState {
  return row ? { blocked: row.blocked, at: row.changed_at.getTime() } : NOT_BLOCKED;
}

/**
 * Blocks or unblocks inside `trx`: the pair's row is locked, so concurrent
 * requests on any replica change it one after the other, each later than
 * the last (block-service.ts's blockChange); a change writes its
 * BlockChanged event through the outbox. Nothing changes, and nothing is
 * emitted, when the pair is already so.
 */
export async function setBlocked(trx: Kysely<MessagingDatabase>, enqueue: Enqueue, customerId: string, businessId: string, blocked: boolean, now: number): Promise<BlockOutcome> {
  for (;;) {
    const row = await trx
      .selectFrom("customer_block")
      .select(["blocked", "changed_at"])
      .where("customer_id", "=", customerId)
      .where("business_id", "=", businessId)
      .forUpdate()
      .executeTakeFirst();
    const stored = rowToState(row);
    const change = blockChange(customerId, businessId, stored, blocked, now);
    if (!change) return { state: stored, change: undefined };
    const changedAt = new Date(change.at);
    if (row) {
      await trx.updateTable("customer_block").set({ blocked, changed_at: changedAt }).where("customer_id", "=", customerId).where("business_id", "=", businessId).execute();
    } else {
      const inserted = await trx
        .insertInto("customer_block")
        .values({ customer_id: customerId, business_id: businessId, blocked, changed_at: changedAt })
        .onConflict((oc) => oc.columns(["customer_id", "business_id"]).doNothing())
        .returning("customer_id")
        .executeTakeFirst();
      // Another request inserted the pair's first row meanwhile (the insert waited for its commit): decide again on it.
      if (!inserted) continue;
    }
    await enqueue(trx, [blockChangedEvent(randomUUID(), change)]);
    return { state: { blocked, at: change.at }, change };
  }
}

/** Stores a report and its BusinessReported event; with `block`, blocks in the same transaction. */
export async function report(trx: Kysely<MessagingDatabase>, enqueue: Enqueue, r: NewReport, block: boolean): Promise<BlockOutcome> {
  await trx
    .insertInto("business_report")
    .values({
      id: r.id,
      customer_id: r.customerId,
      business_id: r.businessId,
      phone_number_id: r.phoneNumberId ?? null,
      reason: REASON_TO_PB[r.reason],
      comment: r.comment,
      created_at: new Date(r.at),
    })
    .execute();
  await enqueue(trx, [businessReportedEvent(randomUUID(), r)]);
  if (block) return setBlocked(trx, enqueue, r.customerId, r.businessId, true, r.at);
  const row = await trx.selectFrom("customer_block").select(["blocked", "changed_at"]).where("customer_id", "=", r.customerId).where("business_id", "=", r.businessId).executeTakeFirst();
  return { state: rowToState(row), change: undefined };
}

export async function blockedBy(db: Kysely<MessagingDatabase>, customerId: string): Promise<BlockedBusiness[]> {
  const rows = await db
    .selectFrom("customer_block")
    .select(["business_id", "changed_at"])
    .where("customer_id", "=", customerId)
    .where("blocked", "=", true)
    .orderBy("business_id")
    .execute();
  return rows.map((r) => ({ businessId: r.business_id, blockedAt: r.changed_at }));
}

/** Every pair's state, unblocked ones too (for their time): the block cache's load at start. */
export async function allBlocks(db: Kysely<MessagingDatabase>): Promise<BlockChange[]> {
  const rows = await db.selectFrom("customer_block").selectAll().execute();
  return rows.map((r) => ({ customerId: r.customer_id, businessId: r.business_id, blocked: r.blocked, at: r.changed_at.getTime() }));
}

/** The block use case's store port (domain/block-service.ts), one transaction per write. */
export function createBlockStore(db: Kysely<MessagingDatabase>, enqueue: Enqueue) {
  return {
    setBlocked: (customerId: string, businessId: string, blocked: boolean, now: number) => db.transaction().execute((trx) => setBlocked(trx, enqueue, customerId, businessId, blocked, now)),
    report: (r: NewReport, block: boolean) => db.transaction().execute((trx) => report(trx, enqueue, r, block)),
    blockedBy: (customerId: string) => blockedBy(db, customerId),
    allBlocks: () => allBlocks(db),
  };
}

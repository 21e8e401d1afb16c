import { sql, type Kysely } from "kysely";
import { TemplateComponent } from "@kontor/proto/messaging/v1/message";
import type { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import { CLAIM_IDLE_LIMIT_MS, type BroadcastCounts, type BroadcastRecord, type BroadcastStore, type ClaimedRecipient, type ClaimOutcome, type RecipientInput, type RecipientOutcome } from "../domain/tools/broadcast-service.js";
import type { MessagingDatabase } from "./database.js";
import type { BroadcastTable } from "./tools.table.js";

const PENDING = 1;
const ACCEPTED = 2;
const FAILED = 3;
const RUNNING = 2;
const COMPLETED = 4;
const DRAFT = 1;
const CANCELLED = 5;

const componentsJson = (c: TemplateComponent[] | undefined) => (c ? JSON.stringify(c.map((x) => TemplateComponent.toJSON(x))) : null);
const componentsOf = (v: unknown): TemplateComponent[] | undefined => (Array.isArray(v) ? v.map((x) => TemplateComponent.fromJSON(x)) : undefined);

function toRecord(r: BroadcastTable): BroadcastRecord {
  return {
    id: r.id,
    businessId: r.business_id,
    phoneNumberId: r.phone_number_id,
    templateName: r.template_name,
    templateLanguage: r.template_language,
    components: componentsOf(r.components) ?? [],
    status: r.status as BroadcastStatus,
    total: Number(r.total),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    sendAt: r.send_at ?? undefined,
  };
}

/** Recipients per chunk, the unit the sender claims (see withClaimed). */
export const BROADCAST_CHUNK = 250;
/** Chunks a claim looks at per chunk it wants: the others may be held by other passes. */
const CLAIM_CANDIDATES = 4;

async function insertRecipients(trx: Kysely<MessagingDatabase>, broadcastId: string, from: number, recipients: RecipientInput[], at: Date, sendAt?: Date): Promise<void> {
  for (let i = 0; i < recipients.length; i += 1000) {
    const chunk = recipients.slice(i, i + 1000);
    await trx
      .insertInto("broadcast_recipient")
      .values(
        chunk.map((r, j) => ({
          broadcast_id: broadcastId,
          idx: from + i + j + 1,
          customer_id: r.customerId,
          e164: r.e164,
          components: componentsJson(r.components),
          state: PENDING,
          next_attempt_at: at,
        })),
      )
      .execute();
  }
  // The new indexes in chunks of their own (a draft's last chunk is never extended: nobody has claimed it, but it may be sent alone).
  const chunks = [];
  for (let first = from + 1; first <= from + recipients.length; first += BROADCAST_CHUNK) {
    chunks.push({ broadcast_id: broadcastId, first_idx: first, last_idx: Math.min(first + BROADCAST_CHUNK - 1, from + recipients.length), next_attempt_at: sendAt && sendAt > at ? sendAt : at });
  }
  for (let i = 0; i < chunks.length; i += 1000) await trx.insertInto("broadcast_chunk").values(chunks.slice(i, i + 1000)).execute();
}

interface Chunk {
  broadcast_id: string;
  first_idx: string;
  last_idx: string;
}

/**
 * A pass over claimed chunks: their due recipients (read after the claim,
 * so what another pass recorded before letting go is seen) sent, then
 * every outcome and each chunk's next attempt committed together.
 */
async function sendChunks(conn: Kysely<MessagingDatabase>, chunks: Chunk[], now: Date, send: (claimed: ClaimedRecipient[]) => Promise<ClaimOutcome[]>): Promise<ClaimedRecipient[]> {
  const { rows } = await sql<{ broadcast_id: string; idx: string; customer_id: string; e164: string; components: unknown; attempts: number; next_attempt_at: Date }>`
    SELECT r.broadcast_id, r.idx, r.customer_id, r.e164, r.components, r.attempts, r.next_attempt_at
    FROM unnest(${chunks.map((c) => c.broadcast_id)}::uuid[], ${chunks.map((c) => c.first_idx)}::bigint[], ${chunks.map((c) => c.last_idx)}::bigint[]) AS c(b, f, l)
      -- Each chunk by its key range (OFFSET 0 keeps the planner from turning this into a scan of every
      -- broadcast's recipients when its statistics say few are pending).
      CROSS JOIN LATERAL (
        SELECT * FROM broadcast_recipient r WHERE r.broadcast_id = c.b AND r.idx BETWEEN c.f AND c.l AND r.state = ${PENDING} OFFSET 0
      ) r
    ORDER BY r.broadcast_id, r.idx`.execute(conn);
  const due = rows.filter((r) => r.next_attempt_at <= now);
  const ids = [...new Set(due.map((r) => r.broadcast_id))];
  const broadcasts = new Map<string, BroadcastRecord>();
  if (ids.length > 0) for (const b of await conn.selectFrom("broadcast").selectAll().where("id", "in", ids).execute()) broadcasts.set(b.id, toRecord(b as BroadcastTable));
  const claimed = due.map((r) => ({ broadcast: broadcasts.get(r.broadcast_id)!, index: Number(r.idx), customerId: r.customer_id, e164: r.e164, components: componentsOf(r.components), attempts: r.attempts }));
  const outcomes = claimed.length === 0 ? [] : await send(claimed);

  // Each chunk: done when nobody in it is pending, else due again when its first pending recipient is.
  const next = new Map<string, number>();
  const pendingAt = (b: string, idx: number, at: number) => {
    const c = chunks.find((c) => c.broadcast_id === b && Number(c.first_idx) <= idx && idx <= Number(c.last_idx))!;
    const k = `${c.broadcast_id}:${c.first_idx}`;
    next.set(k, Math.min(next.get(k) ?? Infinity, at));
  };
  for (const r of rows) if (r.next_attempt_at > now) pendingAt(r.broadcast_id, Number(r.idx), r.next_attempt_at.getTime());
  for (const o of outcomes) if (o.outcome.kind === "retry") pendingAt(o.broadcastId, o.index, o.outcome.at.getTime());
  const nextAt = chunks.map((c) => next.get(`${c.broadcast_id}:${c.first_idx}`));

  await conn.transaction().execute(async (trx) => {
    if (outcomes.length > 0) {
      // One statement for the pass, a HOT update each (no index names what changes): a retry stays pending and moves its next attempt.
      const state = (o: RecipientOutcome) => (o.kind === "accepted" ? ACCEPTED : o.kind === "failed" ? FAILED : PENDING);
      await sql`
        UPDATE broadcast_recipient r SET
          state = u.state, attempts = r.attempts + 1, message_id = u.message_id, error_code = u.code, error_reason = u.reason,
          next_attempt_at = coalesce(u.next_at, r.next_attempt_at)
        FROM unnest(${outcomes.map((o) => o.broadcastId)}::uuid[], ${outcomes.map((o) => o.index)}::bigint[], ${outcomes.map((o) => state(o.outcome))}::smallint[],
          ${outcomes.map((o) => (o.outcome.kind === "accepted" ? o.outcome.messageId : ""))}::text[], ${outcomes.map((o) => (o.outcome.kind === "accepted" ? 0 : o.outcome.code))}::int[],
          ${outcomes.map((o) => (o.outcome.kind === "accepted" ? "" : o.outcome.reason))}::text[], ${outcomes.map((o) => (o.outcome.kind === "retry" ? o.outcome.at.toISOString() : null))}::timestamptz[])
          AS u(b, i, state, message_id, code, reason, next_at)
        WHERE r.broadcast_id = u.b AND r.idx = u.i`.execute(trx);
    }
    await sql`
      UPDATE broadcast_chunk c SET done = c.done OR u.at IS NULL, next_attempt_at = coalesce(u.at, c.next_attempt_at)
      FROM unnest(${chunks.map((c) => c.broadcast_id)}::uuid[], ${chunks.map((c) => c.first_idx)}::bigint[], ${nextAt.map((at) => (at === undefined ? null : new Date(at).toISOString()))}::timestamptz[]) AS u(b, f, at)
      WHERE c.broadcast_id = u.b AND c.first_idx = u.f`.execute(trx);
  });
  return claimed;
}

export interface RecipientRow {
  idx: number;
  customerId: string;
  e164: string;
  state: number;
  messageId: string;
  messageStatus: number;
  errorCode: number;
  errorReason: string;
  attempts: number;
}

/** The broadcasts' store port (domain/tools/broadcast-service.ts). */
export function createBroadcastStore(db: Kysely<MessagingDatabase>): BroadcastStore & {
  listRecipients(broadcastId: string, afterIdx: number, state: number, limit: number): Promise<RecipientRow[]>;
} {
  return {
    async insert(b, recipients) {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto("broadcast")
          .values({
            id: b.id,
            business_id: b.businessId,
            phone_number_id: b.phoneNumberId,
            template_name: b.templateName,
            template_language: b.templateLanguage,
            components: componentsJson(b.components) ?? "[]",
            status: b.status,
            total: b.total,
            created_at: b.createdAt,
            updated_at: b.updatedAt,
            send_at: b.sendAt ?? null,
          })
          .execute();
        await insertRecipients(trx, b.id, 0, recipients, b.createdAt, b.sendAt);
      });
    },

    async append(businessId, id, recipients, max) {
      return db.transaction().execute(async (trx) => {
        const b = await trx.selectFrom("broadcast").selectAll().where("id", "=", id).where("business_id", "=", businessId).forUpdate().executeTakeFirst();
        if (!b) return undefined;
        if (b.status !== DRAFT) return "not_draft" as const;
        const total = Number(b.total);
        if (total + recipients.length > max) return "too_many" as const;
        const at = new Date();
        await insertRecipients(trx, id, total, recipients, at);
        await trx.updateTable("broadcast").set({ total: total + recipients.length, updated_at: at }).where("id", "=", id).execute();
        return total + recipients.length;
      });
    },

    async get(businessId, id) {
      const r = await db.selectFrom("broadcast").selectAll().where("id", "=", id).where("business_id", "=", businessId).executeTakeFirst();
      return r && toRecord(r as BroadcastTable);
    },

    async counts(id): Promise<BroadcastCounts> {
      const { rows } = await sql<{ total: string; pending: string; accepted: string; failed: string; delivered: string; read: string; clicked: string }>`
        SELECT count(*) AS total,
          count(*) FILTER (WHERE r.state = ${PENDING}) AS pending,
          count(*) FILTER (WHERE r.state = ${ACCEPTED}) AS accepted,
          count(*) FILTER (WHERE r.state = ${FAILED}) AS failed,
          count(*) FILTER (WHERE r.reached >= 3) AS delivered,
          count(*) FILTER (WHERE r.reached = 4) AS read,
          count(*) FILTER (WHERE r.clicked_at IS NOT NULL) AS clicked
        FROM broadcast_recipient r
        WHERE r.broadcast_id = ${id}`.execute(db);
      const c = rows[0]!;
      return { total: Number(c.total), pending: Number(c.pending), accepted: Number(c.accepted), failed: Number(c.failed), delivered: Number(c.delivered), read: Number(c.read), clicked: Number(c.clicked) };
    },

    async setStatus(businessId, id, from, to, at, sendAt) {
      return db.transaction().execute(async (trx) => {
        const r = await trx
          .updateTable("broadcast")
          .set(sendAt ? { status: to, updated_at: at, send_at: sendAt } : { status: to, updated_at: at })
          .where("id", "=", id)
          .where("business_id", "=", businessId)
          .where("status", "in", from)
          .returningAll()
          .executeTakeFirst();
        // A cancelled broadcast's chunks leave the sender's scan.
        if (r && to === CANCELLED) await trx.updateTable("broadcast_chunk").set({ done: true }).where("broadcast_id", "=", id).where("done", "=", false).execute();
        // A scheduled one's are due no earlier than its time.
        if (r && to === RUNNING && r.send_at && r.send_at > at) {
          await sql`UPDATE broadcast_chunk SET next_attempt_at = greatest(next_attempt_at, ${r.send_at}) WHERE broadcast_id = ${id} AND NOT done`.execute(trx);
        }
        return r && toRecord(r as BroadcastTable);
      });
    },

    async labelAudience(businessId, phoneNumberId, labelId) {
      const label = await db.selectFrom("label").select("id").where("id", "=", labelId).where("business_id", "=", businessId).executeTakeFirst();
      if (!label) return undefined;
      const { rows } = await sql<{ customer_id: string }>`
        SELECT customer_id FROM customer_label WHERE business_id = ${businessId} AND label_id = ${labelId}::uuid
        UNION
        SELECT c.customer_id FROM conversation_label cl JOIN conversation c ON c.id = cl.conversation_id
          WHERE cl.label_id = ${labelId}::uuid AND c.phone_number_id = ${phoneNumberId}
        ORDER BY customer_id`.execute(db);
      return rows.map((r) => r.customer_id);
    },

    async followerAudience(businessId, limit) {
      // The send path's rule (policy/consent.ts optedIn): an opt-in, and no opt-out at or after it.
      const { rows } = await sql<{ customer_id: string }>`
        SELECT f.customer_id FROM customer_follow f
          JOIN marketing_consent mc ON mc.customer_id = f.customer_id AND mc.business_id = f.business_id
        WHERE f.business_id = ${businessId} AND f.following
          AND mc.opt_in_at IS NOT NULL AND (mc.opt_out_at IS NULL OR mc.opt_out_at < mc.opt_in_at)
        ORDER BY f.customer_id
        LIMIT ${limit}`.execute(db);
      return rows.map((r) => r.customer_id);
    },

    async withClaimed(now, limit, send): Promise<ClaimedRecipient[]> {
      // One connection for the pass, its claims session-level advisory locks: no transaction is
      // open while the sends run (a long one would hold back every table's cleanup), and a
      // replica that dies releases them with its connection, so its chunks are claimed again at once.
      return db.connection().execute(async (conn) => {
        const want = Math.max(1, Math.ceil(limit / BROADCAST_CHUNK));
        // Whole chunks with someone due, in order, skipping those another pass holds.
        const { rows: chunks } = await sql<Chunk>`
          WITH candidate AS MATERIALIZED (
            SELECT c.broadcast_id, c.first_idx, c.last_idx, c.next_attempt_at
            FROM broadcast_chunk c JOIN broadcast b ON b.id = c.broadcast_id
            WHERE NOT c.done AND c.next_attempt_at <= ${now} AND b.status = ${RUNNING}
            ORDER BY c.next_attempt_at, c.broadcast_id, c.first_idx
            LIMIT ${CLAIM_CANDIDATES * want})
          SELECT broadcast_id, first_idx, last_idx FROM candidate
          WHERE pg_try_advisory_lock(hashtextextended('broadcast-chunk:' || broadcast_id || ':' || first_idx, 0))
          LIMIT ${want}`.execute(conn);
        if (chunks.length === 0) return [];
        try {
          // A replica cut off from the database (not dead) gives its claims back when its session ends.
          await sql`SELECT set_config('idle_session_timeout', ${String(CLAIM_IDLE_LIMIT_MS)}, false)`.execute(conn);
          return await sendChunks(conn, chunks, now, send);
        } finally {
          await sql`SELECT pg_advisory_unlock(hashtextextended('broadcast-chunk:' || b || ':' || f, 0))
            FROM unnest(${chunks.map((c) => c.broadcast_id)}::uuid[], ${chunks.map((c) => c.first_idx)}::bigint[]) AS u(b, f)`.execute(conn);
          await sql`RESET idle_session_timeout`.execute(conn);
        }
      });
    },

    async completeDone(ids, at) {
      await sql`
        UPDATE broadcast b SET status = ${COMPLETED}, updated_at = ${at}
        WHERE b.id = ANY(${ids}::uuid[]) AND b.status = ${RUNNING}
          AND NOT EXISTS (SELECT 1 FROM broadcast_chunk c WHERE c.broadcast_id = b.id AND NOT c.done)`.execute(db);
    },

    async listRecipients(broadcastId, afterIdx, state, limit) {
      let q = db
        .selectFrom("broadcast_recipient as r")
        .leftJoin("message as m", (j) => j.onRef("m.id", "=", "r.message_id").on("r.state", "=", ACCEPTED))
        .select(["r.idx", "r.customer_id", "r.e164", "r.state", "r.message_id", "m.status as message_status", "r.error_code", "r.error_reason", "r.attempts"])
        .where("r.broadcast_id", "=", broadcastId)
        .where("r.idx", ">", afterIdx);
      if (state) q = q.where("r.state", "=", state);
      const rows = await q.orderBy("r.idx").limit(limit).execute();
      return rows.map((r) => ({
        idx: Number(r.idx),
        customerId: r.customer_id,
        e164: r.e164,
        state: r.state,
        messageId: r.message_id,
        messageStatus: r.message_status ?? 0,
        errorCode: r.error_code,
        errorReason: r.error_reason,
        attempts: r.attempts,
      }));
    },
  };
}

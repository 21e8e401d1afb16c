import { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import type { TemplateComponent } from "@kontor/proto/messaging/v1/message";
import type { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { InvalidInput, KontorError, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { normalizeE164, isValidId } from "../participant.js";

/** Recipients per call (CreateBroadcast, AddBroadcastRecipients) and per broadcast; how far ahead a broadcast may be scheduled. */
export const BROADCAST_LIMITS = { perCall: 10_000, perBroadcast: 100_000, scheduleDays: 30 } as const;
/**
 * The longest a pass's database session may sit idle holding its claims:
 * past it the database ends the session, so a replica cut off from it (not
 * dead, which releases them at once) gives its claims back.
 */
export const CLAIM_IDLE_LIMIT_MS = 60_000;

export interface BroadcastRecord {
  id: string;
  businessId: string;
  phoneNumberId: string;
  templateName: string;
  templateLanguage: string;
  components: TemplateComponent[];
  status: BroadcastStatus;
  total: number;
  createdAt: Date;
  updatedAt: Date;
  /** A scheduled broadcast: nothing is sent before it. */
  sendAt?: Date;
}

export interface BroadcastCounts {
  total: number;
  pending: number;
  accepted: number;
  failed: number;
  delivered: number;
  read: number;
  /** Recipients who tapped a quick-reply button of their message. */
  clicked: number;
}

export interface RecipientInput {
  customerId: string;
  e164: string;
  components: TemplateComponent[] | undefined;
}

/** A recipient a replica claimed to send now. */
export interface ClaimedRecipient {
  broadcast: BroadcastRecord;
  index: number;
  customerId: string;
  e164: string;
  components: TemplateComponent[] | undefined;
  attempts: number;
}

export type RecipientOutcome =
  | { kind: "accepted"; messageId: string }
  | { kind: "failed"; code: number; reason: string }
  | { kind: "retry"; at: Date; code: number; reason: string };

export interface ClaimOutcome {
  broadcastId: string;
  index: number;
  outcome: RecipientOutcome;
}

export interface BroadcastStore {
  insert(b: BroadcastRecord, recipients: RecipientInput[]): Promise<void>;
  /** Appends recipients to a DRAFT under its row lock; returns the new total, or undefined when it is no DRAFT. */
  append(businessId: string, id: string, recipients: RecipientInput[], max: number): Promise<number | "not_draft" | "too_many" | undefined>;
  get(businessId: string, id: string): Promise<BroadcastRecord | undefined>;
  counts(id: string): Promise<BroadcastCounts>;
  /** Moves the status when it is one of `from`; returns the record after, or undefined when it was not. */
  setStatus(businessId: string, id: string, from: BroadcastStatus[], to: BroadcastStatus, at: Date, sendAt?: Date): Promise<BroadcastRecord | undefined>;
  /** Customers with the label on them or on a conversation with the number. */
  labelAudience(businessId: string, phoneNumberId: string, labelId: string): Promise<string[] | undefined>;
  /** The business's followers (directory's follow events) with a marketing opt-in not withdrawn since, at most `limit`. */
  followerAudience(businessId: string, limit: number): Promise<string[]>;
  /**
   * One pass's claim: chunks of running broadcasts worth up to `limit`
   * pending recipients, held (other passes and replicas skip them) while
   * `send` runs on their due recipients, then the outcomes recorded in one
   * transaction. Nothing is written to claim: a replica that dies mid-pass
   * releases its claims with its connection, and they are claimed again at once.
   */
  withClaimed(now: Date, limit: number, send: (claimed: ClaimedRecipient[]) => Promise<ClaimOutcome[]>): Promise<ClaimedRecipient[]>;
  /** RUNNING broadcasts among these with nobody pending become COMPLETED. */
  completeDone(ids: string[], at: Date): Promise<void>;
}

export interface BroadcastPorts {
  store: BroadcastStore;
  /** Whether the template exists approved (the send path's 132001 check), before anything is stored. */
  checkTemplate(businessId: string, name: string, language: string): Promise<void>;
  /** The send path, as the business number. */
  send(req: SendMessageRequest, phoneNumberId: string): Promise<{ messageId: string }>;
  now: () => Date;
  newId: () => string;
}

/** Refusals a later attempt may pass: the number's limits and the store's unavailability. */
const RETRYABLE = new Set(["THROUGHPUT_LIMIT", "PAIR_RATE_LIMIT", "SEND_QUEUE_FULL", "UNAVAILABLE", "CONCURRENT_UPDATE"]);

/** A send's failure as a recipient's outcome: retry later when the limits may allow it, else failed with its Cloud API code. */
export function outcomeOf(err: unknown, attempts: number, now: Date): RecipientOutcome {
  const e = err instanceof KontorError ? err : undefined;
  const reason = e?.reason ?? "INTERNAL";
  const code = e?.cloudApiCode ?? 0;
  if (!e || RETRYABLE.has(reason) || e.grpcCode === 14) {
    // The limit's own hint when it gave one, else a backoff doubling from 1 s to a minute.
    const hinted = Number(e?.metadata.retry_after_ms ?? 0);
    const wait = hinted > 0 ? hinted : Math.min(60_000, 1_000 * 2 ** Math.min(attempts, 6));
    return { kind: "retry", at: new Date(now.getTime() + wait), code, reason };
  }
  return { kind: "failed", code, reason };
}

function parseRecipients(recipients: RecipientInput[], field = "recipients"): RecipientInput[] {
  if (recipients.length > BROADCAST_LIMITS.perCall) throw new InvalidInput(field, `at most ${BROADCAST_LIMITS.perCall} per call`);
  return recipients.map((r, i) => {
    if (r.customerId) {
      if (!isValidId(r.customerId)) throw new InvalidInput(`${field}[${i}].customer_id`, "must be 1-64 characters of [A-Za-z0-9_-]");
      return r;
    }
    const e164 = normalizeE164(r.e164);
    if (!e164) throw new InvalidInput(`${field}[${i}].e164`, "must be a phone number in E.164 form (row " + (i + 1) + ")");
    return { ...r, e164 };
  });
}

/** A requested send time: undefined when unset or already past; refused when no time or beyond the schedule limit. */
export function scheduleOf(sendAt: Date | undefined, now: Date): Date | undefined {
  if (!sendAt) return undefined;
  if (Number.isNaN(sendAt.getTime())) throw new InvalidInput("send_at", "must be a time");
  if (sendAt <= now) return undefined;
  if (sendAt.getTime() - now.getTime() > BROADCAST_LIMITS.scheduleDays * 86_400_000) throw new InvalidInput("send_at", `must be within ${BROADCAST_LIMITS.scheduleDays} days`);
  return sendAt;
}

/** The recipients given, then each segment's customers not among them yet: a customer in two segments gets one message. */
function withAudiences(recipients: RecipientInput[], audiences: string[][]): RecipientInput[] {
  const seen = new Set(recipients.map((r) => r.customerId).filter((id) => id !== ""));
  const out = recipients.slice();
  for (const audience of audiences) {
    for (const customerId of audience) {
      if (seen.has(customerId)) continue;
      seen.add(customerId);
      out.push({ customerId, e164: "", components: undefined });
    }
  }
  return out;
}

/** Broadcasts: an approved template to many customers, paced by the send path's own limits, resumable after a crash. */
export function createBroadcastService(ports: BroadcastPorts) {
  const { store } = ports;
  const missing = () => new NotFound("broadcast");

  async function withCounts(b: BroadcastRecord) {
    return { broadcast: b, counts: await store.counts(b.id) };
  }

  async function append(businessId: string, id: string, recipients: RecipientInput[], field: string) {
    const total = await store.append(businessId, id, recipients, BROADCAST_LIMITS.perBroadcast);
    if (total === undefined) throw missing();
    if (total === "not_draft") throw new PolicyRefused("BROADCAST_NOT_DRAFT", "recipients are added to a DRAFT broadcast only");
    if (total === "too_many") throw new InvalidInput(field, `at most ${BROADCAST_LIMITS.perBroadcast} per broadcast`);
    return withCounts((await store.get(businessId, id))!);
  }

  function requireId(id: string) {
    if (!isUuid(id)) throw new InvalidInput("broadcast_id", "must be a broadcast id");
  }

  return {
    async create(input: {
      businessId: string;
      phoneNumberId: string;
      templateName: string;
      templateLanguage: string;
      components: TemplateComponent[];
      recipients: RecipientInput[];
      labelId: string;
      optedInFollowers?: boolean;
      start: boolean;
      sendAt?: Date;
    }) {
      if (!input.templateName) throw new InvalidInput("template_name", "is required");
      const sendAt = scheduleOf(input.sendAt, ports.now());
      if (!input.templateLanguage) throw new InvalidInput("template_language", "is required");
      let recipients = parseRecipients(input.recipients);
      const audiences: string[][] = [];
      if (input.labelId) {
        if (!isUuid(input.labelId)) throw new InvalidInput("label_id", "must be a label id");
        const audience = await store.labelAudience(input.businessId, input.phoneNumberId, input.labelId);
        if (!audience) throw new NotFound("label");
        audiences.push(audience);
      }
      if (input.optedInFollowers) {
        const audience = await store.followerAudience(input.businessId, BROADCAST_LIMITS.perBroadcast + 1);
        if (audience.length > BROADCAST_LIMITS.perBroadcast) throw new InvalidInput("opted_in_followers", `at most ${BROADCAST_LIMITS.perBroadcast} per broadcast`);
        audiences.push(audience);
      }
      if (audiences.length > 0) recipients = withAudiences(recipients, audiences);
      if (recipients.length > BROADCAST_LIMITS.perBroadcast) throw new InvalidInput("recipients", `at most ${BROADCAST_LIMITS.perBroadcast} per broadcast`);
      await ports.checkTemplate(input.businessId, input.templateName, input.templateLanguage);
      const at = ports.now();
      const b: BroadcastRecord = {
        id: ports.newId(),
        businessId: input.businessId,
        phoneNumberId: input.phoneNumberId,
        templateName: input.templateName,
        templateLanguage: input.templateLanguage,
        components: input.components,
        status: input.start ? BroadcastStatus.BROADCAST_STATUS_RUNNING : BroadcastStatus.BROADCAST_STATUS_DRAFT,
        total: recipients.length,
        createdAt: at,
        updatedAt: at,
        sendAt,
      };
      await store.insert(b, recipients);
      return withCounts(b);
    },

    async addRecipients(businessId: string, id: string, recipients: RecipientInput[]) {
      requireId(id);
      return append(businessId, id, parseRecipients(recipients), "recipients");
    },

    /** Appends recipients checked already (a CSV upload's, broadcast-csv.ts), all in one transaction; no per-call cap. */
    async addCheckedRecipients(businessId: string, id: string, recipients: RecipientInput[]) {
      requireId(id);
      return append(businessId, id, recipients, "chunk");
    },

    async get(businessId: string, id: string) {
      requireId(id);
      const b = await store.get(businessId, id);
      if (!b) throw missing();
      return withCounts(b);
    },

    /** Starts a DRAFT or resumes a PAUSED broadcast (not before `sendAt`, or its own schedule); pauses a RUNNING one; cancels any not finished. */
    async transition(businessId: string, id: string, to: "start" | "pause" | "cancel", sendAt?: Date) {
      requireId(id);
      const schedule = to === "start" ? scheduleOf(sendAt, ports.now()) : undefined;
      const S = BroadcastStatus;
      const rule = {
        start: { from: [S.BROADCAST_STATUS_DRAFT, S.BROADCAST_STATUS_PAUSED], to: S.BROADCAST_STATUS_RUNNING },
        pause: { from: [S.BROADCAST_STATUS_RUNNING], to: S.BROADCAST_STATUS_PAUSED },
        cancel: { from: [S.BROADCAST_STATUS_DRAFT, S.BROADCAST_STATUS_RUNNING, S.BROADCAST_STATUS_PAUSED], to: S.BROADCAST_STATUS_CANCELLED },
      }[to];
      const moved = await store.setStatus(businessId, id, rule.from, rule.to, ports.now(), schedule);
      if (moved) return withCounts(moved);
      const now = await store.get(businessId, id);
      if (!now) throw missing();
      if (now.status === rule.to) return withCounts(now);
      throw new PolicyRefused("BROADCAST_STATE", `a ${BroadcastStatus[now.status]} broadcast cannot ${to}`);
    },

    /**
     * One pass of the sender: claims pending recipients of running
     * broadcasts (every replica runs it; SKIP LOCKED keeps them apart) and
     * sends each with a client message id of its own, so a recipient claimed
     * again after a crash gets the original answer, not a second message.
     */
    async sendPass(limit: number): Promise<number> {
      const claimed = await store.withClaimed(ports.now(), limit, (claimed) =>
        Promise.all(
          claimed.map(async (r): Promise<ClaimOutcome> => {
            const req: SendMessageRequest = {
              sender: { kind: { $case: "phoneNumberId", value: r.broadcast.phoneNumberId } },
              recipient: r.customerId ? { kind: { $case: "customerId", value: r.customerId } } : undefined,
              to: r.customerId ? "" : r.e164,
              clientMessageId: `broadcast:${r.broadcast.id}:${r.index}`,
              content: {
                kind: {
                  $case: "template",
                  value: { name: r.broadcast.templateName, languageCode: r.broadcast.templateLanguage, components: r.components ?? r.broadcast.components, rendered: undefined },
                },
              },
              context: undefined,
              bizOpaqueCallbackData: `broadcast:${r.broadcast.id}`,
              referral: undefined,
            };
            let outcome: RecipientOutcome;
            try {
              outcome = { kind: "accepted", messageId: (await ports.send(req, r.broadcast.phoneNumberId)).messageId };
            } catch (err) {
              outcome = outcomeOf(err, r.attempts, ports.now());
            }
            return { broadcastId: r.broadcast.id, index: r.index, outcome };
          }),
        ),
      );
      if (claimed.length > 0) await store.completeDone([...new Set(claimed.map((r) => r.broadcast.id))], ports.now());
      return claimed.length;
    },
  };
}

export type BroadcastService = ReturnType<typeof createBroadcastService>;

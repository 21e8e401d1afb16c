import type { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";

/*
 * Greeting and away messages of a business number (the Business app's
 * automatic answers). A customer's message gets the greeting when it is the
 * first in the conversation or follows `greetingSilenceDays` without any
 * message, and the away message when it arrives outside the business's
 * opening hours. Each kind goes to a customer at most once per its interval,
 * never while a chatbot flow or an agent handles the conversation, as
 * free-form text inside the window the customer's message just opened.
 * Times are the customer message's own, so a consumer running late decides
 * as it would have on time.
 */

export type AutoReplyKind = "greeting" | "away";

export interface AutoReplyConfig {
  enabled: boolean;
  text: string;
  intervalMinutes: number;
}

export interface AutoReplySettings {
  phoneNumberId: string;
  greeting: AutoReplyConfig;
  greetingSilenceDays: number;
  away: AutoReplyConfig;
  updatedAt: Date | undefined;
}

/** Opening hours as directory publishes them (business.proto OpeningHours): minutes of the local day, close may pass 1,440. */
export interface OpeningHours {
  timeZone: string;
  weekly: { weekday: number; ranges: { openMinute: number; closeMinute: number }[] }[];
  exceptions: { date: string; closed: boolean; ranges: { openMinute: number; closeMinute: number }[] }[];
  alwaysOpen: boolean;
}

export const AUTO_REPLY_DEFAULTS = { intervalMinutes: 1440, silenceDays: 14, maxText: 4096, maxIntervalMinutes: 525_600, maxSilenceDays: 365 } as const;

const MINUTE = 60_000;
const DAY_MS = 86_400_000;

export const disabledSettings = (phoneNumberId: string): AutoReplySettings => ({
  phoneNumberId,
  greeting: { enabled: false, text: "", intervalMinutes: AUTO_REPLY_DEFAULTS.intervalMinutes },
  greetingSilenceDays: AUTO_REPLY_DEFAULTS.silenceDays,
  away: { enabled: false, text: "", intervalMinutes: AUTO_REPLY_DEFAULTS.intervalMinutes },
  updatedAt: undefined,
});

function checkReply(r: AutoReplyConfig | undefined, field: string): AutoReplyConfig {
  const reply = r ?? { enabled: false, text: "", intervalMinutes: 0 };
  const text = reply.text.trim();
  if (reply.enabled && text === "") throw new InvalidInput(`${field}.text`, "is required when enabled");
  if (text.length > AUTO_REPLY_DEFAULTS.maxText) throw new InvalidInput(`${field}.text`, `must be at most ${AUTO_REPLY_DEFAULTS.maxText} characters`);
  const interval = reply.intervalMinutes;
  if (!Number.isInteger(interval) || interval < 0 || interval > AUTO_REPLY_DEFAULTS.maxIntervalMinutes) {
    throw new InvalidInput(`${field}.interval_minutes`, `must be 0 (a day) to ${AUTO_REPLY_DEFAULTS.maxIntervalMinutes}`);
  }
  return { enabled: reply.enabled, text, intervalMinutes: interval || AUTO_REPLY_DEFAULTS.intervalMinutes };
}

/** Checks settings as given (0 takes the default); a bad one names its field under `settings`. */
export function validateSettings(s: { phoneNumberId: string; greeting: AutoReplyConfig | undefined; greetingSilenceDays: number; away: AutoReplyConfig | undefined }): Omit<AutoReplySettings, "updatedAt"> {
  if (!s.phoneNumberId) throw new InvalidInput("settings.phone_number_id", "is required");
  const days = s.greetingSilenceDays;
  if (!Number.isInteger(days) || days < 0 || days > AUTO_REPLY_DEFAULTS.maxSilenceDays) {
    throw new InvalidInput("settings.greeting_silence_days", `must be 0 (14 days) to ${AUTO_REPLY_DEFAULTS.maxSilenceDays}`);
  }
  return {
    phoneNumberId: s.phoneNumberId,
    greeting: checkReply(s.greeting, "settings.greeting"),
    greetingSilenceDays: days || AUTO_REPLY_DEFAULTS.silenceDays,
    away: checkReply(s.away, "settings.away"),
  };
}

const formatters = new Map<string, Intl.DateTimeFormat | undefined>();

function formatterOf(timeZone: string): Intl.DateTimeFormat | undefined {
  if (!formatters.has(timeZone)) {
    let f: Intl.DateTimeFormat | undefined;
    try {
      f = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", weekday: "short" });
    } catch {
      f = undefined; // not a zone this runtime knows: the hours count as unknown
    }
    formatters.set(timeZone, f);
  }
  return formatters.get(timeZone);
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** The wall clock in a zone at an instant: local date, ISO weekday, minute of the day. */
export function localClock(at: number, timeZone: string): { date: string; weekday: number; minute: number } | undefined {
  const f = formatterOf(timeZone);
  if (!f) return undefined;
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(at))) p[part.type] = part.value;
  return { date: `${p.year}-${p.month}-${p.day}`, weekday: WEEKDAYS[p.weekday!] ?? 0, minute: Number(p.hour) * 60 + Number(p.minute) };
}

const previousDate = (date: string): string => new Date(Date.parse(`${date}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);

/** The ranges that start on a local day: a dated exception replaces the weekday's hours. */
function rangesOn(h: OpeningHours, date: string, weekday: number) {
  const exception = h.exceptions.find((e) => e.date === date);
  if (exception) return exception.closed ? [] : exception.ranges;
  if (h.alwaysOpen) return [{ openMinute: 0, closeMinute: 1440 }];
  return h.weekly.find((d) => d.weekday === weekday)?.ranges ?? [];
}

/**
 * Whether the business is open at an instant, by its hours in its own time
 * zone: a range includes its opening minute and excludes its closing one; a
 * range past midnight (close above 1,440) keeps the next morning open.
 * Undefined when the hours are unknown (no zone, or one this runtime lacks).
 */
export function isOpenAt(h: OpeningHours | undefined, at: number): boolean | undefined {
  if (!h || !h.timeZone) return undefined;
  const local = localClock(at, h.timeZone);
  if (!local) return undefined;
  const m = local.minute;
  if (rangesOn(h, local.date, local.weekday).some((r) => r.openMinute <= m && m < r.closeMinute)) return true;
  const yesterday = rangesOn(h, previousDate(local.date), local.weekday === 1 ? 7 : local.weekday - 1);
  return yesterday.some((r) => r.closeMinute > 1440 && m + 1440 < r.closeMinute);
}

/** What the decision needs about one customer message, all read under the pair's lock. */
export interface AutoReplyFacts {
  /** The customer message's time (epoch ms). */
  at: number;
  /** The conversation's message before this one, if any. */
  previousAt: number | undefined;
  lastSent: Partial<Record<AutoReplyKind, number>>;
  hours: OpeningHours | undefined;
  /** A chatbot flow answered or holds the conversation, or an agent has it (assigned, handed off). */
  handled: boolean;
}

/** Which automatic answers a customer message gets, greeting first. */
export function decideAutoReplies(s: AutoReplySettings, f: AutoReplyFacts): AutoReplyKind[] {
  if (f.handled) return [];
  const due = (kind: AutoReplyKind) => {
    const last = f.lastSent[kind];
    return last === undefined || f.at - last >= s[kind].intervalMinutes * MINUTE;
  };
  const out: AutoReplyKind[] = [];
  if (s.greeting.enabled && (f.previousAt === undefined || f.at - f.previousAt >= s.greetingSilenceDays * DAY_MS) && due("greeting")) out.push("greeting");
  if (s.away.enabled && isOpenAt(f.hours, f.at) === false && due("away")) out.push("away");
  return out;
}

/** A customer message the automatic answers look at. */
export interface InboundForAutoReplies {
  eventId: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  conversationId: string;
  seq: number;
  at: number;
}

/** The store; `T` is the consumer's transaction. */
export interface AutoReplyStore<T = unknown> {
  get(phoneNumberId: string, trx?: T): Promise<(AutoReplySettings & { businessId: string }) | undefined>;
  set(businessId: string, s: Omit<AutoReplySettings, "updatedAt">, at: Date): Promise<AutoReplySettings>;
  /** Takes the number × customer lock for the transaction, then reads what the decision needs (all but `handled` and `at`). */
  facts(m: InboundForAutoReplies, trx: T): Promise<Omit<AutoReplyFacts, "handled" | "at"> & { assigned: boolean }>;
  markSent(phoneNumberId: string, customerId: string, kind: AutoReplyKind, at: Date, trx: T): Promise<void>;
}

export interface AutoReplyPorts<T> {
  store: AutoReplyStore<T>;
  /** The send path, as the business number. */
  send(req: SendMessageRequest, phoneNumberId: string): Promise<unknown>;
  /** Whether the number is the business's own. */
  ownsNumber(businessId: string, phoneNumberId: string): boolean;
  log: Logger;
  now: () => Date;
}

export function createAutoReplyService<T>(ports: AutoReplyPorts<T>) {
  const { store } = ports;
  return {
    async set(businessId: string, input: Parameters<typeof validateSettings>[0]): Promise<AutoReplySettings> {
      const s = validateSettings(input);
      if (!ports.ownsNumber(businessId, s.phoneNumberId)) throw new NotFound("business number");
      return store.set(businessId, s, ports.now());
    },

    async get(businessId: string, phoneNumberId: string): Promise<AutoReplySettings> {
      if (!phoneNumberId) throw new InvalidInput("phone_number_id", "is required");
      if (!ports.ownsNumber(businessId, phoneNumberId)) throw new NotFound("business number");
      const s = await store.get(phoneNumberId);
      return s && s.businessId === businessId ? s : disabledSettings(phoneNumberId);
    },

    /**
     * One customer message, inside the consumer's transaction `trx` that
     * marks its event handled: the answers go out through the send path with
     * client ids from the event, and what was sent is recorded in `trx`, so
     * a redelivery decides the same and its sends answer the originals.
     */
    async onInbound(m: InboundForAutoReplies, flowHandles: boolean, trx: T): Promise<AutoReplyKind[]> {
      const s = await store.get(m.phoneNumberId, trx);
      if (!s || s.businessId !== m.businessId || (!s.greeting.enabled && !s.away.enabled) || flowHandles) return [];
      const { assigned, ...facts } = await store.facts(m, trx);
      const kinds = decideAutoReplies(s, { ...facts, at: m.at, handled: assigned });
      const sent: AutoReplyKind[] = [];
      for (const kind of kinds) {
        try {
          await ports.send(
            {
              sender: { kind: { $case: "phoneNumberId", value: m.phoneNumberId } },
              recipient: { kind: { $case: "customerId", value: m.customerId } },
              to: "",
              clientMessageId: `auto:${m.eventId}:${kind}`,
              content: { kind: { $case: "text", value: { body: s[kind].text, previewUrl: false } } },
              context: undefined,
              bizOpaqueCallbackData: `auto:${kind}`,
              referral: undefined,
            },
            m.phoneNumberId,
          );
          await store.markSent(m.phoneNumberId, m.customerId, kind, new Date(m.at), trx);
          sent.push(kind);
        } catch (err) {
          // A refusal (pair rate, a block) leaves it unsent and unrecorded: a later message may get it.
          ports.log.warn({ phone_number_id: m.phoneNumberId, kind, err: { message: (err as Error).message } }, "automatic answer not sent");
        }
      }
      return sent;
    },
  };
}

export type AutoReplyService<T = unknown> = ReturnType<typeof createAutoReplyService<T>>;

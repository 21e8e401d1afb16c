import type { TemplateContent } from "@kontor/proto/messaging/v1/message";
import { blockedByBusiness, undeliverable, userBlocked } from "./block-cache.js";
import type { ConsentCache } from "./consent-cache.js";
import type { BusinessNumber } from "./directory.js";
import type { Clock } from "./policy/clock.js";
import { PairRateLimiter, ThroughputLimiter, DEFAULT_PAIR_CONFIG, DEFAULT_THROUGHPUT_PER_SECOND, type PairConfig } from "./policy/limits.js";
import { CATEGORY_BIT, CONVERSATION_WINDOW_MS, POLICY, type ConversationWindows, type PricingCategory, type PricingModel } from "./policy/pricing.js";
import { refuse, type Refusal } from "./policy/refusals.js";
import { DEFAULT_TIER_OPTIONS, TIERS, type TierOptions } from "./policy/tiers.js";
import { DEFAULT_QUALITY, RollingSignals, type Quality } from "./policy/quality.js";
import { FREE_ENTRY_MS, SERVICE_WINDOW_MS, checkWindow, type WindowState } from "./policy/window.js";
import { PRICING_CATEGORY, templateRefusal, type TemplateCache } from "./template-cache.js";
import { renderTemplate } from "./templates/render.js";

/** A conversation's windows from the store, for a replica that does not know them yet. */
export interface WindowStore {
  loadWindows(phoneNumberId: string, customerId: string): Promise<ConversationWindows | undefined>;
}

export interface TierRequest {
  businessId: string;
  customerId: string;
  verified: boolean;
}

export interface TierAnswer {
  allowed: boolean;
  /** Index into TIERS. */
  tier: number;
  used: number;
}

/** Counts business-initiated conversations per business in the store, under the business row's lock (one place for every replica). */
export interface TierStore {
  countBusinessInitiated(requests: TierRequest[], at: number): Promise<TierAnswer[]>;
}

/** What the send path needs to know of blocks (block-cache.ts). */
export interface BlockLookup {
  isBlocked(customerId: string, businessId: string): boolean;
  /** The business's side (block_users): does this number block this customer? */
  blocksUser?(phoneNumberId: string, customerId: string): boolean;
}

export interface SendPolicyOptions {
  /** false: no rule is applied and no window is tracked (benchmarks' baseline, MESSAGING_POLICY=off). */
  enforce: boolean;
  pricingModel: PricingModel;
  throughputPerSecond: number;
  /** Replicas serving sends: each takes its share of a number's throughput. */
  replicas: number;
  pair: PairConfig;
  tiers: TierOptions;
}

export const DEFAULT_POLICY_OPTIONS: SendPolicyOptions = Object.freeze({
  enforce: true,
  pricingModel: "PMP",
  throughputPerSecond: DEFAULT_THROUGHPUT_PER_SECOND,
  replicas: 1,
  pair: DEFAULT_PAIR_CONFIG,
  tiers: DEFAULT_TIER_OPTIONS,
});

export interface SendPolicyPorts {
  clock: Clock;
  windows: WindowStore;
  tiers: TierStore;
  templates: Pick<TemplateCache, "get">;
  consent: Pick<ConsentCache, "load" | "marketingRefusal">;
  blocks: BlockLookup | undefined;
  options: SendPolicyOptions;
}

/** A template send's billing facts, carried to the commit's events. */
export interface TemplateBilling {
  templateId: string;
  name: string;
  language: string;
  category: PricingCategory;
}

/** What the policy decided for an allowed send: the commit's update bits (pricing.ts POLICY) and, for a template, its billing. */
export interface PolicyDecision {
  flags: number;
  billing: TemplateBilling | undefined;
}

/** How long a window this replica believes closed is trusted before the store is asked again (another replica may have taken the customer's message). */
export const WINDOW_RECHECK_MS = 1_000;

/**
 * A conversation's windows in memory. Never ahead of the store: every field
 * only grows, and grows from the store's answers (the commit's, a load's),
 * so a window open here is open there. A closed one may be open in the
 * store (a customer message taken by another replica): it is read again,
 * at most once per WINDOW_RECHECK_MS.
 */
interface WindowEntry extends WindowState {
  serviceOpenUntil: number;
  referralReplyBy: number;
  freeEntryOpenUntil: number;
  categoryUntil: [number, number, number, number];
  checkedAt: number;
}

const NONE: PolicyDecision = Object.freeze({ flags: 0, billing: undefined });
const INBOUND: PolicyDecision = Object.freeze({ flags: POLICY.inbound, billing: undefined });
const INBOUND_REFERRAL: PolicyDecision = Object.freeze({ flags: POLICY.inbound | POLICY.referral, billing: undefined });

/**
 * The policy rules on the send path (issue rules 1–6), from this replica's
 * memory: no database read per message. State that must agree across
 * replicas is decided where one row is locked anyway: the windows in the
 * conversation row by the group commit, the messaging limit in the
 * business's messaging_limit row (read once per new customer per 24 h, not
 * per message). See the README's "Policy on the send path".
 */
export function createSendPolicy(ports: SendPolicyPorts) {
  const { clock, options } = ports;
  const windows = new Map<string, Map<string, WindowEntry>>();
  const throughput = new ThroughputLimiter(clock, { perSecond: options.throughputPerSecond / options.replicas });
  const pairs = new PairRateLimiter(clock, options.pair);
  /**
   * Quality signals per business number over the rolling 7 days: this
   * replica's sends and reads (scaled by the replica count: each serves its
   * share) and every replica's blocks and reports (each hears all of them).
   */
  const signals = new RollingSignals();
  /** A business's numbers as sends named them, so a block of the business counts against each. */
  const numbersOf = new Map<string, Set<string>>();
  /** The marketing template each customer last got from a business: a block or report counts against it too (template pauses). */
  const lastMarketing = new Map<string, Map<string, { templateId: string; at: number }>>();
  const templateKey = (templateId: string) => `t:${templateId}`;

  function negative(signal: "blocked" | "reported", businessId: string, phoneNumberId: string | undefined, at: number, customerId: string | undefined): void {
    if (phoneNumberId) signals.add(phoneNumberId, signal, at);
    else for (const n of numbersOf.get(businessId) ?? []) signals.add(n, signal, at);
    const last = customerId ? lastMarketing.get(businessId)?.get(customerId) : undefined;
    if (last) signals.add(templateKey(last.templateId), signal, at);
  }

  // ---- windows ----------------------------------------------------------

  function entryOf(numberId: string, customerId: string): WindowEntry | undefined {
    return windows.get(numberId)?.get(customerId);
  }

  function merge(numberId: string, customerId: string, w: ConversationWindows, at: number): WindowEntry {
    let customers = windows.get(numberId);
    if (!customers) windows.set(numberId, (customers = new Map()));
    let e = customers.get(customerId);
    if (!e) {
      e = { serviceOpenUntil: 0, referralReplyBy: 0, freeEntryOpenUntil: 0, categoryUntil: [0, 0, 0, 0], checkedAt: 0 };
      customers.set(customerId, e);
    }
    if (w.lastInboundAt > 0) e.serviceOpenUntil = Math.max(e.serviceOpenUntil, w.lastInboundAt + SERVICE_WINDOW_MS);
    // A used referral is cleared in the store: follow it down only when the row shows the free entry point it
    // opened (else a load that started before a referral's commit would erase it), or this replica would open a second one.
    if (w.referralReplyBy > e.referralReplyBy || w.freeEntryUntil > e.freeEntryOpenUntil) e.referralReplyBy = w.referralReplyBy;
    e.freeEntryOpenUntil = Math.max(e.freeEntryOpenUntil, w.freeEntryUntil);
    for (let i = 0; i < 4; i++) e.categoryUntil[i] = Math.max(e.categoryUntil[i]!, w.categoryUntil[i]!);
    e.checkedAt = at;
    return e;
  }

  const EMPTY_WINDOWS: ConversationWindows = { lastInboundAt: 0, referralReplyBy: 0, freeEntryUntil: 0, categoryUntil: [0, 0, 0, 0] };

  /** Window loads in flight: sends to one conversation that start together share one read. */
  const loadingWindows = new Map<string, Promise<WindowEntry>>();

  /** The windows, from memory when open or recently read, else from the store. */
  function windowOf(numberId: string, customerId: string, now: number): WindowEntry | Promise<WindowEntry> {
    const e = entryOf(numberId, customerId);
    if (e && (now < e.serviceOpenUntil || now - e.checkedAt < WINDOW_RECHECK_MS)) return e;
    const key = `${numberId}\u0000${customerId}`;
    let flight = loadingWindows.get(key);
    if (!flight) {
      flight = ports.windows.loadWindows(numberId, customerId).then(
        (w) => {
          loadingWindows.delete(key);
          return merge(numberId, customerId, w ?? EMPTY_WINDOWS, clock.now());
        },
        (err: unknown) => {
          loadingWindows.delete(key);
          throw err;
        },
      );
      loadingWindows.set(key, flight);
    }
    return flight;
  }

  // ---- messaging limit (tiers) -------------------------------------------

  const counted = new Map<string, Map<string, number>>();
  const tierOf = new Map<string, { tier: number; used: number }>();
  let pending: { req: TierRequest; resolve: (a: TierAnswer) => void; reject: (e: unknown) => void }[] = [];

  function flushTiers(): void {
    const batch = pending;
    pending = [];
    const at = clock.now();
    ports.tiers.countBusinessInitiated(
      batch.map((p) => p.req),
      at,
    ).then(
      (answers) => {
        answers.forEach((a, i) => {
          const { req } = batch[i]!;
          tierOf.set(req.businessId, { tier: a.tier, used: a.used });
          if (a.allowed) {
            let customers = counted.get(req.businessId);
            if (!customers) counted.set(req.businessId, (customers = new Map()));
            if (!customers.has(req.customerId)) customers.set(req.customerId, at);
          }
          batch[i]!.resolve(a);
        });
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  function tierRefusal(businessId: string): Refusal {
    const t = tierOf.get(businessId);
    const tier = TIERS[t?.tier ?? 0]!;
    return refuse.messagingLimit(tier.name, tier.limit);
  }

  /** A business-initiated send: counts the customer once per 24 h for the business, or refuses (131048). */
  function admit(number: BusinessNumber, customerId: string, now: number): undefined | Promise<void> {
    const since = counted.get(number.businessId)?.get(customerId);
    if (since !== undefined && now - since < options.tiers.windowMs) return undefined;
    // A business at its limit still asks the store: the customer may have been counted by another replica.
    // Requests of one turn of the event loop share one call, so a flood costs one query per turn, not per send.
    return new Promise<TierAnswer>((resolve, reject) => {
      if (pending.length === 0) setImmediate(flushTiers);
      pending.push({ req: { businessId: number.businessId, customerId, verified: number.verified }, resolve, reject });
    }).then((a) => {
      if (!a.allowed) throw tierRefusal(number.businessId);
    });
  }

  // ---- the checks ----------------------------------------------------------

  /**
   * Throughput and pair rate take their tokens last, and give them back when
   * a later rule refuses: a refused send costs no token.
   */
  function takeTokens(numberId: string, customerId: string): void {
    const t = throughput.check(numberId);
    if (t) throw t;
    const pair = pairs.check(numberId, customerId);
    if (pair) {
      throughput.refund(numberId);
      throw pair;
    }
  }

  function refundTokens(numberId: string, customerId: string): void {
    throughput.refund(numberId);
    pairs.refund(numberId, customerId);
  }

  function freeForm(number: BusinessNumber, customerId: string, e: WindowEntry): PolicyDecision {
    const now = clock.now();
    const refusal = checkWindow(e, now, false);
    if (refusal) throw refusal;
    takeTokens(number.phoneNumberId, customerId);
    let flags = 0;
    if (e.categoryUntil[0]! <= now) flags |= POLICY.service;
    if (now < e.referralReplyBy) flags |= POLICY.business;
    return flags === 0 ? NONE : { flags, billing: undefined };
  }

  async function template(number: BusinessNumber, customerId: string, tc: TemplateContent): Promise<PolicyDecision> {
    const found = ports.templates.get(number.businessId, tc.name, tc.languageCode);
    const t = found instanceof Promise ? await found : found;
    const refused = templateRefusal(t, tc.name, tc.languageCode, clock.now());
    if (refused) throw refused;
    const rendered = renderTemplate(t!, tc.components);
    const category = PRICING_CATEGORY[t!.category] ?? "marketing";
    if (category === "marketing") {
      const loaded = ports.consent.load(customerId, number.businessId);
      if (loaded instanceof Promise) await loaded;
      const r = ports.consent.marketingRefusal(customerId, number.businessId, clock.now());
      if (r) throw r;
    }
    const w = windowOf(number.phoneNumberId, customerId, clock.now());
    const e = w instanceof Promise ? await w : w;
    // Tokens before the messaging limit: a send throughput refuses must not count the customer.
    takeTokens(number.phoneNumberId, customerId);
    if (!(clock.now() < e.serviceOpenUntil)) {
      try {
        const admitted = admit(number, customerId, clock.now());
        if (admitted) await admitted;
      } catch (err) {
        refundTokens(number.phoneNumberId, customerId);
        throw err;
      }
    }
    tc.rendered = {
      templateId: t!.id,
      category: category.toUpperCase(),
      header: rendered.header ?? "",
      body: rendered.body,
      footer: rendered.footer ?? "",
      buttons: rendered.buttons.map((b) => ({ index: b.index, text: b.text, url: b.url ?? "" })),
    };
    return { flags: POLICY.business | CATEGORY_BIT[category], billing: { templateId: t!.id, name: t!.name, language: t!.language, category } };
  }

  return {
    options,

    /**
     * A business number's send to a customer: blocks, then the template
     * (approved, rendered, consent for marketing) or the window for free-form,
     * the messaging limit for business-initiated conversations, and last the
     * pair rate and throughput. Throws the refusal; `system` notices of
     * Kontor services pass every rule but blocks and throughput.
     */
    checkBusinessSend(number: BusinessNumber, customerId: string, content: { kind: string; template: TemplateContent | undefined }): PolicyDecision | Promise<PolicyDecision> {
      if (!options.enforce) return NONE;
      if (ports.blocks?.isBlocked(customerId, number.businessId)) throw undeliverable();
      if (ports.blocks?.blocksUser?.(number.phoneNumberId, customerId)) throw userBlocked();
      if (content.kind === "system") {
        const t = throughput.check(number.phoneNumberId);
        if (t) throw t;
        return NONE;
      }
      if (content.template) return template(number, customerId, content.template);
      const now = clock.now();
      const w = windowOf(number.phoneNumberId, customerId, now);
      return w instanceof Promise ? w.then((e) => freeForm(number, customerId, e)) : freeForm(number, customerId, w);
    },

    /**
     * A customer's message: it counts towards the number's throughput and
     * restarts the window at commit; refused only when the number blocks the
     * customer (block_users), so nothing reaches the business.
     */
    checkCustomerSend(number: BusinessNumber, referral: boolean, customerId?: string): PolicyDecision {
      if (!options.enforce) return NONE;
      if (customerId !== undefined && ports.blocks?.blocksUser?.(number.phoneNumberId, customerId)) throw blockedByBusiness();
      throughput.charge(number.phoneNumberId);
      return referral ? INBOUND_REFERRAL : INBOUND;
    },

    /** The windows as a commit left them (the store's truth): memory follows. */
    committed(numberId: string, customerId: string, w: ConversationWindows): void {
      merge(numberId, customerId, w, clock.now());
    },

    /** Windows loaded at start (still open ones). */
    preload(rows: { phoneNumberId: string; customerId: string; windows: ConversationWindows }[]): void {
      const now = clock.now();
      for (const r of rows) merge(r.phoneNumberId, r.customerId, r.windows, now);
    },

    /** A business message this replica committed (quality's denominator), and a marketing template's, per template. */
    sent(businessId: string, numberId: string, customerId: string, billing: TemplateBilling | undefined, at: number): void {
      let numbers = numbersOf.get(businessId);
      if (!numbers) numbersOf.set(businessId, (numbers = new Set()));
      numbers.add(numberId);
      signals.add(numberId, "sent", at, options.replicas);
      if (billing?.category === "marketing") {
        signals.add(templateKey(billing.templateId), "sent", at, options.replicas);
        let customers = lastMarketing.get(businessId);
        if (!customers) lastMarketing.set(businessId, (customers = new Map()));
        customers.set(customerId, { templateId: billing.templateId, at });
      }
    },

    /** A customer read a business message of this number (through this replica). */
    read(numberId: string, at: number, count = 1): void {
      signals.add(numberId, "read", at, count * options.replicas);
    },

    /** Blocks and reports (every replica hears each once, block-cache.ts's QualitySignals). */
    quality: {
      blocked(businessId: string, phoneNumberId: string | undefined, at: number, customerId?: string): void {
        negative("blocked", businessId, phoneNumberId, at, customerId);
      },
      reported(businessId: string, phoneNumberId: string | undefined, at: number, customerId?: string): void {
        negative("reported", businessId, phoneNumberId, at, customerId);
      },
    },

    /** The businesses this replica has sent for, each with its numbers. */
    businesses(): ReadonlyMap<string, ReadonlySet<string>> {
      return numbersOf;
    },

    /** A template's own signals over the rolling window (template pauses). */
    templateTotals(templateId: string) {
      return signals.totals(templateKey(templateId), clock.now());
    },

    /** A number's quality rating now (GREEN / YELLOW / RED, quality.ts). */
    rating(numberId: string): Quality {
      return signals.rating(numberId, clock.now());
    },

    /** A number's throughput (messages per second, all replicas together). */
    throughputOf(_numberId: string): number {
      return options.throughputPerSecond;
    },

    /** The last tier this replica heard for a business, if any. */
    knownTier(businessId: string): { tier: number; used: number } | undefined {
      return tierOf.get(businessId);
    },

    /** Drops what no longer matters: closed windows, paid-back pairs, customers counted over 24 h ago. */
    sweep(): void {
      const now = clock.now();
      pairs.sweep();
      signals.sweep(now);
      for (const [numberId, customers] of windows) {
        for (const [customerId, e] of customers) {
          const live = Math.max(e.serviceOpenUntil, e.referralReplyBy, e.freeEntryOpenUntil, ...e.categoryUntil);
          if (live <= now && now - e.checkedAt >= WINDOW_RECHECK_MS) customers.delete(customerId);
        }
        if (customers.size === 0) windows.delete(numberId);
      }
      for (const [businessId, customers] of lastMarketing) {
        for (const [customerId, last] of customers) if (now - last.at >= DEFAULT_QUALITY.windowMs) customers.delete(customerId);
        if (customers.size === 0) lastMarketing.delete(businessId);
      }
      for (const [businessId, customers] of counted) {
        for (const [customerId, at] of customers) if (now - at >= options.tiers.windowMs) customers.delete(customerId);
        if (customers.size === 0) counted.delete(businessId);
      }
    },

    /** Conversations held in memory (metrics, tests). */
    windowCount(): number {
      let n = 0;
      for (const c of windows.values()) n += c.size;
      return n;
    },
  };
}

export type SendPolicy = ReturnType<typeof createSendPolicy>;

/** A window's end as the store writes it: the ms constants the commit's SQL uses. */
export const WINDOW_DURATIONS = { service: SERVICE_WINDOW_MS, freeEntry: FREE_ENTRY_MS, conversation: CONVERSATION_WINDOW_MS } as const;

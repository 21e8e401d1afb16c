import { describe, expect, it } from "vitest";
import type { TemplateContent } from "@kontor/proto/messaging/v1/message";
import { TemplateCategory, TemplateComponentType, TemplateHeaderFormat, TemplateParameterFormat, TemplateStatus } from "@kontor/proto/messaging/v1/template";
import { KontorError, NotFound, OverLimit, PolicyRefused } from "@kontor/service-kit/errors";
import { createConsentCache } from "./consent-cache.js";
import type { BusinessNumber } from "./directory.js";
import { DAY_MS, HOUR_MS, manualClock } from "./policy/clock.js";
import { NO_CONSENT, type MarketingConsent } from "./policy/consent.js";
import { POLICY, type ConversationWindows } from "./policy/pricing.js";
import {
  createSendPolicy,
  DEFAULT_POLICY_OPTIONS,
  WINDOW_RECHECK_MS,
  type PolicyDecision,
  type SendPolicyOptions,
  type TierAnswer,
  type TierRequest,
} from "./send-policy.js";
import { createTemplateCache } from "./template-cache.js";
import type { TemplateRecord } from "./templates/template-service.js";

const T0 = Date.UTC(2026, 0, 10, 9, 30);

const number = (phoneNumberId = "n1", businessId = "b1"): BusinessNumber => ({
  phoneNumberId,
  businessId,
  e164: `+4930${phoneNumberId}`,
  displayName: "Shop",
  verified: true,
  verifiedName: "Shop",
  active: true,
  version: 1,
});
const N1 = number();

const windows = (overrides: Partial<ConversationWindows> = {}): ConversationWindows => ({
  lastInboundAt: 0,
  referralReplyBy: 0,
  freeEntryUntil: 0,
  categoryUntil: [0, 0, 0, 0],
  ...overrides,
});

const utility: TemplateRecord = templateRecord("t-utility", "order_update", TemplateCategory.TEMPLATE_CATEGORY_UTILITY);
const marketing: TemplateRecord = templateRecord("t-marketing", "spring_sale", TemplateCategory.TEMPLATE_CATEGORY_MARKETING);

function templateRecord(id: string, name: string, category: TemplateCategory): TemplateRecord {
  return {
    id,
    businessId: "b1",
    name,
    language: "en",
    category,
    previousCategory: TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED,
    status: TemplateStatus.TEMPLATE_STATUS_APPROVED,
    parameterFormat: TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_POSITIONAL,
    components: [{ type: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY, format: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text: "Hi {{1}}, this is {{2}}.", example: undefined, buttons: [] }],
    rejectedReason: "",
    pauseCount: 0,
    pausedUntil: undefined,
    approvedEdits: [],
    createdAt: new Date(T0 - DAY_MS),
    updatedAt: new Date(T0 - DAY_MS),
  };
}

const FREE_FORM = { kind: "text", template: undefined };
const SYSTEM = { kind: "system", template: undefined };
function templateSend(name: string): { kind: string; template: TemplateContent } {
  const parameter = (text: string) => ({ type: "text", parameterName: "", text, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" });
  return { kind: "template", template: { name, languageCode: "en", components: [{ type: "body", subType: "", index: 0, parameters: [parameter("Ana"), parameter("Kontor")] }], rendered: undefined } };
}

/** The store's conversation rows, counting reads. */
function windowStore() {
  const rows = new Map<string, ConversationWindows>();
  const reads: string[] = [];
  return {
    rows,
    reads,
    set: (numberId: string, customerId: string, w: ConversationWindows) => void rows.set(`${numberId}/${customerId}`, w),
    async loadWindows(numberId: string, customerId: string) {
      reads.push(`${numberId}/${customerId}`);
      return rows.get(`${numberId}/${customerId}`);
    },
  };
}

/** The messaging limit as the store counts it: unique customers per business in 24 h, up to `limit`. */
function tierStore(limit: number) {
  const counted = new Map<string, Map<string, number>>();
  const calls: TierRequest[][] = [];
  return {
    calls,
    async countBusinessInitiated(requests: TierRequest[], at: number): Promise<TierAnswer[]> {
      calls.push(requests);
      return requests.map((r) => {
        let customers = counted.get(r.businessId);
        if (!customers) counted.set(r.businessId, (customers = new Map()));
        for (const [c, when] of customers) if (at - when >= DAY_MS) customers.delete(c);
        const allowed = customers.has(r.customerId) || customers.size < limit;
        if (allowed && !customers.has(r.customerId)) customers.set(r.customerId, at);
        return { allowed, tier: 0, used: customers.size };
      });
    },
  };
}

function setup(options: Partial<SendPolicyOptions> = {}, { tierLimit = 250 } = {}) {
  const clock = manualClock(T0);
  const store = windowStore();
  const tiers = tierStore(tierLimit);
  const templateLoads = { count: 0 };
  const templates = createTemplateCache({
    loadAll: async () => [utility, marketing],
    loadOne: async (businessId, name, language) => {
      templateLoads.count++;
      return [utility, marketing].find((t) => t.businessId === businessId && t.name === name && t.language === language);
    },
    loadById: async (id) => [utility, marketing].find((t) => t.id === id),
  });
  const consents = new Map<string, MarketingConsent>();
  const consent = createConsentCache({ loadMarketing: async (customerId, businessId) => consents.get(`${customerId}/${businessId}`) ?? NO_CONSENT }, { max: 100 });
  const blocked = new Set<string>();
  const policy = createSendPolicy({
    clock,
    windows: store,
    tiers,
    templates,
    consent,
    blocks: { isBlocked: (customerId, businessId) => blocked.has(`${customerId}/${businessId}`) },
    options: { ...DEFAULT_POLICY_OPTIONS, ...options },
  });
  /** The commit recorded the customer's message now (the store and this replica agree). */
  const inbound = (customerId: string, w: Partial<ConversationWindows> = {}, numberId = "n1") => {
    const row = windows({ lastInboundAt: clock.now(), ...w });
    store.set(numberId, customerId, row);
    policy.committed(numberId, customerId, row);
  };
  return { clock, store, tiers, templates, templateLoads, consents, blocked, policy, inbound };
}

/** A check's outcome, whether it returned, threw, or rejected. */
async function outcome(check: () => PolicyDecision | Promise<PolicyDecision>): Promise<PolicyDecision | KontorError> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof KontorError) return err;
    throw err;
  }
}

/** The refusal of a check as its class, reason and Cloud API code. */
async function refusal(check: () => PolicyDecision | Promise<PolicyDecision>) {
  const r = await outcome(check);
  if (!(r instanceof KontorError)) throw new Error(`expected a refusal, got flags ${r.flags}`);
  return { kind: r.constructor.name, reason: r.reason, code: r.cloudApiCode };
}

const OUTSIDE_WINDOW = { kind: PolicyRefused.name, reason: "OUTSIDE_CUSTOMER_SERVICE_WINDOW", code: 131047 };
const NOT_DELIVERABLE = { kind: NotFound.name, reason: "RECIPIENT_NOT_FOUND", code: 131026 };
const PAIR_RATE = { kind: OverLimit.name, reason: "PAIR_RATE_LIMIT", code: 131056 };
const THROUGHPUT = { kind: OverLimit.name, reason: "THROUGHPUT_LIMIT", code: 130429 };

describe("the customer service window on the send path", () => {
  it("when the store has no inbound for the conversation, then a free-form send is refused with 131047", async () => {
    const { policy, store } = setup();
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(OUTSIDE_WINDOW);
    expect(store.reads).toEqual(["n1/c1"]);
  });

  it("when a commit recorded the customer's message now, then free-form is allowed from memory", async () => {
    const { policy, store, inbound } = setup();
    inbound("c1");
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(store.reads).toEqual([]);
  });

  it("when the customer wrote 24 h − 1 ms ago, then free-form is allowed; at exactly 24 h, refused", async () => {
    const { policy, clock, inbound } = setup();
    inbound("c1");
    clock.set(T0 + DAY_MS - 1);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    clock.set(T0 + DAY_MS);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(OUTSIDE_WINDOW);
  });

  it("when a window is believed closed, then the store is read at most once per WINDOW_RECHECK_MS, and an inbound another replica committed opens it", async () => {
    const { policy, clock, store } = setup();
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(OUTSIDE_WINDOW);
    expect(store.reads).toHaveLength(1);

    // Another replica takes the customer's message; this one does not know yet.
    clock.advance(10);
    store.set("n1", "c1", windows({ lastInboundAt: clock.now() }));
    clock.set(T0 + WINDOW_RECHECK_MS - 1);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(OUTSIDE_WINDOW);
    expect(store.reads).toHaveLength(1);

    clock.set(T0 + WINDOW_RECHECK_MS);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(store.reads).toHaveLength(2);
    // Open now: answered from memory.
    clock.advance(5 * WINDOW_RECHECK_MS);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(store.reads).toHaveLength(2);
  });
});

describe("the decision flags", () => {
  it("when a reply goes in an open window whose service conversation is already open, then the decision is the shared NONE (flags 0)", () => {
    const { policy, inbound } = setup();
    inbound("c1", { categoryUntil: [T0 + DAY_MS, 0, 0, 0] });
    inbound("c2", { categoryUntil: [T0 + DAY_MS, 0, 0, 0] });
    const first = policy.checkBusinessSend(N1, "c1", FREE_FORM);
    const second = policy.checkBusinessSend(N1, "c2", FREE_FORM);
    expect(first).toEqual({ flags: 0, billing: undefined });
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it("when a reply goes in an open window whose service conversation is not open yet, then it carries POLICY.service", async () => {
    const { policy, inbound } = setup();
    inbound("c1");
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual({ flags: POLICY.service, billing: undefined });
  });

  it("when a reply goes within 24 h of a click-to-chat referral, then it also carries POLICY.business (it may open the free entry point)", async () => {
    const { policy, inbound } = setup();
    inbound("c1", { referralReplyBy: T0 + DAY_MS, categoryUntil: [T0 + DAY_MS, 0, 0, 0] });
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual({ flags: POLICY.business, billing: undefined });
  });

  it("when a customer sends, then the decision is POLICY.inbound; after a referral, inbound | referral", () => {
    const { policy } = setup();
    expect(policy.checkCustomerSend(N1, false)).toEqual({ flags: POLICY.inbound, billing: undefined });
    expect(policy.checkCustomerSend(N1, true)).toEqual({ flags: POLICY.inbound | POLICY.referral, billing: undefined });
  });
});

describe("templates on the send path", () => {
  it("when an approved utility template is sent, then its rendered text lands in the content and the flags are business | utility", async () => {
    const { policy, inbound } = setup();
    inbound("c1");
    const send = templateSend("order_update");
    const decision = await outcome(() => policy.checkBusinessSend(N1, "c1", send));
    expect(decision).toEqual({ flags: POLICY.business | POLICY.utility, billing: { templateId: "t-utility", name: "order_update", language: "en", category: "utility" } });
    expect(send.template.rendered).toEqual({ templateId: "t-utility", category: "UTILITY", header: "", body: "Hi Ana, this is Kontor.", footer: "", buttons: [] });
  });

  it("when a marketing template goes to a customer with no opt-in, then it is refused with 131050 and nothing is rendered", async () => {
    const { policy, inbound } = setup();
    inbound("c1");
    const send = templateSend("spring_sale");
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", send))).toEqual({ kind: PolicyRefused.name, reason: "MARKETING_OPT_IN_MISSING", code: 131050 });
    expect(send.template.rendered).toBeUndefined();
  });

  it("when the customer's opt-in is in the store, then a marketing template is allowed with flags business | marketing", async () => {
    const { policy, inbound, consents } = setup();
    consents.set("c1/b1", { optIn: { at: T0 - HOUR_MS, source: "rpc", proof: "signup form" }, optOut: undefined });
    inbound("c1");
    const send = templateSend("spring_sale");
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", send))).toMatchObject({ flags: POLICY.business | POLICY.marketing, billing: { category: "marketing" } });
    expect(send.template.rendered?.category).toBe("MARKETING");
  });

  it("when the template does not exist, then it is NOT_FOUND with 132001", async () => {
    const { policy, inbound } = setup();
    inbound("c1");
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", templateSend("no_such_template")))).toEqual({ kind: NotFound.name, reason: "TEMPLATE_NOT_FOUND", code: 132001 });
  });
});

describe("the messaging limit (business-initiated sends)", () => {
  it("when a template goes to a new customer while the window is closed, then the store counts them once and is not asked again within 24 h", async () => {
    const { policy, tiers, clock } = setup();
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", templateSend("order_update")))).not.toBeInstanceOf(KontorError);
    expect(tiers.calls).toEqual([[{ businessId: "b1", customerId: "c1", verified: true }]]);

    clock.advance(DAY_MS - 1);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", templateSend("order_update")))).not.toBeInstanceOf(KontorError);
    expect(tiers.calls).toHaveLength(1);

    clock.advance(1);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", templateSend("order_update")))).not.toBeInstanceOf(KontorError);
    expect(tiers.calls).toHaveLength(2);
  });

  it("when a template goes while the window is open, then the store is not asked", async () => {
    const { policy, tiers, inbound } = setup();
    inbound("c1");
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", templateSend("order_update")))).not.toBeInstanceOf(KontorError);
    expect(tiers.calls).toEqual([]);
  });

  it("when the store refuses the customer, then the send is OverLimit MESSAGING_LIMIT_REACHED with 131048 and the tier", async () => {
    const { policy } = setup({}, { tierLimit: 1 });
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", templateSend("order_update")))).not.toBeInstanceOf(KontorError);
    const refused = await outcome(() => policy.checkBusinessSend(N1, "c2", templateSend("order_update")));
    expect(refused).toBeInstanceOf(OverLimit);
    expect(refused).toMatchObject({ reason: "MESSAGING_LIMIT_REACHED", cloudApiCode: 131048, metadata: { tier: "TIER_250" } });
  });

  it("when several business-initiated sends start in one tick, then they share one countBusinessInitiated call", async () => {
    const { policy, tiers, templates } = setup();
    await templates.loadAll();
    const sends = ["c1", "c2", "c3"].map((c) => outcome(() => policy.checkBusinessSend(N1, c, templateSend("order_update"))));
    for (const r of await Promise.all(sends)) expect(r).not.toBeInstanceOf(KontorError);
    // A flush scheduled by any later send would run in a following turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(tiers.calls).toHaveLength(1);
    expect(tiers.calls[0]!.map((r) => r.customerId)).toEqual(["c1", "c2", "c3"]);
  });
});

describe("blocks on the send path", () => {
  it("when the customer blocked the business, then free-form and templates are NOT_FOUND RECIPIENT_NOT_FOUND 131026, before any other rule is asked", async () => {
    const { policy, blocked, inbound, store, templateLoads, tiers } = setup();
    inbound("c1");
    blocked.add("c1/b1");
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(NOT_DELIVERABLE);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", templateSend("order_update")))).toEqual(NOT_DELIVERABLE);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", templateSend("unknown_template")))).toEqual(NOT_DELIVERABLE);
    expect({ windowReads: store.reads.length, templateLoads: templateLoads.count, tierCalls: tiers.calls.length }).toEqual({ windowReads: 0, templateLoads: 0, tierCalls: 0 });
  });

  it("when another customer blocked the business, then this customer is not affected", async () => {
    const { policy, blocked, inbound } = setup();
    inbound("c1");
    blocked.add("c2/b1");
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
  });
});

describe("pair rate and throughput on the send path", () => {
  const pair = { intervalMs: 6_000, burstMax: 3, burstWindowMs: 6_000 };

  it("when a pair sends past its burst, then the next send is refused with 131056", async () => {
    const { policy, inbound } = setup({ pair });
    inbound("c1");
    for (let i = 0; i < 3; i++) expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(PAIR_RATE);
  });

  it("when a number sends past its throughput, then the next send is refused with 130429 until a token is back", async () => {
    const { policy, clock, inbound } = setup({ throughputPerSecond: 2 });
    for (const c of ["c1", "c2", "c3"]) inbound(c);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c2", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c3", FREE_FORM))).toEqual(THROUGHPUT);
    clock.advance(500);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c3", FREE_FORM))).not.toBeInstanceOf(KontorError);
  });

  it("when replicas share a number, then each takes its share of the throughput", async () => {
    const { policy, inbound } = setup({ throughputPerSecond: 4, replicas: 2 });
    for (const c of ["c1", "c2", "c3"]) inbound(c);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c2", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c3", FREE_FORM))).toEqual(THROUGHPUT);
  });

  it("when sends are refused by the window rule, then they take no pair or throughput token: after the window opens the full burst is there", async () => {
    const { policy, inbound } = setup({ pair, throughputPerSecond: 10 });
    for (let i = 0; i < 5; i++) expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(OUTSIDE_WINDOW);
    inbound("c1");
    for (let i = 0; i < 3; i++) expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(PAIR_RATE);
  });
});

describe("system notices", () => {
  it("when a system notice goes to a customer who never wrote, then it passes the window without reading the store", async () => {
    const { policy, store } = setup();
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", SYSTEM))).toEqual({ flags: 0, billing: undefined });
    expect(store.reads).toEqual([]);
  });

  it("when the customer blocked the business, then a system notice is NOT_FOUND 131026 too", async () => {
    const { policy, blocked } = setup();
    blocked.add("c1/b1");
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", SYSTEM))).toEqual(NOT_DELIVERABLE);
  });
});

describe("MESSAGING_POLICY=off (enforce: false)", () => {
  it("when the policy is off, then every check returns the NONE decision and no port is called", async () => {
    const fail = (port: string) => () => {
      throw new Error(`${port} called`);
    };
    const policy = createSendPolicy({
      clock: manualClock(T0),
      windows: { loadWindows: fail("windows") },
      tiers: { countBusinessInitiated: fail("tiers") },
      templates: { get: fail("templates") },
      consent: { load: fail("consent.load"), marketingRefusal: fail("consent.marketingRefusal") },
      blocks: { isBlocked: fail("blocks") },
      options: { ...DEFAULT_POLICY_OPTIONS, enforce: false },
    });
    const send = templateSend("spring_sale");
    const none = policy.checkBusinessSend(N1, "c1", FREE_FORM);
    expect(none).toEqual({ flags: 0, billing: undefined });
    for (const decision of [policy.checkBusinessSend(N1, "c1", send), policy.checkBusinessSend(N1, "c1", SYSTEM), policy.checkCustomerSend(N1, true), policy.checkCustomerSend(N1, false)]) {
      expect(decision).toBe(none);
    }
    expect(send.template.rendered).toBeUndefined();
  });
});

describe("quality of a business number", () => {
  const sendMany = (policy: ReturnType<typeof setup>["policy"], numberId: string, count: number, at: number) => {
    for (let i = 0; i < count; i++) policy.sent("b1", numberId, `c${i}`, undefined, at);
  };

  it("when 100 messages went and none was read, then the number is YELLOW; with 25 % read, GREEN", () => {
    const { policy } = setup();
    sendMany(policy, "n1", 100, T0);
    expect(policy.rating("n1")).toBe("YELLOW");
    policy.read("n1", T0, 24);
    expect(policy.rating("n1")).toBe("YELLOW");
    policy.read("n1", T0);
    expect(policy.rating("n1")).toBe("GREEN");
  });

  it("when a block of the business names no number, then it counts against every number the business sent from, and enough blocks make them RED", () => {
    const { policy } = setup();
    for (const n of ["n1", "n2"]) {
      sendMany(policy, n, 100, T0);
      policy.read(n, T0, 50);
    }
    // Another business's number, as busy.
    for (let i = 0; i < 100; i++) policy.sent("b2", "n3", `c${i}`, undefined, T0);
    policy.read("n3", T0, 50);

    policy.quality.blocked("b1", undefined, T0);
    expect([policy.rating("n1"), policy.rating("n2")]).toEqual(["YELLOW", "YELLOW"]);
    policy.quality.blocked("b1", undefined, T0);
    expect([policy.rating("n1"), policy.rating("n2")]).toEqual(["RED", "RED"]);
    expect(policy.rating("n3")).toBe("GREEN");
  });
});

describe("sweep", () => {
  it("when a window has closed, then sweep drops it and keeps the open ones", async () => {
    const { policy, clock, inbound, store } = setup();
    inbound("c1");
    expect(await refusal(() => policy.checkBusinessSend(N1, "c2", FREE_FORM))).toEqual(OUTSIDE_WINDOW);
    expect(policy.windowCount()).toBe(2);

    clock.advance(WINDOW_RECHECK_MS);
    policy.sweep();
    expect(policy.windowCount()).toBe(1);
    // The open one is still answered from memory.
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(store.reads).toEqual(["n1/c2"]);

    clock.set(T0 + DAY_MS + WINDOW_RECHECK_MS);
    policy.sweep();
    expect(policy.windowCount()).toBe(0);
  });
});

describe("tokens, the messaging limit and window loads under races", () => {
  it("when throughput refuses a send, then it takes no pair token: the pair still has its full burst", async () => {
    const { policy, clock, inbound } = setup({ pair: { intervalMs: 6_000, burstMax: 2, burstWindowMs: 6_000 }, throughputPerSecond: 1 });
    inbound("c1");
    inbound("c2");
    expect(await outcome(() => policy.checkBusinessSend(N1, "c2", FREE_FORM))).not.toBeInstanceOf(KontorError);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual(THROUGHPUT);
    clock.advance(1_000);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
    clock.advance(1_000);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).not.toBeInstanceOf(KontorError);
  });

  it("when throughput refuses a business-initiated template, then the customer is not counted against the messaging limit", async () => {
    const { policy, clock, templates } = setup({ throughputPerSecond: 1 }, { tierLimit: 2 });
    await templates.loadAll();
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", templateSend("order_update")))).not.toBeInstanceOf(KontorError);
    expect(await refusal(() => policy.checkBusinessSend(N1, "c2", templateSend("order_update")))).toEqual(THROUGHPUT);
    clock.advance(1_000);
    expect(await outcome(() => policy.checkBusinessSend(N1, "c3", templateSend("order_update")))).not.toBeInstanceOf(KontorError);
  });

  it("when two sends to a conversation believed closed start together, then the store is read once", async () => {
    const { policy, store } = setup();
    await Promise.all([outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM)), outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))]);
    expect(store.reads).toHaveLength(1);
  });
});

describe("a window load racing a referral's commit", () => {
  it("when a window load started before a referral commit answers after it, then the referral's reply-by is kept", async () => {
    const { policy, store } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const read = store.loadWindows;
    store.loadWindows = async (n: string, c: string) => {
      const w = await read(n, c);
      await gate;
      return w;
    };
    const first = outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM));
    const row = windows({ lastInboundAt: T0, referralReplyBy: T0 + DAY_MS });
    store.set("n1", "c1", row);
    policy.committed("n1", "c1", row);
    release();
    await first;
    expect(await outcome(() => policy.checkBusinessSend(N1, "c1", FREE_FORM))).toEqual({ flags: POLICY.service | POLICY.business, billing: undefined });
  });
});

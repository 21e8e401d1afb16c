/**
 * The chatbot flow engine: one pure function, `step`, from a conversation's
 * place in a flow (`Session`) and a customer's message to its next place and
 * the effects the caller executes. No I/O: time comes in as epoch ms.
 *
 * The model (definitions in `definition.ts`, validated by `parseFlow`):
 * - A flow has *triggers* and *states*. With no session, the first trigger
 *   (in definition order) that matches the message starts the flow at its
 *   `goto` state or the flow's `start`: `keyword` (whole words, case and
 *   accents ignored) and `regex` (safe subset) on a text or a media caption, `button_reply` (a reply button's
 *   id or a template quick reply's payload), `list_reply` (a row id),
 *   `first_message`, `referral` (from a click-to-chat ad, optionally one ad).
 * - Entering a state runs its *actions* in order, each an effect: `reply_text`,
 *   `send_template`, `send_product`, `send_product_list`, `set_label`,
 *   `webhook` (→ `call_webhook`, signed by the caller with `webhook.ts`),
 *   `handoff` (last action: the session is kept, handed off, and the engine
 *   stays silent until a `reset` event, when an agent gives the conversation
 *   back), and `ask` (last action: a question with up to 3 buttons, a list,
 *   or neither; the session then waits in that state).
 * - A state without an ask goes on to its `next` state at once, or ends the
 *   flow (the session is dropped: `session` is undefined).
 * - An *answer* to the waiting ask is matched against the state's
 *   *transitions* in order (`button` id, `list_row` id, `keyword`, `regex`,
 *   `any`); a typed text equal to a button's or row's title counts as that
 *   button or row. A match captures the answer into the ask's `variable` (the
 *   title shown, or the text typed) and enters the transition's state, or
 *   `end`. An answer that matches nothing, or fails the ask's validation
 *   (`email`, `number`, `phone`, `regex`), restarts the flow if it matches a
 *   trigger; otherwise the question is asked again once (after `retryText`),
 *   and the next unmatched answer takes the `else` transition, or is ignored
 *   (the session stays).
 * - Texts interpolate `{{variable}}`: captured answers and the built-ins
 *   `customer_name`, `customer_phone` (from `StepOptions.customer`); a
 *   value is never re-scanned, so a customer cannot inject placeholders.
 * - *Versions*: each save of a flow is a new version; a session names the
 *   flow and version it started on and keeps it. The caller stores every
 *   version a session may still use and passes `pickFlow(versions, session,
 *   now)`: the session's version, else the latest. A session idle for
 *   SESSION_IDLE_TIMEOUT_MS (and not handed off), or whose version is no
 *   longer stored, counts as none.
 * - With no session and no trigger, a text is offered to the `Responder`
 *   (the flow's FAQ by default) and its answer sent when confident enough.
 */
import { askOf, END, FLOW_LIMITS as L, type Action, type AskAction, type Flow, type Transition, type Trigger } from "./definition.js";
import { flowRegex } from "./regex-safety.js";
import { FAQ_MIN_CONFIDENCE, faqMatcher, type Responder } from "./responder.js";
import { containsPhrase, cut, interpolate, normalize } from "./text.js";

/** A click-to-chat ad or post the message came from (cloud-api.md §3.5 `referral`). */
export interface Referral {
  sourceId: string;
  sourceType?: "ad" | "post";
}

/** The kinds of media a customer may send; only a caption is read, as text. */
export type MediaKind = "image" | "video" | "audio" | "document" | "sticker" | "location" | "contacts" | "other";

interface MessageFacts {
  /** The customer's first message in this conversation. */
  first?: boolean;
  referral?: Referral;
}

/** A customer's message as the engine reads it (mapped by the caller from the stored message, not the proto). */
export type CustomerMessage = MessageFacts &
  (
    | { kind: "text"; text: string }
    /** A reply button tapped (its id) or a template quick reply (its payload as id), with the title shown. */
    | { kind: "button_reply"; id: string; title: string }
    | { kind: "list_reply"; id: string; title: string }
    | { kind: "media"; media: MediaKind; caption?: string }
  );

/** A customer's message, or `reset`: an agent gives a handed-off conversation back to the bot (ends any session). */
export type InboundEvent = CustomerMessage | { kind: "reset" };

/** A conversation's place in a flow; plain JSON, stored by the caller per conversation. */
export interface Session {
  flowName: string;
  /** The flow version the session started on and keeps. */
  version: number;
  /** The state whose ask awaits an answer, or the state that handed off. */
  state: string;
  variables: Record<string, string>;
  handedOff: boolean;
  /** Times the waiting question was asked again (0 or 1). */
  retries: number;
  startedAt: number;
  updatedAt: number;
}

export interface InteractiveList {
  button: string;
  sections: { title?: string; rows: { id: string; title: string; description?: string }[] }[];
}

/** The JSON body of a webhook call (before `webhook.ts` adds the timestamp): where in the flow, the variables, and the interpolated payload template. */
export interface WebhookCall {
  flow: string;
  version: number;
  state: string;
  variables: Record<string, string>;
  data?: unknown;
}

/** What the caller does, in order, for the conversation; every text is already interpolated and within the Cloud API's bounds. */
export type Effect =
  | { kind: "send_text"; text: string }
  | { kind: "send_template"; name: string; language: string; parameters: { name?: string; text: string }[] }
  | { kind: "send_product"; catalogId: string; productRetailerId: string; body?: string; footer?: string }
  | { kind: "send_product_list"; catalogId: string; header: string; body: string; footer?: string; sections: { title?: string; productRetailerIds: string[] }[] }
  | { kind: "send_interactive"; body: string; buttons?: { id: string; title: string }[]; list?: InteractiveList }
  | { kind: "set_label"; labelId: string }
  | { kind: "handoff"; note?: string }
  | { kind: "call_webhook"; url: string; timeoutMs: number; call: WebhookCall };

/** Why a step did what it did (for logs, metrics and the dry run). */
export type StepOutcome =
  /** A trigger started the flow (or restarted it from a waiting state). */
  | "started"
  /** The answer took a transition. */
  | "answered"
  /** The answer matched nothing: the question was asked again. */
  | "asked_again"
  /** The answer matched nothing after the question was asked again: the `else` transition. */
  | "fell_to_else"
  /** The answer matched nothing after the question was asked again, and there is no `else`. */
  | "stayed"
  /** The responder answered from the FAQ. */
  | "faq"
  /** The conversation is with a human: nothing done. */
  | "handed_off"
  | "reset"
  /** No session, no trigger, no answer. */
  | "ignored";

export interface StepResult {
  /** The session to store; undefined: delete it (the flow ended, was reset, or never started). */
  session: Session | undefined;
  effects: Effect[];
  outcome: StepOutcome;
}

export interface StepOptions {
  /** Answers questions no trigger matched, from the flow's FAQ (not asked when the flow has none); faqMatcher by default. */
  responder?: Responder;
  /** The least confidence of the responder's answer that is sent. */
  minConfidence?: number;
  /** The built-in variables `customer_name` and `customer_phone`. */
  customer?: { name?: string; phone?: string };
}

/** A session idle this long (and not handed off) is over: the next message starts afresh, on the latest version. */
export const SESSION_IDLE_TIMEOUT_MS = 24 * 3600_000;

/** The most characters of an answer kept in a variable. */
export const MAX_VARIABLE_LENGTH = 1_024;

/** Whether a session still runs: handed off, or waiting and not idle too long. */
export function sessionLive(session: Session, now: number): boolean {
  return session.handedOff || now - session.updatedAt < SESSION_IDLE_TIMEOUT_MS;
}

/**
 * The flow version to step a conversation with: the session's own version
 * while it is live and stored, else the latest version (highest number).
 */
export function pickFlow(versions: readonly Flow[], session: Session | undefined, now: number): Flow | undefined {
  const named = session ? versions.filter((f) => f.name === session.flowName) : versions;
  if (session && sessionLive(session, now)) {
    const pinned = named.find((f) => f.version === session.version);
    if (pinned) return pinned;
  }
  return named.reduce<Flow | undefined>((latest, f) => (latest === undefined || f.version > latest.version ? f : latest), undefined);
}

/** The first trigger of the flow the message matches, if any. */
export function matchTrigger(flow: Flow, message: CustomerMessage): Trigger | undefined {
  return flow.triggers.find((t) => triggerMatches(t, message));
}

function triggerMatches(t: Trigger, m: CustomerMessage): boolean {
  switch (t.type) {
    case "keyword": {
      const said = textOf(m);
      return said !== undefined && t.words.some((w) => containsPhrase(said, w));
    }
    case "regex": {
      const said = textOf(m);
      return said !== undefined && flowRegex(t.pattern).test(said);
    }
    case "button_reply":
      return m.kind === "button_reply" && m.id === t.payload;
    case "list_reply":
      return m.kind === "list_reply" && m.id === t.id;
    case "first_message":
      return m.first === true;
    case "referral":
      return m.referral !== undefined && (t.sourceId === undefined || t.sourceId === m.referral.sourceId);
  }
}

/**
 * One customer message (or reset) through the flow. `flow` must be the
 * session's version (see `pickFlow`); a session of another flow or version,
 * idle too long, or in a state the flow lacks, counts as none.
 */
export function step(flow: Flow, session: Session | undefined, event: InboundEvent, now: number, options: StepOptions = {}): StepResult {
  if (event.kind === "reset") return { session: undefined, effects: [], outcome: "reset" };
  if (session?.handedOff) return { session, effects: [], outcome: "handed_off" };
  const run = new Run(flow, now, options);
  const waiting = session && usable(flow, session, now) ? session : undefined;
  if (waiting) return run.answer(waiting, event);

  const trigger = matchTrigger(flow, event);
  if (trigger) return run.start(trigger, {});
  const question = textOf(event);
  if (question && flow.faq.length > 0) {
    const reply = (options.responder ?? faqMatcher).answer(question, flow.faq);
    if (reply && reply.text.trim() && reply.confidence >= (options.minConfidence ?? FAQ_MIN_CONFIDENCE)) {
      return { session: undefined, effects: [{ kind: "send_text", text: cut(reply.text, L.text) }], outcome: "faq" };
    }
  }
  return { session: undefined, effects: [], outcome: "ignored" };
}

function usable(flow: Flow, s: Session, now: number): boolean {
  const state = Object.hasOwn(flow.states, s.state) ? flow.states[s.state] : undefined;
  return sessionLive(s, now) && s.flowName === flow.name && s.version === flow.version && state !== undefined && askOf(state) !== undefined;
}

/** The words of a message: its text, or a media caption. */
function textOf(m: CustomerMessage): string | undefined {
  if (m.kind === "text") return m.text;
  if (m.kind === "media") return m.caption;
  return undefined;
}

/** An answer to an ask, resolved: the button or row it picks, and what the customer saw or typed. */
interface Answer {
  buttonId?: string;
  rowId?: string;
  /** The title shown, or the text typed (a caption); empty for a bare media message. */
  shown: string;
  /** Passed the ask's validation and is not a stale button or row of another question. */
  accepted: boolean;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;
const NUMBER = /^[-+]?\d+([.,]\d+)?$/;
const PHONE = /^\+?[\d\s().-]{6,24}$/;

function passes(ask: AskAction, text: string): boolean {
  const v = ask.validation;
  if (!v) return true;
  const t = text.trim();
  switch (v.type) {
    case "email":
      return t.length <= 254 && EMAIL.test(t);
    case "number":
      return NUMBER.test(t);
    case "phone": {
      const digits = t.replace(/\D/g, "").length;
      return PHONE.test(t) && digits >= 6 && digits <= 15;
    }
    case "regex":
      return flowRegex(v.pattern).test(t);
  }
}

function resolve(ask: AskAction, m: CustomerMessage): Answer {
  const rows = ask.list?.sections.flatMap((s) => s.rows) ?? [];
  if (m.kind === "button_reply") return { buttonId: m.id, shown: m.title, accepted: ask.buttons?.some((b) => b.id === m.id) ?? false };
  if (m.kind === "list_reply") return { rowId: m.id, shown: m.title, accepted: rows.some((r) => r.id === m.id) };
  const text = textOf(m) ?? "";
  if (!text.trim()) return { shown: "", accepted: false };
  const typed = normalize(text);
  const button = ask.buttons?.find((b) => normalize(b.title) === typed);
  if (button) return { buttonId: button.id, shown: button.title, accepted: true };
  const row = rows.find((r) => normalize(r.title) === typed);
  if (row) return { rowId: row.id, shown: row.title, accepted: true };
  return { shown: text, accepted: passes(ask, text) };
}

/** One step's work on a flow: entering states and collecting their effects. */
class Run {
  private readonly effects: Effect[] = [];

  constructor(
    private readonly flow: Flow,
    private readonly now: number,
    private readonly options: StepOptions,
  ) {}

  start(trigger: Trigger, variables: Record<string, string>): StepResult {
    const fresh: Session = { flowName: this.flow.name, version: this.flow.version, state: "", variables, handedOff: false, retries: 0, startedAt: this.now, updatedAt: this.now };
    return this.enter(trigger.goto ?? this.flow.start, fresh, "started");
  }

  answer(session: Session, event: CustomerMessage): StepResult {
    const state = this.flow.states[session.state]!;
    const ask = askOf(state)!;
    const a = resolve(ask, event);
    const taken = a.accepted ? state.transitions.find((t) => t.on !== "else" && this.takes(t, a)) : undefined;
    if (taken) {
      const variables = ask.variable ? { ...session.variables, [ask.variable]: cut(a.shown.trim(), MAX_VARIABLE_LENGTH) } : session.variables;
      return this.enter(taken.to, { ...session, variables }, "answered");
    }
    const trigger = matchTrigger(this.flow, event);
    if (trigger) return this.start(trigger, session.variables);
    if (session.retries === 0) {
      const vars = this.variables(session);
      if (ask.retryText) this.effects.push({ kind: "send_text", text: interpolate(ask.retryText, vars, L.text) });
      this.effects.push(this.askEffect(ask, vars));
      return { session: { ...session, retries: 1, updatedAt: this.now }, effects: this.effects, outcome: "asked_again" };
    }
    const fallback = state.transitions.find((t) => t.on === "else");
    if (fallback) return this.enter(fallback.to, session, "fell_to_else");
    return { session: { ...session, updatedAt: this.now }, effects: [], outcome: "stayed" };
  }

  private takes(t: Transition, a: Answer): boolean {
    switch (t.on) {
      case "button":
        return a.buttonId === t.id;
      case "list_row":
        return a.rowId === t.id;
      case "keyword":
        return t.words.some((w) => containsPhrase(a.shown, w));
      case "regex":
        return flowRegex(t.pattern).test(a.shown);
      case "any":
        return true;
      case "else":
        return false;
    }
  }

  /** Enters a state and follows `next` until an ask, a handoff or the end. */
  private enter(to: string, session: Session, outcome: StepOutcome): StepResult {
    let id = to;
    for (let hops = 0; id !== END && hops <= Object.keys(this.flow.states).length; hops++) {
      const state = this.flow.states[id]!;
      const at: Session = { ...session, state: id, retries: 0, updatedAt: this.now };
      const vars = this.variables(at);
      for (const action of state.actions) this.effects.push(this.effectOf(action, vars, at));
      const last = state.actions[state.actions.length - 1];
      if (last?.type === "ask") return { session: at, effects: this.effects, outcome };
      if (last?.type === "handoff") return { session: { ...at, handedOff: true }, effects: this.effects, outcome };
      if (state.next === undefined) break;
      id = state.next;
    }
    return { session: undefined, effects: this.effects, outcome };
  }

  private variables(session: Session): Record<string, string> {
    const c = this.options.customer ?? {};
    return { customer_name: c.name ?? "", customer_phone: c.phone ?? "", ...session.variables };
  }

  private askEffect(ask: AskAction, vars: Record<string, string>): Effect {
    if (ask.buttons) return { kind: "send_interactive", body: interpolate(ask.text, vars, L.interactiveBody), buttons: ask.buttons.map((b) => ({ ...b })) };
    if (ask.list) return { kind: "send_interactive", body: interpolate(ask.text, vars, L.text), list: structuredClone(ask.list) };
    return { kind: "send_text", text: interpolate(ask.text, vars, L.text) };
  }

  private effectOf(a: Action, vars: Record<string, string>, session: Session): Effect {
    const fill = (text: string, max: number) => interpolate(text, vars, max);
    switch (a.type) {
      case "reply_text":
        return { kind: "send_text", text: fill(a.text, L.text) };
      case "send_template":
        return { kind: "send_template", name: a.name, language: a.language, parameters: a.parameters.map((p) => ({ ...(p.name ? { name: p.name } : {}), text: fill(p.text, L.templateParameter) })) };
      case "send_product":
        return {
          kind: "send_product",
          catalogId: a.catalogId,
          productRetailerId: a.productRetailerId,
          ...(a.body === undefined ? {} : { body: fill(a.body, L.interactiveBody) }),
          ...(a.footer === undefined ? {} : { footer: fill(a.footer, L.footer) }),
        };
      case "send_product_list":
        return {
          kind: "send_product_list",
          catalogId: a.catalogId,
          header: fill(a.header, L.header),
          body: fill(a.body, L.interactiveBody),
          ...(a.footer === undefined ? {} : { footer: fill(a.footer, L.footer) }),
          sections: a.sections.map((s) => ({ ...(s.title === undefined ? {} : { title: s.title }), productRetailerIds: [...s.productRetailerIds] })),
        };
      case "ask":
        return this.askEffect(a, vars);
      case "set_label":
        return { kind: "set_label", labelId: a.labelId };
      case "handoff":
        return { kind: "handoff", ...(a.note === undefined ? {} : { note: fill(a.note, 1_024) }) };
      case "webhook": {
        const call: WebhookCall = { flow: this.flow.name, version: this.flow.version, state: session.state, variables: { ...session.variables } };
        if (a.payload !== undefined) call.data = fillJson(a.payload, vars);
        return { kind: "call_webhook", url: a.url, timeoutMs: a.timeoutMs, call };
      }
    }
  }
}

/** A JSON template with every string interpolated. */
function fillJson(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === "string") return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((v) => fillJson(v, vars));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillJson(v, vars)]));
  return value;
}

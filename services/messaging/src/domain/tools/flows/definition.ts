import { z } from "zod";
import { InvalidInput } from "@kontor/service-kit/errors";
import { regexProblem } from "./regex-safety.js";
import { BUILTIN_VARIABLES, normalize, VARIABLE_NAME, variablesIn } from "./text.js";

/**
 * A chatbot flow as data: the JSON a business saves from its console,
 * validated here before it is stored or run. `parseFlow` refuses a bad
 * definition with InvalidInput naming the path of the bad element
 * (`states.welcome.actions[2].buttons[1].title`). The engine (`engine.ts`)
 * describes what the parts do.
 */

/** Bounds of a flow definition; the interactive ones are the Cloud API's (cloud-api.md §1.9). */
export const FLOW_LIMITS = {
  triggers: 50,
  states: 100,
  actionsPerState: 20,
  transitionsPerState: 20,
  words: 50,
  word: 100,
  /** A text message's body. */
  text: 4_096,
  /** The body of a reply-buttons or product message. */
  interactiveBody: 1_024,
  header: 60,
  footer: 60,
  buttons: 3,
  buttonId: 256,
  buttonTitle: 20,
  listButton: 20,
  listSections: 10,
  /** Rows of a list, counted over all its sections. */
  listRows: 10,
  sectionTitle: 24,
  rowId: 200,
  rowTitle: 24,
  rowDescription: 72,
  productSections: 10,
  /** Products of a product list, counted over all its sections. */
  products: 30,
  templateParameters: 20,
  templateParameter: 1_024,
  webhookUrl: 2_000,
  webhookTimeoutMs: 10_000,
  webhookDefaultTimeoutMs: 5_000,
  /** A webhook payload template, as JSON. */
  webhookPayload: 16_384,
  faq: 500,
} as const;

/** The target of a transition or `next` that ends the conversation's flow. */
export const END = "end";

const L = FLOW_LIMITS;
const STATE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const FLOW_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const TEMPLATE_NAME = /^[a-z0-9_]{1,512}$/;
const LANGUAGE = /^[a-z]{2,3}(_[A-Z]{2})?$/;
const PARAMETER_NAME = /^[a-z][a-z0-9_]{0,63}$/;

const text = (max: number) => z.string().min(1).max(max);
const trimmedId = (max: number) => text(max).refine((s) => s === s.trim(), "must not start or end with spaces");
const stateRef = z.string().regex(STATE_ID, "must be a state id: letters, digits, _ and -, at most 64");
const target = z.string().min(1);
const wordList = z.array(text(L.word)).min(1).max(L.words);

const triggerSchema = z.discriminatedUnion("type", [
  /** The customer's text contains one of the words or phrases (whole words; case and accents ignored). */
  z.strictObject({ type: z.literal("keyword"), words: wordList, goto: stateRef.optional() }),
  /** The customer's text matches a pattern of the safe subset (`regex-safety.ts`), case-insensitive. */
  z.strictObject({ type: z.literal("regex"), pattern: z.string(), goto: stateRef.optional() }),
  /** A tap on a reply button (its id) or on a template's quick reply (its payload). */
  z.strictObject({ type: z.literal("button_reply"), payload: text(L.buttonId), goto: stateRef.optional() }),
  /** A choice from a list (its row id). */
  z.strictObject({ type: z.literal("list_reply"), id: text(L.rowId), goto: stateRef.optional() }),
  /** The customer's first message in the conversation. */
  z.strictObject({ type: z.literal("first_message"), goto: stateRef.optional() }),
  /** A message that came from a click-to-chat ad or post; with `sourceId`, only that ad's. */
  z.strictObject({ type: z.literal("referral"), sourceId: text(128).optional(), goto: stateRef.optional() }),
]);

const buttonSchema = z.strictObject({ id: trimmedId(L.buttonId), title: text(L.buttonTitle) });
const rowSchema = z.strictObject({ id: trimmedId(L.rowId), title: text(L.rowTitle), description: text(L.rowDescription).optional() });
const listSchema = z.strictObject({
  /** The label of the button that opens the list. */
  button: text(L.listButton),
  sections: z.array(z.strictObject({ title: text(L.sectionTitle).optional(), rows: z.array(rowSchema).min(1).max(L.listRows) })).min(1).max(L.listSections),
});
const validationSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("email") }),
  z.strictObject({ type: z.literal("number") }),
  z.strictObject({ type: z.literal("phone") }),
  z.strictObject({ type: z.literal("regex"), pattern: z.string() }),
]);

const actionSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("reply_text"), text: text(L.text) }),
  z.strictObject({
    type: z.literal("send_template"),
    name: z.string().regex(TEMPLATE_NAME, "must be a template name: a-z, 0-9 and _"),
    language: z.string().regex(LANGUAGE, "must be a template language code such as en, en_US or pt_BR"),
    /** Body parameters in order; each named (`{{first_name}}` templates) or none. */
    parameters: z
      .array(z.strictObject({ name: z.string().regex(PARAMETER_NAME, "must be a lowercase parameter name").optional(), text: text(L.templateParameter) }))
      .max(L.templateParameters)
      .default([]),
  }),
  z.strictObject({ type: z.literal("send_product"), catalogId: text(128), productRetailerId: text(128), body: text(L.interactiveBody).optional(), footer: text(L.footer).optional() }),
  z.strictObject({
    type: z.literal("send_product_list"),
    catalogId: text(128),
    header: text(L.header),
    body: text(L.interactiveBody),
    footer: text(L.footer).optional(),
    sections: z.array(z.strictObject({ title: text(L.sectionTitle).optional(), productRetailerIds: z.array(text(128)).min(1).max(L.products) })).min(1).max(L.productSections),
  }),
  z.strictObject({
    type: z.literal("ask"),
    text: text(L.text),
    buttons: z.array(buttonSchema).min(1).max(L.buttons).optional(),
    list: listSchema.optional(),
    /** Where the answer is kept: a button's or row's title, or the text typed. */
    variable: z.string().regex(VARIABLE_NAME, "must be a variable name: [a-z_][a-z0-9_]*, at most 64").optional(),
    validation: validationSchema.optional(),
    /** Sent before the question is asked again after an answer that matched nothing. */
    retryText: text(L.text).optional(),
  }),
  z.strictObject({ type: z.literal("set_label"), labelId: text(64) }),
  z.strictObject({ type: z.literal("handoff"), note: text(1_024).optional() }),
  z.strictObject({
    type: z.literal("webhook"),
    url: text(L.webhookUrl),
    timeoutMs: z.number().int().min(100).max(L.webhookTimeoutMs).default(L.webhookDefaultTimeoutMs),
    /** A JSON template whose strings are interpolated; without one the body carries the variables. */
    payload: z.json().optional(),
  }),
]);

const transitionSchema = z.discriminatedUnion("on", [
  z.strictObject({ on: z.literal("button"), id: text(L.buttonId), to: target }),
  z.strictObject({ on: z.literal("list_row"), id: text(L.rowId), to: target }),
  z.strictObject({ on: z.literal("keyword"), words: wordList, to: target }),
  z.strictObject({ on: z.literal("regex"), pattern: z.string(), to: target }),
  /** Any answer that passed the ask's validation. */
  z.strictObject({ on: z.literal("any"), to: target }),
  /** An answer that matched nothing, after the question was asked again once. */
  z.strictObject({ on: z.literal("else"), to: target }),
]);

const stateSchema = z.strictObject({
  actions: z.array(actionSchema).max(L.actionsPerState).default([]),
  /** Only for a state whose last action is an ask: where each answer leads. */
  transitions: z.array(transitionSchema).max(L.transitionsPerState).default([]),
  /** For a state without an ask: the state that follows at once, or `end`. Without it the flow ends. */
  next: target.optional(),
});

const faqEntrySchema = z.strictObject({ question: text(L.text), answer: text(L.text), keywords: z.array(text(L.word)).max(L.words).optional() });

const flowSchema = z.strictObject({
  name: z.string().regex(FLOW_NAME, "must be a flow name: a-z, 0-9, _ and -, at most 64"),
  /** Set by the store when the flow is saved: 1, 2, … */
  version: z.number().int().positive(),
  triggers: z.array(triggerSchema).max(L.triggers),
  states: z.record(z.string(), stateSchema),
  start: z.string(),
  faq: z.array(faqEntrySchema).max(L.faq).default([]),
});

export type Flow = z.output<typeof flowSchema>;
export type Trigger = z.output<typeof triggerSchema>;
export type Action = z.output<typeof actionSchema>;
export type AskAction = Extract<Action, { type: "ask" }>;
export type Transition = z.output<typeof transitionSchema>;
export type FlowState = z.output<typeof stateSchema>;
export type FaqEntry = z.output<typeof faqEntrySchema>;
export type AnswerValidation = z.output<typeof validationSchema>;

/** `states.welcome.actions[2].title` from zod's path ("" for the definition itself). */
function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

function messageOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return issue.expected === "int" ? "must be an integer" : `must be ${issue.expected === "record" || issue.expected === "object" ? "an object" : `a ${issue.expected}`}`;
    case "too_big":
      if (issue.origin === "string") return `must be at most ${issue.maximum} characters`;
      return issue.origin === "array" ? `must have at most ${issue.maximum} items` : `must be ${issue.inclusive === false ? "less than" : "at most"} ${issue.maximum}`;
    case "too_small":
      if (issue.origin === "string") return "must not be empty";
      if (issue.origin === "array") return `must have at least ${issue.minimum} item${issue.minimum === 1 ? "" : "s"}`;
      return `must be ${issue.inclusive === false ? "more than" : "at least"} ${issue.minimum}`;
    case "invalid_union":
    {
      const options = (issue as { options?: unknown }).options;
      return Array.isArray(options) ? `must be one of ${options.join(", ")}` : issue.message;
    }
    case "unrecognized_keys":
      return "is not a field of this element";
    default:
      return issue.message;
  }
}

const bad = (path: string, message: string) => new InvalidInput(path, message);

/**
 * A flow definition from its JSON, or InvalidInput naming the first bad
 * element's path. Besides the shapes and bounds: every state a trigger,
 * transition or `next` names exists; a state asks at most once, as its last
 * action, and only then has transitions; nothing follows a handoff; button,
 * title and row ids are unique within an ask; every `{{variable}}` is
 * captured by some ask or built in; regexes are in the safe subset; webhooks
 * are https to a public host; and no chain of `next` loops without asking.
 * States nothing leads to are allowed (`unreachableStates` lists them).
 */
export function parseFlow(json: unknown): Flow {
  const parsed = flowSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = issue.code === "unrecognized_keys" ? [issue.keys[0]!] : [];
    throw bad(pathOf([...issue.path, ...keys]) || "flow", messageOf(issue));
  }
  checkSemantics(parsed.data);
  return parsed.data;
}

/** Captured variables (an ask's `variable`) and the built-ins. */
export function knownVariables(flow: Flow): Set<string> {
  const known = new Set<string>(BUILTIN_VARIABLES);
  for (const state of Object.values(flow.states)) for (const a of state.actions) if (a.type === "ask" && a.variable) known.add(a.variable);
  return known;
}

/** The ask a state ends with, if any. */
export function askOf(state: FlowState): AskAction | undefined {
  const last = state.actions[state.actions.length - 1];
  return last?.type === "ask" ? last : undefined;
}

/** States no trigger, transition or `next` leads to (allowed; a console shows them). */
export function unreachableStates(flow: Flow): string[] {
  const reached = new Set<string>();
  const visit = (id: string | undefined) => {
    if (id === undefined || id === END || reached.has(id) || !flow.states[id]) return;
    reached.add(id);
    const s = flow.states[id]!;
    visit(s.next);
    for (const t of s.transitions) visit(t.to);
  };
  visit(flow.start);
  for (const t of flow.triggers) visit(t.goto);
  return Object.keys(flow.states).filter((id) => !reached.has(id));
}

function checkSemantics(flow: Flow): void {
  const ids = Object.keys(flow.states);
  if (ids.length === 0) throw bad("states", "must have at least one state");
  if (ids.length > L.states) throw bad("states", `must have at most ${L.states} states`);
  for (const id of ids) {
    if (!STATE_ID.test(id)) throw bad(`states.${id}`, "must be a state id: letters, digits, _ and -, at most 64");
    if (id === END) throw bad(`states.${id}`, `"${END}" is reserved: transitions to it end the flow`);
  }
  const exists = (to: string) => to === END || Object.hasOwn(flow.states, to);
  if (!Object.hasOwn(flow.states, flow.start)) throw bad("start", `names no state ("${flow.start}")`);
  const known = knownVariables(flow);

  flow.triggers.forEach((t, i) => {
    const at = `triggers[${i}]`;
    if (t.goto !== undefined && !Object.hasOwn(flow.states, t.goto)) throw bad(`${at}.goto`, `names no state ("${t.goto}")`);
    if (t.type === "keyword") checkWords(t.words, `${at}.words`);
    if (t.type === "regex") checkPattern(t.pattern, `${at}.pattern`);
  });

  for (const [id, state] of Object.entries(flow.states)) {
    const at = `states.${id}`;
    const lastIndex = state.actions.length - 1;
    state.actions.forEach((a, i) => {
      if (a.type === "ask" && i !== lastIndex) throw bad(`${at}.actions[${i}]`, "an ask must be the state's last action");
      if (a.type === "handoff" && i !== lastIndex) throw bad(`${at}.actions[${i + 1}]`, "nothing may follow a handoff");
      checkAction(a, `${at}.actions[${i}]`, known);
    });
    const ask = askOf(state);
    const handsOff = state.actions[lastIndex]?.type === "handoff";
    if (state.next !== undefined) {
      if (ask) throw bad(`${at}.next`, "a state that asks moves on by its transitions");
      if (handsOff) throw bad(`${at}.next`, "a state that hands off to a human stops the flow");
      if (!exists(state.next)) throw bad(`${at}.next`, `names no state ("${state.next}")`);
    }
    if (!ask && state.transitions.length > 0) throw bad(`${at}.transitions`, "only a state whose last action is an ask has transitions");
    const once = new Set<string>();
    state.transitions.forEach((t, j) => {
      const tp = `${at}.transitions[${j}]`;
      if (!exists(t.to)) throw bad(`${tp}.to`, `names no state ("${t.to}")`);
      if (t.on === "any" || t.on === "else") {
        if (once.has(t.on)) throw bad(tp, `a state has at most one "${t.on}" transition`);
        once.add(t.on);
      }
      if (t.on === "button" && !ask!.buttons?.some((b) => b.id === t.id)) throw bad(`${tp}.id`, `names no button of the state's ask ("${t.id}")`);
      if (t.on === "list_row" && !ask!.list?.sections.some((s) => s.rows.some((r) => r.id === t.id))) throw bad(`${tp}.id`, `names no row of the state's list ("${t.id}")`);
      if (t.on === "keyword") checkWords(t.words, `${tp}.words`);
      if (t.on === "regex") checkPattern(t.pattern, `${tp}.pattern`);
    });
  }
  checkNextLoops(flow);
  flow.faq.forEach((e, i) => e.keywords && checkWords(e.keywords, `faq[${i}].keywords`));
}

/** A chain of `next` must reach an ask, a handoff or the end; one that loops is refused at the `next` that closes it. */
function checkNextLoops(flow: Flow): void {
  for (const id of Object.keys(flow.states)) {
    const seen = new Set<string>([id]);
    let from = id;
    let to = flow.states[id]!.next;
    while (to !== undefined && to !== END) {
      if (seen.has(to)) throw bad(`states.${from}.next`, `loops back to "${to}" without asking: a chain of next must reach an ask, a handoff or end`);
      seen.add(to);
      from = to;
      to = flow.states[to]!.next;
    }
  }
}

function checkWords(list: string[], at: string): void {
  list.forEach((w, k) => {
    if (normalize(w) === "") throw bad(`${at}[${k}]`, "must contain a letter or digit");
  });
}

function checkPattern(pattern: string, at: string): void {
  const problem = regexProblem(pattern);
  if (problem) throw bad(at, problem);
}

function checkText(value: string | undefined, at: string, known: Set<string>): void {
  if (value === undefined) return;
  const { names, bad: token } = variablesIn(value);
  if (token) throw bad(at, `has a malformed placeholder ${token}; write {{variable_name}}`);
  for (const name of names) if (!known.has(name)) throw bad(at, `refers to {{${name}}}, which no ask captures and is not built in (${BUILTIN_VARIABLES.join(", ")})`);
}

function unique(values: string[], at: (i: number) => string, what: string): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    const key = normalize(v) || v;
    if (seen.has(key)) throw bad(at(i), `${what} "${v}" appears twice`);
    seen.add(key);
  });
}

function checkAction(a: Action, at: string, known: Set<string>): void {
  switch (a.type) {
    case "reply_text":
      return checkText(a.text, `${at}.text`, known);
    case "send_template": {
      const named = a.parameters.filter((p) => p.name !== undefined).length;
      a.parameters.forEach((p, k) => {
        if (named > 0 && p.name === undefined) throw bad(`${at}.parameters[${k}].name`, "is required: parameters are all named or all positional");
        checkText(p.text, `${at}.parameters[${k}].text`, known);
      });
      return unique(
        a.parameters.flatMap((p) => (p.name ? [p.name] : [])),
        (k) => `${at}.parameters[${k}].name`,
        "parameter",
      );
    }
    case "send_product":
      checkText(a.body, `${at}.body`, known);
      return checkText(a.footer, `${at}.footer`, known);
    case "send_product_list": {
      let products = 0;
      a.sections.forEach((s, i) => {
        if (a.sections.length > 1 && s.title === undefined) throw bad(`${at}.sections[${i}].title`, "is required when there is more than one section");
        s.productRetailerIds.forEach((_, p) => {
          if (++products > L.products) throw bad(`${at}.sections[${i}].productRetailerIds[${p}]`, `a product list has at most ${L.products} products in all`);
        });
      });
      checkText(a.header, `${at}.header`, known);
      checkText(a.body, `${at}.body`, known);
      return checkText(a.footer, `${at}.footer`, known);
    }
    case "ask":
      return checkAsk(a, at, known);
    case "set_label":
      return;
    case "handoff":
      return checkText(a.note, `${at}.note`, known);
    case "webhook": {
      const problem = webhookUrlProblem(a.url);
      if (problem) throw bad(`${at}.url`, problem);
      if (a.payload !== undefined) {
        if (JSON.stringify(a.payload).length > L.webhookPayload) throw bad(`${at}.payload`, `must be at most ${L.webhookPayload} characters as JSON`);
        forEachString(a.payload, `${at}.payload`, (s, path) => checkText(s, path, known));
      }
      return;
    }
  }
}

function checkAsk(a: AskAction, at: string, known: Set<string>): void {
  if (a.buttons && a.list) throw bad(`${at}.list`, "an ask offers buttons or a list, not both");
  if (a.buttons && a.text.length > L.interactiveBody) throw bad(`${at}.text`, `must be at most ${L.interactiveBody} characters with buttons`);
  if (a.validation && (a.buttons || a.list)) throw bad(`${at}.validation`, "only a question answered by typing validates its answer");
  if (a.validation?.type === "regex") checkPattern(a.validation.pattern, `${at}.validation.pattern`);
  if (a.buttons) {
    unique(
      a.buttons.map((b) => b.id),
      (k) => `${at}.buttons[${k}].id`,
      "button id",
    );
    unique(
      a.buttons.map((b) => b.title),
      (k) => `${at}.buttons[${k}].title`,
      "button title",
    );
  }
  if (a.list) {
    const rows: { id: string; path: string }[] = [];
    a.list.sections.forEach((s, i) => {
      if (a.list!.sections.length > 1 && s.title === undefined) throw bad(`${at}.list.sections[${i}].title`, "is required when there is more than one section");
      s.rows.forEach((r, k) => rows.push({ id: r.id, path: `${at}.list.sections[${i}].rows[${k}]` }));
    });
    rows.forEach((r, n) => {
      if (n >= L.listRows) throw bad(r.path, `a list has at most ${L.listRows} rows in all`);
    });
    unique(
      rows.map((r) => r.id),
      (n) => `${rows[n]!.path}.id`,
      "row id",
    );
  }
  checkText(a.text, `${at}.text`, known);
  checkText(a.retryText, `${at}.retryText`, known);
}

/** Every string in a JSON value with its path (`payload.order.items[0]`). */
export function forEachString(value: unknown, at: string, visit: (s: string, path: string) => void): void {
  if (typeof value === "string") visit(value, at);
  else if (Array.isArray(value)) value.forEach((v, i) => forEachString(v, `${at}[${i}]`, visit));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) forEachString(v, `${at}.${k}`, visit);
}

const PRIVATE_HOST = /^(localhost|.*\.localhost|.*\.local|.*\.internal)$/i;
const PRIVATE_V4 = /^(0|10|127)\.|^169\.254\.|^172\.(1[6-9]|2\d|3[01])\.|^192\.168\.|^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Why a webhook address is refused: it must be https, carry no credentials,
 * and not name a loopback, private or link-local host by name or literal
 * address. (Names that resolve to such addresses are the caller's check when
 * it connects.)
 */
export function webhookUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "must be an absolute https URL";
  }
  if (u.protocol !== "https:") return "must be an https URL";
  if (u.username || u.password) return "must not carry credentials";
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (PRIVATE_HOST.test(host) || (IPV4.test(host) && PRIVATE_V4.test(host))) return "must be a public host, not a loopback, private or link-local one";
  if (host.includes(":") && /^(::1?$|f[cd]|fe[89ab]|::ffff:)/i.test(host)) return "must be a public host, not a loopback, private or link-local one";
  return undefined;
}

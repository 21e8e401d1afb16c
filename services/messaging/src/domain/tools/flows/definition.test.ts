import { describe, expect, it } from "vitest";
import { InvalidInput } from "@kontor/service-kit/errors";
import { parseFlow, unreachableStates, webhookUrlProblem } from "./definition.js";

/* eslint-disable @typescript-eslint/no-explicit-any -- definitions are untyped JSON here on purpose */

/** A valid definition; each bad case below breaks one element of it. */
const valid = (): any => ({
  name: "shop-bot",
  version: 1,
  triggers: [{ type: "keyword", words: ["hi", "olá"] }, { type: "regex", pattern: "^order\\s*#?\\d{4,10}$" }],
  start: "welcome",
  states: {
    welcome: {
      actions: [
        { type: "reply_text", text: "Hello {{customer_name}}" },
        { type: "ask", text: "What do you need?", variable: "topic", buttons: [{ id: "orders", title: "Orders" }, { id: "agent", title: "Talk to us" }] },
      ],
      transitions: [
        { on: "button", id: "orders", to: "orders" },
        { on: "button", id: "agent", to: "human" },
        { on: "else", to: "end" },
      ],
    },
    orders: { actions: [{ type: "ask", text: "Your email?", variable: "email", validation: { type: "email" } }], transitions: [{ on: "any", to: "thanks" }] },
    thanks: {
      actions: [
        { type: "reply_text", text: "Thanks, we will write to {{email}}" },
        { type: "webhook", url: "https://hooks.example.com/kontor", payload: { email: "{{email}}" } },
      ],
    },
    human: { actions: [{ type: "handoff", note: "wants {{topic}}" }] },
  },
});

function refusal(definition: unknown): InvalidInput {
  try {
    parseFlow(definition);
  } catch (e) {
    if (e instanceof InvalidInput) return e;
    throw e;
  }
  throw new Error("the definition was accepted");
}

const list = (rows: number[]) => ({
  button: "Choose",
  sections: rows.map((n, s) => ({ title: `Section ${s}`, rows: Array.from({ length: n }, (_, r) => ({ id: `s${s}r${r}`, title: `Row ${r}` })) })),
});

/** [what is wrong, how the valid definition is broken, the path named, part of the message]. */
const BAD: [string, (f: any) => void, string, string][] = [
  ["an unknown action type", (f) => (f.states.welcome.actions[0].type = "reply_txt"), "states.welcome.actions[0].type", "must be one of reply_text"],
  ["a misspelt field", (f) => (f.states.welcome.actions[0] = { type: "reply_text", text: "x", txt: "y" }), "states.welcome.actions[0].txt", "is not a field"],
  ["a missing version", (f) => delete f.version, "version", "is required"],
  ["a version of 0", (f) => (f.version = 0), "version", "must be more than 0"],
  ["a version that is no integer", (f) => (f.version = 1.5), "version", "integer"],
  ["four buttons", (f) => f.states.welcome.actions[1].buttons.push({ id: "a", title: "A" }, { id: "b", title: "B" }), "states.welcome.actions[1].buttons", "at most 3"],
  ["a button title over 20 characters", (f) => (f.states.welcome.actions[1].buttons[1].title = "Talk to a real person"), "states.welcome.actions[1].buttons[1].title", "at most 20"],
  ["two buttons with one id", (f) => (f.states.welcome.actions[1].buttons[1].id = "orders"), "states.welcome.actions[1].buttons[1].id", "appears twice"],
  ["two buttons with one title (case ignored)", (f) => (f.states.welcome.actions[1].buttons[1].title = "ORDERS"), "states.welcome.actions[1].buttons[1].title", "appears twice"],
  ["a button id with a trailing space", (f) => (f.states.welcome.actions[1].buttons[0].id = "orders "), "states.welcome.actions[1].buttons[0].id", "spaces"],
  ["buttons and a list in one ask", (f) => (f.states.welcome.actions[1].list = list([2])), "states.welcome.actions[1].list", "not both"],
  ["a button ask's text over 1,024 characters", (f) => (f.states.welcome.actions[1].text = "x".repeat(1025)), "states.welcome.actions[1].text", "at most 1024"],
  ["a list of 11 rows over two sections", (f) => (f.states.orders.actions[0] = { type: "ask", text: "Pick", list: list([6, 5]) }), "states.orders.actions[0].list.sections[1].rows[4]", "at most 10 rows"],
  ["a list of two sections, one untitled", (f) => (f.states.orders.actions[0] = { type: "ask", text: "Pick", list: { button: "Go", sections: [{ title: "A", rows: [{ id: "a", title: "A" }] }, { rows: [{ id: "b", title: "B" }] }] } }), "states.orders.actions[0].list.sections[1].title", "more than one section"],
  ["a row id used twice", (f) => (f.states.orders.actions[0] = { type: "ask", text: "Pick", list: { button: "Go", sections: [{ title: "A", rows: [{ id: "a", title: "A" }] }, { title: "B", rows: [{ id: "a", title: "B" }] }] } }), "states.orders.actions[0].list.sections[1].rows[0].id", "appears twice"],
  ["a product list of 31 products", (f) => f.states.thanks.actions.unshift({ type: "send_product_list", catalogId: "c1", header: "Picks", body: "For you", sections: [{ title: "A", productRetailerIds: Array.from({ length: 20 }, (_, i) => `a${i}`) }, { title: "B", productRetailerIds: Array.from({ length: 11 }, (_, i) => `b${i}`) }] }), "states.thanks.actions[0].sections[1].productRetailerIds[10]", "at most 30 products"],
  ["eleven product sections", (f) => f.states.thanks.actions.unshift({ type: "send_product_list", catalogId: "c1", header: "Picks", body: "For you", sections: Array.from({ length: 11 }, (_, i) => ({ title: `S${i}`, productRetailerIds: ["x"] })) }), "states.thanks.actions[0].sections", "at most 10"],
  ["a start that names no state", (f) => (f.start = "hello"), "start", "names no state"],
  ["a transition to an unknown state", (f) => (f.states.welcome.transitions[1].to = "humans"), "states.welcome.transitions[1].to", "names no state"],
  ["a button transition for a button the ask lacks", (f) => (f.states.welcome.transitions[0].id = "order"), "states.welcome.transitions[0].id", "names no button"],
  ["two else transitions", (f) => f.states.welcome.transitions.push({ on: "else", to: "human" }), "states.welcome.transitions[3]", "at most one \"else\""],
  ["transitions on a state that does not ask", (f) => (f.states.thanks.transitions = [{ on: "any", to: "welcome" }]), "states.thanks.transitions", "only a state whose last action is an ask"],
  ["an ask before another action", (f) => f.states.welcome.actions.reverse(), "states.welcome.actions[0]", "last action"],
  ["an action after a handoff", (f) => f.states.human.actions.push({ type: "reply_text", text: "bye" }), "states.human.actions[1]", "follow a handoff"],
  ["next on a state that asks", (f) => (f.states.orders.next = "thanks"), "states.orders.next", "transitions"],
  ["a chain of next that loops", (f) => Object.assign(f.states, { a: { actions: [{ type: "reply_text", text: "a" }], next: "b" }, b: { actions: [], next: "a" } }), "states.b.next", "loops back"],
  ["a state called end", (f) => (f.states.end = { actions: [] }), "states.end", "reserved"],
  ["a trigger going to an unknown state", (f) => (f.triggers[0].goto = "nowhere"), "triggers[0].goto", "names no state"],
  ["a keyword of punctuation only", (f) => (f.triggers[0].words[1] = "?!"), "triggers[0].words[1]", "letter or digit"],
  ["a trigger regex with nested quantifiers", (f) => (f.triggers[1].pattern = "^(a+)+$"), "triggers[1].pattern", "catastrophic"],
  ["a validation regex over 200 characters", (f) => (f.states.orders.actions[0].validation = { type: "regex", pattern: "a".repeat(201) }), "states.orders.actions[0].validation.pattern", "at most 200"],
  ["validation on a button ask", (f) => (f.states.welcome.actions[1].validation = { type: "number" }), "states.welcome.actions[1].validation", "answered by typing"],
  ["a variable name with capitals", (f) => (f.states.orders.actions[0].variable = "Email"), "states.orders.actions[0].variable", "variable name"],
  ["a placeholder no ask captures", (f) => (f.states.thanks.actions[0].text = "Order {{order_id}} noted"), "states.thanks.actions[0].text", "{{order_id}}"],
  ["a malformed placeholder", (f) => (f.states.thanks.actions[0].text = "Hi {{ email }}"), "states.thanks.actions[0].text", "malformed"],
  ["a placeholder deep in a webhook payload", (f) => (f.states.thanks.actions[1].payload = { order: { lines: ["{{email}}", "{{sku}}"] } }), "states.thanks.actions[1].payload.order.lines[1]", "{{sku}}"],
  ["a plain http webhook", (f) => (f.states.thanks.actions[1].url = "http://hooks.example.com/kontor"), "states.thanks.actions[1].url", "https"],
  ["a webhook to a private address", (f) => (f.states.thanks.actions[1].url = "https://192.168.1.10/hook"), "states.thanks.actions[1].url", "public host"],
  ["a webhook timeout over 10 s", (f) => (f.states.thanks.actions[1].timeoutMs = 10_001), "states.thanks.actions[1].timeoutMs", "at most 10000"],
  ["template parameters both named and positional", (f) => f.states.thanks.actions.unshift({ type: "send_template", name: "order_update", language: "en_US", parameters: [{ name: "email", text: "{{email}}" }, { text: "x" }] }), "states.thanks.actions[0].parameters[1].name", "all named or all positional"],
  ["a template language that is no code", (f) => f.states.thanks.actions.unshift({ type: "send_template", name: "order_update", language: "english" }), "states.thanks.actions[0].language", "language code"],
];

describe("parseFlow", () => {
  it("when a definition is valid, then it parses with the defaults filled in", () => {
    const flow = parseFlow(valid());
    expect(flow.faq).toEqual([]);
    expect(flow.states.thanks!.transitions).toEqual([]);
    expect(flow.states.thanks!.actions[1]).toMatchObject({ type: "webhook", timeoutMs: 5_000 });
  });

  it.each(BAD)("when it has %s, then it is refused with InvalidInput naming the path", (_, breakIt, path, message) => {
    const definition = valid();
    breakIt(definition);
    const error = refusal(definition);
    expect(error.field).toBe(path);
    expect(error.message).toContain(message);
    expect(error.message.startsWith(`${path}: `)).toBe(true);
  });

  it("when the input is not an object, then the refusal names the root or the field", () => {
    expect(refusal("flow")).toMatchObject({ field: "flow", message: "flow: must be an object" });
    expect(refusal({ ...valid(), states: [] })).toMatchObject({ field: "states", message: "states: must be an object" });
  });
});

describe("unreachable states", () => {
  it("when a state nothing leads to exists, then the flow is accepted and the state is reported", () => {
    const definition = valid();
    definition.states.orphan = { actions: [{ type: "reply_text", text: "never" }] };
    definition.states.jump = { actions: [], next: "human" };
    definition.triggers.push({ type: "first_message", goto: "jump" });
    expect(unreachableStates(parseFlow(definition))).toEqual(["orphan"]);
  });
});

describe("webhook addresses", () => {
  it.each([
    ["https://hooks.example.com/kontor?x=1", undefined],
    ["https://8.8.8.8/hook", undefined],
    ["http://hooks.example.com/", "https"],
    ["https://user:pw@hooks.example.com/", "credentials"],
    ["https://localhost:8443/", "public host"],
    ["https://api.internal/", "public host"],
    ["https://10.0.0.5/", "public host"],
    ["https://172.20.1.1/", "public host"],
    ["https://169.254.169.254/latest/meta-data", "public host"],
    ["https://0x7f.0.0.1/", "public host"],
    ["https://[::1]/", "public host"],
    ["https://[fd00::1]/", "public host"],
    ["not a url", "absolute"],
  ])("when the address is %s, then the problem is %s", (url, problem) => {
    const found = webhookUrlProblem(url);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});

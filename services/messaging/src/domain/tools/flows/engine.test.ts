import { describe, expect, it } from "vitest";
import { parseFlow, type Flow } from "./definition.js";
import { pickFlow, SESSION_IDLE_TIMEOUT_MS, step, type CustomerMessage, type InboundEvent, type Session, type StepOptions } from "./engine.js";
import type { Responder } from "./responder.js";

const T0 = Date.UTC(2026, 0, 10, 9, 30);
const customer = { name: "Ana", phone: "+351912345678" };

const text = (t: string, facts: { first?: boolean; referral?: { sourceId: string; sourceType?: "ad" | "post" } } = {}): CustomerMessage => ({ kind: "text", text: t, ...facts });
const tap = (id: string, title: string): CustomerMessage => ({ kind: "button_reply", id, title });
const pick = (id: string, title: string): CustomerMessage => ({ kind: "list_reply", id, title });

/** The shop's flow; `edit` changes the JSON (a later version). */
function shopDefinition(edit: (d: ReturnType<typeof base>) => void = () => {}) {
  const d = base();
  edit(d);
  return d;
}

function base() {
  return {
    name: "shop",
    version: 1,
    triggers: [
      { type: "keyword", words: ["hi", "olá", "main menu"] },
      { type: "regex", pattern: "^order\\s*#?\\d{4,10}$", goto: "order_status" },
      { type: "button_reply", payload: "promo_optin", goto: "promo" },
      { type: "list_reply", id: "cat_bags", goto: "bags" },
      { type: "referral", sourceId: "ad-42", goto: "promo" },
      { type: "referral", goto: "welcome" },
      { type: "first_message", goto: "goodbye" },
    ] as unknown[],
    start: "welcome",
    states: {
      welcome: {
        actions: [
          { type: "reply_text", text: "Hello {{customer_name}}!" },
          {
            type: "ask",
            text: "How can we help?",
            variable: "topic",
            retryText: "Please pick one of the buttons.",
            buttons: [
              { id: "orders", title: "My orders" },
              { id: "agent", title: "Talk to us" },
              { id: "products", title: "Products" },
            ],
          },
        ],
        transitions: [
          { on: "button", id: "orders", to: "ask_email" },
          { on: "button", id: "agent", to: "human" },
          { on: "button", id: "products", to: "catalog" },
          { on: "keyword", words: ["price", "cost"], to: "prices" },
          { on: "else", to: "goodbye" },
        ],
      },
      ask_email: {
        actions: [{ type: "ask", text: "Your email, {{customer_name}}?", variable: "email", validation: { type: "email" }, retryText: "That does not look like an email." }],
        transitions: [{ on: "any", to: "thanks" }],
      },
      thanks: {
        actions: [
          { type: "reply_text", text: "Thanks! We will write to {{email}} about {{topic}}." },
          { type: "set_label", labelId: "lbl-lead" },
          { type: "webhook", url: "https://hooks.example.com/flows", timeoutMs: 3000, payload: { email: "{{email}}", tags: ["{{topic}}", "lead"], n: 1 } },
        ],
      },
      human: { actions: [{ type: "reply_text", text: "Connecting you to a person." }, { type: "handoff", note: "Asked about {{topic}}" }] },
      catalog: {
        actions: [
          {
            type: "ask",
            text: "Pick a category",
            variable: "category",
            list: { button: "Categories", sections: [{ title: "Wear", rows: [{ id: "cat_shoes", title: "Shoes" }, { id: "cat_bags", title: "Bags", description: "Leather" }] }] },
          },
        ],
        transitions: [
          { on: "list_row", id: "cat_shoes", to: "shoes" },
          { on: "list_row", id: "cat_bags", to: "bags" },
        ],
      },
      shoes: { actions: [{ type: "send_product", catalogId: "cat-1", productRetailerId: "SKU-SHOE-1", body: "Our best {{category}}", footer: "Free shipping" }], next: "more" },
      bags: {
        actions: [
          {
            type: "send_product_list",
            catalogId: "cat-1",
            header: "Bags for {{customer_name}}",
            body: "Picked for you",
            sections: [
              { title: "Leather", productRetailerIds: ["SKU-B1", "SKU-B2"] },
              { title: "Canvas", productRetailerIds: ["SKU-B3"] },
            ],
          },
        ],
        next: "more",
      },
      more: {
        actions: [{ type: "ask", text: "Anything else?", variable: "more" }],
        transitions: [
          { on: "keyword", words: ["no", "nope"], to: "goodbye" },
          { on: "regex", pattern: "^(yes|sim)\\b", to: "welcome" },
        ],
      },
      prices: { actions: [{ type: "send_template", name: "price_list", language: "en_US", parameters: [{ text: "{{customer_name}}" }, { text: "{{topic}}" }] }] },
      promo: { actions: [{ type: "reply_text", text: "10% off today with code ANA10" }] },
      order_status: { actions: [{ type: "reply_text", text: "Looking up your order." }], next: "end" },
      goodbye: { actions: [{ type: "reply_text", text: "Bye {{customer_name}}" }] },
    } as Record<string, unknown>,
    faq: [
      { question: "What are your opening hours?", answer: "Mon–Sat, 9:00–18:00.", keywords: ["open", "hours"] },
      { question: "Do you deliver to Lisbon?", answer: "Yes, within 2 days." },
    ],
  };
}

const shop = parseFlow(shopDefinition());
const options: StepOptions = { customer };
const run = (flow: Flow, session: Session | undefined, event: InboundEvent, at = T0, opts: StepOptions = options) => step(flow, session, event, at, opts);

/** The session after a run of events, each a second after the last. */
function after(flow: Flow, events: InboundEvent[]): Session | undefined {
  let session: Session | undefined;
  events.forEach((e, i) => {
    session = run(flow, session, e, T0 + i * 1000).session;
  });
  return session;
}

describe("triggers", () => {
  it("when a text holds a keyword in any case and with or without accents, then the flow starts at start", () => {
    for (const t of ["HI there", "Ola!", "olá, bom dia", "back to the Main-Menu please"]) {
      const r = run(shop, undefined, text(t));
      expect(r.outcome).toBe("started");
      expect(r.session).toMatchObject({ flowName: "shop", version: 1, state: "welcome", variables: {}, handedOff: false, retries: 0, startedAt: T0, updatedAt: T0 });
    }
  });

  it("when a photo's caption holds a keyword, then the flow starts", () => {
    expect(run(shop, undefined, { kind: "media", media: "image", caption: "hi, is this in stock?" }).session?.state).toBe("welcome");
  });

  it("when a keyword is only part of a word, then nothing starts", () => {
    expect(run(shop, undefined, text("this is it")).outcome).toBe("ignored");
    expect(run(shop, undefined, text("main")).outcome).toBe("ignored");
  });

  it("when a text matches a regex trigger, then the flow starts at its goto state", () => {
    const r = run(shop, undefined, text("Order #123456"));
    expect(r.effects).toEqual([{ kind: "send_text", text: "Looking up your order." }]);
    expect(r.session).toBeUndefined();
    expect(run(shop, undefined, text("order 12")).outcome).toBe("ignored");
  });

  it("when a template's quick reply carries the trigger's payload, then the flow starts at its goto state", () => {
    expect(run(shop, undefined, tap("promo_optin", "Yes please")).effects).toEqual([{ kind: "send_text", text: "10% off today with code ANA10" }]);
    expect(run(shop, undefined, tap("promo_other", "Yes please")).outcome).toBe("ignored");
  });

  it("when a list reply carries the trigger's row id, then the flow starts at its goto state", () => {
    const r = run(shop, undefined, pick("cat_bags", "Bags"));
    expect(r.effects[0]).toMatchObject({ kind: "send_product_list" });
    expect(r.session?.state).toBe("more");
  });

  it("when a message comes from the ad a referral trigger names, then that trigger wins; from another ad, the generic referral", () => {
    expect(run(shop, undefined, text("hello", { referral: { sourceId: "ad-42", sourceType: "ad" } })).effects).toEqual([{ kind: "send_text", text: "10% off today with code ANA10" }]);
    expect(run(shop, undefined, text("hello", { referral: { sourceId: "ad-7", sourceType: "ad" } })).session?.state).toBe("welcome");
  });

  it("when it is the customer's first message and nothing earlier matches, then the first_message trigger starts the flow", () => {
    expect(run(shop, undefined, text("good morning", { first: true })).effects).toEqual([{ kind: "send_text", text: "Bye Ana" }]);
    expect(run(shop, undefined, { kind: "media", media: "image", first: true }).outcome).toBe("started");
    expect(run(shop, undefined, text("good morning")).outcome).toBe("ignored");
  });

  it("when two triggers match, then the first in the definition wins", () => {
    expect(run(shop, undefined, text("hi", { first: true })).session?.state).toBe("welcome");
  });
});

describe("actions", () => {
  it("when a state replies and asks with buttons, then a text and an interactive message with the buttons are sent, interpolated", () => {
    expect(run(shop, undefined, text("hi")).effects).toEqual([
      { kind: "send_text", text: "Hello Ana!" },
      {
        kind: "send_interactive",
        body: "How can we help?",
        buttons: [
          { id: "orders", title: "My orders" },
          { id: "agent", title: "Talk to us" },
          { id: "products", title: "Products" },
        ],
      },
    ]);
  });

  it("when a state asks with a list, then an interactive list is sent", () => {
    const session = after(shop, [text("hi")]);
    expect(run(shop, session, tap("products", "Products")).effects).toEqual([
      {
        kind: "send_interactive",
        body: "Pick a category",
        list: { button: "Categories", sections: [{ title: "Wear", rows: [{ id: "cat_shoes", title: "Shoes" }, { id: "cat_bags", title: "Bags", description: "Leather" }] }] },
      },
    ]);
  });

  it("when a state asks a question without buttons, then it is a plain text", () => {
    const session = after(shop, [text("hi")]);
    expect(run(shop, session, tap("orders", "My orders")).effects).toEqual([{ kind: "send_text", text: "Your email, Ana?" }]);
  });

  it("when a state sends a template, then its parameters are interpolated in order", () => {
    const session = after(shop, [text("hi")]);
    const r = run(shop, session, text("what is the price?"));
    expect(r.effects).toEqual([{ kind: "send_template", name: "price_list", language: "en_US", parameters: [{ text: "Ana" }, { text: "what is the price?" }] }]);
    expect(r.session).toBeUndefined();
  });

  it("when a state sends a product and goes on to next, then the product is sent and the next state's question follows", () => {
    const session = after(shop, [text("hi"), tap("products", "Products")]);
    const r = run(shop, session, pick("cat_shoes", "Shoes"));
    expect(r.effects).toEqual([
      { kind: "send_product", catalogId: "cat-1", productRetailerId: "SKU-SHOE-1", body: "Our best Shoes", footer: "Free shipping" },
      { kind: "send_text", text: "Anything else?" },
    ]);
    expect(r.session?.state).toBe("more");
  });

  it("when a state sends a product list, then its sections and interpolated header are sent", () => {
    const session = after(shop, [text("hi"), tap("products", "Products")]);
    expect(run(shop, session, pick("cat_bags", "Bags")).effects[0]).toEqual({
      kind: "send_product_list",
      catalogId: "cat-1",
      header: "Bags for Ana",
      body: "Picked for you",
      sections: [
        { title: "Leather", productRetailerIds: ["SKU-B1", "SKU-B2"] },
        { title: "Canvas", productRetailerIds: ["SKU-B3"] },
      ],
    });
  });

  it("when a state replies, labels and calls a webhook, then the three effects carry the captured variables and the flow ends", () => {
    const session = after(shop, [text("hi"), tap("orders", "My orders")]);
    const r = run(shop, session, text(" ana@example.com "), T0 + 5000);
    expect(r.effects).toEqual([
      { kind: "send_text", text: "Thanks! We will write to ana@example.com about My orders." },
      { kind: "set_label", labelId: "lbl-lead" },
      {
        kind: "call_webhook",
        url: "https://hooks.example.com/flows",
        timeoutMs: 3000,
        call: { flow: "shop", version: 1, state: "thanks", variables: { topic: "My orders", email: "ana@example.com" }, data: { email: "ana@example.com", tags: ["My orders", "lead"], n: 1 } },
      },
    ]);
    expect(r.session).toBeUndefined();
    expect(r.outcome).toBe("answered");
  });

  it("when a state hands off, then the handoff effect carries the note and the session is kept, handed off", () => {
    const session = after(shop, [text("hi")]);
    const r = run(shop, session, tap("agent", "Talk to us"), T0 + 9000);
    expect(r.effects).toEqual([
      { kind: "send_text", text: "Connecting you to a person." },
      { kind: "handoff", note: "Asked about Talk to us" },
    ]);
    expect(r.session).toMatchObject({ state: "human", handedOff: true, updatedAt: T0 + 9000 });
  });
});

describe("answers and variables", () => {
  it("when a button is tapped, then its title is captured and its transition taken", () => {
    const session = after(shop, [text("hi")]);
    const r = run(shop, session, tap("orders", "My orders"));
    expect(r.outcome).toBe("answered");
    expect(r.session).toMatchObject({ state: "ask_email", variables: { topic: "My orders" }, retries: 0 });
  });

  it("when the customer types a button's title, then it counts as tapping that button", () => {
    const session = after(shop, [text("hi")]);
    expect(run(shop, session, text("my ORDERS")).session).toMatchObject({ state: "ask_email", variables: { topic: "My orders" } });
  });

  it("when a list row is picked, then its title is captured and its transition taken", () => {
    const session = after(shop, [text("hi"), tap("products", "Products")]);
    expect(run(shop, session, pick("cat_shoes", "Shoes")).session).toMatchObject({ state: "more", variables: { topic: "Products", category: "Shoes" } });
  });

  it("when an answer holds a transition's keyword or matches its regex, then that transition is taken", () => {
    const waiting = after(shop, [text("hi"), tap("products", "Products"), pick("cat_shoes", "Shoes")]);
    expect(run(shop, waiting, text("Nope, thanks")).effects).toEqual([{ kind: "send_text", text: "Bye Ana" }]);
    expect(run(shop, waiting, text("Sim, quero mais")).session?.state).toBe("welcome");
  });

  it("when a captured answer holds a placeholder, then it is sent as typed, never filled", () => {
    const session = after(shop, [text("hi"), tap("orders", "My orders")]);
    const tricky = { ...session!, variables: { ...session!.variables, topic: "{{customer_phone}}" } };
    expect(run(shop, tricky, text("a@b.co")).effects[0]).toEqual({ kind: "send_text", text: "Thanks! We will write to a@b.co about {{customer_phone}}." });
  });

  it("when the customer's name is not known, then customer_name is empty", () => {
    expect(run(shop, undefined, text("hi"), T0, {}).effects[0]).toEqual({ kind: "send_text", text: "Hello !" });
  });

  /** A flow that asks one question with a validation and echoes the answer. */
  const validated = (validation: unknown) =>
    parseFlow({
      name: "v",
      version: 1,
      triggers: [{ type: "keyword", words: ["go"] }],
      start: "q",
      states: { q: { actions: [{ type: "ask", text: "?", variable: "v", validation }], transitions: [{ on: "any", to: "done" }] }, done: { actions: [{ type: "reply_text", text: "got {{v}}" }] } },
    });

  it.each([
    [{ type: "email" }, "ana.silva+shop@example.pt", "ana@example"],
    [{ type: "number" }, "12,5", "twelve"],
    [{ type: "phone" }, "+351 912 345 678", "(12) 34"],
    [{ type: "regex", pattern: "^[A-Z]{2}\\d{4}$" }, "pt1234", "PT12345"],
  ])("when the ask validates %o, then a valid answer is captured and an invalid one asked again", (validation, good, badAnswer) => {
    const flow = validated(validation);
    const waiting = after(flow, [text("go")]);
    expect(run(flow, waiting, text(good)).effects).toEqual([{ kind: "send_text", text: `got ${good}` }]);
    const r = run(flow, waiting, text(badAnswer));
    expect(r.outcome).toBe("asked_again");
    expect(r.session?.variables).toEqual({});
  });
});

describe("re-asking and else", () => {
  it("when an answer matches nothing, then the retry text is sent and the question asked again, once", () => {
    const session = after(shop, [text("hi")]);
    const r = run(shop, session, text("blue"), T0 + 2000);
    expect(r.outcome).toBe("asked_again");
    expect(r.effects[0]).toEqual({ kind: "send_text", text: "Please pick one of the buttons." });
    expect(r.effects[1]).toMatchObject({ kind: "send_interactive", body: "How can we help?" });
    expect(r.session).toMatchObject({ state: "welcome", retries: 1, updatedAt: T0 + 2000 });
  });

  it("when the second answer matches nothing either, then the else transition is taken", () => {
    const session = after(shop, [text("hi"), text("blue")]);
    const r = run(shop, session, text("green"));
    expect(r.outcome).toBe("fell_to_else");
    expect(r.effects).toEqual([{ kind: "send_text", text: "Bye Ana" }]);
    expect(r.session).toBeUndefined();
  });

  it("when there is no else, then after the re-ask the session stays, silent", () => {
    const session = after(shop, [text("hi"), tap("products", "Products"), text("socks")]);
    expect(session).toMatchObject({ state: "catalog", retries: 1 });
    const r = run(shop, session, text("hats"), T0 + 60_000);
    expect(r).toEqual({ outcome: "stayed", effects: [], session: { ...session, updatedAt: T0 + 60_000 } });
  });

  it("when an email fails validation, then the retry text explains and the question is asked again", () => {
    const session = after(shop, [text("hi"), tap("orders", "My orders")]);
    expect(run(shop, session, text("not an email")).effects).toEqual([
      { kind: "send_text", text: "That does not look like an email." },
      { kind: "send_text", text: "Your email, Ana?" },
    ]);
  });

  it("when an old question's button or a bare photo arrives, then it is not an answer", () => {
    const session = after(shop, [text("hi"), tap("products", "Products")]);
    expect(run(shop, session, tap("orders", "My orders")).outcome).toBe("asked_again");
    expect(run(shop, session, { kind: "media", media: "image" }).outcome).toBe("asked_again");
    const typing = after(shop, [text("hi"), tap("orders", "My orders")]);
    expect(run(shop, typing, tap("agent", "Talk to us")).outcome).toBe("asked_again");
  });

  it("when an unmatched answer matches a trigger, then the flow restarts there and keeps the variables", () => {
    const session = after(shop, [text("hi"), tap("products", "Products")]);
    const r = run(shop, session, text("main menu"));
    expect(r.outcome).toBe("started");
    expect(r.session).toMatchObject({ state: "welcome", variables: { topic: "Products" }, retries: 0 });
  });
});

describe("handoff", () => {
  const handedOff = after(shop, [text("hi"), tap("agent", "Talk to us")])!;

  it("when the conversation is handed off, then no message, not even a trigger or an FAQ question, gets an answer", () => {
    for (const e of [text("hi"), text("What are your opening hours?"), tap("promo_optin", "Yes"), text("x", { first: true })]) {
      expect(run(shop, handedOff, e, T0 + 3 * SESSION_IDLE_TIMEOUT_MS)).toEqual({ session: handedOff, effects: [], outcome: "handed_off" });
    }
  });

  it("when an agent resets the conversation, then the session ends and the next message is handled afresh", () => {
    const reset = run(shop, handedOff, { kind: "reset" });
    expect(reset).toEqual({ session: undefined, effects: [], outcome: "reset" });
    expect(run(shop, reset.session, text("hi")).session?.state).toBe("welcome");
  });
});

describe("versions", () => {
  const v2 = parseFlow(
    shopDefinition((d) => {
      d.version = 2;
      d.states.welcome = { actions: [{ type: "ask", text: "What brings you here?", variable: "topic", buttons: [{ id: "orders", title: "Orders" }] }], transitions: [{ on: "button", id: "orders", to: "orders_v2" }] };
      d.states.orders_v2 = { actions: [{ type: "reply_text", text: "Orders are on the web now." }] };
    }),
  );

  it("when v2 is saved while a conversation runs on v1, then the conversation keeps v1's states", () => {
    const onV1 = after(shop, [text("hi")])!;
    const flow = pickFlow([shop, v2], onV1, T0 + 1000)!;
    expect(flow.version).toBe(1);
    const r = run(flow, onV1, tap("orders", "My orders"), T0 + 1000);
    expect(r.session).toMatchObject({ version: 1, state: "ask_email" });
    expect(r.effects).toEqual([{ kind: "send_text", text: "Your email, Ana?" }]);
  });

  it("when a new conversation starts, then it runs on the latest version", () => {
    const flow = pickFlow([v2, shop], undefined, T0)!;
    expect(flow.version).toBe(2);
    const r = run(flow, undefined, text("hi"));
    expect(r.session).toMatchObject({ version: 2, state: "welcome" });
    expect(r.effects).toEqual([{ kind: "send_interactive", body: "What brings you here?", buttons: [{ id: "orders", title: "Orders" }] }]);
  });

  it("when the session's version is no longer stored or the session idled out, then the latest version runs and the old session counts as none", () => {
    const onV1 = after(shop, [text("hi")])!;
    expect(pickFlow([v2], onV1, T0)!.version).toBe(2);
    expect(pickFlow([shop, v2], onV1, onV1.updatedAt + SESSION_IDLE_TIMEOUT_MS)!.version).toBe(2);
    expect(run(v2, onV1, tap("orders", "My orders"))).toEqual({ session: undefined, effects: [], outcome: "ignored" });
    expect(run(shop, onV1, tap("orders", "My orders"), onV1.updatedAt + SESSION_IDLE_TIMEOUT_MS).outcome).toBe("ignored");
  });

  it("when a handed-off session's version is gone, then its own version is kept no longer but it stays handed off", () => {
    const handedOff = after(shop, [text("hi"), tap("agent", "Talk to us")])!;
    expect(pickFlow([shop, v2], handedOff, T0 + 10 * SESSION_IDLE_TIMEOUT_MS)!.version).toBe(1);
    expect(run(v2, handedOff, text("hi")).outcome).toBe("handed_off");
  });

  it("when no version is stored, then there is no flow", () => {
    expect(pickFlow([], undefined, T0)).toBeUndefined();
  });
});

describe("the responder", () => {
  it("when no trigger matches and there is no session, then the FAQ answers a question it knows", () => {
    const r = run(shop, undefined, text("when do you open on saturday?"));
    expect(r).toEqual({ session: undefined, effects: [{ kind: "send_text", text: "Mon–Sat, 9:00–18:00." }], outcome: "faq" });
    expect(run(shop, undefined, { kind: "media", media: "image", caption: "Do you deliver to Lisbon?" }).effects).toEqual([{ kind: "send_text", text: "Yes, within 2 days." }]);
  });

  it("when the FAQ knows nothing close, then nothing is sent", () => {
    expect(run(shop, undefined, text("my parcel arrived broken"))).toEqual({ session: undefined, effects: [], outcome: "ignored" });
  });

  it("when another responder answers, then its answer is sent only at or above the least confidence", () => {
    const sure: Responder = { answer: () => ({ text: "From the model", confidence: 0.8 }) };
    expect(run(shop, undefined, text("anything"), T0, { responder: sure }).effects).toEqual([{ kind: "send_text", text: "From the model" }]);
    expect(run(shop, undefined, text("anything"), T0, { responder: sure, minConfidence: 0.81 }).outcome).toBe("ignored");
    const unsure: Responder = { answer: () => ({ text: "Maybe", confidence: 0.2 }) };
    expect(run(shop, undefined, text("anything"), T0, { responder: unsure }).outcome).toBe("ignored");
  });

  it("when a session waits for an answer or the flow has no FAQ, then the responder is not asked", () => {
    let asked = 0;
    const counting: Responder = {
      answer: () => {
        asked++;
        return { text: "x", confidence: 1 };
      },
    };
    const waiting = after(shop, [text("hi")]);
    run(shop, waiting, text("What are your opening hours?"), T0, { responder: counting });
    run(parseFlow({ ...shopDefinition(), faq: [] }), undefined, text("What are your opening hours?"), T0, { responder: counting });
    expect(asked).toBe(0);
  });
});

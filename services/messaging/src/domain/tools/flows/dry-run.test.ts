import { describe, expect, it } from "vitest";
import { parseFlow } from "./definition.js";
import { dryRun } from "./dry-run.js";

const T0 = Date.UTC(2026, 0, 10, 9, 30);

const flow = parseFlow({
  name: "booking",
  version: 3,
  triggers: [{ type: "keyword", words: ["book", "reservar"] }],
  start: "when",
  states: {
    when: {
      actions: [{ type: "ask", text: "Lunch or dinner, {{customer_name}}?", variable: "slot", buttons: [{ id: "lunch", title: "Lunch" }, { id: "dinner", title: "Dinner" }] }],
      transitions: [
        { on: "button", id: "lunch", to: "people" },
        { on: "button", id: "dinner", to: "people" },
        { on: "else", to: "human" },
      ],
    },
    people: { actions: [{ type: "ask", text: "How many people?", variable: "people", validation: { type: "number" }, retryText: "A number, please." }], transitions: [{ on: "any", to: "done" }] },
    done: {
      actions: [
        { type: "reply_text", text: "{{slot}} for {{people}}: booked." },
        { type: "webhook", url: "https://book.example.com/hook", payload: { slot: "{{slot}}", people: "{{people}}" } },
      ],
    },
    human: { actions: [{ type: "handoff" }] },
  },
  faq: [{ question: "Do you have vegan dishes?", answer: "Yes, three." }],
});

describe("dryRun", () => {
  it("when a five-message transcript runs, then each step shows the state, the effects and why", () => {
    const steps = dryRun(
      flow,
      [
        { kind: "text", text: "Do you have vegan dishes?" },
        { kind: "text", text: "I'd like to book" },
        { kind: "button_reply", id: "dinner", title: "Dinner" },
        { kind: "text", text: "four" },
        { kind: "text", text: "4" },
      ],
      T0,
      { customer: { name: "Rui" } },
    );
    expect(steps.map((s) => [s.outcome, s.state])).toEqual([
      ["faq", undefined],
      ["started", "when"],
      ["answered", "people"],
      ["asked_again", "people"],
      ["answered", undefined],
    ]);
    expect(steps.map((s) => s.effects)).toEqual([
      [{ kind: "send_text", text: "Yes, three." }],
      [{ kind: "send_interactive", body: "Lunch or dinner, Rui?", buttons: [{ id: "lunch", title: "Lunch" }, { id: "dinner", title: "Dinner" }] }],
      [{ kind: "send_text", text: "How many people?" }],
      [
        { kind: "send_text", text: "A number, please." },
        { kind: "send_text", text: "How many people?" },
      ],
      [
        { kind: "send_text", text: "Dinner for 4: booked." },
        { kind: "call_webhook", url: "https://book.example.com/hook", timeoutMs: 5000, call: { flow: "booking", version: 3, state: "done", variables: { slot: "Dinner", people: "4" }, data: { slot: "Dinner", people: "4" } } },
      ],
    ]);
    expect(steps[3]!.session).toMatchObject({ version: 3, variables: { slot: "Dinner" }, retries: 1 });
  });

  it("when the transcript ends in a handoff, then later messages show the silence until a reset", () => {
    const steps = dryRun(flow, [{ kind: "text", text: "book" }, { kind: "text", text: "?" }, { kind: "text", text: "??" }, { kind: "text", text: "book" }, { kind: "reset" }, { kind: "text", text: "book" }], T0);
    expect(steps.map((s) => s.outcome)).toEqual(["started", "asked_again", "fell_to_else", "handed_off", "reset", "started"]);
    expect(steps[2]!.effects).toEqual([{ kind: "handoff" }]);
    expect(steps[3]!.effects).toEqual([]);
  });
});

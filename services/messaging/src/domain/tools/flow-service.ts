import { InvalidInput, NotFound } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { parseFlow, unreachableStates, type Flow } from "./flows/definition.js";
import { dryRun } from "./flows/dry-run.js";
import { pickFlow, step, type CustomerMessage, type Effect, type InboundEvent, type Session, type StepOutcome } from "./flows/engine.js";

/** A flow version as stored. */
export interface StoredFlow {
  flow: Flow;
  createdAt: Date;
}

/** The flows' store; `T` is the transaction handle the consumer's once() passes (the store's own when omitted). */
export interface FlowStore<T = unknown> {
  /** Stores the next version of the flow's name under the name's lock; the secret is kept from the first version. */
  save(businessId: string, build: (version: number) => Flow, newSecret: string, at: Date): Promise<{ stored: StoredFlow; secret: string }>;
  latest(businessId: string, trx?: T): Promise<StoredFlow[]>;
  versions(businessId: string, name: string, trx?: T): Promise<Flow[]>;
  remove(businessId: string, name: string, at: Date): Promise<boolean>;
  secret(businessId: string, name: string): Promise<string | undefined>;
  session(conversationId: string, trx?: T): Promise<Session | undefined>;
  saveSession(conversationId: string, businessId: string, session: Session | undefined, at: Date, trx?: T): Promise<void>;
}

/** One customer message as the flows see it. */
export interface InboundForFlows {
  eventId: string;
  businessId: string;
  phoneNumberId: string;
  customerId: string;
  conversationId: string;
  event: CustomerMessage;
  customer: { name?: string; phone?: string };
}

/** Carries out a step's effects for a conversation (sends through the send path, labels, webhook calls); the events layer implements it. */
export interface EffectRunner {
  run(target: InboundForFlows, flowName: string, effects: Effect[]): Promise<void>;
}

export interface FlowPorts<T = unknown> {
  store: FlowStore<T>;
  effects: EffectRunner;
  now: () => number;
  newSecret: () => string;
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidInput(field, "must be JSON");
  }
}

/**
 * Chatbot flows of a business (issue 17 item 4): definitions saved as
 * versions, a dry run over a transcript, and the step each customer message
 * takes (the engine in flows/, pure; this use case loads and stores).
 */
export function createFlowService<T>(ports: FlowPorts<T>) {
  const { store } = ports;

  /** The step for a message: the session's flow (its version) first, else the first flow (by name) whose trigger matches. */
  async function decide(m: InboundForFlows, trx: T | undefined): Promise<{ flowName: string; session: Session | undefined; effects: Effect[]; outcome: StepOutcome } | undefined> {
    const now = ports.now();
    const current = await store.session(m.conversationId, trx);
    const options = { customer: m.customer };
    if (current) {
      const flow = pickFlow(await store.versions(m.businessId, current.flowName, trx), current, now);
      if (flow) {
        const r = step(flow, current, m.event, now, options);
        if (r.outcome !== "ignored") return { flowName: flow.name, ...r };
      }
    }
    for (const { flow } of await store.latest(m.businessId, trx)) {
      if (current && flow.name === current.flowName) continue;
      const r = step(flow, undefined, m.event, now, options);
      if (r.outcome !== "ignored") return { flowName: flow.name, ...r };
    }
    // A session whose flow is gone (or went idle) ends.
    return current ? { flowName: current.flowName, session: undefined, effects: [], outcome: "ignored" } : undefined;
  }

  return {
    async save(businessId: string, definitionJson: string) {
      const draft = parseJson(definitionJson, "definition_json");
      if (typeof draft !== "object" || draft === null || Array.isArray(draft)) throw new InvalidInput("definition_json", "must be a JSON object");
      // Validated once before storing (version 1 stands in), and again with the real version.
      parseFlow({ ...draft, version: 1 });
      const { stored, secret } = await store.save(businessId, (version) => parseFlow({ ...draft, version }), ports.newSecret(), new Date(ports.now()));
      return { stored, secret, unreachable: unreachableStates(stored.flow) };
    },

    list: (businessId: string) => store.latest(businessId),

    async remove(businessId: string, name: string): Promise<void> {
      if (!name) throw new InvalidInput("name", "is required");
      if (!(await store.remove(businessId, name, new Date(ports.now())))) throw new NotFound("flow");
    },

    dryRun(definitionJson: string, transcript: InboundEvent[]) {
      const flow = parseFlow({ ...(parseJson(definitionJson, "definition_json") as object), version: 1 });
      return dryRun(flow, transcript, ports.now());
    },

    /** An agent gives a conversation the flow handed to a human back to the bot: its session ends. */
    async handBack(businessId: string, conversationId: string, owns: (conversationId: string) => Promise<boolean>): Promise<void> {
      if (!isUuid(conversationId)) throw new InvalidInput("conversation_id", "must be a conversation id");
      if (!(await owns(conversationId))) throw new NotFound("conversation");
      await store.saveSession(conversationId, businessId, undefined, new Date(ports.now()));
    },

    /**
     * A customer message: the step, its effects carried out, then the
     * session stored — all inside the consumer's once() transaction `trx`.
     * The effects' sends carry client ids derived from the event, so a
     * redelivery after a crash before the commit sends nothing twice.
     */
    async onInbound(m: InboundForFlows, trx: T): Promise<StepOutcome | undefined> {
      const decided = await decide(m, trx);
      if (!decided) return undefined;
      if (decided.effects.length > 0) await ports.effects.run(m, decided.flowName, decided.effects);
      await store.saveSession(m.conversationId, m.businessId, decided.session, new Date(ports.now()), trx);
      return decided.outcome;
    },
  };
}

export type FlowService<T = unknown> = ReturnType<typeof createFlowService<T>>;

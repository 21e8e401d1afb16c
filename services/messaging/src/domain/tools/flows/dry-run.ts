import type { Flow } from "./definition.js";
import { step, type Effect, type InboundEvent, type Session, type StepOptions, type StepOutcome } from "./engine.js";

/** One message of a dry run: what the bot would do, and where the conversation is after it. */
export interface DryRunStep {
  event: InboundEvent;
  /** The state the session waits in (or handed off in) after the message; undefined when no flow runs. */
  state: string | undefined;
  effects: Effect[];
  outcome: StepOutcome;
  /** The session after the message, variables included. */
  session: Session | undefined;
}

/**
 * Runs a transcript of customer messages through a flow, as the console's
 * "test this flow" does: nothing is sent or stored. Every message is taken
 * at `now` (so no session goes idle), one after the other.
 */
export function dryRun(flow: Flow, transcript: readonly InboundEvent[], now: number, options: StepOptions = {}): DryRunStep[] {
  let session: Session | undefined;
  return transcript.map((event) => {
    const result = step(flow, session, event, now, options);
    session = result.session;
    return { event, state: session?.state, effects: result.effects, outcome: result.outcome, session };
  });
}

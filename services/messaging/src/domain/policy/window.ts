import { DAY_MS } from "./clock.js";
import { refuse, type Refusal } from "./refusals.js";

/** Customer service window (Cloud API §9.1): 24 h from the customer's last inbound message, reset by each one. */
export const SERVICE_WINDOW_MS = DAY_MS;
/** Free entry point: 72 h from the business's first reply to a customer who came through a click-to-chat referral. */
export const FREE_ENTRY_MS = 3 * DAY_MS;
/** The business must make that first reply within 24 h of the referral message for the free entry point to open. */
export const FREE_ENTRY_REPLY_MS = DAY_MS;

/**
 * The windows of one conversation (business number × customer), in epoch ms;
 * 0 means never. A window is open strictly before its `…Until` instant: an
 * inbound at T keeps free-form sends allowed through T + 24 h − 1 ms.
 */
export interface WindowState {
  readonly serviceOpenUntil: number;
  /** A reply before this instant opens the free entry point (last referral + 24 h, until it is used). */
  readonly referralReplyBy: number;
  readonly freeEntryOpenUntil: number;
}

export const NO_WINDOW: WindowState = Object.freeze({ serviceOpenUntil: 0, referralReplyBy: 0, freeEntryOpenUntil: 0 });

/**
 * The windows after an inbound message (or call, or `request_welcome`) at `at`.
 * Never shrinks them: an older inbound delivered late changes nothing.
 */
export function afterInbound(state: WindowState, at: number, fromReferral: boolean): WindowState {
  const serviceOpenUntil = Math.max(state.serviceOpenUntil, at + SERVICE_WINDOW_MS);
  const referralReplyBy = fromReferral ? Math.max(state.referralReplyBy, at + FREE_ENTRY_REPLY_MS) : state.referralReplyBy;
  if (serviceOpenUntil === state.serviceOpenUntil && referralReplyBy === state.referralReplyBy) return state;
  return { serviceOpenUntil, referralReplyBy, freeEntryOpenUntil: state.freeEntryOpenUntil };
}

/**
 * The windows after the business sent at `at`: its first reply to a referral,
 * in time and while no free entry point is open, opens one for 72 h. Returns
 * the same object when nothing changes (every other send).
 */
export function afterBusinessSend(state: WindowState, at: number): WindowState {
  if (at >= state.referralReplyBy || at < state.freeEntryOpenUntil) return state;
  return { serviceOpenUntil: state.serviceOpenUntil, referralReplyBy: 0, freeEntryOpenUntil: at + FREE_ENTRY_MS };
}

export function serviceWindowOpen(state: WindowState, now: number): boolean {
  return now < state.serviceOpenUntil;
}

/** Inside a free entry point every message is free, marketing templates included (a pricing fact; it allows no free-form send). */
export function freeEntryOpen(state: WindowState, now: number): boolean {
  return now < state.freeEntryOpenUntil;
}

/**
 * May the business send now? A template always passes this rule (whether it
 * is approved is the template rule's); a free-form message only inside the
 * customer service window, else 131047. Inside a free entry point but outside
 * the service window a free-form message is refused too: the Cloud API lets
 * the service window govern non-template sends there.
 */
export function checkWindow(state: WindowState, now: number, template: boolean): Refusal | undefined {
  if (template || now < state.serviceOpenUntil) return undefined;
  return refuse.outsideWindow();
}

import { MessageStatus } from "@kontor/proto/messaging/v1/message";

/**
 * Statuses only move forward: ACCEPTED → SENT → DELIVERED → READ, and FAILED
 * is reachable only before DELIVERED. The enum numbers are stored as-is.
 */
export function canMove(from: MessageStatus, to: MessageStatus): boolean {
  if (to === MessageStatus.MESSAGE_STATUS_FAILED) return from === MessageStatus.MESSAGE_STATUS_ACCEPTED || from === MessageStatus.MESSAGE_STATUS_SENT;
  if (from === MessageStatus.MESSAGE_STATUS_FAILED) return false;
  return to > from;
}

/** Content type codes stored with each row (the body itself is encrypted). */
export const contentCodes = {
  text: 1,
  media: 2,
  location: 3,
  contacts: 4,
  reaction: 5,
  interactive: 6,
  template: 7,
  order: 8,
  paymentRequest: 9,
  system: 10,
} as const;

export type ContentCase = keyof typeof contentCodes;

export const contentNames: Record<number, string> = {
  1: "text",
  2: "media",
  3: "location",
  4: "contacts",
  5: "reaction",
  6: "interactive",
  7: "template",
  8: "order",
  9: "payment_request",
  10: "system",
};

import { OverLimit, PolicyRefused, type KontorError } from "@kontor/service-kit/errors";

/**
 * Every refusal a policy rule makes, as the kit's error classes: the class
 * gives the gRPC code (PolicyRefused → FAILED_PRECONDITION, OverLimit →
 * RESOURCE_EXHAUSTED), the reason and Cloud API code go into the standard
 * details. Rules return `undefined` when they allow, so only a refusal
 * builds one of these.
 */
export type Refusal = PolicyRefused | OverLimit;

export const REASONS = {
  outsideWindow: "OUTSIDE_CUSTOMER_SERVICE_WINDOW",
  marketingOptedOut: "MARKETING_OPTED_OUT",
  marketingNotOptedIn: "MARKETING_OPT_IN_MISSING",
  throughput: "THROUGHPUT_LIMIT",
  pairRate: "PAIR_RATE_LIMIT",
  messagingLimit: "MESSAGING_LIMIT_REACHED",
  templatePaused: "TEMPLATE_PAUSED",
  templateDisabled: "TEMPLATE_DISABLED",
} as const;

export const CLOUD_API_CODES = {
  reEngagement: 131047,
  marketingStopped: 131050,
  throughput: 130429,
  pairRate: 131056,
  spamRateLimit: 131048,
  templatePaused: 132015,
  templateDisabled: 132016,
} as const;

/**
 * A refusal is a decision, not a fault: its stack trace says nothing and
 * capturing one is most of an Error's cost, so a flood of refused sends is
 * built without it.
 */
export function withoutStack<E extends KontorError>(build: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return build();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function withRetry<E extends KontorError>(err: E, retryAfterMs: number): E {
  err.metadata.retry_after_ms = String(Math.max(0, Math.ceil(retryAfterMs)));
  return err;
}

export const refuse = {
  outsideWindow: (): Refusal =>
    withoutStack(
      () =>
        new PolicyRefused(
          REASONS.outsideWindow,
          "Message failed to send because more than 24 hours have passed since the customer last replied to this number; send an approved template",
          CLOUD_API_CODES.reEngagement,
        ),
    ),
  marketingOptedOut: (): Refusal =>
    withoutStack(() => new PolicyRefused(REASONS.marketingOptedOut, "the customer has stopped marketing messages from this business", CLOUD_API_CODES.marketingStopped)),
  marketingNotOptedIn: (): Refusal =>
    withoutStack(() => new PolicyRefused(REASONS.marketingNotOptedIn, "the customer has no recorded marketing opt-in for this business", CLOUD_API_CODES.marketingStopped)),
  throughput: (retryAfterMs: number): Refusal =>
    withRetry(
      withoutStack(() => new OverLimit(REASONS.throughput, "the business number's messages-per-second throughput is used up; retry shortly", CLOUD_API_CODES.throughput)),
      retryAfterMs,
    ),
  pairRate: (retryAfterMs: number): Refusal =>
    withRetry(
      withoutStack(() => new OverLimit(REASONS.pairRate, "too many messages from this business number to this customer; wait before sending again", CLOUD_API_CODES.pairRate)),
      retryAfterMs,
    ),
  messagingLimit: (tier: string, limit: number): Refusal => {
    const err = withoutStack(
      () =>
        new OverLimit(
          REASONS.messagingLimit,
          `the business reached its messaging limit of ${limit} unique customers in 24 hours for business-initiated conversations`,
          CLOUD_API_CODES.spamRateLimit,
        ),
    );
    err.metadata.tier = tier;
    return err;
  },
  templatePaused: (until: number): Refusal => {
    const err = withoutStack(() => new PolicyRefused(REASONS.templatePaused, "the template is paused for low quality", CLOUD_API_CODES.templatePaused));
    err.metadata.paused_until = new Date(until).toISOString();
    return err;
  },
  templateDisabled: (): Refusal =>
    withoutStack(() => new PolicyRefused(REASONS.templateDisabled, "the template is disabled after repeated pauses for low quality", CLOUD_API_CODES.templateDisabled)),
};

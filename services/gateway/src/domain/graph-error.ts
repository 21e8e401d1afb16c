import { randomBytes } from "node:crypto";

/**
 * Graph API errors (cloud-api.md §2): the JSON a Cloud API client reads, and
 * the one table that turns a service's gRPC status (code + the standard
 * details: ErrorInfo reason, metadata.cloud_api_code, field) into it.
 */

/** One row per Cloud API code the gateway emits: the title in `message` and the HTTP status (§2.3). */
export const GRAPH_CODES: Readonly<Record<number, { title: string; http: number }>> = {
  0: { title: "AuthException", http: 401 },
  1: { title: "API Unknown", http: 400 },
  2: { title: "API Service", http: 503 },
  3: { title: "API Method", http: 500 },
  4: { title: "API Too Many Calls", http: 400 },
  10: { title: "Permission Denied", http: 403 },
  33: { title: "Parameter value is not valid", http: 400 },
  100: { title: "Invalid parameter", http: 400 },
  190: { title: "Access token has expired", http: 401 },
  200: { title: "API Permission", http: 403 },
  368: { title: "Temporarily blocked for policies violations", http: 403 },
  80007: { title: "Rate limit issues", http: 400 },
  130429: { title: "Rate limit hit", http: 400 },
  130472: { title: "User's number is part of an experiment", http: 400 },
  130497: { title: "Business account is restricted from messaging users in this country", http: 403 },
  131000: { title: "Something went wrong", http: 500 },
  131005: { title: "Access denied", http: 403 },
  131008: { title: "Required parameter is missing", http: 400 },
  131009: { title: "Parameter value is not valid", http: 400 },
  131016: { title: "Service unavailable", http: 500 },
  131021: { title: "Recipient cannot be sender", http: 400 },
  131026: { title: "Message Undeliverable", http: 400 },
  131031: { title: "Account has been locked", http: 403 },
  131042: { title: "Business eligibility payment issue", http: 400 },
  131047: { title: "Re-engagement message", http: 400 },
  131048: { title: "Spam rate limit hit", http: 400 },
  131049: { title: "Meta chose not to deliver", http: 400 },
  131050: { title: "User has stopped receipt of marketing messages", http: 400 },
  131051: { title: "Unsupported message type", http: 400 },
  131053: { title: "Media upload error", http: 400 },
  131056: { title: "(Business Account, Consumer Account) pair rate limit hit", http: 400 },
  131057: { title: "Account in maintenance mode", http: 500 },
  131059: { title: "Invalid pagination cursor", http: 400 },
  132000: { title: "Template Param Count Mismatch", http: 400 },
  132001: { title: "Template does not exist", http: 404 },
  132005: { title: "Template Hydrated Text Too Long", http: 400 },
  132007: { title: "Template Format Character Policy Violated", http: 400 },
  132012: { title: "Template Parameter Format Mismatch", http: 400 },
  132015: { title: "Template is Paused", http: 400 },
  132016: { title: "Template is Disabled", http: 400 },
  132018: { title: "Template parameter invalid", http: 400 },
  133010: { title: "Phone number Not Registered", http: 400 },
  139100: { title: "Failed to block/unblock users", http: 400 },
  139101: { title: "Blocklist limit reached", http: 400 },
  139102: { title: "Blocklist concurrent update", http: 400 },
  139103: { title: "Internal error", http: 500 },
  2388019: { title: "Message Template Limit Exceeded", http: 400 },
  2388040: { title: "Template character limit exceeded", http: 400 },
  2388047: { title: "Template format is not valid", http: 400 },
  2388293: { title: "Too many parameters for the message length", http: 400 },
  2388299: { title: "Leading or trailing parameters are not allowed", http: 400 },
};

/** What a Cloud API client reads back on every failure (§2.1). */
export interface GraphErrorBody {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    error_data: { messaging_product: "whatsapp"; details: string };
    fbtrace_id: string;
  };
}

/** A refusal in Graph terms; `toBody()` is the exact JSON, `http` its status. */
export class GraphError extends Error {
  readonly http: number;
  constructor(
    readonly code: number,
    readonly details: string,
    options: { type?: string; http?: number; subcode?: number } = {},
  ) {
    super(`(#${code}) ${titleOf(code)}`);
    this.name = "GraphError";
    this.type = options.type ?? "OAuthException";
    this.http = options.http ?? GRAPH_CODES[code]?.http ?? 400;
    this.subcode = options.subcode;
  }
  readonly type: string;
  readonly subcode: number | undefined;

  toBody(): GraphErrorBody {
    return {
      error: {
        message: this.message,
        type: this.type,
        code: this.code,
        ...(this.subcode !== undefined ? { error_subcode: this.subcode } : {}),
        error_data: { messaging_product: "whatsapp", details: this.details },
        fbtrace_id: fbtraceId(),
      },
    };
  }
}

export function titleOf(code: number): string {
  return GRAPH_CODES[code]?.title ?? "API Unknown";
}

/** Graph's trace ids: 23 url-safe characters, random per response. */
export function fbtraceId(): string {
  return randomBytes(17).toString("base64url").slice(0, 23);
}

/** Bad or missing parameter (#100), naming it the way the client sent it. */
export function invalidParameter(param: string, problem: string): GraphError {
  return new GraphError(100, `Parameter ${param} ${problem}`);
}

/**
 * An id the token cannot see: the same answer whether it does not exist or
 * belongs to someone else, so ids of other partners reveal nothing.
 */
export function unknownObject(id: string, method: string): GraphError {
  return new GraphError(
    100,
    `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    { type: "GraphMethodException", subcode: 33 },
  );
}

export const missingToken = () => new GraphError(190, "An access token is required to request this resource.", { http: 401 });
export const badToken = () => new GraphError(190, "Invalid OAuth access token - Cannot parse access token", { http: 401 });
export const expiredToken = () => new GraphError(190, "Error validating access token: Session has expired.", { http: 401 });
export const revokedToken = () => new GraphError(190, "Error validating access token: The session has been invalidated.", { http: 401 });
export const missingPermission = (permission: string) => new GraphError(10, `Application does not have permission for this action: ${permission} is required.`);

/** The gRPC status codes the table reads (grpc-js `status`, copied so domain/ needs no transport import). */
export const GRPC = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** What a failed call to a service says, decoded from its status and grpc-status-details-bin. */
export interface ServiceFailure {
  grpcCode: number;
  /** The service's message (safe for callers: domain errors never carry SQL or stacks). */
  message: string;
  reason: string;
  /** ErrorInfo.metadata.cloud_api_code, 0 when none. */
  cloudApiCode: number;
  /** The offending proto field (ErrorInfo.metadata.field or the first FieldViolation), "" when none. */
  field: string;
  /** Describes the violation without the field prefix, when one was named. */
  fieldDescription: string;
}

/** Translates a service's proto field path into the Cloud API parameter the client sent. */
export type FieldNamer = (protoField: string) => string;

/** Details for a code the table maps by reason, never from a service's free text. */
const SAFE_DETAILS: Record<number, string> = {
  131047: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
  131056: "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
  130429: "Message failed to send because there were too many messages sent from this phone number in a short period of time.",
  131048: "Message failed to send because there are restrictions on how many messages can be sent from this phone number.",
  131026: "Message failed to send because the recipient is not reachable on this platform.",
  131050: "Message failed to send because the user has not opted in to, or has stopped, marketing messages from this business.",
  132001: "The template does not exist in the specified language or it has not been approved.",
  132015: "The template is paused because of low quality.",
  132016: "The template has been paused too many times because of low quality and is now disabled.",
  132000: "The number of parameters does not match the number of placeholders in the template.",
};

/** Details for a refusal whose code is shared with others, by the service's stable reason. */
const REASON_DETAILS: Record<string, string> = {
  USER_BLOCKED: "Message failed to send because this business phone number has blocked the user (DELETE block_users to unblock).",
};

/**
 * THE mapping table: a service failure → the Graph error a client gets.
 * In order: a Cloud API code the service attached wins (its title and HTTP
 * status from GRAPH_CODES; bad input names the parameter); otherwise the gRPC
 * code decides. Internal failures never carry the service's message.
 */
export function graphErrorFromFailure(f: ServiceFailure, nameField: FieldNamer = (x) => x, objectId = ""): GraphError {
  const param = f.field ? nameField(f.field) : "";
  const described = param ? `${param}: ${f.fieldDescription || f.message}` : f.message;
  if (f.cloudApiCode && f.cloudApiCode !== 100 && GRAPH_CODES[f.cloudApiCode]) {
    const code = f.cloudApiCode;
    const details = param ? described : ((f.reason && REASON_DETAILS[f.reason]) ?? SAFE_DETAILS[code] ?? f.message);
    return new GraphError(code, details);
  }
  switch (f.grpcCode) {
    case GRPC.INVALID_ARGUMENT:
    case GRPC.OUT_OF_RANGE:
      return param ? new GraphError(100, `Parameter ${described}`) : new GraphError(100, f.message || "Invalid parameter");
    case GRPC.ALREADY_EXISTS:
      return new GraphError(100, param ? `Parameter ${described}` : f.message);
    case GRPC.NOT_FOUND:
      if (param) return new GraphError(100, `Parameter ${described}`);
      return objectId ? unknownObject(objectId, "post") : new GraphError(100, f.message || "The object does not exist");
    case GRPC.PERMISSION_DENIED:
      return new GraphError(200, "The caller does not have permission to access this asset.");
    case GRPC.UNAUTHENTICATED:
      return new GraphError(190, "Error validating access token.");
    case GRPC.FAILED_PRECONDITION:
      return new GraphError(param ? 100 : 131009, param ? `Parameter ${described}` : f.message);
    case GRPC.RESOURCE_EXHAUSTED:
      return new GraphError(4, "Application request limit reached; retry later.");
    case GRPC.UNAVAILABLE:
    case GRPC.DEADLINE_EXCEEDED:
    case GRPC.ABORTED:
    case GRPC.CANCELLED:
      return new GraphError(2, "Service temporarily unavailable; retry later.");
    default:
      return internalError();
  }
}

/** Anything unexpected: code 1, a fixed sentence, never the cause. */
export const internalError = () => new GraphError(1, "An unknown error occurred.");

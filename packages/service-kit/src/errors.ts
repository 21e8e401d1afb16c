import { Metadata, status, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { ErrorDetail } from "@kontor/proto/common/v1/error";
import { Status as RpcStatus } from "@kontor/proto/google/rpc/status";
import { BadRequest, ErrorInfo } from "@kontor/proto/google/rpc/error_details";

/**
 * The one table: error kind → gRPC code → default reason (and a default
 * WhatsApp Cloud API code where one always applies). Every kit error class is
 * one row; toStatus() reads the code from here, never from the class.
 */
export const ERRORS = {
  /** Bad input; the offending field is named. */
  invalid_input: { code: status.INVALID_ARGUMENT, reason: "INVALID_FIELD", cloudApiCode: 100 },
  not_found: { code: status.NOT_FOUND, reason: "NOT_FOUND" },
  already_exists: { code: status.ALREADY_EXISTS, reason: "ALREADY_EXISTS" },
  /** Authenticated, but not allowed for this RPC, resource or tenant. */
  not_yours: { code: status.PERMISSION_DENIED, reason: "PERMISSION_DENIED" },
  unauthenticated: { code: status.UNAUTHENTICATED, reason: "UNAUTHENTICATED" },
  /** A rule refuses the operation (outside the window, not opted in, wrong state). */
  policy_refused: { code: status.FAILED_PRECONDITION, reason: "POLICY_REFUSED" },
  /** Over a rate or quota limit. */
  over_limit: { code: status.RESOURCE_EXHAUSTED, reason: "OVER_LIMIT" },
  concurrent_update: { code: status.ABORTED, reason: "CONCURRENT_UPDATE" },
  dependency_down: { code: status.UNAVAILABLE, reason: "UNAVAILABLE" },
  data_corrupted: { code: status.DATA_LOSS, reason: "DATA_CORRUPTED" },
  /** Anything not a domain error: a generic message, the cause only in the log. */
  internal: { code: status.INTERNAL, reason: "INTERNAL" },
} as const satisfies Record<string, { code: status; reason: string; cloudApiCode?: number }>;

export type ErrorKind = keyof typeof ERRORS;

function row(kind: ErrorKind): { code: status; reason: string; cloudApiCode?: number } {
  return ERRORS[kind];
}

/**
 * Domain errors carry a kind (their row of ERRORS), a stable reason and,
 * where one applies, a Cloud API code; never a transport code of their own.
 */
export abstract class KontorError extends Error {
  /** Each kit class names its row of ERRORS. */
  static readonly kind: ErrorKind = "internal";
  readonly kind: ErrorKind;
  abstract readonly grpcCode: status;
  /** WhatsApp Cloud API code for the gateway, when one applies (e.g. 131047); 0 = none. */
  cloudApiCode: number;
  field = "";
  metadata: Record<string, string> = {};
  /** `cloudApiCode` overrides the row's (undefined keeps it). */
  constructor(
    readonly reason: string,
    message: string,
    cloudApiCode?: number,
  ) {
    super(message);
    this.name = new.target.name;
    this.kind = (new.target as unknown as { kind: ErrorKind }).kind;
    this.cloudApiCode = cloudApiCode ?? row(this.kind).cloudApiCode ?? 0;
  }
}

/** The kit's errors: the gRPC code is the one their row of ERRORS gives. */
abstract class TableError extends KontorError {
  readonly grpcCode: status;
  constructor(reason: string, message: string, cloudApiCode?: number) {
    super(reason, message, cloudApiCode);
    this.grpcCode = row(this.kind).code;
  }
}

const reasonOf = (kind: ErrorKind) => ERRORS[kind].reason;

/** Bad input; `field` is the offending field path ("content.text.body"). Cloud API code 100 unless given. */
export class InvalidInput extends TableError {
  static override readonly kind = "invalid_input";
  constructor(field: string, message: string, reason: string = reasonOf("invalid_input"), cloudApiCode?: number) {
    super(reason, `${field}: ${message}`, cloudApiCode);
    this.field = field;
  }
}

export class NotFound extends TableError {
  static override readonly kind = "not_found";
  constructor(what: string, reason: string = reasonOf("not_found"), cloudApiCode?: number) {
    super(reason, `${what} not found`, cloudApiCode);
  }
}

export class AlreadyExists extends TableError {
  static override readonly kind = "already_exists";
  constructor(what: string, field = "", reason: string = reasonOf("already_exists"), cloudApiCode?: number) {
    super(reason, `${what} already exists`, cloudApiCode);
    this.field = field;
  }
}

/** The caller is authenticated but may not call this RPC or act on this resource/tenant. */
export class NotYours extends TableError {
  static override readonly kind = "not_yours";
  constructor(message = "not allowed for this principal", reason: string = reasonOf("not_yours"), cloudApiCode?: number) {
    super(reason, message, cloudApiCode);
  }
}

export class Unauthenticated extends TableError {
  static override readonly kind = "unauthenticated";
  constructor(message = "a valid principal token is required", reason: string = reasonOf("unauthenticated"), cloudApiCode?: number) {
    super(reason, message, cloudApiCode);
  }
}

/** A rule refuses the operation (outside the window, not opted in, wrong state). */
export class PolicyRefused extends TableError {
  static override readonly kind = "policy_refused";
  constructor(reason: string, message: string, cloudApiCode = 0, field = "") {
    super(reason, message, cloudApiCode);
    this.field = field;
  }
}

/** Over a rate or quota limit; the caller should back off. */
export class OverLimit extends TableError {
  static override readonly kind = "over_limit";
  constructor(reason: string, message: string, cloudApiCode = 0) {
    super(reason, message, cloudApiCode);
  }
}

/** Lost a race (serialization failure, version mismatch): retry the whole operation. */
export class ConcurrentUpdate extends TableError {
  static override readonly kind = "concurrent_update";
  constructor(message = "concurrent update, retry", reason: string = reasonOf("concurrent_update"), cloudApiCode?: number) {
    super(reason, message, cloudApiCode);
  }
}

/** A dependency (database, broker, other service) is down: retry later. */
export class DependencyDown extends TableError {
  static override readonly kind = "dependency_down";
  constructor(message = "a dependency is unavailable, retry later", reason: string = reasonOf("dependency_down"), cloudApiCode?: number) {
    super(reason, message, cloudApiCode);
  }
}

/** Stored data failed its integrity check (a bad GCM tag, a torn row): never reported as "not found" or "erased". */
export class DataCorrupted extends TableError {
  static override readonly kind = "data_corrupted";
  constructor(message = "stored data failed its integrity check", reason: string = reasonOf("data_corrupted")) {
    super(reason, message);
  }
}

/** The project's own detail trailer; read by the gateway until it reads grpc-status-details-bin. */
const ERROR_DETAIL_KEY = "kontor-error-bin";
/** Where gRPC clients in every language look for a google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
const ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo";
const BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest";

function isPgError(err: unknown): err is { code: string; constraint?: string; column?: string; table?: string } {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string" && /^[0-9A-Z]{5}$/.test((err as { code: string }).code);
}

/** What a data exception (SQLSTATE class 22) says about the value, without the value or SQL. */
const DATA_EXCEPTIONS: Record<string, string> = {
  "22001": "is too long",
  "22003": "is out of range",
  "22007": "is not a valid date or time",
  "22008": "is not a valid date or time",
  "22021": "contains a byte sequence that is not valid text",
  "22P02": "has an invalid format",
  "22P05": "contains a character that cannot be stored",
};

/**
 * Translates a PostgreSQL error by SQLSTATE. Constraint names follow
 * `<table>_<field>_<kind>` so the field can be named without leaking SQL.
 * Class 22 (data exceptions) is always the caller's input, never INTERNAL.
 */
export function fromPgError(err: unknown): KontorError | undefined {
  if (!isPgError(err)) return undefined;
  const field = err.column ?? constraintField(err.constraint, err.table);
  if (err.code.startsWith("22")) return new InvalidInput(field || "request", DATA_EXCEPTIONS[err.code] ?? "value rejected by the database");
  switch (err.code) {
    case "23505":
      return new AlreadyExists(field || "record", field);
    case "23503":
      return new NotFound(field ? `referenced ${field}` : "referenced record");
    case "40001":
    case "40P01":
      return new ConcurrentUpdate();
    case "23502":
    case "23514":
      return new InvalidInput(field || "request", "value rejected by a constraint");
    case "57P01":
    case "57P03":
    case "08006":
    case "08001":
    case "08003":
      return new DependencyDown();
    default:
      return undefined;
  }
}

/** Socket errors on the way to PostgreSQL (or another server). */
const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND"]);

/**
 * A database that cannot be reached now, or a pool with no free connection
 * within its wait (node-postgres's "timeout exceeded when trying to
 * connect"): UNAVAILABLE, which clients retry (sends with their client id),
 * not INTERNAL.
 */
export function fromConnectionError(err: unknown): KontorError | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return new DependencyDown();
  if (err.message === "timeout exceeded when trying to connect" || err.message === "Connection terminated unexpectedly") return new DependencyDown();
  return undefined;
}

/** `<table>_<field>_<kind>` → field; the table comes from the error so multi-word tables work. */
function constraintField(constraint: string | undefined, table: string | undefined): string {
  if (!constraint) return "";
  const rest = table && constraint.startsWith(`${table}_`) ? constraint.slice(table.length + 1) : constraint.replace(/^[a-z0-9]+_/, "");
  const match = /^(.+)_(key|fkey|check|pkey|uniq|idx)$/.exec(rest);
  return match?.[1] ?? "";
}

export interface MappedError {
  status: StatusObject;
  /** True when the error was not a domain error: log it with its cause. */
  unexpected: boolean;
  reason: string;
}

/** The domain errors are reported under (`kontor.<service>`) when the server does not say. */
const DEFAULT_DOMAIN = "kontor";

/** The standard google.rpc.Status for a status: ErrorInfo always, BadRequest when a field is named. */
function rpcStatusOf(code: status, message: string, info: { reason: string; field: string; cloudApiCode: number; metadata: Record<string, string> }, domain: string): Buffer {
  const metadata: Record<string, string> = { ...info.metadata };
  if (info.cloudApiCode) metadata.cloud_api_code = String(info.cloudApiCode);
  if (info.field) metadata.field = info.field;
  const details = [{ typeUrl: ERROR_INFO_TYPE, value: Buffer.from(ErrorInfo.encode({ reason: info.reason, domain, metadata }).finish()) }];
  if (info.field) {
    const description = message.startsWith(`${info.field}: `) ? message.slice(info.field.length + 2) : message;
    const violation = { field: info.field, description, reason: info.reason, localizedMessage: undefined };
    details.push({ typeUrl: BAD_REQUEST_TYPE, value: Buffer.from(BadRequest.encode({ fieldViolations: [violation] }).finish()) });
  }
  return Buffer.from(RpcStatus.encode({ code, message, details }).finish());
}

/**
 * Maps anything thrown to a gRPC status. Unknown errors become INTERNAL with
 * a generic message. `domain` is the ErrorInfo domain, `kontor.<service>`.
 */
export function toStatus(err: unknown, domain = DEFAULT_DOMAIN): MappedError {
  const known = err instanceof KontorError ? err : (fromPgError(err) ?? fromConnectionError(err));
  if (!known) {
    let code: status = ERRORS.internal.code;
    let details = "internal error";
    let reason: string = ERRORS.internal.reason;
    if (isServiceErrorLike(err)) {
      // A downstream gRPC failure: pass its code on, never its raw details.
      const downstream = (err as { code: status }).code;
      const passOn = downstream === status.DEADLINE_EXCEEDED || downstream === status.UNAVAILABLE || downstream === status.CANCELLED;
      if (passOn) {
        code = downstream;
        details = "downstream call failed";
      }
      reason = "DOWNSTREAM";
      const metadata = new Metadata();
      metadata.set(STATUS_DETAILS_KEY, rpcStatusOf(code, details, { reason, field: "", cloudApiCode: 0, metadata: {} }, domain));
      return { status: { code, details, metadata }, unexpected: !passOn, reason };
    }
    const metadata = new Metadata();
    metadata.set(STATUS_DETAILS_KEY, rpcStatusOf(code, details, { reason, field: "", cloudApiCode: 0, metadata: {} }, domain));
    return { status: { code, details, metadata }, unexpected: true, reason };
  }
  const metadata = new Metadata();
  metadata.set(ERROR_DETAIL_KEY, Buffer.from(ErrorDetail.encode(detailOf(known)).finish()));
  metadata.set(STATUS_DETAILS_KEY, rpcStatusOf(known.grpcCode, known.message, known, domain));
  return { status: { code: known.grpcCode, details: known.message, metadata }, unexpected: false, reason: known.reason };
}

/** The ErrorDetail of a domain error (what the old trailer and per-item stream results carry). */
export function detailOf(err: KontorError): ErrorDetail {
  return { reason: err.reason, field: err.field, cloudApiCode: err.cloudApiCode, metadata: err.metadata };
}

function isServiceErrorLike(err: unknown): boolean {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "number" && "metadata" in err;
}

/** Reads the ErrorDetail a Kontor service attached to a failed call (clients, gateway, tests). */
export function errorDetail(err: ServiceError | { metadata?: Metadata }): ErrorDetail | undefined {
  const value = err.metadata?.get(ERROR_DETAIL_KEY)[0];
  if (!value || typeof value === "string") return undefined;
  return ErrorDetail.decode(value);
}

/** The standard details of a failed call, decoded from grpc-status-details-bin. */
export interface StandardDetails {
  code: number;
  message: string;
  errorInfo?: ErrorInfo;
  fieldViolations: { field: string; description: string; reason: string }[];
}

/** Reads the google.rpc.Status a Kontor service attached to a failed call (the project's own clients and tests). */
export function standardDetails(err: ServiceError | { metadata?: Metadata }): StandardDetails | undefined {
  const value = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!value || typeof value === "string") return undefined;
  const decoded = RpcStatus.decode(value);
  const out: StandardDetails = { code: decoded.code, message: decoded.message, fieldViolations: [] };
  for (const any of decoded.details) {
    if (any.typeUrl === ERROR_INFO_TYPE) out.errorInfo = ErrorInfo.decode(any.value);
    else if (any.typeUrl === BAD_REQUEST_TYPE) {
      for (const v of BadRequest.decode(any.value).fieldViolations) out.fieldViolations.push({ field: v.field, description: v.description, reason: v.reason });
    }
  }
  return out;
}

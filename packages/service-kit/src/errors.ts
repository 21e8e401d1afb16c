import { Metadata, status, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { ErrorDetail } from "@kontor/proto/common/v1/error";

/**
 * Domain errors carry a stable reason and never a transport code; toStatus()
 * below is the one table that turns them into gRPC status codes.
 */
export abstract class KontorError extends Error {
  abstract readonly grpcCode: status;
  /** WhatsApp Cloud API code for the gateway, when one applies (e.g. 131047). */
  cloudApiCode = 0;
  field = "";
  metadata: Record<string, string> = {};
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input; `field` is the offending field path ("content.text.body"). */
export class InvalidInput extends KontorError {
  readonly grpcCode = status.INVALID_ARGUMENT;
  constructor(field: string, message: string, reason = "INVALID_FIELD") {
    super(reason, `${field}: ${message}`);
    this.field = field;
  }
}

export class NotFound extends KontorError {
  readonly grpcCode = status.NOT_FOUND;
  constructor(what: string, reason = "NOT_FOUND") {
    super(reason, `${what} not found`);
  }
}

export class AlreadyExists extends KontorError {
  readonly grpcCode = status.ALREADY_EXISTS;
  constructor(what: string, field = "", reason = "ALREADY_EXISTS") {
    super(reason, `${what} already exists`);
    this.field = field;
  }
}

/** The caller is authenticated but may not act on this resource/tenant. */
export class NotYours extends KontorError {
  readonly grpcCode = status.PERMISSION_DENIED;
  constructor(message = "not allowed for this principal", reason = "PERMISSION_DENIED") {
    super(reason, message);
  }
}

export class Unauthenticated extends KontorError {
  readonly grpcCode = status.UNAUTHENTICATED;
  constructor(message = "a valid principal token is required", reason = "UNAUTHENTICATED") {
    super(reason, message);
  }
}

/** A rule refuses the operation (outside the window, not opted in, wrong state). */
export class PolicyRefused extends KontorError {
  readonly grpcCode = status.FAILED_PRECONDITION;
  constructor(reason: string, message: string, cloudApiCode = 0, field = "") {
    super(reason, message);
    this.cloudApiCode = cloudApiCode;
    this.field = field;
  }
}

/** Over a rate or quota limit; the caller should back off. */
export class OverLimit extends KontorError {
  readonly grpcCode = status.RESOURCE_EXHAUSTED;
  constructor(reason: string, message: string, cloudApiCode = 0) {
    super(reason, message);
    this.cloudApiCode = cloudApiCode;
  }
}

/** Lost a race (serialization failure, version mismatch): retry the whole operation. */
export class ConcurrentUpdate extends KontorError {
  readonly grpcCode = status.ABORTED;
  constructor(message = "concurrent update, retry", reason = "CONCURRENT_UPDATE") {
    super(reason, message);
  }
}

/** A dependency (database, broker, other service) is down: retry later. */
export class DependencyDown extends KontorError {
  readonly grpcCode = status.UNAVAILABLE;
  constructor(message = "a dependency is unavailable, retry later", reason = "UNAVAILABLE") {
    super(reason, message);
  }
}

/** Stored data failed its integrity check (a bad GCM tag, a torn row): never reported as "not found" or "erased". */
export class DataCorrupted extends KontorError {
  readonly grpcCode = status.DATA_LOSS;
  constructor(message = "stored data failed its integrity check", reason = "DATA_CORRUPTED") {
    super(reason, message);
  }
}

const ERROR_DETAIL_KEY = "kontor-error-bin";

function isPgError(err: unknown): err is { code: string; constraint?: string; column?: string; table?: string } {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string" && /^[0-9A-Z]{5}$/.test((err as { code: string }).code);
}

/**
 * Translates a PostgreSQL error by SQLSTATE. Constraint names follow
 * `<table>_<field>_<kind>` so the field can be named without leaking SQL.
 */
export function fromPgError(err: unknown): KontorError | undefined {
  if (!isPgError(err)) return undefined;
  const field = err.column ?? constraintField(err.constraint, err.table);
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
    case "22001":
    case "22P02":
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

/** Maps anything thrown to a gRPC status. Unknown errors become INTERNAL with a generic message. */
export function toStatus(err: unknown): MappedError {
  const known = err instanceof KontorError ? err : fromPgError(err);
  if (!known) {
    if (isServiceErrorLike(err)) {
      // A downstream gRPC failure: pass its code on, never its raw details.
      const code = (err as { code: status }).code;
      const passOn = code === status.DEADLINE_EXCEEDED || code === status.UNAVAILABLE || code === status.CANCELLED;
      return {
        status: { code: passOn ? code : status.INTERNAL, details: passOn ? "downstream call failed" : "internal error", metadata: new Metadata() },
        unexpected: !passOn,
        reason: "DOWNSTREAM",
      };
    }
    return { status: { code: status.INTERNAL, details: "internal error", metadata: new Metadata() }, unexpected: true, reason: "INTERNAL" };
  }
  const metadata = new Metadata();
  metadata.set(
    ERROR_DETAIL_KEY,
    Buffer.from(
      ErrorDetail.encode({ reason: known.reason, field: known.field, cloudApiCode: known.cloudApiCode, metadata: known.metadata }).finish(),
    ),
  );
  return { status: { code: known.grpcCode, details: known.message, metadata }, unexpected: false, reason: known.reason };
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

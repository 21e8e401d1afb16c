import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import {
  AlreadyExists,
  ConcurrentUpdate,
  DataCorrupted,
  DependencyDown,
  ERRORS,
  errorDetail,
  fromPgError,
  InvalidInput,
  NotFound,
  NotYours,
  OverLimit,
  PolicyRefused,
  standardDetails,
  toStatus,
  Unauthenticated,
  type ErrorKind,
  type KontorError,
} from "./errors.js";

describe("toStatus", () => {
  it("when a domain error is thrown, then it maps to its gRPC code with a detail trailer", () => {
    const cases: [Error, status][] = [
      [new InvalidInput("content.text.body", "too long"), status.INVALID_ARGUMENT],
      [new NotFound("message"), status.NOT_FOUND],
      [new AlreadyExists("product", "retailer_id"), status.ALREADY_EXISTS],
      [new NotYours(), status.PERMISSION_DENIED],
      [new PolicyRefused("OUTSIDE_WINDOW", "outside the 24-hour window", 131047), status.FAILED_PRECONDITION],
      [new OverLimit("PAIR_RATE", "too fast", 131056), status.RESOURCE_EXHAUSTED],
    ];
    for (const [err, code] of cases) expect(toStatus(err).status.code).toBe(code);
    const mapped = toStatus(new PolicyRefused("OUTSIDE_WINDOW", "outside the 24-hour window", 131047));
    expect(errorDetail({ metadata: mapped.status.metadata })).toMatchObject({ reason: "OUTSIDE_WINDOW", cloudApiCode: 131047 });
    expect(errorDetail({ metadata: toStatus(new InvalidInput("to", "bad")).status.metadata })?.field).toBe("to");
  });

  it("when a PostgreSQL error escapes, then it is translated by SQLSTATE without SQL text", () => {
    const unique = toStatus({ code: "23505", constraint: "product_retailer_id_key", message: 'duplicate key value violates unique constraint "product_retailer_id_key"' });
    expect(unique.status.code).toBe(status.ALREADY_EXISTS);
    expect(unique.status.details).not.toMatch(/duplicate key|constraint/);
    expect(errorDetail({ metadata: unique.status.metadata })?.field).toBe("retailer_id");
    expect(toStatus({ code: "40001", message: "could not serialize" }).status.code).toBe(status.ABORTED);
  });

  it("when the database cannot be reached or the pool has no free connection in time, then UNAVAILABLE (retryable), not INTERNAL", () => {
    expect(toStatus(new Error("timeout exceeded when trying to connect")).status.code).toBe(status.UNAVAILABLE);
    expect(toStatus(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })).status.code).toBe(status.UNAVAILABLE);
    expect(toStatus(new Error("Connection terminated unexpectedly")).status.code).toBe(status.UNAVAILABLE);
    expect(toStatus(new Error("timeout exceeded")).status.code).toBe(status.INTERNAL);
  });

  it("when anything else is thrown, then INTERNAL with a generic message", () => {
    const mapped = toStatus(new TypeError("cannot read properties of undefined (reading 'x') at /srv/app.ts:12"));
    expect(mapped.status.code).toBe(status.INTERNAL);
    expect(mapped.status.details).toBe("internal error");
    expect(mapped.unexpected).toBe(true);
  });
});

describe("fromPgError field names", () => {
  it("when the table name has several words, then the field is what follows it", () => {
    const mapped = toStatus({ code: "23505", table: "ledger_account", constraint: "ledger_account_owner_currency_key", message: "dup" });
    expect(errorDetail({ metadata: mapped.status.metadata })?.field).toBe("owner_currency");
  });
});

describe("the error table", () => {
  it("when each kit class is thrown, then its code, default reason and Cloud API code come from its row of ERRORS", () => {
    const rows: [KontorError, ErrorKind][] = [
      [new InvalidInput("to", "bad"), "invalid_input"],
      [new NotFound("message"), "not_found"],
      [new AlreadyExists("product"), "already_exists"],
      [new NotYours(), "not_yours"],
      [new Unauthenticated(), "unauthenticated"],
      [new ConcurrentUpdate(), "concurrent_update"],
      [new DependencyDown(), "dependency_down"],
      [new DataCorrupted(), "data_corrupted"],
    ];
    for (const [err, kind] of rows) {
      expect(err.kind, err.name).toBe(kind);
      expect(toStatus(err).status.code, err.name).toBe(ERRORS[kind].code);
      expect(err.reason, err.name).toBe(ERRORS[kind].reason);
      expect(errorDetail({ metadata: toStatus(err).status.metadata })?.cloudApiCode, err.name).toBe(kind === "invalid_input" ? 100 : 0);
    }
    expect(ERRORS.data_corrupted.code).toBe(status.DATA_LOSS);
    expect(new PolicyRefused("OUTSIDE_WINDOW", "x", 131047).kind).toBe("policy_refused");
    expect(toStatus(new OverLimit("PAIR_RATE", "x", 131056)).status.code).toBe(ERRORS.over_limit.code);
  });

  it("when a caller passes a Cloud API code, then it replaces the row's default, and 0 means none", () => {
    expect(new InvalidInput("to", "bad", "INVALID_FIELD", 131009).cloudApiCode).toBe(131009);
    expect(new NotFound("recipient", "RECIPIENT_NOT_FOUND", 131026).cloudApiCode).toBe(131026);
    const none = standardDetails({ metadata: toStatus(new NotFound("message")).status.metadata });
    expect(none?.errorInfo?.metadata).toEqual({});
    const set = standardDetails({ metadata: toStatus(new NotFound("recipient", "RECIPIENT_NOT_FOUND", 131026)).status.metadata });
    expect(set?.errorInfo?.metadata.cloud_api_code).toBe("131026");
  });

  it("when a domain error is mapped, then grpc-status-details-bin holds a google.rpc.Status with ErrorInfo (reason, domain, metadata) and, for a field, a BadRequest violation", () => {
    const err = new InvalidInput("content.text.body", "must be at most 4096 characters");
    err.metadata.limit = "4096";
    const details = standardDetails({ metadata: toStatus(err, "kontor.messaging").status.metadata });
    expect(details).toEqual({
      code: status.INVALID_ARGUMENT,
      message: "content.text.body: must be at most 4096 characters",
      errorInfo: { reason: "INVALID_FIELD", domain: "kontor.messaging", metadata: { limit: "4096", cloud_api_code: "100", field: "content.text.body" } },
      fieldViolations: [{ field: "content.text.body", description: "must be at most 4096 characters", reason: "INVALID_FIELD" }],
    });
    // The old trailer stays until the gateway reads the standard one.
    expect(errorDetail({ metadata: toStatus(err).status.metadata })).toMatchObject({ reason: "INVALID_FIELD", field: "content.text.body", cloudApiCode: 100 });
    const internal = standardDetails({ metadata: toStatus(new Error("boom at /srv/x.ts")).status.metadata });
    expect(internal).toMatchObject({ code: status.INTERNAL, message: "internal error", errorInfo: { reason: "INTERNAL", domain: "kontor" }, fieldViolations: [] });
  });
});

describe("SQLSTATE class 22 (data exceptions)", () => {
  it("when PostgreSQL rejects a value, then INVALID_ARGUMENT naming the column when known, never INTERNAL and never the SQL text", () => {
    for (const code of ["22P05", "22021", "22003", "22007", "22008", "22P02", "22001", "22023", "22000"]) {
      const mapped = toStatus({ code, message: `invalid byte sequence for encoding "UTF8": 0x00 in SELECT * FROM product` });
      expect(mapped.status.code, code).toBe(status.INVALID_ARGUMENT);
      expect(mapped.unexpected, code).toBe(false);
      expect(mapped.status.details, code).not.toMatch(/SELECT|UTF8|0x00/);
      expect(errorDetail({ metadata: mapped.status.metadata })?.field, code).toBe("request");
    }
    const named = toStatus({ code: "22001", column: "name", message: "value too long for type character varying(200)" });
    expect([named.status.code, errorDetail({ metadata: named.status.metadata })?.field, named.status.details]).toEqual([status.INVALID_ARGUMENT, "name", "name: is too long"]);
    expect(fromPgError({ code: "22P05", message: "x" })).toBeInstanceOf(InvalidInput);
  });
});

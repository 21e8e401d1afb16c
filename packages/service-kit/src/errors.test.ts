import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { AlreadyExists, errorDetail, InvalidInput, NotFound, NotYours, OverLimit, PolicyRefused, toStatus } from "./errors.js";

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

import { describe, expect, it } from "vitest";
import { GRPC, GraphError, graphErrorFromFailure, type ServiceFailure } from "./graph-error.js";
import { cloudFieldOf } from "./send-mapping.js";

const failure = (over: Partial<ServiceFailure>): ServiceFailure => ({ grpcCode: GRPC.INTERNAL, message: "", reason: "", cloudApiCode: 0, field: "", fieldDescription: "", ...over });

/** The mapping table, one row per case: what a service says → what the client reads. */
const ROWS: { name: string; in: Partial<ServiceFailure>; code: number; http: number; details?: RegExp; type?: string }[] = [
  { name: "service window", in: { grpcCode: GRPC.FAILED_PRECONDITION, reason: "OUTSIDE_CUSTOMER_SERVICE_WINDOW", cloudApiCode: 131047 }, code: 131047, http: 400, details: /24 hours/ },
  { name: "pair rate", in: { grpcCode: GRPC.RESOURCE_EXHAUSTED, reason: "PAIR_RATE_LIMIT", cloudApiCode: 131056 }, code: 131056, http: 400, details: /same phone number/ },
  { name: "throughput", in: { grpcCode: GRPC.RESOURCE_EXHAUSTED, reason: "THROUGHPUT_LIMIT", cloudApiCode: 130429 }, code: 130429, http: 400 },
  { name: "messaging limit", in: { grpcCode: GRPC.RESOURCE_EXHAUSTED, reason: "MESSAGING_LIMIT_REACHED", cloudApiCode: 131048 }, code: 131048, http: 400 },
  { name: "template missing", in: { grpcCode: GRPC.NOT_FOUND, reason: "TEMPLATE_NOT_FOUND", cloudApiCode: 132001 }, code: 132001, http: 404 },
  { name: "template not approved", in: { grpcCode: GRPC.FAILED_PRECONDITION, reason: "TEMPLATE_NOT_APPROVED", cloudApiCode: 132001 }, code: 132001, http: 404 },
  { name: "template params", in: { grpcCode: GRPC.INVALID_ARGUMENT, cloudApiCode: 132000, field: "content.template.components[0].parameters", fieldDescription: "expected 2" }, code: 132000, http: 400, details: /template\.components\[0\]\.parameters: expected 2/ },
  { name: "template paused", in: { grpcCode: GRPC.FAILED_PRECONDITION, reason: "TEMPLATE_PAUSED", cloudApiCode: 132015 }, code: 132015, http: 400 },
  { name: "template disabled", in: { grpcCode: GRPC.FAILED_PRECONDITION, reason: "TEMPLATE_DISABLED", cloudApiCode: 132016 }, code: 132016, http: 400 },
  { name: "marketing consent", in: { grpcCode: GRPC.FAILED_PRECONDITION, reason: "MARKETING_OPTED_OUT", cloudApiCode: 131050 }, code: 131050, http: 400 },
  { name: "undeliverable", in: { grpcCode: GRPC.NOT_FOUND, reason: "RECIPIENT_NOT_FOUND", cloudApiCode: 131026 }, code: 131026, http: 400 },
  { name: "user blocked by the business", in: { grpcCode: GRPC.FAILED_PRECONDITION, reason: "USER_BLOCKED", cloudApiCode: 131026 }, code: 131026, http: 400, details: /blocked the user/ },
  { name: "block users failed", in: { grpcCode: GRPC.FAILED_PRECONDITION, cloudApiCode: 139100, message: "only users who messaged" }, code: 139100, http: 400 },
  { name: "blocklist full", in: { grpcCode: GRPC.RESOURCE_EXHAUSTED, cloudApiCode: 139101 }, code: 139101, http: 400 },
  { name: "invalid parameter names the field", in: { grpcCode: GRPC.INVALID_ARGUMENT, cloudApiCode: 100, field: "content.text.body", fieldDescription: "at most 4096 characters" }, code: 100, http: 400, details: /^Parameter text\.body: at most 4096 characters$/ },
  { name: "invalid without a field", in: { grpcCode: GRPC.INVALID_ARGUMENT, message: "bad" }, code: 100, http: 400 },
  { name: "unauthenticated", in: { grpcCode: GRPC.UNAUTHENTICATED }, code: 190, http: 401 },
  { name: "permission", in: { grpcCode: GRPC.PERMISSION_DENIED, message: "principal x may not" }, code: 200, http: 403, details: /^The caller does not have permission/ },
  { name: "not found object", in: { grpcCode: GRPC.NOT_FOUND, message: "business number not found" }, code: 100, http: 400, type: "GraphMethodException" },
  { name: "rate limit without code", in: { grpcCode: GRPC.RESOURCE_EXHAUSTED, message: "queue full" }, code: 4, http: 400 },
  { name: "template cap", in: { grpcCode: GRPC.RESOURCE_EXHAUSTED, cloudApiCode: 2388019 }, code: 2388019, http: 400 },
  { name: "unavailable", in: { grpcCode: GRPC.UNAVAILABLE, message: "connect ECONNREFUSED 127.0.0.1:5" }, code: 2, http: 503, details: /^Service temporarily unavailable/ },
  { name: "deadline", in: { grpcCode: GRPC.DEADLINE_EXCEEDED }, code: 2, http: 503 },
  { name: "internal never says why", in: { grpcCode: GRPC.INTERNAL, message: "relation \"x\" does not exist at foo.ts:12" }, code: 1, http: 400, details: /^An unknown error occurred\.$/ },
  { name: "data loss is internal", in: { grpcCode: GRPC.DATA_LOSS, message: "tag mismatch" }, code: 1, http: 400, details: /^An unknown error occurred\.$/ },
  { name: "precondition without code", in: { grpcCode: GRPC.FAILED_PRECONDITION, message: "template edit limit" }, code: 131009, http: 400 },
  { name: "already exists names the field", in: { grpcCode: GRPC.ALREADY_EXISTS, field: "name", fieldDescription: "taken" }, code: 100, http: 400, details: /name: taken/ },
];

describe("graphErrorFromFailure", () => {
  it.each(ROWS)("$name → (#$code) HTTP $http", (row) => {
    const e = graphErrorFromFailure(failure(row.in), (f) => cloudFieldOf(f, "text"), "123");
    expect(e).toBeInstanceOf(GraphError);
    expect(e.code).toBe(row.code);
    expect(e.http).toBe(row.http);
    const body = e.toBody();
    expect(body.error.message.startsWith(`(#${row.code}) `)).toBe(true);
    expect(body.error.error_data.messaging_product).toBe("whatsapp");
    if (row.details) expect(body.error.error_data.details).toMatch(row.details);
    if (row.type) expect(body.error.type).toBe(row.type);
    expect(JSON.stringify(body)).not.toMatch(/\.ts:\d+|ECONNREFUSED|relation/);
  });

  it("a Graph error carries exactly the envelope's keys and a fresh fbtrace_id each time", () => {
    const a = new GraphError(131047, "d").toBody();
    const b = new GraphError(131047, "d").toBody();
    expect(Object.keys(a.error).sort()).toEqual(["code", "error_data", "fbtrace_id", "message", "type"]);
    expect(a.error.message).toBe("(#131047) Re-engagement message");
    expect(a.error.fbtrace_id).not.toBe(b.error.fbtrace_id);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { getProtoPath, loadSync } from "google-proto-files";
import { createTokenSigner, createTokenVerifier, generateSigningKeys } from "@kontor/service-kit/auth";
import { InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { createKitServer, type KitServer } from "@kontor/service-kit/grpc-server";
import { createLogger } from "@kontor/service-kit/log";
import { createMetrics } from "@kontor/service-kit/metrics";

// What a client in any language sees: a plain gRPC client that knows only the
// well-known google.rpc protos (from google-proto-files, not the project's
// copies or generated code) decodes grpc-status-details-bin of a real kit server.

const root = loadSync(getProtoPath("rpc", "error_details.proto"));
root.loadSync(getProtoPath("rpc", "status.proto"));
const Status = root.lookupType("google.rpc.Status");
const ErrorInfo = root.lookupType("google.rpc.ErrorInfo");
const BadRequest = root.lookupType("google.rpc.BadRequest");

type Decoded = {
  code: number;
  message: string;
  info?: { reason: string; domain: string; metadata: Record<string, string> };
  violations: { field: string; description: string }[];
};

function decodeDetails(err: ServiceError): Decoded {
  const raw = err.metadata.get("grpc-status-details-bin")[0];
  if (!Buffer.isBuffer(raw)) throw new Error("no grpc-status-details-bin trailer");
  const st = Status.toObject(Status.decode(raw), { defaults: true }) as { code: number; message: string; details: { type_url?: string; typeUrl?: string; value: Uint8Array }[] };
  const out: Decoded = { code: st.code, message: st.message, violations: [] };
  for (const any of st.details) {
    const type = (any.type_url ?? any.typeUrl ?? "").split("/").pop();
    if (type === "google.rpc.ErrorInfo") out.info = ErrorInfo.toObject(ErrorInfo.decode(any.value), { defaults: true }) as Decoded["info"];
    if (type === "google.rpc.BadRequest") {
      const br = BadRequest.toObject(BadRequest.decode(any.value), { defaults: true }) as { field_violations?: Decoded["violations"]; fieldViolations?: Decoded["violations"] };
      out.violations = (br.field_violations ?? br.fieldViolations ?? []).map((v) => ({ field: v.field, description: v.description }));
    }
  }
  return out;
}

const failures: Record<string, () => never> = {
  BadField: () => {
    throw new InvalidInput("content.text.body", "must be at most 4096 characters");
  },
  Outside: () => {
    throw new PolicyRefused("OUTSIDE_WINDOW", "outside the 24-hour customer service window", 131047);
  },
  NoRecipient: () => {
    throw new NotFound("recipient", "RECIPIENT_NOT_FOUND", 131026);
  },
  // What pg throws for a NUL in a text parameter: SQLSTATE 22P05, class 22.
  Untranslatable: () => {
    throw Object.assign(new Error('unsupported Unicode escape sequence: \\u0000 cannot be converted to text in SELECT'), { code: "22P05" });
  },
};

const raw = { serialize: (v: Buffer) => v, deserialize: (b: Buffer) => b };
const definition = Object.fromEntries(
  Object.keys(failures).map((name) => [
    name,
    { path: `/kontor.probe.v1.Probe/${name}`, requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  ]),
);

let kit: KitServer;
let client: Client;
let token: string;

beforeAll(async () => {
  const keys = await generateSigningKeys("k1");
  token = await (await createTokenSigner(keys.privateJwk)).sign({ kind: "customer", customerId: "c1" });
  kit = createKitServer({
    service: "probe",
    access: Object.fromEntries(Object.keys(failures).map((name) => [name, ["customer"] as const])),
    log: createLogger("probe", "silent"),
    metrics: createMetrics("probe", { defaultMetrics: false }),
    verifier: createTokenVerifier(JSON.stringify([keys.publicJwk])),
  });
  kit.addService(definition, Object.fromEntries(Object.entries(failures).map(([name, fail]) => [name, kit.unary(name, async () => fail())])));
  client = new Client(`127.0.0.1:${await kit.listen("127.0.0.1", 0)}`, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await kit?.shutdown(1000);
});

function fail(name: string): Promise<ServiceError> {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(`/kontor.probe.v1.Probe/${name}`, raw.serialize, raw.deserialize, Buffer.alloc(0), md, (err) => (err ? resolve(err) : reject(new Error(`${name} succeeded`)))),
  );
}

describe("grpc-status-details-bin, read with the well-known protos only", () => {
  it("when a field is bad, then google.rpc.Status carries ErrorInfo (reason, domain kontor.<service>, cloud_api_code, field) and a BadRequest field violation", async () => {
    const err = await fail("BadField");
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(decodeDetails(err)).toEqual({
      code: status.INVALID_ARGUMENT,
      message: "content.text.body: must be at most 4096 characters",
      info: { reason: "INVALID_FIELD", domain: "kontor.probe", metadata: { cloud_api_code: "100", field: "content.text.body" } },
      violations: [{ field: "content.text.body", description: "must be at most 4096 characters" }],
    });
  });

  it("when a policy refuses or the recipient is unknown, then ErrorInfo carries the reason and the Cloud API code, and there is no field violation", async () => {
    const outside = decodeDetails(await fail("Outside"));
    expect(outside).toMatchObject({ code: status.FAILED_PRECONDITION, info: { reason: "OUTSIDE_WINDOW", domain: "kontor.probe", metadata: { cloud_api_code: "131047" } }, violations: [] });
    const missing = decodeDetails(await fail("NoRecipient"));
    expect(missing).toMatchObject({ code: status.NOT_FOUND, info: { reason: "RECIPIENT_NOT_FOUND", metadata: { cloud_api_code: "131026" } } });
  });

  it("when PostgreSQL rejects a value (SQLSTATE class 22), then INVALID_ARGUMENT with standard details and no SQL text", async () => {
    const err = await fail("Untranslatable");
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).not.toMatch(/SELECT|\\u0000/);
    const decoded = decodeDetails(err);
    expect(decoded.info).toMatchObject({ reason: "INVALID_FIELD", domain: "kontor.probe" });
    expect(decoded.violations).toEqual([{ field: "request", description: "contains a character that cannot be stored" }]);
  });
});

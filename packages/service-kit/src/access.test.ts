import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { allows, callerMatcher, type Caller } from "./access.js";
import { createTokenSigner, createTokenVerifier, generateSigningKeys, type Principal, type TokenSigner } from "./auth.js";
import { createKitServer, type KitServer } from "./grpc-server.js";
import { errorDetail } from "./errors.js";
import { createLogger } from "./log.js";
import { createMetrics } from "./metrics.js";

const principals: Record<string, Principal> = {
  business: { kind: "business", businessId: "b1" },
  customer: { kind: "customer", customerId: "c1" },
  partner: { kind: "partner", partnerId: "p1", businessIds: ["b1"] },
  reviewer: { kind: "staff", staffId: "s1", roles: ["directory.reviewer"] },
  operator: { kind: "staff", staffId: "s2", roles: ["support", "operator"] },
  roleless: { kind: "staff", staffId: "s3", roles: [] },
  gateway: { kind: "service", service: "gateway" },
  directory: { kind: "service", service: "directory" },
};

/** Each caller entry and the principals (by name above) it must admit; every other principal it must refuse. */
const entries: [Caller, string[]][] = [
  ["business", ["business"]],
  ["customer", ["customer"]],
  ["partner", ["partner"]],
  ["staff:directory.reviewer", ["reviewer"]],
  ["staff:operator", ["operator"]],
  ["service:gateway", ["gateway"]],
  ["service:directory", ["directory"]],
];

describe("allows / callerMatcher", () => {
  it("when one caller entry is checked, then exactly the principals of that kind, role or service name match", () => {
    for (const [caller, admitted] of entries) {
      for (const [name, p] of Object.entries(principals)) {
        const expected = admitted.includes(name);
        expect(allows([caller], p), `${caller} vs ${name}`).toBe(expected);
        expect(callerMatcher([caller])(p), `compiled ${caller} vs ${name}`).toBe(expected);
      }
    }
  });

  it("when a list has several entries, then a principal matching any one of them is admitted, and the compiled matcher agrees with allows()", () => {
    const lists: Caller[][] = [[], ["business", "service:gateway"], ["customer", "staff:operator"], ["service:payments", "staff:directory.reviewer", "partner"]];
    for (const list of lists) for (const p of Object.values(principals)) expect(callerMatcher(list)(p)).toBe(allows(list, p));
    expect(allows(undefined, principals.business!)).toBe(false);
    expect(callerMatcher(undefined)(principals.gateway!)).toBe(false);
  });

  it("when a service is named, then only a token with that exact name matches (no prefix, no kind-wide entry)", () => {
    const m = callerMatcher(["service:gateway"]);
    expect(m({ kind: "service", service: "gateway" })).toBe(true);
    expect(m({ kind: "service", service: "gatewayx" })).toBe(false);
    expect(m({ kind: "service", service: "" })).toBe(false);
    expect(callerMatcher(["service:" as Caller])({ kind: "service", service: "gateway" })).toBe(false);
  });
});

// A real kit server: the allow-list runs after authentication and before any handler.
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const method = (path: string) => ({ path, requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize });
const definition = { open: method("/kontor.test.Probe/Open"), unlisted: method("/kontor.test.Probe/Unlisted") };

let kit: KitServer;
let client: Client;
let signer: TokenSigner;
const ran: string[] = [];
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const keys = await generateSigningKeys("k1");
  signer = await createTokenSigner(keys.privateJwk);
  kit = createKitServer({
    service: "probe",
    access: { Open: ["customer", "service:gateway", "staff:operator"] },
    log: createLogger(
      "probe",
      "info",
      new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().split("\n")) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      }),
    ),
    metrics: createMetrics("probe", { defaultMetrics: false }),
    verifier: createTokenVerifier(JSON.stringify([keys.publicJwk])),
  });
  kit.addService(definition, {
    open: kit.unary("Open", async () => (ran.push("Open"), { ok: true })),
    unlisted: kit.unary("Unlisted", async () => (ran.push("Unlisted"), { ok: true })),
  });
  client = new Client(`127.0.0.1:${await kit.listen("127.0.0.1", 0)}`, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await kit?.shutdown(1000);
});

async function call(path: string, p: Principal): Promise<ServiceError | undefined> {
  const md = new Metadata();
  const token = await signer.sign(p);
  md.set("authorization", `Bearer ${token}`);
  // Twice: the first call verifies the token, the second takes the cached path.
  let last: ServiceError | undefined;
  for (let i = 0; i < 2; i++) {
    last = await new Promise<ServiceError | undefined>((resolve) => client.makeUnaryRequest(path, json.serialize, json.deserialize, {}, md, (err) => resolve(err ?? undefined)));
    if (last) expect(last.details).not.toContain(token);
  }
  return last;
}

describe("the kit server's allow-list", () => {
  it("when a caller is on the method's list, then the handler runs; otherwise PERMISSION_DENIED naming the method and the caller, and the handler never runs", async () => {
    const allowed = ["customer", "gateway", "operator"];
    for (const [name, p] of Object.entries(principals)) {
      ran.length = 0;
      const err = await call(definition.open.path, p);
      if (allowed.includes(name)) {
        expect(err, name).toBeUndefined();
        expect(ran).toEqual(["Open", "Open"]);
      } else {
        expect(err?.code, name).toBe(status.PERMISSION_DENIED);
        expect(err?.details).toContain("Open");
        expect(err?.details).toContain(p.kind);
        expect(errorDetail(err!)?.reason).toBe("CALLER_NOT_ALLOWED");
        expect(ran).toEqual([]);
      }
    }
  });

  it("when a method is missing from the table, then every caller is refused (fail closed)", async () => {
    ran.length = 0;
    for (const p of Object.values(principals)) expect((await call(definition.unlisted.path, p))?.code).toBe(status.PERMISSION_DENIED);
    const err = await call(definition.unlisted.path, principals.gateway!);
    expect(err?.details).toBe("Unlisted may not be called by service:gateway");
    expect(ran).toEqual([]);
    // Logged once when the handler was registered, and each refusal with who was refused.
    expect(logLines.filter((l) => l.message === "method missing from the access table: every call is refused").map((l) => l.rpc)).toEqual(["Unlisted"]);
    expect(logLines.some((l) => l.message === "rpc refused" && l.rpc === "Unlisted" && l.reason === "CALLER_NOT_ALLOWED" && l.principal === "service:gateway")).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { createTokenVerifier } from "@kontor/service-kit/auth";
import { createKitServer, type CallContext, type KitServer } from "@kontor/service-kit/grpc-server";
import { createLogger } from "@kontor/service-kit/log";
import { createMetrics } from "@kontor/service-kit/metrics";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";

// What the kit's call wrapper hands every handler (STYLE §13): the principal,
// the caller's request id and deadline, a logger bound to the call, and a
// signal that aborts when the caller cancels or the deadline passes.

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};
const method = (path: string, responseStream: boolean) => ({
  path,
  requestStream: false,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});
const definition = { describe: method("/kontor.test.Probe/Describe", false), wait: method("/kontor.test.Probe/Wait", true) };

let env: TestEnv;
let kit: KitServer;
let client: Client;
let token: string;
const logLines: Record<string, unknown>[] = [];
const started: string[] = [];
const aborted: string[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  token = await env.token({ kind: "customer", customerId: "c1" });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  kit = createKitServer({
    service: "probe",
    access: { Describe: ["customer"], Wait: ["customer"] },
    log: createLogger("probe", "info", sink),
    metrics: createMetrics("probe", { defaultMetrics: false }),
    verifier: createTokenVerifier(env.env().AUTH_PUBLIC_KEYS!),
    okLogLevel: "trace",
  });
  kit.addService(definition, {
    describe: kit.unary("Describe", async (req: { tag: string }, ctx: CallContext) => {
      ctx.log.info({ tag: req.tag }, "described");
      // Read twice: a generated id must not change within the call.
      return { requestId: ctx.requestId, again: ctx.requestId, deadline: ctx.deadline?.getTime() ?? null, principal: ctx.principal };
    }),
    wait: kit.serverStream("Wait", async (req: { tag: string }, ctx: CallContext) => {
      if (!ctx.signal.aborted) started.push(req.tag);
      await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener("abort", () => resolve(), { once: true })));
      aborted.push(req.tag);
    }),
  });
  const port = await kit.listen("127.0.0.1", 0);
  client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await kit?.shutdown(1000);
  await env?.cleanup();
});

function auth(extra: Record<string, string> = {}): Metadata {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

type Described = { requestId: string; again: string; deadline: number | null; principal: unknown };
function describeCall(tag: string, md: Metadata, deadline?: Date): Promise<Described> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(definition.describe.path, json.serialize, json.deserialize, { tag }, md, deadline ? { deadline } : {}, (err, res) => (err ? reject(err) : resolve(res as Described))),
  );
}

describe("the call context", () => {
  it("when a call carries x-request-id and a deadline, then the handler sees both, the principal, and a logger bound to them", async () => {
    const sent = Date.now();
    const deadline = new Date(sent + 30_000);
    const r = await describeCall("a", auth({ "x-request-id": "req-42" }), deadline);
    const answered = Date.now();
    expect(r).toMatchObject({ requestId: "req-42", again: "req-42", principal: { kind: "customer", customerId: "c1" } });
    // The deadline travels as a relative grpc-timeout (whole ms, rounded up) that the server adds to
    // its clock on arrival: its copy is the caller's, later by at most the time the call took.
    expect(r.deadline).toBeGreaterThanOrEqual(deadline.getTime());
    expect(r.deadline).toBeLessThanOrEqual(deadline.getTime() + (answered - sent));
    const line = await waitFor(() => logLines.find((l) => l.tag === "a"));
    expect(line).toMatchObject({ rpc: "Describe", request_id: "req-42", principal: "customer:c1", service: "probe" });
  });

  it("when a call carries no request id, then one is made for it and stays the same within the call, and each call gets its own", async () => {
    const [a, b] = await Promise.all([describeCall("b", auth()), describeCall("c", auth())]);
    expect(a.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.again).toBe(a.requestId);
    expect(b.requestId).not.toBe(a.requestId);
    expect(a.deadline).toBeNull();
  });

  it("when the token is missing, then the call fails UNAUTHENTICATED and no handler runs", async () => {
    const err = await describeCall("d", new Metadata()).catch((e: ServiceError) => e);
    expect((err as ServiceError).code).toBe(status.UNAUTHENTICATED);
    expect(logLines.some((l) => l.tag === "d")).toBe(false);
  });

  it("when the caller cancels, or its deadline passes, then the handler's signal aborts", async () => {
    const call = client.makeServerStreamRequest(definition.wait.path, json.serialize, json.deserialize, { tag: "cancelled" }, auth());
    call.on("error", () => undefined);
    // The handler runs with a live signal until the caller cancels.
    await waitFor(() => started.includes("cancelled"));
    expect(aborted).toEqual([]);
    call.cancel();
    await waitFor(() => aborted.includes("cancelled"));

    const timed = client.makeServerStreamRequest(definition.wait.path, json.serialize, json.deserialize, { tag: "deadline" }, auth(), { deadline: new Date(Date.now() + 300) });
    const failed = new Promise<ServiceError>((resolve) => timed.on("error", resolve));
    await waitFor(() => aborted.includes("deadline"));
    expect((await failed).code).toBe(status.DEADLINE_EXCEEDED);
  });
});

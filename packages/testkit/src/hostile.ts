import fc from "fast-check";
import pg from "pg";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { errorDetail } from "@kontor/service-kit/errors";
import { fromJson, toBinary, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { inputFields, protoRegistry, type InputBounds } from "@kontor/service-kit/input";

/**
 * Generated hostile requests for any Kontor request type: one string, bytes,
 * repeated or map field, at any depth (through nested messages, list items
 * and oneof cases), gets a value the kit must refuse. Requests are built in
 * the proto3 JSON form from the descriptors and encoded with protobuf-es, so
 * they travel as any client's would and the check's own field mapping is not
 * used to build them.
 */

export type HostileKind = "nul" | "lone-surrogate" | "too-long" | "too-many";

export interface HostileRequest {
  /** The request in proto3 JSON (a lone surrogate as its U+FFFF stand-in). */
  json: JsonObject;
  /** For "lone-surrogate": the three bytes encodeRequest puts in place of the stand-in. */
  surrogate?: Buffer;
  /** The field the refusal must name, as a client sees it ("content.text.body", "items[2].id"). */
  field: string;
  kind: HostileKind;
}

type Step = { name: string; json: string; index?: number; filler?: JsonValue };

interface Target {
  steps: Step[];
  /** Path in the form inputFields() reports, to look the limit up. */
  staticPath: string;
  leaf: "string" | "bytes" | "repeated";
  /** For "repeated": what one item is. */
  item?: JsonValue;
}

const MAX_DEPTH = 6;

function emptyValue(field: DescMessage["fields"][number]): JsonValue {
  if (field.fieldKind === "list") {
    if (field.listKind === "message") return {};
    if (field.listKind === "enum") return 0;
    return field.scalar === 9 || field.scalar === 12 ? "" : field.scalar === 8 ? false : 0;
  }
  return {};
}

function targetsOf(desc: DescMessage, steps: Step[] = [], staticPrefix = "", depth = 0): Target[] {
  if (depth > MAX_DEPTH) return [];
  const out: Target[] = [];
  for (const field of desc.fields) {
    const staticPath = staticPrefix ? `${staticPrefix}.${field.name}` : field.name;
    const step: Step = { name: field.name, json: field.jsonName };
    if (field.fieldKind === "scalar" && (field.scalar === 9 || field.scalar === 12)) {
      out.push({ steps: [...steps, step], staticPath, leaf: field.scalar === 9 ? "string" : "bytes" });
    } else if (field.fieldKind === "message") {
      const type = field.message.typeName;
      if (type.startsWith("google.protobuf.")) continue;
      out.push(...targetsOf(field.message, [...steps, step], staticPath, depth + 1));
    } else if (field.fieldKind === "list") {
      out.push({ steps: [...steps, step], staticPath, leaf: "repeated", item: emptyValue(field) });
      for (const index of [0, 2]) {
        const itemStep: Step = { ...step, index, filler: emptyValue(field) };
        if (field.listKind === "scalar" && (field.scalar === 9 || field.scalar === 12)) {
          out.push({ steps: [...steps, itemStep], staticPath: `${staticPath}[]`, leaf: field.scalar === 9 ? "string" : "bytes" });
        } else if (field.listKind === "message" && !field.message.typeName.startsWith("google.protobuf.")) {
          out.push(...targetsOf(field.message, [...steps, itemStep], `${staticPath}[]`, depth + 1));
        }
      }
    }
  }
  return out;
}

function build(steps: Step[], leaf: JsonValue): JsonObject {
  let value: JsonValue = leaf;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    if (step.index !== undefined) value = [...Array.from({ length: step.index }, () => step.filler ?? null), value];
    value = { [step.json]: value };
  }
  return value as JsonObject;
}

function clientPath(steps: Step[]): string {
  return steps.map((s) => (s.index === undefined ? s.name : `${s.name}[${s.index}]`)).join(".");
}

/**
 * Code points a valid string may hold: anything but U+0000 and surrogate
 * halves, and but U+FFFF, which stands in for the lone surrogate (below).
 */
const validCodePoint = fc.oneof(fc.integer({ min: 1, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0xfffe }), fc.integer({ min: 0x10000, max: 0x10ffff }), fc.integer({ min: 0x20, max: 0x7e }));
export const validString = (maxLength = 8) => fc.array(validCodePoint, { maxLength }).map((cps) => String.fromCodePoint(...cps));

/**
 * A client's UTF-8 encoder turns a lone surrogate into U+FFFD, so one is sent
 * as a client in another language could: the request holds U+FFFF (EF BF BF)
 * in its place, and encodeRequest() swaps those bytes for an encoded
 * surrogate half (ED A0 80 … ED BF BF) of the same length.
 */
const LONE_PLACEHOLDER = "\uFFFF";
const PLACEHOLDER_BYTES = Buffer.from(LONE_PLACEHOLDER, "utf8");
const loneSurrogateBytes = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => Buffer.from([0xed, 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]));

function message(typeName: string): DescMessage {
  const desc = protoRegistry().getMessage(typeName);
  if (!desc) throw new Error(`unknown message type ${typeName}`);
  return desc;
}

/** Hostile requests of one type, with the service's bounds. */
export function hostileRequest(typeName: string, bounds: InputBounds = {}, kinds: HostileKind[] = ["nul", "lone-surrogate", "too-long", "too-many"]): fc.Arbitrary<HostileRequest> {
  const limits = new Map(inputFields(typeName, bounds).map((f) => [`${f.kind === "repeated" || f.kind === "map" ? "#" : ""}${f.path}`, f.max]));
  const targets = targetsOf(message(typeName));
  const arbitraries: fc.Arbitrary<HostileRequest>[] = [];
  for (const t of targets) {
    const field = clientPath(t.steps);
    if (t.leaf === "repeated") {
      if (!kinds.includes("too-many")) continue;
      const max = limits.get(`#${t.staticPath}`);
      if (max === undefined) throw new Error(`no count limit reported for ${t.staticPath}`);
      arbitraries.push(fc.integer({ min: 1, max: 3 }).map((extra) => ({ json: build(t.steps, Array.from({ length: max + extra }, () => t.item ?? null)), field, kind: "too-many" as const })));
      continue;
    }
    const max = limits.get(t.staticPath);
    if (max === undefined) throw new Error(`no length limit reported for ${t.staticPath}`);
    if (t.leaf === "bytes") {
      if (kinds.includes("too-long"))
        arbitraries.push(fc.integer({ min: 1, max: 16 }).map((extra) => ({ json: build(t.steps, Buffer.alloc(max + extra, 7).toString("base64")), field, kind: "too-long" as const })));
      continue;
    }
    if (kinds.includes("nul"))
      arbitraries.push(fc.tuple(validString(), validString()).map(([a, b]) => ({ json: build(t.steps, `${a}\u0000${b}`), field, kind: "nul" as const })));
    if (kinds.includes("lone-surrogate"))
      arbitraries.push(fc.tuple(validString(), loneSurrogateBytes, validString()).map(([a, surrogate, b]) => ({ json: build(t.steps, `${a}${LONE_PLACEHOLDER}${b}`), surrogate, field, kind: "lone-surrogate" as const })));
    if (kinds.includes("too-long"))
      arbitraries.push(
        fc.tuple(validCodePoint, fc.integer({ min: 1, max: 8 })).map(([cp, extra]) => ({ json: build(t.steps, String.fromCodePoint(cp).repeat(max + extra)), field, kind: "too-long" as const })),
      );
  }
  if (arbitraries.length === 0) throw new Error(`${typeName} has no field to make hostile`);
  return fc.oneof(...arbitraries);
}

/** The request's wire bytes, encoded by protobuf-es from its JSON form (with the lone surrogate's bytes in place). */
export function encodeRequest(typeName: string, json: JsonObject, surrogate?: Buffer): Buffer {
  const desc = message(typeName);
  const bytes = Buffer.from(toBinary(desc, fromJson(desc, json, { registry: protoRegistry() })));
  if (surrogate) {
    const at = bytes.indexOf(PLACEHOLDER_BYTES);
    if (at < 0) throw new Error("the lone surrogate's stand-in is missing from the encoded request");
    surrogate.copy(bytes, at);
  }
  return bytes;
}

export interface RawOutcome {
  /** The error when the call failed; undefined when it succeeded. */
  error: ServiceError | undefined;
  /** Response messages (raw bytes) received before the end. */
  responses: Buffer[];
}

const identity = (b: Buffer) => b;

/**
 * Calls one method with ready request bytes, whatever its kind: unary and
 * server-stream send one request; client-stream and duplex send `requests`
 * and end their side. Waits for the call's status. Given an address, it
 * opens and closes its own client.
 */
export function callRaw(
  target: string | Client,
  method: { path: string; requestStream: boolean; responseStream: boolean },
  requests: Buffer[],
  token: string,
  deadlineMs = 10_000,
): Promise<RawOutcome> {
  const owned = typeof target === "string";
  const client = typeof target === "string" ? new Client(target, credentials.createInsecure()) : target;
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  const deadline = Date.now() + deadlineMs;
  const responses: Buffer[] = [];
  return new Promise<RawOutcome>((resolve) => {
    const done = (error: ServiceError | null | undefined) => {
      if (owned) client.close();
      resolve({ error: error ?? undefined, responses });
    };
    if (!method.requestStream && !method.responseStream) {
      client.makeUnaryRequest(method.path, identity, identity, requests[0]!, metadata, { deadline }, (err, res) => {
        if (res) responses.push(res);
        done(err);
      });
      return;
    }
    if (!method.requestStream) {
      const call = client.makeServerStreamRequest(method.path, identity, identity, requests[0]!, metadata, { deadline });
      call.on("data", (b: Buffer) => responses.push(b));
      call.on("error", (err: ServiceError) => done(err));
      call.on("end", () => done(undefined));
      return;
    }
    if (!method.responseStream) {
      const call = client.makeClientStreamRequest(method.path, identity, identity, metadata, { deadline }, (err, res) => {
        if (res) responses.push(res);
        done(err);
      });
      for (const r of requests) call.write(r);
      call.end();
      return;
    }
    const call = client.makeBidiStreamRequest(method.path, identity, identity, metadata, { deadline });
    call.on("data", (b: Buffer) => responses.push(b));
    call.on("error", (err: ServiceError) => done(err));
    call.on("end", () => done(undefined));
    for (const r of requests) call.write(r);
    call.end();
  });
}

/** The request type of a generated service definition's method. */
export function requestType(path: string): string {
  const [, service = "", method = ""] = path.split("/");
  const input = protoRegistry().getService(service)?.methods.find((m) => m.name === method)?.input;
  if (!input) throw new Error(`no descriptor for ${path}`);
  return input.typeName;
}

/** What a refused call must look like: INVALID_ARGUMENT naming the field (never INTERNAL). */
export function refusedField(error: ServiceError | undefined): { code: number | undefined; field: string | undefined } {
  return { code: error?.code, field: error ? errorDetail(error)?.field : undefined };
}

export interface HostileMethodOptions {
  address: string;
  /** One method of a generated service definition (e.g. CatalogServiceService.listProducts). */
  method: { path: string; requestStream: boolean; responseStream: boolean };
  token: string;
  bounds?: InputBounds;
  numRuns?: number;
  /**
   * Reads the refusal from the outcome; by default the call's status. A
   * handler answering per item (a streaming send) reports it in a response.
   */
  refusal?: (outcome: RawOutcome) => { code: number | undefined; field: string | undefined };
}

/**
 * Sends generated hostile requests to one method; each must be refused with
 * INVALID_ARGUMENT naming its field. A request type without string, bytes or
 * repeated fields passes at once.
 */
export async function assertHostileRefused(options: HostileMethodOptions): Promise<void> {
  const typeName = requestType(options.method.path);
  // A request with no string, bytes or repeated field (ListCategories) has nothing to make hostile.
  if (targetsOf(message(typeName)).length === 0) return;
  const read = options.refusal ?? ((o: RawOutcome) => refusedField(o.error));
  const client = new Client(options.address, credentials.createInsecure());
  try {
    await fc.assert(
      fc.asyncProperty(hostileRequest(typeName, options.bounds), async (hostile) => {
        const outcome = await callRaw(client, options.method, [encodeRequest(typeName, hostile.json, hostile.surrogate)], options.token);
        const got = read(outcome);
        if (got.code !== status.INVALID_ARGUMENT || got.field !== hostile.field)
          throw new Error(`${options.method.path} ${hostile.kind} at ${hostile.field}: got code ${String(got.code)} naming ${String(got.field)} (${outcome.error?.details ?? "no error"})`);
      }),
      { numRuns: options.numRuns ?? 20 },
    );
  } finally {
    client.close();
  }
}

/** Rows per table of a schema, to show a batch of refused calls changed nothing. */
export async function rowCounts(databaseUrl: string, schema: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name", [schema]);
    const counts: Record<string, number> = {};
    for (const { table_name } of tables.rows) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table_name)}`);
      counts[table_name] = Number(rows[0]?.n ?? 0);
    }
    if (Object.keys(counts).length === 0) throw new Error(`schema ${schema} has no tables`);
    return counts;
  } finally {
    await client.end();
  }
}

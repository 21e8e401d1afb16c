import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createFileRegistry, fromBinary, type DescField, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { InvalidInput } from "./errors.js";

/**
 * Clean, bounded input at the boundary. Every decoded request is walked once,
 * before its handler runs: a string holding U+0000 or a lone surrogate, a
 * string or bytes field over its length, or a repeated field or map over its
 * count is refused with InvalidInput naming the field as a client sees it
 * (`content.text.body`, `items[3].product_retailer_id`).
 *
 * The walk is compiled per request type from the proto descriptors, so it
 * knows maps from messages and oneof cases from fields, and it reads the
 * objects ts-proto decodes (camelCase keys, `{ $case, value }` oneofs,
 * Timestamp as Date, FieldMask as string[]). The clean path allocates
 * nothing: one precompiled regex test and a length compare per string; a
 * path is only built when something is refused. The kit server decodes
 * requests so that invalid UTF-8 on the wire (an encoded surrogate half) is
 * refused the same way instead of silently becoming U+FFFD.
 */

/** Defaults no legitimate request reaches; a service raises or lowers them per field with InputBounds. */
export const defaultLimits = {
  /** Characters (code points) of a string. */
  string: 4096,
  /** Bytes of a bytes field. */
  bytes: 4096,
  /** Items of a repeated field, entries of a map. */
  count: 1000,
} as const;

/**
 * A service's overrides, by field path as a client sees it without indexes
 * ("content.text.body", "order.items.product_retailer_id"), or by its last
 * segments ("image_url" matches that field at any depth); the longest match
 * wins. A number is the length of a string or bytes field and the count of a
 * repeated field or map; `{ count, length }` sets both for a repeated string.
 */
export type InputBounds = Readonly<Record<string, number | { readonly count?: number; readonly length?: number }>>;

/** The refusal of a decoded message that breaks a rule, or undefined when it is clean. */
export type InputCheck = (message: unknown) => InvalidInput | undefined;

const STRING = 0;
const BYTES = 1;
const MESSAGE = 2;
const SKIP = 3;

type Kind = typeof STRING | typeof BYTES | typeof MESSAGE | typeof SKIP;

/** What one value is: a string, bytes, a message (with its plan) or nothing to check. */
interface ValuePlan {
  kind: Kind;
  /** Characters for a string, bytes for bytes. */
  max: number;
  plan: MessagePlan | undefined;
}

interface FieldPlan extends ValuePlan {
  /** The ts-proto property. */
  key: string;
  /** The proto field name, the path segment a client sees. */
  name: string;
  /** 0 singular, 1 repeated, 2 map, 3 oneof. */
  shape: 0 | 1 | 2 | 3;
  /** Item count of a repeated field or map. */
  count: number;
  /** Oneof case (ts-proto `$case`) → the case's field plan. */
  cases: Record<string, FieldPlan> | undefined;
}

type MessagePlan = FieldPlan[];

/** A refusal on its way up: path segments, innermost first. */
interface Violation {
  segments: string[];
  message: string;
}

const SUSPECT = /[\u0000\uD800-\uDFFF]/;

/** Why a string is refused, or undefined. Only a regex hit pays for the scan. */
function badString(s: string, max: number): string | undefined {
  if (SUSPECT.test(s)) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0) return "must not contain U+0000";
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
        else return "must not contain a lone surrogate or invalid UTF-8";
      }
    }
  }
  // UTF-16 length bounds the code point count from above: count only when it might be over.
  if (s.length > max && codePoints(s) > max) return `must be at most ${max} characters`;
  return undefined;
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function violation(message: string, segment?: string): Violation {
  return { segments: segment === undefined ? [] : [segment], message };
}

function checkValue(v: ValuePlan, value: unknown): Violation | undefined {
  switch (v.kind) {
    case STRING: {
      if (typeof value !== "string") return undefined;
      const bad = badString(value, v.max);
      return bad === undefined ? undefined : violation(bad);
    }
    case BYTES:
      return value instanceof Uint8Array && value.length > v.max ? violation(`must be at most ${v.max} bytes`) : undefined;
    case MESSAGE:
      return value !== null && typeof value === "object" ? walk(v.plan!, value as Record<string, unknown>) : undefined;
    default:
      return undefined;
  }
}

function walk(plan: MessagePlan, message: Record<string, unknown>): Violation | undefined {
  for (let i = 0; i < plan.length; i++) {
    const f = plan[i]!;
    const value = message[f.key];
    if (value === undefined || value === null) continue;
    let bad: Violation | undefined;
    switch (f.shape) {
      case 0:
        bad = checkValue(f, value);
        if (bad) bad.segments.push(f.name);
        break;
      case 1: {
        if (!Array.isArray(value)) break;
        if (value.length > f.count) return violation(`must have at most ${f.count} items`, f.name);
        if (f.kind === SKIP) break;
        for (let j = 0; j < value.length; j++) {
          bad = checkValue(f, value[j]);
          if (bad) {
            bad.segments.push(`${f.name}[${j}]`);
            return bad;
          }
        }
        break;
      }
      case 2:
        bad = walkMap(f, value as Record<string, unknown>);
        break;
      case 3: {
        const union = value as { $case?: unknown; value?: unknown };
        const c = typeof union.$case === "string" ? f.cases![union.$case] : undefined;
        if (c) {
          bad = checkValue(c, union.value);
          if (bad) bad.segments.push(c.name);
        }
        break;
      }
    }
    if (bad) return bad;
  }
  return undefined;
}

function walkMap(f: FieldPlan, map: Record<string, unknown>): Violation | undefined {
  let n = 0;
  for (const key in map) {
    if (++n > f.count) return violation(`must have at most ${f.count} entries`, f.name);
    const badKey = badString(key, defaultLimits.string);
    if (badKey !== undefined) return violation(`keys ${badKey}`, f.name);
    const bad = checkValue(f, map[key]);
    if (bad) {
      bad.segments.push(`${f.name}[${JSON.stringify(key)}]`);
      return bad;
    }
  }
  return undefined;
}

const helpers = {
  str(s: string, max: number): Violation | undefined {
    const bad = badString(s, max);
    return bad === undefined ? undefined : violation(bad);
  },
  bytes: (max: number): Violation => violation(`must be at most ${max} bytes`),
  count: (max: number, name: string): Violation => violation(`must have at most ${max} items`, name),
  at(v: Violation, segment: string): Violation {
    v.segments.push(segment);
    return v;
  },
  map: walkMap,
};

type Walker = (message: Record<string, unknown>) => Violation | undefined;

/**
 * Turns a message plan into straight-line code, one property read per field.
 * An interpreter loop over the plan reads `message[key]` with a different key
 * and object shape at one site (megamorphic: a slow lookup per field);
 * the generated code gives each read its own inline cache, as protobuf.js
 * and ajv do. Only names from the descriptors and numbers reach the code.
 */
function generate(plan: MessagePlan): Walker {
  const nested: Walker[] = [];
  const maps: FieldPlan[] = [];
  const lit = JSON.stringify;
  const value = (v: ValuePlan, expr: string, segment: string): string => {
    switch (v.kind) {
      case STRING:
        return `if (typeof ${expr} === "string" && (${expr}.length > ${v.max} || S.test(${expr}))) { r = h.str(${expr}, ${v.max}); if (r !== undefined) return h.at(r, ${segment}); }`;
      case BYTES:
        return `if (${expr} instanceof Uint8Array && ${expr}.length > ${v.max}) return h.at(h.bytes(${v.max}), ${segment});`;
      case MESSAGE: {
        const i = nested.push(generate(v.plan!)) - 1;
        return `if (${expr} !== null && typeof ${expr} === "object") { r = P[${i}](${expr}); if (r !== undefined) return h.at(r, ${segment}); }`;
      }
      default:
        return "";
    }
  };
  const lines: string[] = ["let v, r;"];
  for (const f of plan) {
    lines.push(`v = m[${lit(f.key)}];`);
    switch (f.shape) {
      case 0:
        lines.push(value(f, "v", lit(f.name)));
        break;
      case 1:
        lines.push(`if (Array.isArray(v)) { if (v.length > ${f.count}) return h.count(${f.count}, ${lit(f.name)});`);
        if (f.kind !== SKIP) lines.push(`for (let i = 0; i < v.length; i++) { const e = v[i]; ${value(f, "e", `${lit(`${f.name}[`)} + i + "]"`)} }`);
        lines.push("}");
        break;
      case 2: {
        const i = maps.push(f) - 1;
        lines.push(`if (v !== undefined && v !== null) { r = h.map(F[${i}], v); if (r !== undefined) return r; }`);
        break;
      }
      case 3:
        lines.push("if (v !== undefined && v !== null) switch (v.$case) {");
        for (const [name, c] of Object.entries(f.cases!)) if (c.kind !== SKIP) lines.push(`case ${lit(name)}: { const u = v.value; ${value(c, "u", lit(c.name))} break; }`);
        lines.push("}");
        break;
    }
  }
  lines.push("return undefined;");
  const make = new Function("S", "h", "P", "F", `"use strict"; return function check(m) {\n${lines.join("\n")}\n};`) as (s: RegExp, h: typeof helpers, p: Walker[], f: FieldPlan[]) => Walker;
  return make(SUSPECT, helpers, nested, maps);
}

/** ts-proto's property name for a proto field name (its snakeToCamel). */
function tsProtoKey(name: string): string {
  const hasLower = /[a-z]/.test(name);
  return name
    .split("_")
    .map((word, i) => {
      const w = hasLower ? word : word.toLowerCase();
      return i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1);
    })
    .join("");
}

interface Limits {
  length: number | undefined;
  count: number | undefined;
}

/**
 * The longest key of the table matching this path exactly or as its last
 * segments. A plain number is a length for a singular field and a count for
 * a repeated one or a map (whose items then keep the default length).
 */
function lookup(bounds: InputBounds, path: string, many: boolean): Limits {
  let best: string | undefined;
  for (const key in bounds) {
    if ((path === key || path.endsWith(`.${key}`)) && (best === undefined || key.length > best.length)) best = key;
  }
  const found = best === undefined ? undefined : bounds[best];
  if (found === undefined) return { length: undefined, count: undefined };
  if (typeof found === "number") return many ? { length: undefined, count: found } : { length: found, count: undefined };
  return { length: found.length, count: found.count };
}

const MAX_DEPTH = 24;

class Compiler {
  constructor(private readonly bounds: InputBounds) {}

  message(desc: DescMessage, path: string, depth: number): MessagePlan {
    if (depth > MAX_DEPTH) throw new Error(`input check: ${desc.typeName} nests deeper than ${MAX_DEPTH} at ${path}; recursive request types need a bound of their own`);
    const plan: MessagePlan = [];
    const oneofs = new Map<string, FieldPlan>();
    for (const field of desc.fields) {
      const fieldPath = path ? `${path}.${field.name}` : field.name;
      const compiled = this.field(field, fieldPath, depth);
      if (compiled.kind === SKIP && compiled.shape === 0) continue;
      if (field.oneof) {
        let union = oneofs.get(field.oneof.name);
        if (!union) {
          union = { key: tsProtoKey(field.oneof.name), name: field.oneof.name, shape: 3, kind: SKIP, max: 0, count: 0, plan: undefined, cases: Object.create(null) as Record<string, FieldPlan> };
          oneofs.set(field.oneof.name, union);
          plan.push(union);
        }
        union.cases![compiled.key] = compiled;
      } else plan.push(compiled);
    }
    return plan;
  }

  private field(field: DescField, path: string, depth: number): FieldPlan {
    const base = { key: tsProtoKey(field.name), name: field.name, cases: undefined };
    switch (field.fieldKind) {
      case "scalar":
        return { ...base, shape: 0, count: 0, ...this.scalar(field.scalar, lookup(this.bounds, path, false).length) };
      case "enum":
        return { ...base, shape: 0, count: 0, kind: SKIP, max: 0, plan: undefined };
      case "message": {
        if (field.message.typeName === "google.protobuf.FieldMask") {
          // ts-proto unwraps a FieldMask to its paths: a repeated string a client names `<field>.paths`.
          const limits = lookup(this.bounds, `${path}.paths`, true);
          return { ...base, name: `${field.name}.paths`, shape: 1, count: limits.count ?? defaultLimits.count, kind: STRING, max: limits.length ?? defaultLimits.string, plan: undefined };
        }
        return { ...base, shape: 0, count: 0, ...this.messageValue(field.message, path, depth, lookup(this.bounds, path, false).length) };
      }
      case "list": {
        const limits = lookup(this.bounds, path, true);
        const count = limits.count ?? defaultLimits.count;
        if (field.listKind === "scalar") return { ...base, shape: 1, count, ...this.scalar(field.scalar, limits.length) };
        if (field.listKind === "enum") return { ...base, shape: 1, count, kind: SKIP, max: 0, plan: undefined };
        return { ...base, shape: 1, count, ...this.messageValue(field.message, path, depth, limits.length) };
      }
      case "map": {
        const limits = lookup(this.bounds, path, true);
        const count = limits.count ?? defaultLimits.count;
        if (field.mapKind === "scalar") return { ...base, shape: 2, count, ...this.scalar(field.scalar, limits.length) };
        if (field.mapKind === "enum") return { ...base, shape: 2, count, kind: SKIP, max: 0, plan: undefined };
        return { ...base, shape: 2, count, ...this.messageValue(field.message, path, depth, limits.length) };
      }
    }
  }

  private scalar(scalar: number, length: number | undefined): ValuePlan {
    // ScalarType.STRING = 9, ScalarType.BYTES = 12
    if (scalar === 9) return { kind: STRING, max: length ?? defaultLimits.string, plan: undefined };
    if (scalar === 12) return { kind: BYTES, max: length ?? defaultLimits.bytes, plan: undefined };
    return { kind: SKIP, max: 0, plan: undefined };
  }

  /** A message value, with the shapes ts-proto gives the well-known types. */
  private messageValue(desc: DescMessage, path: string, depth: number, length: number | undefined): ValuePlan {
    switch (desc.typeName) {
      case "google.protobuf.Timestamp":
      case "google.protobuf.Duration":
      case "google.protobuf.FieldMask":
        return { kind: SKIP, max: 0, plan: undefined };
      case "google.protobuf.StringValue":
        return { kind: STRING, max: length ?? defaultLimits.string, plan: undefined };
      case "google.protobuf.BytesValue":
        return { kind: BYTES, max: length ?? defaultLimits.bytes, plan: undefined };
      default:
        return { kind: MESSAGE, max: 0, plan: this.message(desc, path, depth + 1) };
    }
  }
}

let registry: FileRegistry | undefined;

/** Every Kontor proto (and the well-known types they use), from the descriptor set buf builds. */
export function protoRegistry(): FileRegistry {
  if (!registry) {
    const require = createRequire(import.meta.url);
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(require.resolve("@kontor/proto/descriptor"))));
  }
  return registry;
}

/** Compiles the check of one message type (e.g. "kontor.catalog.v1.ListProductsRequest"). */
export function compileInputCheck(typeName: string, bounds: InputBounds = {}): InputCheck {
  const desc = protoRegistry().getMessage(typeName);
  if (!desc) throw new Error(`input check: unknown message type ${typeName}`);
  const check = generate(new Compiler(bounds).message(desc, "", 0));
  return (message) => {
    if (message === null || typeof message !== "object") return undefined;
    const bad = check(message as Record<string, unknown>);
    return bad ? new InvalidInput(bad.segments.reverse().join("."), bad.message) : undefined;
  };
}

/** One leaf of a request type, as hostile-input tests and docs see it. */
export interface InputField {
  /** Path without indexes, segments joined by "." ("content.text.body"); a repeated segment ends in "[]". */
  path: string;
  kind: "string" | "bytes" | "repeated" | "map";
  /** Characters, bytes, or items. */
  max: number;
}

/** Every string, bytes, repeated and map field of a request type with the limit the check applies. */
export function inputFields(typeName: string, bounds: InputBounds = {}): InputField[] {
  const desc = protoRegistry().getMessage(typeName);
  if (!desc) throw new Error(`input check: unknown message type ${typeName}`);
  const out: InputField[] = [];
  const visit = (plan: MessagePlan, prefix: string) => {
    for (const f of plan) {
      if (f.shape === 3) {
        for (const c of Object.values(f.cases!)) visit([c], prefix);
        continue;
      }
      const path = prefix ? `${prefix}.${f.name}` : f.name;
      if (f.shape === 1 || f.shape === 2) out.push({ path, kind: f.shape === 1 ? "repeated" : "map", max: f.count });
      const item = f.shape === 1 ? `${path}[]` : f.shape === 2 ? `${path}{}` : path;
      if (f.kind === STRING) out.push({ path: item, kind: "string", max: f.max });
      else if (f.kind === BYTES) out.push({ path: item, kind: "bytes", max: f.max });
      else if (f.kind === MESSAGE) visit(f.plan!, item);
    }
  };
  visit(new Compiler(bounds).message(desc, "", 0), "");
  return out;
}

/**
 * How a streaming method's incoming messages are checked. "kit" (the
 * default): each message as it arrives, before the handler sees it; a bad one
 * fails the stream with INVALID_ARGUMENT. "handler": the handler answers per
 * item and refuses a bad item itself with the kit server's `inputError()`.
 */
export interface StreamInputOptions {
  items?: "kit" | "handler";
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Decodes a request's strings. The default decoder turns invalid UTF-8 (an
 * encoded surrogate half such as ED A0 80, a cut sequence) silently into
 * U+FFFD; here such a string keeps that text plus a lone surrogate, so the
 * check refuses it naming its field. Valid UTF-8 costs the same either way.
 */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return `${lenientUtf8.decode(bytes)}\uDC00`;
  }
}

type Deserialize = (bytes: Buffer) => unknown;

/**
 * ts-proto's decode(input) reads from a BinaryReader it is given, so the
 * request is decoded with decodeUtf8 above. A deserializer that is not
 * ts-proto's (it fails on an empty request with a reader) is left as it is.
 */
function withStrictUtf8(deserialize: Deserialize): Deserialize {
  const wrapped: Deserialize = (bytes) => deserialize(new BinaryReader(bytes, decodeUtf8) as unknown as Buffer);
  try {
    const empty = wrapped(Buffer.alloc(0));
    return empty !== null && typeof empty === "object" ? wrapped : deserialize;
  } catch {
    return deserialize;
  }
}

/** The kit server's side of the checks: one compiled check per method of the services it serves. */
export interface InputGuard {
  /**
   * Compiles the checks of a service's methods and returns the definition to
   * serve, whose requests decode invalid UTF-8 so the check refuses it. A
   * service outside Kontor's protos (a test's own) is returned as it is.
   */
  add(definition: ServiceDefinition): ServiceDefinition;
  /** Unary and server-stream calls: throws the refusal of `call.request`. */
  checkRequest(method: string, call: object): void;
  /** Client-stream and duplex calls: runs the handler with every incoming message checked as it arrives. */
  checkReads<T>(method: string, call: { push(chunk: unknown, encoding?: BufferEncoding): boolean }, options: StreamInputOptions | undefined, run: () => Promise<T>): Promise<T>;
  error(method: string, message: unknown): InvalidInput | undefined;
}

export function createInputGuard(bounds: InputBounds = {}): InputGuard {
  const checks = new Map<string, InputCheck>();
  return {
    add(definition) {
      const served: Record<string, ServiceDefinition[string]> = { ...definition };
      for (const [name, method] of Object.entries(definition)) {
        const [, serviceName = "", methodName = ""] = method.path.split("/");
        const input = protoRegistry().getService(serviceName)?.methods.find((m) => m.name === methodName)?.input;
        if (!input) continue;
        if (checks.has(methodName)) throw new Error(`input check: two services on one server both define ${methodName}`);
        checks.set(methodName, compileInputCheck(input.typeName, bounds));
        served[name] = { ...method, requestDeserialize: withStrictUtf8(method.requestDeserialize as Deserialize) };
      }
      return served;
    },
    checkRequest(method, call) {
      const check = checks.get(method);
      if (check !== undefined && "request" in call) {
        const refused = check(call.request);
        if (refused) throw refused;
      }
    },
    checkReads(method, call, options, run) {
      // grpc-js pushes every decoded message into the call: check the push.
      // After a refusal nothing more reaches the handler and the call fails with it.
      const check = options?.items === "handler" ? undefined : checks.get(method);
      if (check === undefined) return run();
      let refuse: (err: InvalidInput) => void = () => undefined;
      const refusal = new Promise<never>((_, reject) => {
        refuse = reject;
      });
      const push = call.push;
      let refused = false;
      call.push = (chunk: unknown, encoding?: BufferEncoding) => {
        if (refused) return false;
        if (chunk !== null) {
          const bad = check(chunk);
          if (bad) {
            refused = true;
            refuse(bad);
            return false;
          }
        }
        return push.call(call, chunk, encoding);
      };
      return Promise.race([run(), refusal]);
    },
    error(method, message) {
      return checks.get(method)?.(message);
    },
  };
}

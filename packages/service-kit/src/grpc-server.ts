import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  Server,
  ServerCredentials,
  Metadata,
  status,
  type ServiceDefinition,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServerDuplexStream,
  type ServerReadableStream,
  type StatusObject,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import { ReflectionService } from "@grpc/reflection";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";
import { principalLabel, type Principal, type TokenVerifier } from "./auth.js";
import { callerMatcher, type AccessTable } from "./access.js";
import { NotYours, toStatus, Unauthenticated, type InvalidInput } from "./errors.js";
import { createInputGuard, type InputBounds, type StreamInputOptions } from "./input.js";

/** What every handler gets besides its request. */
export interface CallContext {
  principal: Principal;
  log: Logger;
  requestId: string;
  /** The caller's deadline; pass it on to downstream calls. */
  deadline: Date | undefined;
  metadata: Metadata;
  /** Aborted when the caller cancels or the deadline passes. */
  signal: AbortSignal;
}

export interface KitServerOptions {
  service: string;
  /**
   * Who may call each method (the service's `rpc/access.ts`). Checked after
   * authentication and before the handler; a method missing from the table
   * is refused to everyone.
   */
  access: AccessTable;
  /** ErrorInfo domain of this service's errors; `kontor.<service>` unless given. */
  errorDomain?: string;
  log: Logger;
  metrics: Metrics;
  verifier: TokenVerifier;
  /** Log successful calls at this level; errors always log at warn/error. */
  okLogLevel?: "info" | "debug" | "trace";
  maxReceiveMessageLength?: number;
  /** The service's overrides of the kit's input limits (input.ts), by field path. */
  bounds?: InputBounds;
}

type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
type ServerStreamHandler<Req, Res> = (request: Req, ctx: CallContext, call: ServerWritableStream<Req, Res>) => Promise<void>;
type DuplexHandler<Req, Res> = (call: ServerDuplexStream<Req, Res>, ctx: CallContext) => Promise<void>;
type ClientStreamHandler<Req, Res> = (call: ServerReadableStream<Req, Res>, ctx: CallContext) => Promise<Res>;

export interface KitServer {
  readonly server: Server;
  readonly health: HealthImplementation;
  /** The ErrorInfo domain of this service (`kontor.<service>`), for errors mapped outside a call's end (per-item stream results). */
  readonly errorDomain: string;
  /** Decode → authenticate → run → map errors → log and count. */
  unary<Req, Res>(method: string, handler: UnaryHandler<Req, Res>): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;
  serverStream<Req, Res>(method: string, handler: ServerStreamHandler<Req, Res>): (call: ServerWritableStream<Req, Res>) => void;
  duplex<Req, Res>(method: string, handler: DuplexHandler<Req, Res>, options?: StreamInputOptions): (call: ServerDuplexStream<Req, Res>) => void;
  clientStream<Req, Res>(method: string, handler: ClientStreamHandler<Req, Res>, options?: StreamInputOptions): (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>) => void;
  /** Why this message of the method is refused (NUL, lone surrogate, over a limit), or undefined. */
  inputError(method: string, message: unknown): InvalidInput | undefined;
  addService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void;
  setServing(serving: boolean): void;
  listen(host: string, port: number): Promise<number>;
  /** Graceful: refuse new calls, wait for running ones up to graceMs, then cut. */
  shutdown(graceMs: number): Promise<void>;
}

const require = createRequire(import.meta.url);

function loadDescriptorSet(): Buffer {
  return readFileSync(require.resolve("@kontor/proto/descriptor"));
}

type CancelSource = { cancelled?: boolean; on(event: "cancelled", listener: () => void): unknown };

/**
 * The per-call context. Request id, logger and abort signal are built on
 * first use: most calls on a hot path never touch them, and building them
 * eagerly cost ~10% of a no-op call. A class, not an object literal with
 * getters: with the literal, every call's closures (and through them the
 * call) outlived two scavenges, ~3 KB promoted and ~20 µs of CPU per call
 * (`npm run bench:kit`, packages/service-kit/BENCHMARKS.md).
 */
class KitCallContext implements CallContext {
  private id: string | undefined;
  private child: Logger | undefined;
  private aborted: AbortSignal | undefined;

  constructor(
    private readonly method: string,
    readonly metadata: Metadata,
    readonly principal: Principal,
    readonly deadline: Date | undefined,
    private readonly cancelSource: CancelSource,
    private readonly parentLog: Logger,
    private readonly closing: AbortSignal,
  ) {}

  get requestId(): string {
    if (this.id === undefined) {
      const incoming = this.metadata.get("x-request-id")[0];
      this.id = typeof incoming === "string" && incoming.length > 0 && incoming.length <= 128 ? incoming : randomUUID();
    }
    return this.id;
  }

  get log(): Logger {
    this.child ??= this.parentLog.child({ rpc: this.method, request_id: this.requestId, principal: principalLabel(this.principal) });
    return this.child;
  }

  get signal(): AbortSignal {
    if (!this.aborted) {
      const controller = new AbortController();
      if (this.cancelSource.cancelled) controller.abort();
      else this.cancelSource.on("cancelled", () => controller.abort());
      const deadline = this.deadline;
      if (deadline && Number.isFinite(deadline.getTime())) {
        const ms = deadline.getTime() - Date.now();
        if (ms <= 0) controller.abort();
        else setTimeout(() => controller.abort(), ms).unref();
      }
      this.aborted = AbortSignal.any([controller.signal, this.closing]);
    }
    return this.aborted;
  }
}

export function createKitServer(options: KitServerOptions): KitServer {
  const { service, log, metrics, verifier, access } = options;
  const errorDomain = options.errorDomain ?? `kontor.${service}`;
  const okLevel = options.okLogLevel ?? "debug";
  const server = new Server({
    "grpc.max_receive_message_length": options.maxReceiveMessageLength ?? 8 * 1024 * 1024,
    "grpc.keepalive_permit_without_calls": 1,
    // channelz bookkeeping runs on every call (~3% of a busy service's CPU) and nothing here reads it.
    "grpc.enable_channelz": 0,
  });
  const serviceNames: string[] = [];
  // Aborted when shutdown starts, so long-lived streams end instead of holding the drain.
  const closing = new AbortController();
  const health = new HealthImplementation({ "": "NOT_SERVING" });
  health.addToServer(server);
  const reflection = new ReflectionService(loadFileDescriptorSetFromBuffer(loadDescriptorSet()));
  reflection.addToServer(server);

  const inputs = createInputGuard(options.bounds);

  function bearerToken(metadata: Metadata): string | undefined {
    const header = metadata.get("authorization")[0];
    return typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : undefined;
  }

  async function authenticate(token: string | undefined): Promise<Principal> {
    if (token === undefined) throw new Unauthenticated();
    return verifier.verify(token);
  }

  function finish(method: string, started: number, err: unknown, ctx: CallContext | undefined) {
    const seconds = (performance.now() - started) / 1000;
    metrics.rpcDuration.observe({ service, method }, seconds);
    if (err === undefined) {
      metrics.rpcHandled.inc({ service, method, code: "OK" });
      if (log.isLevelEnabled(okLevel)) (ctx?.log ?? log)[okLevel]({ code: "OK", duration_ms: seconds * 1000 }, "rpc done");
      return undefined;
    }
    const ctxLog = ctx?.log ?? log.child({ rpc: method });
    const mapped = toStatus(err, errorDomain);
    metrics.rpcHandled.inc({ service, method, code: status[mapped.status.code] ?? String(mapped.status.code) });
    if (mapped.unexpected) ctxLog.error({ err, code: status[mapped.status.code], duration_ms: seconds * 1000 }, "rpc failed");
    else ctxLog.warn({ code: status[mapped.status.code], reason: mapped.reason, duration_ms: seconds * 1000 }, "rpc refused");
    return mapped.status;
  }

  function deadlineOf(call: { getDeadline(): Date | number }): Date | undefined {
    const d = call.getDeadline();
    if (d instanceof Date) return Number.isFinite(d.getTime()) ? d : undefined;
    return Number.isFinite(d) ? new Date(d) : undefined;
  }

  type AnyCall = { metadata: Metadata; cancelled?: boolean; getDeadline(): Date | number; on(event: "cancelled", listener: () => void): unknown };

  /** The method's allow-list, compiled once when its handler is registered (fail closed when the table has no entry). */
  function allowedCallers(method: string): (principal: Principal) => boolean {
    if (!Object.hasOwn(access, method)) log.warn({ rpc: method }, "method missing from the access table: every call is refused");
    return callerMatcher(Object.hasOwn(access, method) ? access[method] : undefined);
  }

  /** The one path every call takes: authenticate → allow-list → context → work → count/log → answer. */
  function handle<T>(
    method: string,
    allowed: (principal: Principal) => boolean,
    call: AnyCall,
    work: (ctx: CallContext) => Promise<T>,
    onOk: (value: T) => void,
    onError: (st: StatusObject) => void,
  ) {
    const started = performance.now();
    let ctx: CallContext | undefined;
    const run = (principal: Principal) => {
      ctx = new KitCallContext(method, call.metadata, principal, deadlineOf(call), call, log, closing.signal);
      // After the context, so the refusal's log line names the caller and the request id.
      if (!allowed(principal)) throw new NotYours(`${method} may not be called by ${principalLabel(principal)}`, "CALLER_NOT_ALLOWED");
      // After the allow-list, so a caller without access learns nothing of the input rules.
      inputs.checkRequest(method, call);
      return work(ctx);
    };
    // A token seen before starts the work at once: no promise and no turn for the check.
    const token = bearerToken(call.metadata);
    const known = token === undefined ? undefined : verifier.cached?.(token);
    let result: Promise<T>;
    if (known) {
      try {
        result = run(known);
      } catch (err) {
        result = Promise.reject(err);
      }
    } else result = authenticate(token).then(run);
    result
      .then(
        (value) => {
          finish(method, started, undefined, ctx);
          onOk(value);
        },
        (err: unknown) => {
          const st = finish(method, started, err, ctx);
          if (st) onError(st);
        },
      );
  }

  /** Ends a stream with an error status unless the caller already went away. */
  function failStream(call: { cancelled: boolean; emit(event: "error", err: object): unknown }) {
    return (st: StatusObject) => {
      if (!call.cancelled) call.emit("error", { ...st, metadata: st.metadata ?? new Metadata() });
    };
  }

  return {
    server,
    health,
    errorDomain,
    unary(method, handler) {
      const allowed = allowedCallers(method);
      return (call, callback) =>
        handle(method, allowed, call, (ctx) => handler(call.request, ctx), (res) => callback(null, res), (st) => callback(st));
    },
    serverStream(method, handler) {
      const allowed = allowedCallers(method);
      return (call) => handle(method, allowed, call, (ctx) => handler(call.request, ctx, call), () => call.end(), failStream(call));
    },
    duplex(method, handler, streamOptions) {
      const allowed = allowedCallers(method);
      return (call) =>
        handle(method, allowed, call, (ctx) => inputs.checkReads(method, call, streamOptions, () => handler(call, ctx)), () => call.end(), failStream(call));
    },
    clientStream(method, handler, streamOptions) {
      const allowed = allowedCallers(method);
      return (call, callback) =>
        handle(method, allowed, call, (ctx) => inputs.checkReads(method, call, streamOptions, () => handler(call, ctx)), (res) => callback(null, res), (st) => callback(st));
    },
    inputError(method, message) {
      return inputs.error(method, message);
    },
    addService(definition, implementation) {
      server.addService(inputs.add(definition), implementation);
      const first = Object.values(definition)[0];
      const name = first?.path.split("/")[1];
      if (name) serviceNames.push(name);
    },
    setServing(serving) {
      const value: ServingStatus = serving ? "SERVING" : "NOT_SERVING";
      health.setStatus("", value);
      for (const name of serviceNames) health.setStatus(name, value);
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, boundPort) => {
          if (err) reject(err);
          else resolve(boundPort);
        });
      });
    },
    shutdown(graceMs) {
      closing.abort();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

export { status, Metadata };
export type { StreamInputOptions };

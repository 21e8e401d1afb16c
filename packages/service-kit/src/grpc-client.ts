import { credentials, Metadata, type CallOptions, type Client, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import type { CallContext } from "./grpc-server.js";

type ClientCtor<C> = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: object) => C;

/** A client for another Kontor service (insecure inside the cluster; mTLS belongs to the mesh). */
export function createClient<C extends Client>(Ctor: ClientCtor<C>, address: string): C {
  return new Ctor(address, credentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.max_receive_message_length": 8 * 1024 * 1024,
    "grpc.enable_channelz": 0, // as on the kit's servers
  });
}

export interface OutgoingOptions {
  token?: string;
  /** Default deadline when the incoming call has none (ms). */
  timeoutMs?: number;
  /** The incoming call, to propagate its deadline and request id. */
  ctx?: Pick<CallContext, "deadline" | "requestId">;
  metadata?: Metadata;
}

export function outgoingMetadata(options: OutgoingOptions): Metadata {
  const md = options.metadata?.clone() ?? new Metadata();
  if (options.token) md.set("authorization", `Bearer ${options.token}`);
  if (options.ctx?.requestId) md.set("x-request-id", options.ctx.requestId);
  return md;
}

export function outgoingDeadline(options: OutgoingOptions): Date {
  const fallback = new Date(Date.now() + (options.timeoutMs ?? 10_000));
  const incoming = options.ctx?.deadline;
  return incoming && incoming < fallback ? incoming : fallback;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/**
 * Promise wrapper for a generated unary method, with metadata and deadline:
 * `await unaryCall(client.getProduct.bind(client), req, { token })`.
 */
export function unaryCall<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, options: OutgoingOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, outgoingMetadata(options), { deadline: outgoingDeadline(options) }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Asks a server's grpc.health.v1 service for its status ("SERVING", "NOT_SERVING", …). */
export async function checkHealth(address: string, service = "", timeoutMs = 2000): Promise<string> {
  const { service: healthService } = await import("grpc-health-check");
  const { makeGenericClientConstructor } = await import("@grpc/grpc-js");
  const Health = makeGenericClientConstructor(healthService as never, "Health");
  const client = new Health(address, credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) => {
      (client as unknown as { check: (req: object, opts: object, cb: (e: Error | null, r: { status: unknown }) => void) => void }).check(
        { service },
        { deadline: new Date(Date.now() + timeoutMs) },
        (err, res) => (err ? reject(err) : resolve(String(res.status))),
      );
    });
  } finally {
    client.close();
  }
}

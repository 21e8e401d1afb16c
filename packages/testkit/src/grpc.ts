import { credentials, Metadata, type Client, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { checkHealth, unaryCall, type OutgoingOptions } from "@kontor/service-kit/grpc-client";
import { errorDetail } from "@kontor/service-kit/errors";

export { checkHealth, unaryCall, errorDetail };

type ClientCtor<C> = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: object) => C;

/** A generated client pointed at an app started in this test. */
export function clientFor<C extends Client>(Ctor: ClientCtor<C>, port: number): C {
  return new Ctor(`127.0.0.1:${port}`, credentials.createInsecure());
}

export function authMetadata(token: string): Metadata {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
}

/** Calls and expects failure; returns the error for assertions on code and detail. */
export async function expectFailure<Req, Res>(
  method: Parameters<typeof unaryCall<Req, Res>>[0],
  request: Req,
  options: OutgoingOptions = {},
): Promise<ServiceError> {
  try {
    await unaryCall(method, request, options);
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** Collects items from a server stream until `count` arrived or `timeoutMs` passed. */
export function collect<T>(stream: ClientReadableStream<T>, count: number, timeoutMs = 5000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    const timer = setTimeout(() => {
      stream.removeListener("data", onData);
      resolve(items);
    }, timeoutMs);
    const onData = (item: T) => {
      items.push(item);
      if (items.length >= count) {
        clearTimeout(timer);
        stream.removeListener("data", onData);
        resolve(items);
      }
    };
    stream.on("data", onData);
    stream.on("error", (err: ServiceError) => {
      clearTimeout(timer);
      if (err.code === 1) resolve(items);
      else reject(err);
    });
  });
}

/**
 * Polls until `check` returns a truthy value. The timeout only bounds a test
 * that is failing anyway (and names the wait): it is far above what a slow or
 * busy host needs, so no test depends on speed.
 */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The benchmark's server process: the real payments service from env
 * config, in its own process so the load generator's event loop does not
 * sit in the service's latency. Mode "noop" (argv[2]) serves the same gRPC
 * service definition answering every call at once: the raw grpc-js limit.
 * Prints {"port": <n>} once serving; stops on SIGTERM.
 */
import { Server, ServerCredentials, type sendUnaryData } from "@grpc/grpc-js";
import { PaymentsServiceService } from "@kontor/proto/payments/v1/payments_service";
import { loadConfig } from "../src/config.js";
import { createPayments } from "../src/app.js";

async function startNoop(): Promise<{ port: number; stop(): Promise<void> }> {
  const server = new Server({ "grpc.max_receive_message_length": 8 * 1024 * 1024, "grpc.keepalive_permit_without_calls": 1, "grpc.enable_channelz": 0 });
  const handlers = Object.fromEntries(Object.keys(PaymentsServiceService).map((name) => [name, (_call: unknown, cb: sendUnaryData<object>) => cb(null, {})]));
  server.addService(PaymentsServiceService, handlers);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

const app = process.argv[2] === "noop" ? await startNoop() : await createPayments(loadConfig());
const { port } = "port" in app ? app : await app.start();
process.stdout.write(`${JSON.stringify({ port })}\n`);
const stop = async () => {
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

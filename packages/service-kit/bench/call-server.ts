/**
 * The call-overhead bench's server process: "raw" serves the probe on a plain
 * grpc-js server (answering after a microtask, as any real handler does),
 * "kit" through the service kit's server and call wrapper (token check,
 * context, metrics, logging). The parent sends "start" and "stop" over IPC and
 * gets this process's CPU time in between.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { createTokenVerifier } from "../src/auth.js";
import { createKitServer } from "../src/grpc-server.js";
import { createLogger } from "../src/log.js";
import { createMetrics } from "../src/metrics.js";
import { ACK, probeDefinition } from "./probe.js";

const mode = process.argv[2];
// The kit server's transport options, so both differ only in the call path.
const transport = { "grpc.max_receive_message_length": 8 * 1024 * 1024, "grpc.keepalive_permit_without_calls": 1, "grpc.enable_channelz": 0 };

async function listen(): Promise<number> {
  if (mode === "kit") {
    const kit = createKitServer({
      service: "probe",
      access: { Call: ["service:bench"] },
      log: createLogger("probe", "info"),
      metrics: createMetrics("probe"),
      verifier: createTokenVerifier(process.env.AUTH_PUBLIC_KEYS!),
      okLogLevel: "debug",
    });
    kit.addService(probeDefinition, { call: kit.unary("Call", async () => ACK) });
    return kit.listen("127.0.0.1", 0);
  }
  const server = new Server(transport);
  server.addService(probeDefinition, {
    call: (_call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => void Promise.resolve().then(() => cb(null, ACK)),
  });
  return new Promise((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
}

let base = 0;
process.on("message", (m: string) => {
  const u = process.cpuUsage();
  if (m === "start") base = u.user + u.system;
  else process.send!({ cpuUs: u.user + u.system - base });
});
process.on("disconnect", () => process.exit(0));
const port = await listen();
process.send!({ port });

/**
 * The benchmark's gateway process (a child of the load generator, so each has
 * its own event loop and core, as in production). Modes: "gateway" runs the
 * real gateway from env config; "noop" is the same framework (fastify, JSON
 * body parsed) answering every send with a fixed body: the HTTP limit.
 */
import Fastify from "fastify";
import { createGateway } from "../src/app.js";
import { loadConfig } from "../src/config.js";

const mode = process.argv[2] ?? "gateway";

async function main() {
  let port: number;
  let stop: () => Promise<unknown>;
  if (mode === "noop") {
    const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
    const answer = { messaging_product: "whatsapp", contacts: [{ input: "+491700000000", wa_id: "491700000000" }], messages: [{ id: "wamid.AAAAAAAAAAAAAAAAAAAAAA" }] };
    app.post("/v23.0/:id/messages", async (_req, reply) => reply.header("content-type", "application/json; charset=UTF-8").send(answer));
    await app.listen({ host: "127.0.0.1", port: 0 });
    const a = app.server.address();
    port = typeof a === "object" && a ? a.port : 0;
    stop = () => app.close();
  } else {
    const app = await createGateway(loadConfig(process.env));
    ({ httpPort: port } = await app.start());
    stop = () => app.stop();
  }
  process.on("SIGTERM", () => void stop().finally(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

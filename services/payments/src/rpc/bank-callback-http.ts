import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Logger } from "@kontor/service-kit/log";
import { SIGNATURE_HEADER } from "../domain/bank-rail.js";
import type { BankService } from "../domain/bank-service.js";

/** A bank callback is a small JSON outcome; anything larger is not one. */
const MAX_BODY = 16 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Past the limit the rest is read and dropped, so the sender still gets its answer.
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= MAX_BODY ? Buffer.concat(chunks) : undefined));
    req.on("error", reject);
  });
}

/**
 * The banks' webhook endpoint: POST /bank/callbacks/<rail> with the outcome
 * as body and its signature in `kontor-bank-signature`. 204 once applied (or
 * already applied: a repeat changes nothing); 401 when the signature or its
 * time does not verify (a replay from outside the tolerance); 5xx makes the
 * bank retry. Nothing about the failure goes back in the answer.
 */
export function createBankCallbackServer(rail: string, bank: BankService, log: Logger) {
  let received = 0;
  const path = `/bank/callbacks/${rail}`;
  const server: Server = createServer((req, res) => {
    if (req.url !== path) return void res.writeHead(404).end();
    if (req.method !== "POST") return void res.writeHead(405, { allow: "POST" }).end();
    readBody(req)
      .then(async (body) => {
        if (!body) return void res.writeHead(413).end();
        const signature = req.headers[SIGNATURE_HEADER];
        const applied = typeof signature === "string" && (await bank.receiveCallback(body, signature));
        if (!applied) {
          log.warn({ rail }, "bank callback refused: bad or stale signature");
          return void res.writeHead(401).end();
        }
        received += 1;
        res.writeHead(204).end();
      })
      .catch((err: unknown) => {
        log.warn({ rail, err: { message: (err as Error).message } }, "bank callback failed; the bank retries");
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  let url: string | undefined;
  return {
    /** The endpoint's URL once listening. */
    url: () => url,
    /** Callbacks verified and applied through this endpoint. */
    received: () => received,
    listen(host: string, port: number): Promise<string> {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const address = server.address();
          const bound = typeof address === "object" && address ? address.port : port;
          url = `http://${host.includes(":") ? `[${host}]` : host}:${bound}${path}`;
          resolve(url);
        });
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

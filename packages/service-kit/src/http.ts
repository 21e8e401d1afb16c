import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/** /metrics (Prometheus text) and /healthz (200 while serving, 503 otherwise). */
export function createOpsServer(registry: Registry, isHealthy: () => boolean): { listen(host: string, port: number): Promise<number>; close(): Promise<void> } {
  const server: Server = createServer((req, res) => {
    if (req.url === "/metrics") {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (req.url === "/healthz" || req.url === "/readyz") {
      const ok = isHealthy();
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: ok ? "SERVING" : "NOT_SERVING" }));
      return;
    }
    res.writeHead(404).end();
  });
  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === "object" && address ? address.port : port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

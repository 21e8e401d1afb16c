import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * One registry per service instance (not the prom-client global), so several
 * services can run in one process in tests and the local stack.
 */
export interface Metrics {
  registry: Registry;
  rpcHandled: Counter<"service" | "method" | "code">;
  rpcDuration: Histogram<"service" | "method">;
  outboxPublished: Counter;
  outboxBacklog: Gauge<"table">;
  consumerHandled: Counter<"consumer" | "outcome">;
}

export function createMetrics(service: string, options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ kontor_service: service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    rpcHandled: new Counter({
      name: "kontor_rpc_server_handled_total",
      help: "RPCs completed, by gRPC status code",
      labelNames: ["service", "method", "code"] as const,
      registers: [registry],
    }),
    rpcDuration: new Histogram({
      name: "kontor_rpc_server_duration_seconds",
      help: "RPC latency from receipt to status",
      labelNames: ["service", "method"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    outboxPublished: new Counter({ name: "kontor_outbox_published_total", help: "Events published from the outbox", registers: [registry] }),
    outboxBacklog: new Gauge({ name: "kontor_outbox_backlog", help: "Outbox rows (one per committed transaction, holding its events) pending at the last relay pass, by outbox table", labelNames: ["table"] as const, registers: [registry] }),
    consumerHandled: new Counter({
      name: "kontor_consumer_handled_total",
      help: "Event deliveries handled by consumers, by outcome (ack, duplicate, nak, term)",
      labelNames: ["consumer", "outcome"] as const,
      registers: [registry],
    }),
  };
}

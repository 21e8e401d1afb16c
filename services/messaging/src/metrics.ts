import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { SendCounts, SendMetrics } from "./domain/send-service.js";

/** What inbox streams needed besides live delivery. */
export interface LiveCounts {
  /** Messages written from the store when a stream started or resumed (store-and-forward). */
  backlog: number;
  /** Messages live delivery never brought, written from the store after the gap wait or the sweep. */
  repaired: number;
  /** Streams cut because their client fell too far behind. */
  cut: number;
  /** Live batches not published to NATS because no other replica streams their participant's shard. */
  unpublished: number;
}

export interface MessagingMetrics extends SendMetrics {
  live: LiveCounts;
  /** The gauges, read when scraped: call once the send path and the hub exist. */
  watch(read: { queued(): number; sessions(): number }): void;
}

/**
 * The routing core's metrics, recorded at its choke points (the group commit
 * and the inbox sessions), never in handlers. Per-message counts are plain
 * numbers read when Prometheus scrapes: the send path handles tens of
 * thousands of messages a second, and a labelled inc() per message hashes its
 * labels each time. Histograms are observed once per group commit.
 */
export function createMessagingMetrics(registry: Registry): MessagingMetrics {
  const sends: SendCounts = { accepted: 0, duplicate: 0, refused: 0, failed: 0 };
  /** Refused sends by the refusal's reason (a fixed set: the policy's and input's reasons). */
  const refusals = new Map<string, number>();
  const live: LiveCounts = { backlog: 0, repaired: 0, cut: 0, unpublished: 0 };
  const registers = [registry];

  new Counter({
    name: "kontor_messaging_sends_total",
    help: "Sends (unary and streamed items) by outcome: accepted, duplicate (a retry), refused (before storing), failed (the store was unavailable)",
    labelNames: ["outcome"] as const,
    registers,
    collect() {
      this.reset();
      for (const outcome of Object.keys(sends) as (keyof SendCounts)[]) this.inc({ outcome }, sends[outcome]);
    },
  });
  new Counter({
    name: "kontor_messaging_send_refusals_total",
    help: "Sends refused before storing, by reason (OUTSIDE_CUSTOMER_SERVICE_WINDOW, PAIR_RATE_LIMIT, INVALID_ARGUMENT, …)",
    labelNames: ["reason"] as const,
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of refusals) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: "kontor_messaging_inbox_backlog_messages_total",
    help: "Messages written to inbox streams from the store when they started or resumed",
    registers,
    collect() {
      this.reset();
      this.inc(live.backlog);
    },
  });
  new Counter({
    name: "kontor_messaging_inbox_repaired_messages_total",
    help: "Messages live delivery never brought (a lost publish), written to inbox streams from the store",
    registers,
    collect() {
      this.reset();
      this.inc(live.repaired);
    },
  });
  new Counter({
    name: "kontor_messaging_inbox_streams_cut_total",
    help: "Inbox streams ended because the client fell too far behind (it resumes from its cursor)",
    registers,
    collect() {
      this.reset();
      this.inc(live.cut);
    },
  });
  new Counter({
    name: "kontor_messaging_live_unpublished_total",
    help: "Live batches kept off NATS because no other replica streams their participant's shard",
    registers,
    collect() {
      this.reset();
      this.inc(live.unpublished);
    },
  });
  const size = new Histogram({
    name: "kontor_messaging_group_commit_messages",
    help: "Messages per group commit",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    registers,
  });
  const duration = new Histogram({
    name: "kontor_messaging_group_commit_seconds",
    help: "Time from a group commit's dispatch to its COMMIT returning (durable), waits for earlier batches' locks included",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });

  const stage = new Histogram({
    name: "kontor_messaging_send_stage_seconds",
    help: "Where a group commit's oldest send spent its time: queued (waiting for a batch), commit (dispatch to COMMIT returned, lock waits included), ordered (waiting for the batch ahead to be delivered), delivered (frames handed to the recipients' streams and other replicas)",
    labelNames: ["stage"] as const,
    // Fine around the 10 ms a chat message should take end to end.
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const queued = stage.labels("queued");
  const committing = stage.labels("commit");
  const ordered = stage.labels("ordered");
  const delivered = stage.labels("delivered");

  return {
    sends,
    live,
    commit(messages, seconds) {
      size.observe(messages);
      duration.observe(seconds);
    },
    stages(q, c, o, d) {
      queued.observe(q);
      committing.observe(c);
      ordered.observe(o);
      delivered.observe(d);
    },
    refused(reason) {
      refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
    },
    watch(read) {
    new Gauge({
      name: "kontor_messaging_send_queue",
      help: "Sends accepted for storing on this replica and not yet committed",
      registers,
      collect() {
        this.set(read.queued());
      },
    });
    new Gauge({
      name: "kontor_messaging_inbox_streams",
      help: "Open inbox streams (devices) on this replica",
      registers,
      collect() {
        this.set(read.sessions());
      },
    });
    },
  };
}

/**
 * npm run bench:broadcast — a broadcast of one approved template to 100,000
 * customers (uploaded as CSV, limits out of the way) against the real
 * PostgreSQL and NATS, beside the same template streamed to as many
 * customers through SendMessageStream in the same run, half before the
 * broadcast and half after (the routing core's rate the broadcast is a share
 * of); then the same broadcast to another
 * 100,000, its service SIGKILLed at 50 % and restarted, counted for
 * duplicates and misses. Prints one JSON line (bench-results/broadcast.json).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { credentials, Metadata } from "@grpc/grpc-js";
import { benchKnob, reportBench } from "@kontor/service-kit/bench";
import { createDb } from "@kontor/service-kit/db";
import { BusinessRegistered } from "@kontor/proto/directory/v1/events";
import { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import type { TemplateComponent } from "@kontor/proto/messaging/v1/message";
import { MessagingServiceClient, type SendMessageStreamResponse } from "@kontor/proto/messaging/v1/messaging_service";
import { TemplateCategory, TemplateComponentType, TemplateHeaderFormat, TemplateParameterFormat } from "@kontor/proto/messaging/v1/template";
import { TemplateServiceClient } from "@kontor/proto/messaging/v1/template_service";
import { BusinessToolsServiceClient, type CreateBroadcastRequest, type CreateBroadcastResponse, type UploadBroadcastRecipientsResponse } from "@kontor/proto/messaging/v1/tools_service";
import { createTestEnv } from "@kontor/testkit/env";
import { cpuPerOp, cpuSnapshot, databaseOf, log as logTo, nowMs, round, sleep, startServer, stopServer, type ServerProc } from "./tools-bench-kit.js";

/** Recipients per broadcast (the issue's size is 100,000: BENCH_BROADCAST_RECIPIENTS=100000 on a machine that sends it within the budget). */
const RECIPIENTS = benchKnob("BENCH_BROADCAST_RECIPIENTS", 20_000);
/** Sends before the measured phases (JIT, caches, pools). */
const WARMUP = benchKnob("BENCH_WARMUP", 2000);
const STREAMS = benchKnob("BENCH_STREAMS", 4);
const STREAM_WINDOW = benchKnob("BENCH_STREAM_WINDOW", 2000);
const BUSINESS = "bench_bc_biz";
const NUMBER = "bench_bc_pn";
const BROADCAST_COMPLETED = 4;
const PENDING = 1;
const ACCEPTED = 2;

const log = (msg: string) => logTo("bench:broadcast", msg);
/** 4.5 minutes for the default 20,000 recipients, in proportion for more (three broadcasts' worth of sends each). */
const SCALE = Math.max(1, RECIPIENTS / 20_000);
const budget = setTimeout(() => {
  log(`giving up after ${Math.round(270 * SCALE)} s`);
  process.exit(2);
}, 270_000 * SCALE);

const md = (token: string) => {
  const m = new Metadata();
  m.set("authorization", `Bearer ${token}`);
  return m;
};
const call = <Req, Res>(fn: (req: Req, md: Metadata, cb: (err: Error | null, res: Res) => void) => unknown, req: Req, meta: Metadata): Promise<Res> =>
  new Promise((resolve, reject) => fn(req, meta, (err, res) => (err ? reject(err) : resolve(res))));

const params = (name: string): TemplateComponent[] => [
  { type: "body", subType: "", index: 0, parameters: [name, "A-1"].map((text) => ({ type: "text", parameterName: "", text, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" })) },
];

/** The template to every customer of `ids` through STREAMS SendMessageStreams, each with STREAM_WINDOW in flight; answers the accepted count. */
async function streamToAll(client: MessagingServiceClient, meta: Metadata, template: string, ids: readonly string[]): Promise<{ acked: number; errors: Map<string, number> }> {
  let acked = 0;
  const errors = new Map<string, number>();
  const share = Math.ceil(ids.length / STREAMS);
  await Promise.all(
    Array.from({ length: STREAMS }, (_, s) => {
      const mine = ids.slice(s * share, (s + 1) * share);
      return new Promise<void>((resolve, reject) => {
        const stream = client.sendMessageStream(meta);
        let next = 0;
        let inFlight = 0;
        const write = () => {
          const to = mine[next]!;
          stream.write({
            ref: String(next),
            message: {
              sender: { kind: { $case: "phoneNumberId", value: NUMBER } },
              recipient: { kind: { $case: "customerId", value: to } },
              to: "",
              clientMessageId: `stream:${to}`,
              content: { kind: { $case: "template", value: { name: template, languageCode: "en_US", components: params(to), rendered: undefined } } },
              context: undefined,
              bizOpaqueCallbackData: "",
              referral: undefined,
            },
          });
          next++;
          inFlight++;
        };
        const fill = () => {
          while (inFlight < STREAM_WINDOW && next < mine.length) write();
          if (inFlight === 0 && next >= mine.length) stream.end();
        };
        stream.on("data", (r: SendMessageStreamResponse) => {
          for (const x of r.results) {
            inFlight--;
            if (x.outcome?.$case === "result") acked++;
            else {
              const e = x.outcome?.value;
              const reason = e?.detail?.reason || `${e?.code} ${e?.message.slice(0, 60)}`;
              errors.set(reason, (errors.get(reason) ?? 0) + 1);
            }
          }
          fill();
        });
        stream.on("end", () => resolve());
        stream.on("error", reject);
        fill();
      });
    }),
  );
  return { acked, errors };
}

/** A DRAFT broadcast of the template with `ids` uploaded as CSV (256 KiB chunks); answers its id. */
async function broadcastTo(tools: BusinessToolsServiceClient, meta: Metadata, template: string, ids: readonly string[]): Promise<string> {
  const created = await call<CreateBroadcastRequest, CreateBroadcastResponse>(tools.createBroadcast.bind(tools), { businessId: BUSINESS, phoneNumberId: NUMBER, templateName: template, templateLanguage: "en_US", components: params("there"), recipients: [], labelId: "", optedInFollowers: false, start: false, sendAt: undefined }, meta);
  const id = created.broadcast!.id;
  const csv = Buffer.from(`customer_id,body.1,body.2\n${ids.map((c) => `${c},${c},A-1`).join("\n")}\n`);
  const res = await new Promise<UploadBroadcastRecipientsResponse>((resolve, reject) => {
    const up = tools.uploadBroadcastRecipients(meta, (err, r) => (err ? reject(err) : resolve(r!)));
    for (let i = 0; i < csv.length; i += 256 * 1024) up.write({ businessId: i === 0 ? BUSINESS : "", broadcastId: i === 0 ? id : "", chunk: csv.subarray(i, i + 256 * 1024) });
    up.end();
  });
  if (Number(res.added) !== ids.length) throw new Error(`uploaded ${res.added} of ${ids.length}`);
  return id;
}

async function main() {
  const loadBefore = loadavg()[0]!;
  const cores = cpus().length;
  const env = await createTestEnv();
  const database = databaseOf(env.databaseUrl);
  // Limits out of the way: the policy off (as the routing bench's main phases), the sender pass
  // claiming 2,000 recipients (one group commit's worth) as soon as the last pass ends.
  const serverEnv = env.env({
    MESSAGE_MASTER_KEY: randomBytes(32).toString("base64"),
    LOG_LEVEL: "warn",
    DB_POOL_MAX: "8",
    MESSAGING_POLICY: "off",
    BROADCAST_BATCH: String(benchKnob("BENCH_BROADCAST_BATCH", 2000)),
    BROADCAST_INTERVAL_MS: "10",
  });
  const { pool } = createDb({ url: env.databaseUrl, schema: "messaging", max: 2 });
  let server: ServerProc | undefined;
  try {
    server = await startServer("messaging", serverEnv);
    const token = await env.token({ kind: "business", businessId: BUSINESS });
    const meta = md(token);
    const address = () => `127.0.0.1:${server!.port}`;
    let messaging = new MessagingServiceClient(address(), credentials.createInsecure());
    let tools = new BusinessToolsServiceClient(address(), credentials.createInsecure());

    // The business number (directory's event), 3 × RECIPIENTS customers (bulk SQL) and an approved template.
    const nc = await env.nats();
    const eventId = randomUUID();
    const business = BusinessSnapshot.fromPartial({ businessId: BUSINESS, displayName: BUSINESS, phoneNumbers: [{ phoneNumberId: NUMBER, e164: "+493000000001", displayName: "" }], version: "1" });
    await nc.jetstream().publish(`${env.natsPrefix}kontor.directory.business.registered.v1`, BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId: BUSINESS }, business }).finish(), { msgID: eventId });
    const ids = (prefix: string, n = RECIPIENTS) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const [warm, streamed, first, second] = [ids("sw", WARMUP), ids("ss"), ids("sa"), ids("sb")];
    await pool.query(
      `INSERT INTO customer (id, e164, profile_name)
       SELECT p || g, '+4916' || (CASE p WHEN 'sw' THEN 0 WHEN 'ss' THEN 1 WHEN 'sa' THEN 2 ELSE 3 END) || lpad(g::text, 8, '0'), p || g
       FROM unnest(ARRAY['ss', 'sa', 'sb']) AS p, generate_series(0, $1::int - 1) AS g
       UNION ALL SELECT 'sw' || g, '+49160' || lpad(g::text, 8, '0'), 'sw' || g FROM generate_series(0, $2::int - 1) AS g`,
      [RECIPIENTS, WARMUP],
    );
    const templates = new TemplateServiceClient(address(), credentials.createInsecure());
    const template = "bench_shipped";
    await call(
      templates.createTemplate.bind(templates),
      {
        businessId: BUSINESS,
        name: template,
        language: "en_US",
        category: TemplateCategory.TEMPLATE_CATEGORY_UTILITY,
        parameterFormat: TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED,
        components: [{ type: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY, format: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text: "Hi {{1}}, your order {{2}} has shipped.", example: { headerText: [], headerTextNamedParams: [], bodyText: [{ values: ["Ana", "A-1"] }], bodyTextNamedParams: [], headerHandle: [] }, buttons: [] }],
      },
      meta,
    );
    templates.close();
    for (let tries = 0; (await pool.query("SELECT 1 FROM business_number WHERE phone_number_id = $1", [NUMBER])).rowCount === 0; tries++) {
      if (tries > 400) throw new Error("the business number never arrived");
      await sleep(25);
    }

    // Warm-up (not measured): the same kind of sends to customers of their own.
    await streamToAll(messaging, meta, template, warm);

    // 1. The routing core's streamed send rate: the same template, once to each of RECIPIENTS
    // customers, half before the broadcast and half after it, so a drift of the host's speed
    // during the run weighs on both sides of the ratio alike.
    const streamHalf = async (ids: readonly string[]) => {
      const from = cpuSnapshot(server!.child.pid!, database);
      const t0 = nowMs();
      const s = await streamToAll(messaging, meta, template, ids);
      const ms = nowMs() - t0;
      log(`streamed ${s.acked} in ${Math.round(ms)} ms (${Math.round((s.acked / ms) * 1000)}/s); refused ${JSON.stringify(Object.fromEntries(s.errors))}`);
      return { acked: s.acked, ms, cpu: cpuPerOp(from, cpuSnapshot(server!.child.pid!, database), s.acked, cores) };
    };
    log(`streaming the template to ${RECIPIENTS} customers, half before the broadcast and half after`);
    const before = await streamHalf(streamed.slice(0, RECIPIENTS / 2));

    // 2. The broadcast: uploaded, started, timed until COMPLETED.
    const a = await broadcastTo(tools, meta, template, first);
    const from = cpuSnapshot(server.child.pid!, database);
    const t0 = nowMs();
    await call(tools.startBroadcast.bind(tools), { businessId: BUSINESS, broadcastId: a, sendAt: undefined }, meta);
    while ((await pool.query("SELECT status FROM broadcast WHERE id = $1", [a])).rows[0].status !== BROADCAST_COMPLETED) await sleep(100);
    const broadcastMs = nowMs() - t0;
    const broadcastCpu = cpuPerOp(from, cpuSnapshot(server.child.pid!, database), RECIPIENTS, cores);
    const outcomeA = (await pool.query("SELECT count(*) FILTER (WHERE state = $2) AS accepted, count(*) FILTER (WHERE state <> $2) AS other FROM broadcast_recipient WHERE broadcast_id = $1", [a, ACCEPTED])).rows[0];
    const perS = (RECIPIENTS / broadcastMs) * 1000;
    log(`broadcast of ${RECIPIENTS} completed in ${Math.round(broadcastMs)} ms (${Math.round(perS)}/s); accepted ${outcomeA.accepted}, other ${outcomeA.other}`);
    const after = await streamHalf(streamed.slice(RECIPIENTS / 2));
    const streamedPerS = ((before.acked + after.acked) / (before.ms + after.ms)) * 1000;
    const streamCpu = Object.fromEntries(
      Object.keys(before.cpu).map((k) => [k, round((before.cpu[k]! * before.acked + after.cpu[k]! * after.acked) / (before.acked + after.acked), 1)]),
    );

    // 3. Another broadcast, SIGKILLed at 50 % and restarted: nobody twice, nobody missed.
    const b = await broadcastTo(tools, meta, template, second);
    await call(tools.startBroadcast.bind(tools), { businessId: BUSINESS, broadcastId: b, sendAt: undefined }, meta);
    let killedAt = 0;
    while ((killedAt = Number((await pool.query("SELECT count(*) AS n FROM broadcast_recipient WHERE broadcast_id = $1 AND state <> $2", [b, PENDING])).rows[0].n)) < RECIPIENTS / 2) await sleep(50);
    messaging.close();
    tools.close();
    await stopServer(server, "SIGKILL");
    log(`SIGKILLed with ${killedAt} recipients recorded; restarting`);
    const restartT0 = nowMs();
    server = await startServer("messaging", serverEnv);
    messaging = new MessagingServiceClient(address(), credentials.createInsecure());
    tools = new BusinessToolsServiceClient(address(), credentials.createInsecure());
    while ((await pool.query("SELECT status FROM broadcast WHERE id = $1", [b])).rows[0].status !== BROADCAST_COMPLETED) {
      if (nowMs() - restartT0 > 150_000 * SCALE) throw new Error(`the resumed broadcast did not complete in ${Math.round(150 * SCALE)} s`);
      await sleep(250);
    }
    const resumeMs = nowMs() - restartT0;
    // Every B customer's messages: exactly one each.
    const counts = (
      await pool.query(
        `SELECT count(*) AS reached, coalesce(sum(n - 1), 0) AS duplicates FROM (
           SELECT m.recipient, count(*) AS n FROM message m WHERE m.recipient LIKE 'c\\_sb%' GROUP BY m.recipient) t`,
      )
    ).rows[0];
    const failedB = Number((await pool.query("SELECT count(*) AS n FROM broadcast_recipient WHERE broadcast_id = $1 AND state <> $2", [b, ACCEPTED])).rows[0].n);
    const duplicates = Number(counts.duplicates);
    const missed = RECIPIENTS - Number(counts.reached);
    log(`resumed broadcast completed ${Math.round(resumeMs)} ms after the restart; reached ${counts.reached}, duplicates ${duplicates}, not accepted ${failedB}`);

    messaging.close();
    tools.close();
    reportBench("broadcast", {
      bench: "broadcast",
      metrics: {
        recipients_per_s: Math.round(perS),
        broadcast_ratio: round(perS / streamedPerS, 2),
        duplicates,
        missed,
        killed_at_recorded: killedAt,
        resume_after_kill_ms: Math.round(resumeMs),
      },
      limits: { streamed_send_per_s: Math.round(streamedPerS) },
      cpu_per_op: { streamed: streamCpu, broadcast: broadcastCpu },
      env: { cpus: cores, node: process.version, recipients: RECIPIENTS, load_before: round(loadBefore, 2), load_after: round(loadavg()[0]!, 2) },
    });
  } finally {
    if (server) await stopServer(server).catch(() => undefined);
    await pool.end().catch(() => undefined);
    await env.cleanup().catch(() => undefined);
    clearTimeout(budget);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);

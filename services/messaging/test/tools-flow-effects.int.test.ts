import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { createLogger } from "@kontor/service-kit/log";
import { createEffectRunner } from "../src/events/flows.js";
import { SIGNATURE_HEADER, verifyWebhookSignature } from "../src/domain/tools/flows/webhook.js";
import type { Effect } from "../src/domain/tools/flows/engine.js";

/*
 * The flows' effect runner against a real HTTP receiver on loopback: a
 * flow's webhook call is a signed POST the business can verify, cut off at
 * its timeout, never following a redirect; a failed effect is logged and
 * the next one still runs. (Definitions refuse non-public addresses; the
 * runner is given one here directly.)
 */
const SECRET = "whsec_effects_test";
const received: { path: string; body: string; signature: string | undefined }[] = [];
let server: Server;
let base: string;

const bodyOf = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let b = "";
    req.on("data", (d: Buffer) => (b += d.toString()));
    req.on("end", () => resolve(b));
  });

beforeAll(async () => {
  server = createServer((req, res) => {
    void bodyOf(req).then((body) => {
      received.push({ path: req.url ?? "", body, signature: req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined });
      // Answers far later than any host takes to run the rest (afterAll closes it first).
      if (req.url === "/slow") setTimeout(() => res.end("late"), 60_000).unref();
      else if (req.url === "/moved") res.writeHead(302, { Location: `${base}/hook` }).end();
      else res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("the flows' effect runner", () => {
  it("when a step's effects run, then messages go out with the event's client ids, the label is set, the webhook is a signed POST the receiver verifies, a slow one is cut at its timeout, a redirect is not followed, and every effect after a failure still runs", async () => {
    const sends: SendMessageRequest[] = [];
    const labels: string[] = [];
    const warnings: string[] = [];
    const log = createLogger("test", "warn", { write: (line: string) => warnings.push(line) });
    const runner = createEffectRunner({
      send: async (req) => sends.push(req),
      label: async (_businessId, _conversationId, labelId) => labels.push(labelId),
      secret: async () => SECRET,
      fetch: globalThis.fetch,
      log,
      now: Date.now,
    });
    const call = (path: string, timeoutMs = 1_000): Effect => ({ kind: "call_webhook", url: `${base}${path}`, timeoutMs, call: { flow: "shop", version: 3, state: "thanks", variables: { email: "ana@example.com" }, data: { email: "ana@example.com" } } });
    const effects: Effect[] = [{ kind: "send_text", text: "Thanks!" }, { kind: "set_label", labelId: "label-1" }, call("/slow", 200), call("/moved"), call("/hook"), { kind: "send_text", text: "Bye" }];
    const target = { eventId: "wamid.X:received", businessId: "biz_1", phoneNumberId: "pn_1", customerId: "cust_1", conversationId: "conv_1", event: { kind: "text" as const, text: "hi", first: false }, customer: {} };
    const t0 = Date.now();
    await runner.run(target, "shop", effects);

    expect(sends.map((s) => [s.clientMessageId, s.bizOpaqueCallbackData, s.content?.kind?.$case === "text" ? s.content.kind.value.body : ""])).toEqual([
      ["flow:wamid.X:received:0", "flow:shop", "Thanks!"],
      ["flow:wamid.X:received:5", "flow:shop", "Bye"],
    ]);
    expect(labels).toEqual(["label-1"]);
    // The slow receiver holds its answer 60 s; the runner gave up at its 200 ms timeout.
    expect(Date.now() - t0).toBeLessThan(30_000);
    // On a slow host the runner may give up before the slow request even arrives: the others came in order.
    expect(received.map((r) => r.path).filter((p) => p !== "/slow")).toEqual(["/moved", "/hook"]);
    const hook = received.find((r) => r.path === "/hook")!;
    expect(verifyWebhookSignature(SECRET, hook.body, hook.signature)).toBe(true);
    expect(JSON.parse(hook.body)).toMatchObject({ flow: "shop", version: 3, state: "thanks", variables: { email: "ana@example.com" }, data: { email: "ana@example.com" } });
    expect(warnings.filter((w) => w.includes("flow effect failed"))).toHaveLength(2);
  });
});

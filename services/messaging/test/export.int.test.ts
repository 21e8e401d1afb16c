import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { ConsentSource } from "@kontor/proto/messaging/v1/consent";
import type { Message } from "@kontor/proto/messaging/v1/message";
import {
  ExportFormat,
  ExportItem,
  MessageDirection,
  MessagingServiceClient,
  type ExportCustomerDataResponse,
  type ExportedMessage,
} from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { authMetadata, errorDetail, unaryCall } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { customer, number, registerBusiness, registerCustomer, sendReq, startWithBusiness, text, uid, ROUTING_ONLY } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let service: string;
let operator: string;
const PAGE = 3;
/** Businesses and their numbers: "a" is registered by startWithBusiness; "gone" has its key erased. */
const biz = { a: "biz_exp_a", b: "biz_exp_b", c: "biz_exp_c", d: "biz_exp_d", gone: "biz_exp_gone" } as const;
const pn = { a: "pn_exp_a", b: "pn_exp_b", c: "pn_exp_c", d: "pn_exp_d", gone: "pn_exp_gone" } as const;
type Key = keyof typeof biz;
const bizTokens = {} as Record<Key, string>;

beforeAll(async () => {
  env = await createTestEnv();
  // One internal page holds three rows: every history below spans several.
  ({ app, client } = await startWithBusiness(env, biz.a, pn.a, { ...ROUTING_ONLY, EXPORT_PAGE_SIZE: String(PAGE) }));
  for (const k of ["b", "c", "d", "gone"] as const) await registerBusiness(env, app, biz[k], pn[k]);
  for (const k of Object.keys(biz) as Key[]) bizTokens[k] = await env.token({ kind: "business", businessId: biz[k] });
  service = await env.token({ kind: "service", service: "onboarding" });
  operator = await env.token({ kind: "staff", staffId: "op_export", roles: ["operator"] });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

/** Reads a whole export; rejects with the call's error. */
function exportAll(token: string, customerId: string, format = ExportFormat.EXPORT_FORMAT_PROTOBUF): Promise<ExportCustomerDataResponse[]> {
  return new Promise((resolve, reject) => {
    const out: ExportCustomerDataResponse[] = [];
    const call = client.exportCustomerData({ customerId, format }, authMetadata(token));
    call.on("data", (r: ExportCustomerDataResponse) => out.push(r));
    call.on("error", reject);
    call.on("end", () => resolve(out));
  });
}

const refusal = (token: string, customerId: string) => exportAll(token, customerId).then(() => expect.fail("the export was not refused"), (err: ServiceError) => err);

async function newCustomer(): Promise<{ id: string; token: string; e164: string }> {
  const id = uid("cust_exp");
  const e164 = await registerCustomer(client, service, id);
  return { id, token: await env.token({ kind: "customer", customerId: id }), e164 };
}

/** Sends texts one after the other (the order the server accepts is the order asserted). */
async function chat(c: { id: string; token: string }, k: Key, lines: { from: "customer" | "business"; body: string }[]): Promise<void> {
  for (const line of lines) {
    const req = line.from === "customer" ? sendReq(customer(c.id), number(pn[k]), text(line.body)) : sendReq(number(pn[k]), customer(c.id), text(line.body));
    await unaryCall(client.sendMessage.bind(client), req, { token: line.from === "customer" ? c.token : bizTokens[k] });
  }
}

const messagesOf = (items: ExportCustomerDataResponse[]): ExportedMessage[] => items.flatMap((r) => (r.item?.kind?.$case === "message" ? [r.item.kind.value] : []));
const body = (m: Message | undefined) => (m?.content?.kind?.$case === "text" ? m.content.kind.value.body : undefined);

/** The conversations' created_at, to check that conversations come oldest first. */
async function createdAt(conversationIds: string[]): Promise<Map<string, number>> {
  const rows = await app.runtime.database.pool.query<{ id: string; t: Date }>(`SELECT id, created_at AS t FROM conversation WHERE id = ANY($1::uuid[])`, [conversationIds]);
  return new Map(rows.rows.map((r) => [r.id, r.t.getTime()]));
}

/**
 * The exported messages as one block per conversation, each block's texts in
 * the order they came; fails when a conversation comes back in two blocks.
 */
function blocks(messages: ExportedMessage[]): { conversationId: string; phoneNumberId: string; texts: string[]; seqs: number[] }[] {
  const out: { conversationId: string; phoneNumberId: string; texts: string[]; seqs: number[] }[] = [];
  for (const m of messages) {
    let last = out[out.length - 1];
    if (last?.conversationId !== m.message!.conversationId) {
      expect(out.map((b) => b.conversationId), "a conversation comes back in two blocks").not.toContain(m.message!.conversationId);
      last = { conversationId: m.message!.conversationId, phoneNumberId: m.phoneNumberId, texts: [], seqs: [] };
      out.push(last);
    }
    last.texts.push(body(m.message) ?? "<no text>");
    last.seqs.push(Number(m.message!.seq));
  }
  return out;
}

describe("ExportCustomerData", () => {
  it("when a customer with two conversations and a consent record exports, then its account, settings, consent and every message come back in order, decrypted", async () => {
    const c = await newCustomer();
    await unaryCall(client.setMarketingConsent.bind(client), { customerId: c.id, businessId: biz.a, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "yes, send me offers" }, { token: c.token });
    await chat(c, "a", [
      { from: "customer", body: "hello A" },
      { from: "business", body: "hi from A" },
    ]);
    await chat(c, "b", [{ from: "business", body: "B says hi" }]);
    await chat(c, "a", [{ from: "customer", body: "thanks A" }]);

    const items = await exportAll(c.token, c.id);

    expect(items.map((r) => r.item?.kind?.$case)).toEqual(["customer", "privacy", "marketingConsent", "message", "message", "message", "message"]);
    expect(items.every((r) => r.json === "")).toBe(true);
    const [account, privacy, consent] = items.map((r) => r.item?.kind);
    expect(account).toMatchObject({ $case: "customer", value: { id: c.id, e164: c.e164, profileName: "Ana", settings: { readReceipts: true } } });
    expect(privacy).toMatchObject({ $case: "privacy", value: { adPersonalization: false, dataSharingOptOut: false } });
    expect(consent).toMatchObject({ $case: "marketingConsent", value: { businessId: biz.a, optedIn: true, optIn: { proof: "yes, send me offers", recordedBy: `customer:${c.id}` } } });

    const messages = messagesOf(items);
    // A's conversation is older (its first message came first): all of it, then B's.
    expect(blocks(messages).map((b) => [b.phoneNumberId, b.texts])).toEqual([
      [pn.a, ["hello A", "hi from A", "thanks A"]],
      [pn.b, ["B says hi"]],
    ]);
    expect(messages.map((m) => [m.businessId, m.direction, m.message!.contentErased])).toEqual([
      [biz.a, MessageDirection.MESSAGE_DIRECTION_INBOUND, false],
      [biz.a, MessageDirection.MESSAGE_DIRECTION_OUTBOUND, false],
      [biz.a, MessageDirection.MESSAGE_DIRECTION_INBOUND, false],
      [biz.b, MessageDirection.MESSAGE_DIRECTION_OUTBOUND, false],
    ]);
    // status_at is the row's (PostgreSQL's clock), created_at the service's: compare each with its row, not with each other.
    const { rows: stored } = await app.runtime.database.pool.query<{ id: string; status_at: Date }>(`SELECT id, status_at FROM message WHERE id = ANY($1)`, [
      messages.map((m) => m.message!.id),
    ]);
    const statusAtOf = new Map(stored.map((r) => [r.id, r.status_at.getTime()]));
    for (const m of messages) {
      expect(m.message!.createdAt).toBeInstanceOf(Date);
      expect(m.statusAt!.getTime()).toBe(statusAtOf.get(m.message!.id));
      expect(m.message!.id).toMatch(/^wamid\./);
    }
    // The customer's own sends keep their client message id; the business's carry none.
    expect(messages[0]!.message!.clientMessageId).not.toBe("");
    expect(messages[1]!.message!.clientMessageId).toBe("");
  });

  it("when the JSON format is asked for, then each item also comes as one line of proto3 JSON that parses back to the item", async () => {
    const c = await newCustomer();
    await chat(c, "a", [{ from: "customer", body: "json please" }, { from: "business", body: "here it comes\nwith a newline" }]);

    const items = await exportAll(c.token, c.id, ExportFormat.EXPORT_FORMAT_JSON);

    expect(items.map((r) => r.item?.kind?.$case)).toEqual(["customer", "privacy", "message", "message"]);
    for (const r of items) {
      expect(r.json).not.toContain("\n");
      expect(ExportItem.fromJSON(JSON.parse(r.json))).toEqual(r.item);
    }
    const lines = items.map((r) => JSON.parse(r.json) as { customer?: { id: string }; message?: { message: { content: { text: { body: string } } } } });
    expect(lines[0]!.customer!.id).toBe(c.id);
    expect(lines[3]!.message!.message.content.text.body).toBe("here it comes\nwith a newline");
  });

  it("when another customer, a business, a service or staff without the operator role asks, then PERMISSION_DENIED and nothing is streamed", async () => {
    const c = await newCustomer();
    const other = await newCustomer();
    await chat(c, "a", [{ from: "business", body: "private" }]);

    const byOther = await refusal(other.token, c.id);
    expect(byOther.code).toBe(status.PERMISSION_DENIED);
    // The business the customer talks to is refused by the allow-list, before any handler.
    const byBusiness = await refusal(bizTokens.a, c.id);
    expect([byBusiness.code, errorDetail(byBusiness)?.reason]).toEqual([status.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"]);
    for (const token of [service, await env.token({ kind: "staff", staffId: "support_exp", roles: ["support"] })]) {
      expect((await refusal(token, c.id)).code).toBe(status.PERMISSION_DENIED);
    }
  });

  it("when an operator exports a customer, then it gets what the customer gets; an unknown customer is NOT_FOUND and a bad id INVALID_ARGUMENT", async () => {
    const c = await newCustomer();
    await chat(c, "b", [{ from: "customer", body: "for the operator" }]);

    const byOperator = await exportAll(operator, c.id);

    expect(byOperator).toEqual(await exportAll(c.token, c.id));
    expect(body(messagesOf(byOperator)[0]!.message)).toBe("for the operator");
    expect((await refusal(operator, "cust_nobody")).code).toBe(status.NOT_FOUND);
    const bad = await refusal(operator, "not valid!");
    expect([bad.code, errorDetail(bad)?.field]).toEqual([status.INVALID_ARGUMENT, "customer_id"]);
    const format = await exportAll(c.token, c.id, 9 as ExportFormat).then(() => expect.fail("not refused"), (err: ServiceError) => err);
    expect([format.code, errorDetail(format)?.field]).toEqual([status.INVALID_ARGUMENT, "format"]);
  });

  it("when a history spans several internal pages of conversations and of messages, then every message comes back once, in order", async () => {
    const c = await newCustomer();
    // Four conversations (more than a page of three) with 7, 3 (exactly a page), 1 and 6 messages.
    const plan: [Key, number][] = [["a", 7], ["b", 3], ["c", 1], ["d", 6]];
    for (const [k, n] of plan) {
      await chat(c, k, Array.from({ length: n }, (_, i) => ({ from: i % 2 === 0 ? "business" : "customer", body: `${k}-${i + 1}` })));
    }

    const messages = messagesOf(await exportAll(c.token, c.id));

    const got = blocks(messages);
    expect(got.map((b) => b.phoneNumberId).sort()).toEqual(plan.map(([k]) => pn[k]).sort());
    for (const b of got) {
      const [k, n] = plan.find(([key]) => pn[key] === b.phoneNumberId)!;
      expect(b.texts).toEqual(Array.from({ length: n }, (_, i) => `${k}-${i + 1}`));
      expect(b.seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    }
    const created = await createdAt(got.map((b) => b.conversationId));
    const times = got.map((b) => created.get(b.conversationId)!);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(messages).toHaveLength(17);
  });

  it("when conversations were created within one millisecond (microseconds apart), then the conversation pages still give each exactly once", async () => {
    const c = await newCustomer();
    for (const k of ["a", "b", "c", "d"] as const) await chat(c, k, [{ from: "business", body: `only ${k}` }]);
    // A JS Date holds milliseconds: a cursor taken from these rows must still compare past each of them.
    await app.runtime.database.pool.query(
      `UPDATE conversation SET created_at = timestamptz '2026-12-01 10:00:00.123' + (ord * interval '1 microsecond')
       FROM (SELECT id AS cid, row_number() OVER (ORDER BY id DESC) AS ord FROM conversation WHERE customer_id = $1) o WHERE id = o.cid`,
      [c.id],
    );

    const got = blocks(messagesOf(await exportAll(c.token, c.id)));

    expect(got.map((b) => b.texts[0]).sort()).toEqual(["only a", "only b", "only c", "only d"]);
  });

  it("when the reader stops reading mid-export, then the export waits for it and, resumed, delivers every message once, in order", async () => {
    const c = await newCustomer();
    // 80 messages of 4,000 characters: far more than HTTP/2's flow-control window, so the server's writes back up.
    const n = 80;
    const long = (i: number) => `${String(i).padStart(3, "0")}${"x".repeat(3997)}`;
    await Promise.all(Array.from({ length: n }, (_, i) => unaryCall(client.sendMessage.bind(client), sendReq(number(pn.c), customer(c.id), text(long(i))), { token: bizTokens.c })));

    const got: ExportCustomerDataResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.exportCustomerData({ customerId: c.id, format: ExportFormat.EXPORT_FORMAT_JSON }, authMetadata(c.token));
      call.once("data", (first: ExportCustomerDataResponse) => {
        got.push(first);
        call.pause();
        // Resume only after other calls have round-tripped meanwhile: the export held back, the service kept serving.
        void exportAll(c.token, c.id).then((whole) => {
          expect(messagesOf(whole)).toHaveLength(n);
          call.on("data", (r: ExportCustomerDataResponse) => got.push(r));
          call.resume();
        }, reject);
      });
      call.on("error", reject);
      call.on("end", () => resolve());
    });

    const messages = messagesOf(got);
    expect(messages.map((m) => Number(m.message!.seq))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(messages.map((m) => body(m.message)).sort()).toEqual(Array.from({ length: n }, (_, i) => long(i)));
  });

  it("when a business's key was erased, then its messages come back with content_erased and the others still decrypted", async () => {
    const c = await newCustomer();
    await chat(c, "gone", [{ from: "business", body: "soon unreadable" }, { from: "customer", body: "me too" }]);
    await chat(c, "a", [{ from: "business", body: "still readable" }]);
    await unaryCall(client.eraseBusinessKey.bind(client), { businessId: biz.gone, reason: "the business asked to close its account" }, { token: operator });

    const messages = messagesOf(await exportAll(c.token, c.id));

    expect(messages.map((m) => [m.businessId, m.message!.contentErased, body(m.message)])).toEqual([
      [biz.gone, true, undefined],
      [biz.gone, true, undefined],
      [biz.a, false, "still readable"],
    ]);
  });
});

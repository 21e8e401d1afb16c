import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { MediaKind, MessageStatus, type Content } from "@kontor/proto/messaging/v1/message";
import { MessagingServiceClient, type SendItemResult } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { authMetadata, checkHealth, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { customer, e164, Inbox, number, registerBusiness, registerCustomer, sendReq, startWithBusiness, text, uid, ROUTING_ONLY } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let service: string;
let bizToken: string;
let port: number;
const biz = "biz_pottery";
const phone = "pn_pottery";

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, client, port, bizToken } = await startWithBusiness(env, biz, phone, ROUTING_ONLY));
  service = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

async function newCustomer(): Promise<{ id: string; token: string }> {
  const id = uid("cust");
  await registerCustomer(client, service, id);
  return { id, token: await env.token({ kind: "customer", customerId: id }) };
}

const send = (req: Parameters<typeof sendReq>, token: string) => unaryCall(client.sendMessage.bind(client), sendReq(...req), { token });

describe("health", () => {
  it("when started, then the service answers SERVING", async () => {
    expect(await checkHealth(`127.0.0.1:${port}`, "kontor.messaging.v1.MessagingService")).toBe("SERVING");
  });
});

describe("content types", () => {
  const media: Content = {
    kind: {
      $case: "media",
      value: { kind: MediaKind.MEDIA_KIND_IMAGE, source: { $case: "mediaId", value: "1013859600285441" }, caption: "Our mug", mimeType: "image/jpeg", sizeBytes: "30383", sha256: "a".repeat(64), filename: "", voice: false, animated: false },
    },
  };
  const fromBusiness: [string, Content][] = [
    ["text", { kind: { $case: "text", value: { body: "See https://example.com", previewUrl: true } } }],
    ["media", media],
    ["location", { kind: { $case: "location", value: { latitude: 52.52, longitude: 13.405, name: "Shop", address: "Alexanderplatz 1" } } }],
    [
      "contacts",
      {
        kind: {
          $case: "contacts",
          value: {
            contacts: [
              {
                name: { formattedName: "Jane Doe", firstName: "Jane", lastName: "Doe", middleName: "", suffix: "", prefix: "" },
                birthday: "1990-01-31",
                addresses: [],
                emails: [{ email: "jane@example.com", type: "WORK" }],
                org: undefined,
                phones: [{ phone: "+1 650-555-1234", waId: "16505551234", type: "CELL" }],
                urls: [],
              },
            ],
          },
        },
      },
    ],
    [
      "interactive buttons",
      {
        kind: {
          $case: "interactive",
          value: { header: { kind: { $case: "text", value: "Pick" } }, body: "Which size?", footer: "Kontor", action: { $case: "buttons", value: { buttons: [{ id: "s", title: "Small" }, { id: "l", title: "Large" }] } } },
        },
      },
    ],
    [
      "interactive list",
      {
        kind: {
          $case: "interactive",
          value: {
            header: undefined,
            body: "Menu",
            footer: "",
            action: { $case: "list", value: { button: "Open", sections: [{ title: "Mugs", rows: [{ id: "r1", title: "Blue", description: "300 ml" }] }] } },
          },
        },
      },
    ],
    ["cta url", { kind: { $case: "interactive", value: { header: undefined, body: "Dates", footer: "", action: { $case: "ctaUrl", value: { displayText: "See dates", url: "https://example.com/d" } } } } }],
    ["product", { kind: { $case: "interactive", value: { header: undefined, body: "", footer: "", action: { $case: "product", value: { catalogId: "cat1", productRetailerId: "SKU1" } } } } }],
    [
      "product list",
      {
        kind: {
          $case: "interactive",
          value: {
            header: { kind: { $case: "text", value: "Picks" } },
            body: "For you",
            footer: "",
            action: { $case: "productList", value: { catalogId: "cat1", sections: [{ title: "Mugs", productRetailerIds: ["SKU1", "SKU2"] }] } },
          },
        },
      },
    ],
    [
      "template",
      {
        kind: {
          $case: "template",
          value: {
            name: "order_confirmation",
            languageCode: "en_US",
            rendered: undefined,
            components: [
              {
                type: "body",
                subType: "",
                index: 0,
                parameters: [
                  { type: "text", parameterName: "", text: "Jessica", currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" },
                  { type: "currency", parameterName: "", text: "", currency: { fallbackValue: "$100.99", code: "USD", amount1000: "100990" }, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" },
                ],
              },
            ],
          },
        },
      },
    ],
    ["payment request", { kind: { $case: "paymentRequest", value: { referenceId: "order-123", total: { amountMinor: "21000", currency: "INR" }, description: "Mugs", orderId: "o1" } } }],
  ];
  const fromCustomer: [string, Content][] = [
    ["text", text("hello")],
    ["order", { kind: { $case: "order", value: { catalogId: "cat1", text: "Please", items: [{ productRetailerId: "SKU1", quantity: 2, itemPrice: { amountMinor: "1999", currency: "EUR" } }] } } }],
    ["button reply", { kind: { $case: "interactive", value: { header: undefined, body: "", footer: "", action: { $case: "buttonReply", value: { id: "s", title: "Small" } } } } }],
    ["list reply", { kind: { $case: "interactive", value: { header: undefined, body: "", footer: "", action: { $case: "listReply", value: { id: "r1", title: "Blue", description: "300 ml" } } } } }],
  ];

  it("when every kind is sent, then stream, ListMessages and GetMessage return it unchanged", async () => {
    const c = await newCustomer();
    const inbox = new Inbox(client, c.token, customer(c.id));
    const bizInbox = new Inbox(client, bizToken, number(phone));
    const sentIds: string[] = [];
    for (const [, content] of fromBusiness) {
      const { result } = await send([number(phone), customer(c.id), content, { bizOpaqueCallbackData: "cb-1" }], bizToken);
      expect(result?.status).toBe(MessageStatus.MESSAGE_STATUS_ACCEPTED);
      expect(result?.messageId).toMatch(/^wamid\./);
      sentIds.push(result!.messageId);
    }
    for (const [, content] of fromCustomer) await send([customer(c.id), number(phone), content], c.token);
    // A reaction to the first message and a reply quoting it.
    await send([customer(c.id), number(phone), { kind: { $case: "reaction", value: { messageId: sentIds[0]!, emoji: "👍" } } }], c.token);
    await send([customer(c.id), number(phone), text("quoted"), { context: { messageId: sentIds[0]! } }], c.token);

    // The customer's stream: what it received, then its own sends (echoed for its other devices).
    const all = await inbox.waitForMessages(fromBusiness.length + fromCustomer.length + 2);
    const got = all.slice(0, fromBusiness.length);
    expect(got.map((m) => m.message?.content)).toEqual(fromBusiness.map(([, content]) => content));
    expect(got.every((m) => m.message?.bizOpaqueCallbackData === "")).toBe(true); // business-private
    expect(all.slice(fromBusiness.length, fromBusiness.length + fromCustomer.length).map((m) => m.message?.content)).toEqual(fromCustomer.map(([, x]) => x));

    const list = await unaryCall(client.listMessages.bind(client), { participant: customer(c.id), conversationId: got[0]!.message!.conversationId, page: { pageSize: 100, pageToken: "" }, newestFirst: false }, { token: c.token });
    const expected = [...fromBusiness.map(([, x]) => x), ...fromCustomer.map(([, x]) => x)];
    expect(list.messages.slice(0, expected.length).map((m) => m.content)).toEqual(expected);
    expect(list.messages.map((m) => Number(m.seq))).toEqual(list.messages.map((_, i) => i + 1));
    const quoted = list.messages[list.messages.length - 1]!;
    expect(quoted.context?.messageId).toBe(sentIds[0]);
    expect(list.messages[list.messages.length - 2]!.content?.kind?.$case).toBe("reaction");

    const one = await unaryCall(client.getMessage.bind(client), { participant: number(phone), messageId: sentIds[1]! }, { token: bizToken });
    expect(one.message?.content).toEqual(media);
    expect(one.message?.bizOpaqueCallbackData).toBe("cb-1");

    const bizGot = await bizInbox.waitForMessages(fromCustomer.length + 2);
    expect(bizGot.slice(0, fromCustomer.length).map((m) => m.message?.content)).toEqual(fromCustomer.map(([, x]) => x));
    inbox.close();
    bizInbox.close();
  });

  it("when a field breaks a limit, then INVALID_ARGUMENT names it and nothing is stored", async () => {
    const c = await newCustomer();
    const cases: [Content, string][] = [
      [text("x".repeat(4097)), "content.text.body"],
      [{ kind: { $case: "interactive", value: { header: undefined, body: "b", footer: "", action: { $case: "buttons", value: { buttons: [1, 2, 3, 4].map((i) => ({ id: `b${i}`, title: `B${i}` })) } } } } }, "content.interactive.buttons.buttons"],
      [{ kind: undefined }, "content"],
    ];
    for (const [content, field] of cases) {
      const err = await expectFailure(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), content), { token: bizToken });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe(field);
    }
    const err = await expectFailure(client.sendMessage.bind(client), sendReq(customer(c.id), number(phone), text("a"), { bizOpaqueCallbackData: "x".repeat(600) }), { token: c.token });
    expect(errorDetail(err)?.field).toBe("biz_opaque_callback_data");
    const convs = await unaryCall(client.listConversations.bind(client), { participant: customer(c.id), page: undefined, filter: undefined }, { token: c.token });
    expect(convs.conversations).toHaveLength(0);
  });

  it("when a reaction targets an unknown message, then FAILED_PRECONDITION with Cloud API code 131009", async () => {
    const c = await newCustomer();
    await send([number(phone), customer(c.id), text("hi")], bizToken);
    const err = await expectFailure(client.sendMessage.bind(client), sendReq(customer(c.id), number(phone), { kind: { $case: "reaction", value: { messageId: "wamid.AAAAAAAAAAAAAAAAAAAAAA", emoji: "👍" } } }), { token: c.token });
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(errorDetail(err)?.cloudApiCode).toBe(131009);
  });
});

describe("send", () => {
  it("when a send is retried with the same client message id, then the original result returns and nothing new is stored", async () => {
    const c = await newCustomer();
    const req = sendReq(number(phone), customer(c.id), text("once"), { clientMessageId: "retry-1" });
    const first = await unaryCall(client.sendMessage.bind(client), req, { token: bizToken });
    const again = await Promise.all([1, 2, 3].map(() => unaryCall(client.sendMessage.bind(client), req, { token: bizToken })));
    for (const a of again) {
      expect(a.result?.messageId).toBe(first.result?.messageId);
      expect(a.result?.seq).toBe(first.result?.seq);
      expect(a.result?.duplicate).toBe(true);
    }
    const { count } = await app.runtime.db.selectFrom("message").select((eb) => eb.fn.countAll<string>().as("count")).where("id", "=", first.result!.messageId).executeTakeFirstOrThrow();
    expect(Number(count)).toBe(1);
    // Within one stream too.
    const stream = client.sendMessageStream(authMetadata(bizToken));
    const results: unknown[] = [];
    stream.on("data", (r: { results: unknown[] }) => results.push(...r.results));
    const twice = sendReq(number(phone), customer(c.id), text("twice"), { clientMessageId: "retry-2" });
    stream.write({ ref: "1", message: twice });
    stream.write({ ref: "2", message: twice });
    stream.end();
    await waitFor(() => results.length === 2);
    const list = await unaryCall(client.listMessages.bind(client), { participant: customer(c.id), conversationId: first.result!.conversationId, page: undefined, newestFirst: false }, { token: c.token });
    expect(list.messages.map((m) => m.content?.kind?.$case === "text" && m.content.kind.value.body)).toEqual(["once", "twice"]);
    // The attempts that met a stored copy were rolled back whole: the conversation's numbers have no gap.
    expect(list.messages.map((m) => Number(m.seq))).toEqual([Number(first.result!.seq), Number(first.result!.seq) + 1]);
  });

  it("when client message ids hold quotes, backslashes, braces and non-ASCII, then they are stored and read back exactly", async () => {
    const c = await newCustomer();
    const ids = ['a"b', "c\\d", "{e,f}", "", " g h ", "ünï 💬", "NULL"];
    const sent = await Promise.all(ids.map((id, i) => send([number(phone), customer(c.id), text(`odd ${i}`), { clientMessageId: id }], bizToken)));
    for (const [i, s] of sent.entries()) {
      const m = await unaryCall(client.getMessage.bind(client), { participant: number(phone), messageId: s.result!.messageId }, { token: bizToken });
      expect(m.message?.clientMessageId).toBe(ids[i]);
      expect(m.message?.content?.kind?.$case === "text" && m.message.content.kind.value.body).toBe(`odd ${i}`);
    }
  });

  it("when a stream carries a bad item among good ones, then only that item fails, with the unary call's code and field", async () => {
    const c = await newCustomer();
    const stream = client.sendMessageStream(authMetadata(bizToken));
    const results: SendItemResult[] = [];
    stream.on("data", (r: { results: SendItemResult[] }) => results.push(...r.results));
    stream.write({ ref: "1", message: sendReq(number(phone), customer(c.id), text("good 1")) });
    stream.write({ ref: "2", message: sendReq(number(phone), customer(c.id), text("x".repeat(5000))) });
    stream.write({ ref: "3", message: sendReq(number("pn_unknown"), customer(c.id), text("nope")) });
    stream.write({ ref: "4", message: sendReq(number(phone), customer(c.id), text("good 2")) });
    stream.end();
    await waitFor(() => results.length === 4);
    const byRef = new Map(results.map((r) => [r.ref, r.outcome]));
    expect(byRef.get("1")?.$case).toBe("result");
    expect(byRef.get("4")?.$case).toBe("result");
    const bad = byRef.get("2");
    expect(bad?.$case === "error" && bad.value.code).toBe(status.INVALID_ARGUMENT);
    expect(bad?.$case === "error" && bad.value.detail?.field).toBe("content.text.body");
    const unknown = byRef.get("3");
    expect(unknown?.$case === "error" && unknown.value.code).toBe(status.NOT_FOUND);
    const one = byRef.get("1");
    const four = byRef.get("4");
    expect(one?.$case === "result" && four?.$case === "result" && Number(four.value.seq) - Number(one.value.seq)).toBe(1);
  });

  it("when two senders write to one conversation concurrently, then seq numbers are 1..n and every reader sees that order", async () => {
    const c = await newCustomer();
    const inbox = new Inbox(client, c.token, customer(c.id));
    const bizInbox = new Inbox(client, bizToken, number(phone));
    await inbox.waitCaughtUp();
    const n = 60;
    const sends = [];
    for (let i = 0; i < n; i++) {
      sends.push(send([number(phone), customer(c.id), text(`b${i}`)], bizToken));
      sends.push(send([customer(c.id), number(phone), text(`c${i}`)], c.token));
    }
    const results = await Promise.all(sends);
    const seqs = results.map((r) => Number(r.result!.seq)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 2 * n }, (_, i) => i + 1));
    // The customer's stream holds both directions (its own sends echo), all in seq order.
    const got = await inbox.waitForMessages(2 * n);
    const seen = got.map((m) => Number(m.message!.seq));
    expect(seen).toEqual(Array.from({ length: 2 * n }, (_, i) => i + 1));
    // Per sender, the order of a sequential client is kept.
    const bodies = got.map((m) => (m.message!.content!.kind as { value: { body: string } }).value.body);
    expect(bodies.filter((b) => b.startsWith("b"))).toEqual(Array.from({ length: n }, (_, i) => `b${i}`));
    expect(bodies.filter((b) => b.startsWith("c"))).toEqual(Array.from({ length: n }, (_, i) => `c${i}`));
    const bizGot = (await bizInbox.waitForMessages(n)).filter((m) => m.message!.conversationId === results[0]!.result!.conversationId);
    const bizSeen = bizGot.map((m) => Number(m.message!.seq));
    expect(bizSeen).toEqual([...bizSeen].sort((a, b) => a - b));
    inbox.close();
    bizInbox.close();
  });

  it("when a customer sends as a business or as another customer, then PERMISSION_DENIED", async () => {
    const c = await newCustomer();
    const other = await newCustomer();
    let err = await expectFailure(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("x")), { token: c.token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    err = await expectFailure(client.sendMessage.bind(client), sendReq(customer(other.id), number(phone), text("x")), { token: c.token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
  });

  it("when a business sends from a number it does not own, then PERMISSION_DENIED; its partner may", async () => {
    const c = await newCustomer();
    await registerBusiness(env, app, "biz_other", "pn_other");
    const err = await expectFailure(client.sendMessage.bind(client), sendReq(number("pn_other"), customer(c.id), text("x")), { token: bizToken });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    const partner = await env.token({ kind: "partner", partnerId: "bsp1", businessIds: ["biz_other"] });
    const ok = await send([number("pn_other"), customer(c.id), text("via partner")], partner);
    expect(ok.result?.status).toBe(MessageStatus.MESSAGE_STATUS_ACCEPTED);
    const err2 = await expectFailure(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("x")), { token: partner });
    expect(err2.code).toBe(status.PERMISSION_DENIED);
  });

  it("when addressed by number, then the E.164 recipient is resolved", async () => {
    const id = uid("cust");
    const num = e164();
    await registerCustomer(client, service, id, num);
    const { result } = await unaryCall(client.sendMessage.bind(client), { ...sendReq(number(phone), undefined as never, text("by number")), recipient: undefined, to: num.replace("+49", "0049 ") }, { token: bizToken });
    expect(result?.recipient?.kind).toEqual({ $case: "customerId", value: id });
    const err = await expectFailure(client.sendMessage.bind(client), { ...sendReq(number(phone), undefined as never, text("x")), recipient: undefined, to: "+4915000000001" }, { token: bizToken });
    expect(err.code).toBe(status.NOT_FOUND);
    expect(errorDetail(err)?.cloudApiCode).toBe(131026);
  });
});


import { describe, expect, it } from "vitest";
import { NotFound } from "@kontor/service-kit/errors";
import { DEFAULT_PRIVACY } from "./consent-service.js";
import { createExportService, type ExportRow, type ExportStorePort } from "./export-service.js";
import { createMessageOpener, type Conversation, type Customer } from "./message.js";

const customer: Customer = { id: "c1", e164: "+491500000001", profileName: "Ana", readReceipts: true, locale: "de-DE", createdAt: new Date(0) };
const conv = (id: string, t: number): Conversation => ({ id, businessId: `biz_${id}`, phoneNumberId: `pn_${id}`, customerId: "c1", lastSeq: "0", lastActivityAt: new Date(t), createdAt: new Date(t) });
const row = (conversationId: string, seq: number): ExportRow => ({
  id: `wamid.${conversationId}${String(seq).padStart(10, "0")}`,
  conversationId,
  seq: String(seq),
  sender: seq % 2 ? "c_c1" : `b_pn_${conversationId}`,
  recipient: seq % 2 ? `b_pn_${conversationId}` : "c_c1",
  clientMessageId: "",
  contentType: 1,
  keyId: 1,
  body: new Uint8Array(),
  status: 2,
  errorCode: 0,
  createdAt: new Date(seq),
  statusAt: new Date(seq),
});

/** An in-memory store port that records each page it is asked for. */
function storeOf(conversations: Conversation[], counts: Record<string, number>) {
  const queries: string[] = [];
  const store: ExportStorePort = {
    customer: async (id) => (id === "c1" ? customer : undefined),
    privacy: async () => DEFAULT_PRIVACY,
    marketing: async () => [],
    async conversations(_c, after, limit) {
      queries.push(`conversations after ${after?.id ?? "-"}`);
      const from = after ? conversations.findIndex((c) => c.id === after.id) + 1 : 0;
      return conversations.slice(from, from + limit);
    },
    async messages(conversationId, afterSeq, limit) {
      queries.push(`${conversationId} after ${afterSeq}`);
      const all = Array.from({ length: counts[conversationId] ?? 0 }, (_, i) => row(conversationId, i + 1));
      return all.filter((r) => Number(r.seq) > afterSeq).slice(0, limit);
    },
  };
  return { store, queries };
}

// Bodies are not opened here (an empty key set: every message reads as erased); the integration test decrypts.
const opener = createMessageOpener({ open: async () => undefined });

describe("the customer data export", () => {
  it("when pages are pulled, then the store is asked for the next page only once the previous one is consumed", async () => {
    const { store, queries } = storeOf([conv("x", 1), conv("y", 2)], { x: 5, y: 1 });
    const service = createExportService({ store, opener, pageSize: 2 });
    const items = service.items(customer, new AbortController().signal);

    for (let i = 0; i < 3; i++) await items.next(); // customer, privacy, x#1
    expect(queries).toEqual(["conversations after -", "x after 0"]);
    await items.next(); // x#2: still the first page
    expect(queries).toHaveLength(2);
    await items.next(); // x#3: the second page
    expect(queries).toEqual(["conversations after -", "x after 0", "x after 2"]);

    const rest: string[] = [];
    for await (const item of items) if (item.kind === "message") rest.push(`${item.message.conversationId}#${item.message.seq}`);
    expect(rest).toEqual(["x#4", "x#5", "y#1"]);
    // A short page ends a conversation without one more query; a full page of conversations asks for the next.
    expect(queries).toEqual(["conversations after -", "x after 0", "x after 2", "x after 4", "y after 0", "conversations after y"]);
  });

  it("when the call is cancelled, then no further page is read", async () => {
    const { store, queries } = storeOf([conv("x", 1)], { x: 10 });
    const abort = new AbortController();
    const items = createExportService({ store, opener, pageSize: 2 }).items(customer, abort.signal);
    for (let i = 0; i < 4; i++) await items.next(); // customer, privacy, x#1, x#2
    abort.abort();
    expect(await items.next()).toEqual({ done: true, value: undefined });
    expect(queries).toEqual(["conversations after -", "x after 0"]);
  });

  it("when the customer id is missing, malformed or unknown, then start refuses before anything is streamed", async () => {
    const { store } = storeOf([], {});
    const service = createExportService({ store, opener, pageSize: 2 });
    await expect(service.start("")).rejects.toMatchObject({ field: "customer_id" });
    await expect(service.start("no spaces")).rejects.toMatchObject({ field: "customer_id" });
    await expect(service.start("c2")).rejects.toBeInstanceOf(NotFound);
    await expect(service.start("c1")).resolves.toBe(customer);
  });
});

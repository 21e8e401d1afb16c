import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { ConversationAssigned } from "@kontor/proto/messaging/v1/events";
import { MessagingServiceClient, WindowFilter, type ConversationFilter } from "@kontor/proto/messaging/v1/messaging_service";
import { BusinessToolsServiceClient, BusinessToolsServiceService } from "@kontor/proto/messaging/v1/tools_service";
import { errorDetail } from "@kontor/service-kit/errors";
import { allowListViolations } from "@kontor/testkit/access";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { clientFor, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { assertHostileRefused, rowCounts } from "@kontor/testkit/hostile";
import type { MessagingApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { toolsAccess } from "../src/rpc/access.js";
import { bounds } from "../src/rpc/bounds.js";
import { customer, number, registerBusiness, registerCustomer, sendReq, startWithBusiness, text, uid } from "./factories.js";

/*
 * The business tools of the inbox (quick replies, labels, assignment) and
 * ListConversations' filters, against PostgreSQL and NATS, with the policy on.
 */
let env: TestEnv;
let app: MessagingApp;
let port: number;
let messaging: MessagingServiceClient;
let tools: BusinessToolsServiceClient;
let onboarding: string;

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, port, client: messaging } = await startWithBusiness(env, "biz_tools_home", "pn_tools_home"));
  tools = clientFor(BusinessToolsServiceClient, port);
  onboarding = await env.token({ kind: "service", service: "onboarding" });
});

afterAll(async () => {
  tools?.close();
  messaging?.close();
  await app?.stop();
  await env?.cleanup();
});

async function business() {
  const businessId = uid("biz_t");
  const pn = uid("pn_t");
  await registerBusiness(env, app, businessId, pn);
  return { businessId, pn, token: await env.token({ kind: "business", businessId }) };
}

/** A customer who wrote to the number (so the business may answer), and the conversation. */
async function conversationWith(biz: { pn: string }, name = "Ana", e164?: string) {
  const id = uid("cust");
  await registerCustomer(messaging, onboarding, id, e164, name);
  const token = await env.token({ kind: "customer", customerId: id });
  const sent = await unaryCall(messaging.sendMessage.bind(messaging), sendReq(customer(id), number(biz.pn), text("hello")), { token });
  return { customerId: id, token, conversationId: sent.result!.conversationId };
}

const noFilter: ConversationFilter = { labelIds: [], unreadOnly: false, assignedAgentId: "", unassignedOnly: false, window: WindowFilter.WINDOW_FILTER_UNSPECIFIED, activeSince: undefined, query: "" };

async function inbox(biz: { pn: string; token: string }, filter: Partial<ConversationFilter>): Promise<string[]> {
  const res = await unaryCall(messaging.listConversations.bind(messaging), { participant: number(biz.pn), page: undefined, filter: { ...noFilter, ...filter } }, { token: biz.token });
  return res.conversations.map((c) => c.id).sort();
}

describe("quick replies", () => {
  it("when a business saves quick replies, then they list by shortcut, a shortcut is unique (typed with or without /), updates and deletes apply, and another business sees none", async () => {
    const biz = await business();
    const other = await business();
    const thanks = await unaryCall(tools.createQuickReply.bind(tools), { businessId: biz.businessId, shortcut: "/Thanks", text: "Thank you for your order!", mediaId: "" }, { token: biz.token });
    expect(thanks.quickReply).toMatchObject({ shortcut: "thanks", text: "Thank you for your order!" });
    await unaryCall(tools.createQuickReply.bind(tools), { businessId: biz.businessId, shortcut: "hours", text: "We open at 9.", mediaId: "" }, { token: biz.token });
    const taken = await expectFailure(tools.createQuickReply.bind(tools), { businessId: biz.businessId, shortcut: "thanks", text: "again", mediaId: "" }, { token: biz.token });
    expect(taken.code).toBe(status.ALREADY_EXISTS);

    const listed = await unaryCall(tools.listQuickReplies.bind(tools), { businessId: biz.businessId }, { token: biz.token });
    expect(listed.quickReplies.map((q) => q.shortcut)).toEqual(["hours", "thanks"]);
    const updated = await unaryCall(tools.updateQuickReply.bind(tools), { businessId: biz.businessId, id: thanks.quickReply!.id, shortcut: "ty", text: "Thanks!", mediaId: "media_1" }, { token: biz.token });
    expect(updated.quickReply).toMatchObject({ shortcut: "ty", text: "Thanks!", mediaId: "media_1" });
    await unaryCall(tools.deleteQuickReply.bind(tools), { businessId: biz.businessId, id: thanks.quickReply!.id }, { token: biz.token });
    expect((await unaryCall(tools.listQuickReplies.bind(tools), { businessId: biz.businessId }, { token: biz.token })).quickReplies.map((q) => q.shortcut)).toEqual(["hours"]);

    // Another business: nothing of the first's, and its ids are unknown.
    expect((await unaryCall(tools.listQuickReplies.bind(tools), { businessId: other.businessId }, { token: other.token })).quickReplies).toEqual([]);
    const foreign = await expectFailure(tools.deleteQuickReply.bind(tools), { businessId: other.businessId, id: listed.quickReplies[0]!.id }, { token: other.token });
    expect(foreign.code).toBe(status.NOT_FOUND);
    const notYours = await expectFailure(tools.listQuickReplies.bind(tools), { businessId: biz.businessId }, { token: other.token });
    expect(notYours.code).toBe(status.PERMISSION_DENIED);
  });

  it("when a business has 50 quick replies, then the 51st is RESOURCE_EXHAUSTED, also when many race", async () => {
    const biz = await business();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 53 }, (_, i) => unaryCall(tools.createQuickReply.bind(tools), { businessId: biz.businessId, shortcut: `r${i}`, text: `reply ${i}`, mediaId: "" }, { token: biz.token })),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(50);
    for (const o of outcomes) if (o.status === "rejected") expect((o.reason as ServiceError).code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it("when a shortcut or text is bad, then INVALID_ARGUMENT names the field and nothing is stored", async () => {
    const biz = await business();
    for (const [shortcut, textBody, field] of [
      ["", "x", "shortcut"],
      ["has space", "x", "shortcut"],
      ["x".repeat(26), "x", "shortcut"],
      ["ok", "  ", "text"],
    ] as const) {
      const err = await expectFailure(tools.createQuickReply.bind(tools), { businessId: biz.businessId, shortcut, text: textBody, mediaId: "" }, { token: biz.token });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe(field);
    }
    expect((await unaryCall(tools.listQuickReplies.bind(tools), { businessId: biz.businessId }, { token: biz.token })).quickReplies).toEqual([]);
  });
});

describe("labels, assignment and inbox filters", () => {
  it("when conversations carry labels (on themselves or their customers), then the inbox filters by label, unread, assignment, window, activity and name or number", async () => {
    const biz = await business();
    const vip = (await unaryCall(tools.createLabel.bind(tools), { businessId: biz.businessId, name: "VIP", color: "#ff0000" }, { token: biz.token })).label!;
    const follow = (await unaryCall(tools.createLabel.bind(tools), { businessId: biz.businessId, name: "Follow up", color: "#00AA00" }, { token: biz.token })).label!;
    expect(vip.color).toBe("#FF0000");
    const dup = await expectFailure(tools.createLabel.bind(tools), { businessId: biz.businessId, name: "vip", color: "#000000" }, { token: biz.token });
    expect(dup.code).toBe(status.ALREADY_EXISTS);

    const ana = await conversationWith(biz, "Ana Souza", "+5511999990001");
    const bruno = await conversationWith(biz, "Bruno", "+5511999990002");
    const carla = await conversationWith(biz, "Carla", "+5511999990003");

    expect((await unaryCall(tools.setConversationLabels.bind(tools), { businessId: biz.businessId, conversationId: ana.conversationId, addLabelIds: [vip.id, follow.id], removeLabelIds: [] }, { token: biz.token })).labelIds.sort()).toEqual([vip.id, follow.id].sort());
    await unaryCall(tools.setConversationLabels.bind(tools), { businessId: biz.businessId, conversationId: ana.conversationId, addLabelIds: [], removeLabelIds: [follow.id] }, { token: biz.token });
    await unaryCall(tools.setCustomerLabels.bind(tools), { businessId: biz.businessId, customerId: bruno.customerId, addLabelIds: [follow.id], removeLabelIds: [] }, { token: biz.token });

    expect(await inbox(biz, { labelIds: [vip.id] })).toEqual([ana.conversationId]);
    expect(await inbox(biz, { labelIds: [follow.id] })).toEqual([bruno.conversationId]);
    expect(await inbox(biz, { labelIds: [vip.id, follow.id] })).toEqual([ana.conversationId, bruno.conversationId].sort());
    const listed = await unaryCall(messaging.listConversations.bind(messaging), { participant: number(biz.pn), page: undefined, filter: undefined }, { token: biz.token });
    expect(listed.conversations.find((c) => c.id === ana.conversationId)?.labelIds).toEqual([vip.id]);

    // Unread: the business read Bruno's message only.
    await unaryCall(messaging.reportReceipt.bind(messaging), { reader: number(biz.pn), conversationId: bruno.conversationId, status: 4, upToSeq: "1", messageId: "" }, { token: biz.token });
    expect(await inbox(biz, { unreadOnly: true })).toEqual([ana.conversationId, carla.conversationId].sort());

    // Assignment: one event per change, none for a repeat.
    const assigned = await unaryCall(tools.assignConversation.bind(tools), { businessId: biz.businessId, conversationId: carla.conversationId, agentId: "agent.maria" }, { token: biz.token });
    expect(assigned.agentId).toBe("agent.maria");
    await unaryCall(tools.assignConversation.bind(tools), { businessId: biz.businessId, conversationId: carla.conversationId, agentId: "agent.maria" }, { token: biz.token });
    expect(await inbox(biz, { assignedAgentId: "agent.maria" })).toEqual([carla.conversationId]);
    expect(await inbox(biz, { unassignedOnly: true })).toEqual([ana.conversationId, bruno.conversationId].sort());
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "messaging", subjects.conversationAssigned)).map((m) => ConversationAssigned.decode(m.data)).filter((e) => e.conversationId === carla.conversationId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ businessId: biz.businessId, agentId: "agent.maria", previousAgentId: "", assignedBy: `business:${biz.businessId}` });

    // Window: Carla's last message is more than 24 h old (as the store holds it).
    await app.runtime.database.pool.query("UPDATE conversation SET last_inbound_at = now() - interval '25 hours' WHERE id = $1", [carla.conversationId]);
    expect(await inbox(biz, { window: WindowFilter.WINDOW_FILTER_CLOSED })).toEqual([carla.conversationId]);
    expect(await inbox(biz, { window: WindowFilter.WINDOW_FILTER_OPEN })).toEqual([ana.conversationId, bruno.conversationId].sort());

    // Activity and search by name (case-insensitive) or number.
    expect(await inbox(biz, { activeSince: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await inbox(biz, { query: "souza" })).toEqual([ana.conversationId]);
    expect(await inbox(biz, { query: "990002" })).toEqual([bruno.conversationId]);
    expect(await inbox(biz, { query: "100%" })).toEqual([]);

    // Deleting a label takes it off everything.
    await unaryCall(tools.deleteLabel.bind(tools), { businessId: biz.businessId, id: vip.id }, { token: biz.token });
    expect(await inbox(biz, { labelIds: [vip.id] })).toEqual([]);
  });

  it("when a business names another business's conversation or label, then NOT_FOUND and nothing changes; a customer cannot filter", async () => {
    const biz = await business();
    const other = await business();
    const mine = await conversationWith(biz);
    const theirs = (await unaryCall(tools.createLabel.bind(tools), { businessId: other.businessId, name: "Theirs", color: "#123456" }, { token: other.token })).label!;
    const own = (await unaryCall(tools.createLabel.bind(tools), { businessId: biz.businessId, name: "Mine", color: "#654321" }, { token: biz.token })).label!;

    const foreignLabel = await expectFailure(tools.setConversationLabels.bind(tools), { businessId: biz.businessId, conversationId: mine.conversationId, addLabelIds: [own.id, theirs.id], removeLabelIds: [] }, { token: biz.token });
    expect(foreignLabel.code).toBe(status.NOT_FOUND);
    const foreignConversation = await expectFailure(tools.assignConversation.bind(tools), { businessId: other.businessId, conversationId: mine.conversationId, agentId: "spy" }, { token: other.token });
    expect(foreignConversation.code).toBe(status.NOT_FOUND);
    const rows = await app.runtime.database.pool.query<{ n: string; agent: string | null }>(
      "SELECT (SELECT count(*) FROM conversation_label WHERE conversation_id = $1) AS n, (SELECT assigned_agent_id FROM conversation WHERE id = $1) AS agent",
      [mine.conversationId],
    );
    expect(rows.rows[0]).toEqual({ n: "0", agent: null });

    const customerFilter = await expectFailure(messaging.listConversations.bind(messaging), { participant: customer(mine.customerId), page: undefined, filter: { ...noFilter, unreadOnly: true } }, { token: mine.token });
    expect(customerFilter.code).toBe(status.INVALID_ARGUMENT);
    const badLabel = await expectFailure(messaging.listConversations.bind(messaging), { participant: number(biz.pn), page: undefined, filter: { ...noFilter, labelIds: ["not-a-uuid"] } }, { token: biz.token });
    expect(errorDetail(badLabel)?.field).toBe("filter.label_ids[0]");
  });
});

describe("BusinessToolsService at the boundary", () => {
  it("when every principal kind, staff role and service calls every RPC, then only the callers on the RPC's list get past the allow-list", async () => {
    expect(await allowListViolations(env, BusinessToolsServiceService, toolsAccess, `127.0.0.1:${port}`)).toEqual([]);
  });

  for (const method of Object.values(BusinessToolsServiceService)) {
    it(`${method.path}: U+0000, over-long strings and over-long lists in any field are INVALID_ARGUMENT naming the field, and nothing changes`, async () => {
      const token = await env.token({ kind: "business", businessId: "biz_tools_home" });
      const before = await rowCounts(env.databaseUrl, "messaging");
      await assertHostileRefused({ address: `127.0.0.1:${port}`, method, token, bounds, numRuns: 10 });
      expect(await rowCounts(env.databaseUrl, "messaging")).toEqual(before);
    });
  }
});

import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { ConversationAssigned, MessageReceived, MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { WindowFilter, type ConversationFilter } from "@kontor/proto/messaging/v1/messaging_service";
import { AnalyticsGranularity, BusinessToolsServiceService } from "@kontor/proto/messaging/v1/tools_service";
import { BroadcastStatus, RecipientState } from "@kontor/proto/messaging/v1/tools";
import { errorDetail } from "@kontor/service-kit/errors";
import { allowListViolations } from "@kontor/testkit/access";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { assertHostileRefused, rowCounts } from "@kontor/testkit/hostile";
import { subjects } from "../src/events/subjects.js";
import { decodeAnalytics } from "../src/events/analytics.js";
import { fold, points } from "../src/domain/tools/analytics.js";
import { createAnalyticsStore } from "../src/store/analytics-store.js";
import { toolsAccess } from "../src/rpc/access.js";
import { bounds } from "../src/rpc/bounds.js";
import { customer, number, registerCustomer, sendReq, text, uid } from "./factories.js";
import { approvedTemplate, bodyParams, broadcastReq, templateContent, toCustomers, useToolsService } from "./tools-fixtures.js";

/*
 * The business tools of the inbox (quick replies, labels, assignment) and
 * ListConversations' filters, against PostgreSQL and NATS, with the policy on.
 */
const t = useToolsService("tools");
const { business, conversationWith } = t;

const noFilter: ConversationFilter = { labelIds: [], unreadOnly: false, assignedAgentId: "", unassignedOnly: false, window: WindowFilter.WINDOW_FILTER_UNSPECIFIED, activeSince: undefined, query: "" };

async function inbox(biz: { pn: string; token: string }, filter: Partial<ConversationFilter>): Promise<string[]> {
  const res = await unaryCall(t.messaging.listConversations.bind(t.messaging), { participant: number(biz.pn), page: undefined, filter: { ...noFilter, ...filter } }, { token: biz.token });
  return res.conversations.map((c) => c.id).sort();
}

describe("quick replies", () => {
  it("when a business saves quick replies, then they list by shortcut, a shortcut is unique (typed with or without /), updates and deletes apply, and another business sees none", async () => {
    const biz = await business();
    const other = await business();
    const thanks = await unaryCall(t.tools.createQuickReply.bind(t.tools), { businessId: biz.businessId, shortcut: "/Thanks", text: "Thank you for your order!", mediaId: "" }, { token: biz.token });
    expect(thanks.quickReply).toMatchObject({ shortcut: "thanks", text: "Thank you for your order!" });
    await unaryCall(t.tools.createQuickReply.bind(t.tools), { businessId: biz.businessId, shortcut: "hours", text: "We open at 9.", mediaId: "" }, { token: biz.token });
    const taken = await expectFailure(t.tools.createQuickReply.bind(t.tools), { businessId: biz.businessId, shortcut: "thanks", text: "again", mediaId: "" }, { token: biz.token });
    expect(taken.code).toBe(status.ALREADY_EXISTS);

    const listed = await unaryCall(t.tools.listQuickReplies.bind(t.tools), { businessId: biz.businessId }, { token: biz.token });
    expect(listed.quickReplies.map((q) => q.shortcut)).toEqual(["hours", "thanks"]);
    const updated = await unaryCall(t.tools.updateQuickReply.bind(t.tools), { businessId: biz.businessId, id: thanks.quickReply!.id, shortcut: "ty", text: "Thanks!", mediaId: "media_1" }, { token: biz.token });
    expect(updated.quickReply).toMatchObject({ shortcut: "ty", text: "Thanks!", mediaId: "media_1" });
    await unaryCall(t.tools.deleteQuickReply.bind(t.tools), { businessId: biz.businessId, id: thanks.quickReply!.id }, { token: biz.token });
    expect((await unaryCall(t.tools.listQuickReplies.bind(t.tools), { businessId: biz.businessId }, { token: biz.token })).quickReplies.map((q) => q.shortcut)).toEqual(["hours"]);

    // Another business: nothing of the first's, and its ids are unknown.
    expect((await unaryCall(t.tools.listQuickReplies.bind(t.tools), { businessId: other.businessId }, { token: other.token })).quickReplies).toEqual([]);
    const foreign = await expectFailure(t.tools.deleteQuickReply.bind(t.tools), { businessId: other.businessId, id: listed.quickReplies[0]!.id }, { token: other.token });
    expect(foreign.code).toBe(status.NOT_FOUND);
    const notYours = await expectFailure(t.tools.listQuickReplies.bind(t.tools), { businessId: biz.businessId }, { token: other.token });
    expect(notYours.code).toBe(status.PERMISSION_DENIED);
  });

  it("when a business has 50 quick replies, then the 51st is RESOURCE_EXHAUSTED, also when many race", async () => {
    const biz = await business();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 53 }, (_, i) => unaryCall(t.tools.createQuickReply.bind(t.tools), { businessId: biz.businessId, shortcut: `r${i}`, text: `reply ${i}`, mediaId: "" }, { token: biz.token })),
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
      const err = await expectFailure(t.tools.createQuickReply.bind(t.tools), { businessId: biz.businessId, shortcut, text: textBody, mediaId: "" }, { token: biz.token });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe(field);
    }
    expect((await unaryCall(t.tools.listQuickReplies.bind(t.tools), { businessId: biz.businessId }, { token: biz.token })).quickReplies).toEqual([]);
  });
});

describe("labels, assignment and inbox filters", () => {
  it("when conversations carry labels (on themselves or their customers), then the inbox filters by label, unread, assignment, window, activity and name or number", async () => {
    const biz = await business();
    const vip = (await unaryCall(t.tools.createLabel.bind(t.tools), { businessId: biz.businessId, name: "VIP", color: "#ff0000" }, { token: biz.token })).label!;
    const follow = (await unaryCall(t.tools.createLabel.bind(t.tools), { businessId: biz.businessId, name: "Follow up", color: "#00AA00" }, { token: biz.token })).label!;
    expect(vip.color).toBe("#FF0000");
    const dup = await expectFailure(t.tools.createLabel.bind(t.tools), { businessId: biz.businessId, name: "vip", color: "#000000" }, { token: biz.token });
    expect(dup.code).toBe(status.ALREADY_EXISTS);

    const ana = await conversationWith(biz, "Ana Souza", "+5511999990001");
    const bruno = await conversationWith(biz, "Bruno", "+5511999990002");
    const carla = await conversationWith(biz, "Carla", "+5511999990003");

    expect((await unaryCall(t.tools.setConversationLabels.bind(t.tools), { businessId: biz.businessId, conversationId: ana.conversationId, addLabelIds: [vip.id, follow.id], removeLabelIds: [] }, { token: biz.token })).labelIds.sort()).toEqual([vip.id, follow.id].sort());
    await unaryCall(t.tools.setConversationLabels.bind(t.tools), { businessId: biz.businessId, conversationId: ana.conversationId, addLabelIds: [], removeLabelIds: [follow.id] }, { token: biz.token });
    await unaryCall(t.tools.setCustomerLabels.bind(t.tools), { businessId: biz.businessId, customerId: bruno.customerId, addLabelIds: [follow.id], removeLabelIds: [] }, { token: biz.token });

    expect(await inbox(biz, { labelIds: [vip.id] })).toEqual([ana.conversationId]);
    expect(await inbox(biz, { labelIds: [follow.id] })).toEqual([bruno.conversationId]);
    expect(await inbox(biz, { labelIds: [vip.id, follow.id] })).toEqual([ana.conversationId, bruno.conversationId].sort());
    const listed = await unaryCall(t.messaging.listConversations.bind(t.messaging), { participant: number(biz.pn), page: undefined, filter: undefined }, { token: biz.token });
    expect(listed.conversations.find((c) => c.id === ana.conversationId)?.labelIds).toEqual([vip.id]);

    // Unread: the business read Bruno's message only.
    await unaryCall(t.messaging.reportReceipt.bind(t.messaging), { reader: number(biz.pn), conversationId: bruno.conversationId, status: 4, upToSeq: "1", messageId: "" }, { token: biz.token });
    expect(await inbox(biz, { unreadOnly: true })).toEqual([ana.conversationId, carla.conversationId].sort());

    // Assignment: one event per change, none for a repeat.
    const assigned = await unaryCall(t.tools.assignConversation.bind(t.tools), { businessId: biz.businessId, conversationId: carla.conversationId, agentId: "agent.maria" }, { token: biz.token });
    expect(assigned.agentId).toBe("agent.maria");
    await unaryCall(t.tools.assignConversation.bind(t.tools), { businessId: biz.businessId, conversationId: carla.conversationId, agentId: "agent.maria" }, { token: biz.token });
    expect(await inbox(biz, { assignedAgentId: "agent.maria" })).toEqual([carla.conversationId]);
    expect(await inbox(biz, { unassignedOnly: true })).toEqual([ana.conversationId, bruno.conversationId].sort());
    await outboxDrained(t.app.runtime.database.pool);
    const events = (await streamMessages(t.env, "messaging", subjects.conversationAssigned)).map((m) => ConversationAssigned.decode(m.data)).filter((e) => e.conversationId === carla.conversationId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ businessId: biz.businessId, agentId: "agent.maria", previousAgentId: "", assignedBy: `business:${biz.businessId}` });

    // Window: Carla's last message is more than 24 h old (as the store holds it).
    await t.app.runtime.database.pool.query("UPDATE conversation SET last_inbound_at = now() - interval '25 hours' WHERE id = $1", [carla.conversationId]);
    expect(await inbox(biz, { window: WindowFilter.WINDOW_FILTER_CLOSED })).toEqual([carla.conversationId]);
    expect(await inbox(biz, { window: WindowFilter.WINDOW_FILTER_OPEN })).toEqual([ana.conversationId, bruno.conversationId].sort());

    // Activity and search by name (case-insensitive) or number.
    expect(await inbox(biz, { activeSince: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await inbox(biz, { query: "souza" })).toEqual([ana.conversationId]);
    expect(await inbox(biz, { query: "990002" })).toEqual([bruno.conversationId]);
    expect(await inbox(biz, { query: "100%" })).toEqual([]);

    // Deleting a label takes it off everything.
    await unaryCall(t.tools.deleteLabel.bind(t.tools), { businessId: biz.businessId, id: vip.id }, { token: biz.token });
    expect(await inbox(biz, { labelIds: [vip.id] })).toEqual([]);
  });

  it("when a business names another business's conversation or label, then NOT_FOUND and nothing changes; a customer cannot filter", async () => {
    const biz = await business();
    const other = await business();
    const mine = await conversationWith(biz);
    const theirs = (await unaryCall(t.tools.createLabel.bind(t.tools), { businessId: other.businessId, name: "Theirs", color: "#123456" }, { token: other.token })).label!;
    const own = (await unaryCall(t.tools.createLabel.bind(t.tools), { businessId: biz.businessId, name: "Mine", color: "#654321" }, { token: biz.token })).label!;

    const foreignLabel = await expectFailure(t.tools.setConversationLabels.bind(t.tools), { businessId: biz.businessId, conversationId: mine.conversationId, addLabelIds: [own.id, theirs.id], removeLabelIds: [] }, { token: biz.token });
    expect(foreignLabel.code).toBe(status.NOT_FOUND);
    const foreignConversation = await expectFailure(t.tools.assignConversation.bind(t.tools), { businessId: other.businessId, conversationId: mine.conversationId, agentId: "spy" }, { token: other.token });
    expect(foreignConversation.code).toBe(status.NOT_FOUND);
    const rows = await t.app.runtime.database.pool.query<{ n: string; agent: string | null }>(
      "SELECT (SELECT count(*) FROM conversation_label WHERE conversation_id = $1) AS n, (SELECT assigned_agent_id FROM conversation WHERE id = $1) AS agent",
      [mine.conversationId],
    );
    expect(rows.rows[0]).toEqual({ n: "0", agent: null });

    const customerFilter = await expectFailure(t.messaging.listConversations.bind(t.messaging), { participant: customer(mine.customerId), page: undefined, filter: { ...noFilter, unreadOnly: true } }, { token: mine.token });
    expect(customerFilter.code).toBe(status.INVALID_ARGUMENT);
    const badLabel = await expectFailure(t.messaging.listConversations.bind(t.messaging), { participant: number(biz.pn), page: undefined, filter: { ...noFilter, labelIds: ["not-a-uuid"] } }, { token: biz.token });
    expect(errorDetail(badLabel)?.field).toBe("filter.label_ids[0]");
  });
});

async function messagesTo(customerId: string): Promise<number> {
  const r = await t.app.runtime.database.pool.query<{ n: string }>("SELECT count(*) AS n FROM message WHERE recipient = $1", [`c_${customerId}`]);
  return Number(r.rows[0]!.n);
}

describe("broadcasts", () => {
  it("when a broadcast runs, then every recipient gets the template once, unknown numbers fail with 131026, and the outcomes list by index", async () => {
    const biz = await business();
    const name = await approvedTemplate(t.port, biz);
    const customers: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = uid("cust_bc");
      await registerCustomer(t.messaging, t.onboarding, id);
      customers.push(id);
    }
    const recipients = [
      ...customers.map((id, i) => ({ to: { $case: "customerId" as const, value: id }, components: i === 0 ? bodyParams("Zoe", "Z-9") : [] })),
      { to: { $case: "e164" as const, value: "+49 1500 0000000" }, components: [] },
    ];
    const created = await unaryCall(
      t.tools.createBroadcast.bind(t.tools),
      broadcastReq(biz, name, { recipients, start: true }),
      { token: biz.token },
    );
    expect(created.broadcast).toMatchObject({ status: BroadcastStatus.BROADCAST_STATUS_RUNNING, counts: { total: "13", pending: "13" } });
    const done = await waitFor(async () => {
      const b = (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: created.broadcast!.id }, { token: biz.token })).broadcast!;
      return b.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED ? b : undefined;
    }, 20_000);
    expect(done.counts).toMatchObject({ total: "13", pending: "0", accepted: "12", failed: "1" });
    for (const id of customers) expect(await messagesTo(id)).toBe(1);

    const page1 = await unaryCall(t.tools.listBroadcastRecipients.bind(t.tools), { businessId: biz.businessId, broadcastId: created.broadcast!.id, page: { pageSize: 10, pageToken: "" }, state: 0 }, { token: biz.token });
    expect(page1.recipients.map((r) => r.index)).toEqual(Array.from({ length: 10 }, (_, i) => String(i + 1)));
    const page2 = await unaryCall(t.tools.listBroadcastRecipients.bind(t.tools), { businessId: biz.businessId, broadcastId: created.broadcast!.id, page: { pageSize: 10, pageToken: page1.page!.nextPageToken }, state: 0 }, { token: biz.token });
    expect(page2.recipients.at(-1)).toMatchObject({ index: "13", e164: "+4915000000000", state: RecipientState.RECIPIENT_STATE_FAILED, errorCode: 131026 });
    // The first recipient's own parameters replaced the defaults.
    const first = await unaryCall(t.messaging.getMessage.bind(t.messaging), { participant: customer(customers[0]!), messageId: page1.recipients[0]!.messageId }, { token: await t.env.token({ kind: "customer", customerId: customers[0]! }) });
    const content = first.message?.content?.kind;
    expect(content?.$case === "template" && content.value.rendered?.body).toBe("Hi Zoe, your order Z-9 has shipped.");
  });

  it("when a replica dies between a recipient's send and its outcome, then the recipient is claimed again and answered by its original: nobody gets two", async () => {
    const biz = await business();
    const name = await approvedTemplate(t.port, biz);
    const customers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = uid("cust_bc");
      await registerCustomer(t.messaging, t.onboarding, id);
      customers.push(id);
    }
    const created = await unaryCall(
      t.tools.createBroadcast.bind(t.tools),
      broadcastReq(biz, name, { recipients: toCustomers(customers), start: true }),
      { token: biz.token },
    );
    const id = created.broadcast!.id;
    await waitFor(async () => (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: id }, { token: biz.token })).broadcast!.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED, 20_000);
    const before = await t.app.runtime.database.pool.query<{ idx: string; message_id: string }>("SELECT idx, message_id FROM broadcast_recipient WHERE broadcast_id = $1 ORDER BY idx", [id]);
    // As a crash leaves them: sent, the outcome not recorded, their chunk still pending.
    await t.app.runtime.database.pool.query("UPDATE broadcast_recipient SET state = 1, message_id = '' WHERE broadcast_id = $1 AND idx <= 3", [id]);
    await t.app.runtime.database.pool.query("UPDATE broadcast_chunk SET done = false WHERE broadcast_id = $1", [id]);
    await t.app.runtime.database.pool.query("UPDATE broadcast SET status = $2 WHERE id = $1", [id, BroadcastStatus.BROADCAST_STATUS_RUNNING]);
    await waitFor(async () => (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: id }, { token: biz.token })).broadcast!.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED, 20_000);
    const after = await t.app.runtime.database.pool.query<{ idx: string; message_id: string }>("SELECT idx, message_id FROM broadcast_recipient WHERE broadcast_id = $1 ORDER BY idx", [id]);
    expect(after.rows).toEqual(before.rows);
    for (const c of customers) expect(await messagesTo(c)).toBe(1);
  });

  it("when a broadcast is a draft, then recipients are added and it starts; pause, resume and cancel follow the states; another business and unapproved templates are refused", async () => {
    const biz = await business();
    const other = await business();
    const name = await approvedTemplate(t.port, biz);
    const id = uid("cust_bc");
    await registerCustomer(t.messaging, t.onboarding, id);
    const missing = await expectFailure(
      t.tools.createBroadcast.bind(t.tools),
      broadcastReq(biz, "no_such_tpl", { components: [] }),
      { token: biz.token },
    );
    expect(errorDetail(missing)?.cloudApiCode).toBe(132001);
    const foreignNumber = await expectFailure(
      t.tools.createBroadcast.bind(t.tools),
      broadcastReq({ businessId: other.businessId, pn: biz.pn }, name, { components: [] }),
      { token: other.token },
    );
    expect(foreignNumber.code).toBe(status.NOT_FOUND);

    const draft = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, name, { components: bodyParams("you", "B-2") }), { token: biz.token })).broadcast!;
    expect(draft.status).toBe(BroadcastStatus.BROADCAST_STATUS_DRAFT);
    const added = await unaryCall(t.tools.addBroadcastRecipients.bind(t.tools), { businessId: biz.businessId, broadcastId: draft.id, recipients: [{ to: { $case: "customerId", value: id }, components: [] }] }, { token: biz.token });
    expect(added.broadcast!.counts!.total).toBe("1");
    const badRow = await expectFailure(t.tools.addBroadcastRecipients.bind(t.tools), { businessId: biz.businessId, broadcastId: draft.id, recipients: [{ to: { $case: "customerId", value: id }, components: [] }, { to: { $case: "e164", value: "not a number" }, components: [] }] }, { token: biz.token });
    expect(errorDetail(badRow)?.field).toBe("recipients[1].e164");

    const notYours = await expectFailure(t.tools.getBroadcast.bind(t.tools), { businessId: other.businessId, broadcastId: draft.id }, { token: other.token });
    expect(notYours.code).toBe(status.NOT_FOUND);
    const cannotPause = await expectFailure(t.tools.pauseBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: draft.id }, { token: biz.token });
    expect(cannotPause.code).toBe(status.FAILED_PRECONDITION);
    const cancelled = await unaryCall(t.tools.cancelBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: draft.id }, { token: biz.token });
    expect(cancelled.broadcast!.status).toBe(BroadcastStatus.BROADCAST_STATUS_CANCELLED);
    // Its chunk (the recipient added while a draft) leaves the sender's scan.
    const chunks = await t.app.runtime.database.pool.query<{ done: boolean }>("SELECT done FROM broadcast_chunk WHERE broadcast_id = $1", [draft.id]);
    expect(chunks.rows).toEqual([{ done: true }]);
    const cannotStart = await expectFailure(t.tools.startBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: draft.id, sendAt: undefined }, { token: biz.token });
    expect(cannotStart.code).toBe(status.FAILED_PRECONDITION);
    expect(await messagesTo(id)).toBe(0);
  });

  it("when a broadcast would reach more new customers than the business's messaging limit (TIER_250), then 250 get it and the rest fail with 131048", async () => {
    const biz = await business();
    const name = await approvedTemplate(t.port, biz);
    const prefix = uid("cust_tier");
    await t.sql("INSERT INTO customer (id, e164, profile_name) SELECT $1 || g, '+4918' || lpad(g::text, 9, '0') || $2, 'T' || g FROM generate_series(1, 251) AS g", [prefix, String(Math.floor(Math.random() * 90) + 10)]);
    const ids = Array.from({ length: 251 }, (_, i) => `${prefix}${i + 1}`);
    const created = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, name, { recipients: toCustomers(ids), start: true }), { token: biz.token })).broadcast!;
    const done = await waitFor(async () => {
      const b = (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: created.id }, { token: biz.token })).broadcast!;
      return b.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED ? b : undefined;
    }, 60_000);
    expect(done.counts).toMatchObject({ total: "251", accepted: "250", failed: "1" });
    const failed = await unaryCall(t.tools.listBroadcastRecipients.bind(t.tools), { businessId: biz.businessId, broadcastId: created.id, page: undefined, state: RecipientState.RECIPIENT_STATE_FAILED }, { token: biz.token });
    expect(failed.recipients.map((r) => [r.errorCode, r.errorReason])).toEqual([[131048, "MESSAGING_LIMIT_REACHED"]]);
  });

  it("when a broadcast goes to a label, then everyone with it (on the customer or on a conversation with the number) is a recipient", async () => {
    const biz = await business();
    const name = await approvedTemplate(t.port, biz);
    const label = (await unaryCall(t.tools.createLabel.bind(t.tools), { businessId: biz.businessId, name: "Newsletter", color: "#0000FF" }, { token: biz.token })).label!;
    const a = await conversationWith(biz);
    const b = await conversationWith(biz);
    await conversationWith(biz);
    await unaryCall(t.tools.setConversationLabels.bind(t.tools), { businessId: biz.businessId, conversationId: a.conversationId, addLabelIds: [label.id], removeLabelIds: [] }, { token: biz.token });
    await unaryCall(t.tools.setCustomerLabels.bind(t.tools), { businessId: biz.businessId, customerId: b.customerId, addLabelIds: [label.id], removeLabelIds: [] }, { token: biz.token });
    const created = await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, name, { components: bodyParams("friend", "N-1"), labelId: label.id }), { token: biz.token });
    const listed = await unaryCall(t.tools.listBroadcastRecipients.bind(t.tools), { businessId: biz.businessId, broadcastId: created.broadcast!.id, page: undefined, state: 0 }, { token: biz.token });
    expect(listed.recipients.map((r) => r.customerId).sort()).toEqual([a.customerId, b.customerId].sort());
  });
});

describe("analytics", () => {
  it("when a business's traffic flows, then GetAnalytics equals the counts recomputed from the replayed event log, and a redelivered batch counts nothing twice", async () => {
    const biz = await business();
    const name = await approvedTemplate(t.port, biz);
    const a = await conversationWith(biz);
    const b = await conversationWith(biz);
    await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(number(biz.pn), customer(a.customerId), text("hi Ana")), { token: biz.token });
    await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(number(biz.pn), customer(b.customerId), templateContent(name, "Bo", "C-3")), { token: biz.token });
    await unaryCall(t.messaging.reportReceipt.bind(t.messaging), { reader: customer(a.customerId), conversationId: a.conversationId, status: 4, upToSeq: "2", messageId: "" }, { token: a.token });
    const day = new Date().toISOString().slice(0, 10);

    // The log: every event of the business on the stream, folded by the same rules.
    await outboxDrained(t.app.runtime.database.pool);
    const log = (await streamMessages(t.env, "messaging"))
      .flatMap((m) => decodeAnalytics(m.subject, m.data))
      .filter((e) => e.businessId === biz.businessId);
    const expected = points(fold(log, new Map()).map((d) => ({ day: d.day, metric: d.metric, value: d.value })), "day");
    expect(expected[0]).toMatchObject({ sent: 2, read: 1, inbound: 2, firstResponses: 2, templateSent: { [name]: 1 } });

    const ask = () => unaryCall(t.tools.getAnalytics.bind(t.tools), { businessId: biz.businessId, phoneNumberId: "", startDate: day, endDate: day, granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY }, { token: biz.token });
    const got = await waitFor(async () => {
      const r = await ask();
      return r.points[0]?.read === "1" && r.points[0]?.sent === "2" ? r : undefined;
    }, 20_000);
    const p = got.points[0]!;
    const e = expected[0]!;
    expect({ ...p }).toMatchObject({
      startDate: e.startDate,
      sent: String(e.sent),
      delivered: String(e.delivered),
      read: String(e.read),
      failed: String(e.failed),
      inbound: String(e.inbound),
      firstResponses: String(e.firstResponses),
      firstResponseMedianS: e.firstResponseMedianS,
      templateSent: Object.fromEntries(Object.entries(e.templateSent).map(([k, v]) => [k, String(v)])),
      conversationsByCategory: Object.fromEntries(Object.entries(e.conversationsByCategory).map(([k, v]) => [k, String(v)])),
    });

    // The same events again (a redelivery after a crash): nothing changes.
    await createAnalyticsStore(t.app.runtime.db).applyBatch(log);
    expect((await ask()).points).toEqual(got.points);

    const other = await business();
    const notYours = await expectFailure(t.tools.getAnalytics.bind(t.tools), { businessId: biz.businessId, phoneNumberId: "", startDate: day, endDate: day, granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY }, { token: other.token });
    expect(notYours.code).toBe(status.PERMISSION_DENIED);
    const badRange = await expectFailure(t.tools.getAnalytics.bind(t.tools), { businessId: biz.businessId, phoneNumberId: "", startDate: "2026-02-30", endDate: day, granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY }, { token: biz.token });
    expect(errorDetail(badRange)?.field).toBe("start_date");
  });
});

describe("first-response times", () => {
  it("when customers wait 3 s to 2,000 s for the business's first answer, then GetAnalytics's median and p90 are the buckets the 5th and 9th of ten fall in, as the replayed events say; a second customer message does not restart the clock, an unasked business message is no response", async () => {
    // Events with chosen times on the business's stream, as the send path publishes them (a past day, so nothing else lands on it).
    const businessId = uid("biz_frt");
    const token = await t.env.token({ kind: "business", businessId });
    const pn = uid("pn_frt");
    const day = "2026-11-03";
    const t0 = Date.parse(`${day}T09:00:00Z`);
    const nc = await t.env.nats();
    const publish = async (subject: string, payload: Uint8Array) => nc.jetstream().publish(`${t.env.natsPrefix}${subject}`, payload, { msgID: randomUUID() });
    const meta = (at: number) => ({ eventId: randomUUID(), occurredAt: new Date(at), businessId });
    const customerWrites = (conversationId: string, at: number) => publish(subjects.messageReceived, MessageReceived.encode(MessageReceived.fromPartial({ meta: meta(at), phoneNumberId: pn, message: { conversationId }, customerId: "c1", type: "text" })).finish());
    const businessAnswers = (conversationId: string, at: number) =>
      publish(subjects.messageStatus, MessageStatusChanged.encode(MessageStatusChanged.fromPartial({ meta: meta(at), messageId: randomUUID(), conversationId, sender: number(pn), status: 2, phoneNumberId: pn })).finish());
    const waits = [3, 4, 10, 12, 20, 45, 90, 200, 400, 2000];
    for (const [i, w] of waits.entries()) {
      const conversation = randomUUID();
      const asked = t0 + i * 3_600_000;
      await customerWrites(conversation, asked);
      if (i === 0) await customerWrites(conversation, asked + 2_000); // still waiting: the clock keeps its start
      await businessAnswers(conversation, asked + w * 1000);
      await businessAnswers(conversation, asked + w * 1000 + 5_000); // a second answer is no first response
    }
    await businessAnswers(randomUUID(), t0); // nobody asked

    const ask = () => unaryCall(t.tools.getAnalytics.bind(t.tools), { businessId, phoneNumberId: "", startDate: day, endDate: day, granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY }, { token });
    const point = await waitFor(async () => {
      const p = (await ask()).points[0];
      return p && p.firstResponses === "10" && p.sent === "21" ? p : undefined;
    }, 30_000);
    // Buckets (s): 5 | 15 | 30 | 60 | 120 | 300 | 600 | 1800 | 3600: the 5th wait (20 s) is in 30, the 9th (400 s) in 600.
    expect({ n: point.firstResponses, median: point.firstResponseMedianS, p90: point.firstResponseP90S, inbound: point.inbound }).toEqual({ n: "10", median: 30, p90: 600, inbound: "11" });
    const log = (await streamMessages(t.env, "messaging")).flatMap((m) => decodeAnalytics(m.subject, m.data)).filter((e) => e.businessId === businessId);
    const replayed = points(fold(log, new Map()).map((d) => ({ day: d.day, metric: d.metric, value: d.value })), "day")[0]!;
    expect({ n: replayed.firstResponses, median: replayed.firstResponseMedianS, p90: replayed.firstResponseP90S }).toEqual({ n: 10, median: 30, p90: 600 });
  });
});

const bookingFlow = (question = "How many people?") => ({
  name: "booking",
  triggers: [{ type: "keyword", words: ["book"] }],
  start: "when",
  states: {
    when: {
      actions: [{ type: "ask", text: "Lunch or dinner, {{customer_name}}?", variable: "slot", buttons: [{ id: "lunch", title: "Lunch" }, { id: "dinner", title: "Dinner" }] }],
      transitions: [
        { on: "button", id: "lunch", to: "people" },
        { on: "button", id: "dinner", to: "people" },
        { on: "else", to: "human" },
      ],
    },
    people: { actions: [{ type: "ask", text: question, variable: "people", validation: { type: "number" } }], transitions: [{ on: "any", to: "done" }] },
    done: { actions: [{ type: "reply_text", text: "{{slot}} for {{people}}: booked." }] },
    human: { actions: [{ type: "handoff" }] },
  },
});

/** The business's messages in a conversation, as text (interactive: its body), oldest first. */
async function botSaid(biz: { pn: string; token: string }, conversationId: string): Promise<string[]> {
  const r = await unaryCall(t.messaging.listMessages.bind(t.messaging), { participant: number(biz.pn), conversationId, page: { pageSize: 100, pageToken: "" }, newestFirst: false }, { token: biz.token });
  return r.messages
    .filter((m) => m.sender?.kind?.$case === "phoneNumberId")
    .map((m) => (m.content?.kind?.$case === "text" ? m.content.kind.value.body : m.content?.kind?.$case === "interactive" ? m.content.kind.value.body : "?"));
}

describe("chatbot flows", () => {
  it("when a customer books through a flow, then the bot asks, captures and answers; a conversation keeps its version when a new one is saved", async () => {
    const biz = await business();
    const saved = await unaryCall(t.tools.saveFlow.bind(t.tools), { businessId: biz.businessId, definitionJson: JSON.stringify(bookingFlow()) }, { token: biz.token });
    expect(saved.flow).toMatchObject({ name: "booking", version: 1, unreachableStates: [] });
    expect(saved.webhookSecret.length).toBeGreaterThan(20);

    const ana = await conversationWith(biz, "Rui");
    const say = (content: Parameters<typeof sendReq>[2]) => unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(ana.customerId), number(biz.pn), content), { token: ana.token });
    await say(text("I want to book a table"));
    await waitFor(async () => (await botSaid(biz, ana.conversationId)).includes("Lunch or dinner, Rui?"), 20_000);

    // Version 2 changes the question; this conversation keeps version 1.
    expect((await unaryCall(t.tools.saveFlow.bind(t.tools), { businessId: biz.businessId, definitionJson: JSON.stringify(bookingFlow("For how many?")) }, { token: biz.token })).flow!.version).toBe(2);
    await say({ kind: { $case: "interactive", value: { header: undefined, body: "", footer: "", action: { $case: "buttonReply", value: { id: "dinner", title: "Dinner" } } } } });
    await waitFor(async () => (await botSaid(biz, ana.conversationId)).includes("How many people?"), 20_000);
    await say(text("4"));
    await waitFor(async () => (await botSaid(biz, ana.conversationId)).includes("Dinner for 4: booked."), 20_000);
    expect(await botSaid(biz, ana.conversationId)).toEqual(["Lunch or dinner, Rui?", "How many people?", "Dinner for 4: booked."]);

    // A new conversation starts on version 2.
    const bo = await conversationWith(biz, "Bo");
    await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(bo.customerId), number(biz.pn), text("book")), { token: bo.token });
    await waitFor(async () => (await botSaid(biz, bo.conversationId)).includes("Lunch or dinner, Bo?"), 20_000);
    await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(bo.customerId), number(biz.pn), { kind: { $case: "interactive", value: { header: undefined, body: "", footer: "", action: { $case: "buttonReply", value: { id: "lunch", title: "Lunch" } } } } }), { token: bo.token });
    await waitFor(async () => (await botSaid(biz, bo.conversationId)).includes("For how many?"), 20_000);
    const listed = await unaryCall(t.tools.listFlows.bind(t.tools), { businessId: biz.businessId }, { token: biz.token });
    expect(listed.flows.map((f) => [f.name, f.version])).toEqual([["booking", 2]]);
  });

  it("when an answer fits nothing twice, then the flow hands off and stays silent until the conversation is handed back", async () => {
    const biz = await business();
    await unaryCall(t.tools.saveFlow.bind(t.tools), { businessId: biz.businessId, definitionJson: JSON.stringify(bookingFlow()) }, { token: biz.token });
    const c = await conversationWith(biz, "Cy");
    const say = (body: string) => unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(c.customerId), number(biz.pn), text(body)), { token: c.token });
    await say("book");
    await waitFor(async () => (await botSaid(biz, c.conversationId)).length === 1, 20_000);
    await say("hmm");
    await waitFor(async () => (await botSaid(biz, c.conversationId)).length === 2, 20_000);
    await say("what?");
    await waitFor(async () => (await t.app.runtime.database.pool.query("SELECT session->>'handedOff' AS h FROM flow_session WHERE conversation_id = $1", [c.conversationId])).rows[0]?.h === "true", 20_000);
    await say("book");
    // A later marker: the flow consumer has passed the "book" above once the session row still says handed off after it.
    await outboxDrained(t.app.runtime.database.pool);
    await unaryCall(t.tools.handBackConversation.bind(t.tools), { businessId: biz.businessId, conversationId: c.conversationId }, { token: biz.token });
    const before = (await botSaid(biz, c.conversationId)).length;
    await say("book");
    await waitFor(async () => (await botSaid(biz, c.conversationId)).length === before + 1, 20_000);
    expect((await botSaid(biz, c.conversationId)).at(-1)).toBe("Lunch or dinner, Cy?");
  });

  it("when a definition is bad, then INVALID_ARGUMENT names the path; a dry run shows the steps and stores nothing", async () => {
    const biz = await business();
    const bad = bookingFlow() as Record<string, unknown>;
    (bad.states as Record<string, { transitions?: unknown[] }>).when!.transitions = [{ on: "button", id: "lunch", to: "nowhere" }];
    const err = await expectFailure(t.tools.saveFlow.bind(t.tools), { businessId: biz.businessId, definitionJson: JSON.stringify(bad) }, { token: biz.token });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(err)?.field).toMatch(/^states\.when\.transitions\[0\]/);
    const notJson = await expectFailure(t.tools.saveFlow.bind(t.tools), { businessId: biz.businessId, definitionJson: "{" }, { token: biz.token });
    expect(errorDetail(notJson)?.field).toBe("definition_json");

    const run = await unaryCall(
      t.tools.dryRunFlow.bind(t.tools),
      {
        businessId: biz.businessId,
        definitionJson: JSON.stringify(bookingFlow()),
        transcript: [
          { kind: { $case: "text", value: "book" }, title: "", first: true, referralSourceId: "" },
          { kind: { $case: "buttonId", value: "lunch" }, title: "Lunch", first: false, referralSourceId: "" },
          { kind: { $case: "text", value: "2" }, title: "", first: false, referralSourceId: "" },
        ],
      },
      { token: biz.token },
    );
    expect(run.steps.map((st) => [st.outcome, st.state])).toEqual([
      ["started", "when"],
      ["answered", "people"],
      ["answered", ""],
    ]);
    expect(JSON.parse(run.steps[2]!.effectsJson[0]!)).toEqual({ kind: "send_text", text: "Lunch for 2: booked." });
    expect((await unaryCall(t.tools.listFlows.bind(t.tools), { businessId: biz.businessId }, { token: biz.token })).flows).toEqual([]);
  });
});

describe("tenant isolation", () => {
  it("when a business names another business's quick replies, labels, flows, conversations, broadcasts, numbers or analytics, then NOT_FOUND or PERMISSION_DENIED, it lists none of them, and nothing of the other business changes", async () => {
    const a = await business();
    const b = await business();
    const own = { token: a.token };
    const as = { token: b.token };
    const reply = (await unaryCall(t.tools.createQuickReply.bind(t.tools), { businessId: a.businessId, shortcut: "hi", text: "Hello!", mediaId: "" }, own)).quickReply!;
    const label = (await unaryCall(t.tools.createLabel.bind(t.tools), { businessId: a.businessId, name: "Gold", color: "#FFD700" }, own)).label!;
    await unaryCall(t.tools.saveFlow.bind(t.tools), { businessId: a.businessId, definitionJson: JSON.stringify(bookingFlow()) }, own);
    const chat = await conversationWith(a, "Una");
    await unaryCall(t.tools.setConversationLabels.bind(t.tools), { businessId: a.businessId, conversationId: chat.conversationId, addLabelIds: [label.id], removeLabelIds: [] }, own);
    const name = await approvedTemplate(t.port, a);
    const draft = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(a, name, { recipients: toCustomers([chat.customerId]) }), own)).broadcast!;
    const day = new Date().toISOString().slice(0, 10);
    const analyticsReq = (businessId: string, phoneNumberId: string) => ({ businessId, phoneNumberId, startDate: day, endDate: day, granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY });
    // A's own inbound message is counted before B looks.
    await waitFor(async () => (await unaryCall(t.tools.getAnalytics.bind(t.tools), analyticsReq(a.businessId, ""), own)).points[0]?.inbound === "1", 20_000);

    // B lists nothing of A's.
    expect((await unaryCall(t.tools.listQuickReplies.bind(t.tools), { businessId: b.businessId }, as)).quickReplies).toEqual([]);
    expect((await unaryCall(t.tools.listLabels.bind(t.tools), { businessId: b.businessId }, as)).labels).toEqual([]);
    expect((await unaryCall(t.tools.listFlows.bind(t.tools), { businessId: b.businessId }, as)).flows).toEqual([]);
    expect((await unaryCall(t.tools.getAnalytics.bind(t.tools), analyticsReq(b.businessId, ""), as)).points).toEqual([]);

    // B naming A's things under its own business: NOT_FOUND.
    const notFound: [string, Promise<unknown>][] = [
      ["update quick reply", expectFailure(t.tools.updateQuickReply.bind(t.tools), { businessId: b.businessId, id: reply.id, shortcut: "x", text: "x", mediaId: "" }, as)],
      ["delete quick reply", expectFailure(t.tools.deleteQuickReply.bind(t.tools), { businessId: b.businessId, id: reply.id }, as)],
      ["update label", expectFailure(t.tools.updateLabel.bind(t.tools), { businessId: b.businessId, id: label.id, name: "Mine", color: "#000000" }, as)],
      ["delete label", expectFailure(t.tools.deleteLabel.bind(t.tools), { businessId: b.businessId, id: label.id }, as)],
      ["label a conversation", expectFailure(t.tools.setConversationLabels.bind(t.tools), { businessId: b.businessId, conversationId: chat.conversationId, addLabelIds: [], removeLabelIds: [label.id] }, as)],
      ["assign", expectFailure(t.tools.assignConversation.bind(t.tools), { businessId: b.businessId, conversationId: chat.conversationId, agentId: "spy" }, as)],
      ["delete flow", expectFailure(t.tools.deleteFlow.bind(t.tools), { businessId: b.businessId, name: "booking" }, as)],
      ["hand back", expectFailure(t.tools.handBackConversation.bind(t.tools), { businessId: b.businessId, conversationId: chat.conversationId }, as)],
      ["get broadcast", expectFailure(t.tools.getBroadcast.bind(t.tools), { businessId: b.businessId, broadcastId: draft.id }, as)],
      ["list recipients", expectFailure(t.tools.listBroadcastRecipients.bind(t.tools), { businessId: b.businessId, broadcastId: draft.id, page: undefined, state: 0 }, as)],
      ["add recipients", expectFailure(t.tools.addBroadcastRecipients.bind(t.tools), { businessId: b.businessId, broadcastId: draft.id, recipients: toCustomers([chat.customerId]) }, as)],
      ["start", expectFailure(t.tools.startBroadcast.bind(t.tools), { businessId: b.businessId, broadcastId: draft.id, sendAt: undefined }, as)],
      ["pause", expectFailure(t.tools.pauseBroadcast.bind(t.tools), { businessId: b.businessId, broadcastId: draft.id }, as)],
      ["cancel", expectFailure(t.tools.cancelBroadcast.bind(t.tools), { businessId: b.businessId, broadcastId: draft.id }, as)],
      ["broadcast from A's number", expectFailure(t.tools.createBroadcast.bind(t.tools), broadcastReq({ businessId: b.businessId, pn: a.pn }, name), as)],
      ["analytics of A's number", expectFailure(t.tools.getAnalytics.bind(t.tools), analyticsReq(b.businessId, a.pn), as)],
      ["auto replies of A's number", expectFailure(t.tools.getAutoReplies.bind(t.tools), { businessId: b.businessId, phoneNumberId: a.pn }, as)],
    ];
    for (const [what, refused] of notFound) expect([what, ((await refused) as ServiceError).code]).toEqual([what, status.NOT_FOUND]);

    // B naming A's business: PERMISSION_DENIED.
    const denied: [string, Promise<unknown>][] = [
      ["quick replies", expectFailure(t.tools.listQuickReplies.bind(t.tools), { businessId: a.businessId }, as)],
      ["labels", expectFailure(t.tools.listLabels.bind(t.tools), { businessId: a.businessId }, as)],
      ["flows", expectFailure(t.tools.listFlows.bind(t.tools), { businessId: a.businessId }, as)],
      ["broadcast", expectFailure(t.tools.getBroadcast.bind(t.tools), { businessId: a.businessId, broadcastId: draft.id }, as)],
      ["analytics", expectFailure(t.tools.getAnalytics.bind(t.tools), analyticsReq(a.businessId, ""), as)],
      ["auto replies", expectFailure(t.tools.getAutoReplies.bind(t.tools), { businessId: a.businessId, phoneNumberId: a.pn }, as)],
    ];
    for (const [what, refused] of denied) expect([what, ((await refused) as ServiceError).code]).toEqual([what, status.PERMISSION_DENIED]);

    // A's things are as they were.
    expect((await unaryCall(t.tools.listQuickReplies.bind(t.tools), { businessId: a.businessId }, own)).quickReplies.map((q) => q.text)).toEqual(["Hello!"]);
    expect((await unaryCall(t.tools.listLabels.bind(t.tools), { businessId: a.businessId }, own)).labels.map((l) => l.name)).toEqual(["Gold"]);
    expect((await unaryCall(t.tools.listFlows.bind(t.tools), { businessId: a.businessId }, own)).flows.map((f) => f.name)).toEqual(["booking"]);
    expect((await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: a.businessId, broadcastId: draft.id }, own)).broadcast).toMatchObject({ status: BroadcastStatus.BROADCAST_STATUS_DRAFT, counts: { total: "1" } });
    expect((await t.sql("SELECT assigned_agent_id AS agent, (SELECT count(*) FROM conversation_label WHERE conversation_id = $1)::int AS labels FROM conversation WHERE id = $1", [chat.conversationId])).rows[0]).toEqual({ agent: null, labels: 1 });
  });
});

describe("BusinessToolsService at the boundary", () => {
  it("when every principal kind, staff role and service calls every RPC, then only the callers on the RPC's list get past the allow-list", async () => {
    expect(await allowListViolations(t.env, BusinessToolsServiceService, toolsAccess, `127.0.0.1:${t.port}`)).toEqual([]);
  });

  for (const method of Object.values(BusinessToolsServiceService)) {
    it(`${method.path}: U+0000, over-long strings and over-long lists in any field are INVALID_ARGUMENT naming the field, and nothing changes`, async () => {
      const token = await t.env.token({ kind: "business", businessId: "biz_tools_home" });
      const before = await rowCounts(t.env.databaseUrl, "messaging");
      await assertHostileRefused({ address: `127.0.0.1:${t.port}`, method, token, bounds, numRuns: 10 });
      expect(await rowCounts(t.env.databaseUrl, "messaging")).toEqual(before);
    });
  }
});

import { AnalyticsGranularity, BusinessToolsServiceService, GetAnalyticsResponse, type BusinessToolsServiceServer, type UploadBroadcastRecipientsRequest } from "@kontor/proto/messaging/v1/tools_service";
import { analyticsPeriodsView } from "../events/wire.js";
import { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import { csvRefusal, parseRecipientsCsv } from "../domain/tools/broadcast-csv.js";
import { InvalidInput } from "@kontor/service-kit/errors";
import type { PeriodColumns } from "../domain/tools/analytics.js";
import type { AutoReplyService, AutoReplySettings } from "../domain/tools/auto-replies.js";
import type { FlowService } from "../domain/tools/flow-service.js";
import { unreachableStates } from "../domain/tools/flows/definition.js";
import type { InboundEvent } from "../domain/tools/flows/engine.js";
import type { AutoReplySettings as AutoReplySettingsPb, Broadcast, BroadcastRecipient, BroadcastRecipientOutcome, Label, QuickReply } from "@kontor/proto/messaging/v1/tools";
import { NotFound } from "@kontor/service-kit/errors";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { pageOf, readPage } from "@kontor/service-kit/paging";
import type { BroadcastCounts, BroadcastRecord, BroadcastService, RecipientInput } from "../domain/tools/broadcast-service.js";
import type { DirectoryCache } from "../domain/directory.js";
import type { LabelRecord, QuickReplyRecord, ToolsService } from "../domain/tools/tools-service.js";
import type { RecipientRow } from "../store/broadcast-store.js";
import { authorizeBusinessTools } from "./authorize.js";

const broadcastToPb = ({ broadcast: b, counts }: { broadcast: BroadcastRecord; counts: BroadcastCounts }): Broadcast => ({
  id: b.id,
  businessId: b.businessId,
  phoneNumberId: b.phoneNumberId,
  templateName: b.templateName,
  templateLanguage: b.templateLanguage,
  components: b.components,
  status: b.status,
  counts: {
    total: String(counts.total),
    pending: String(counts.pending),
    accepted: String(counts.accepted),
    failed: String(counts.failed),
    delivered: String(counts.delivered),
    read: String(counts.read),
    clicked: String(counts.clicked),
  },
  createdAt: b.createdAt,
  updatedAt: b.updatedAt,
  sendAt: b.sendAt,
});

const recipientOf = (r: BroadcastRecipient): RecipientInput => ({
  customerId: r.to?.$case === "customerId" ? r.to.value : "",
  e164: r.to?.$case === "e164" ? r.to.value : "",
  components: r.components.length > 0 ? r.components : undefined,
});

const outcomeToPb = (r: RecipientRow): BroadcastRecipientOutcome => ({
  index: String(r.idx),
  customerId: r.customerId,
  e164: r.e164,
  state: r.state,
  messageId: r.messageId,
  messageStatus: r.messageStatus,
  errorCode: r.errorCode,
  errorReason: r.errorReason,
  attempts: r.attempts,
});

/** int64 maps travel as strings (ts-proto's forceLong=string). */
/** GetAnalytics's answer as read, its bytes written when grpc-js serializes it. */
class AnalyticsAnswer {
  constructor(readonly periods: readonly PeriodColumns[]) {}
}

/**
 * The generated definition, except that GetAnalytics's answer is written by
 * hand (wire.ts) into the scratch buffer, which grpc-js copies into its
 * frame as soon as serialize returns.
 */
const wireToolsService = {
  ...BusinessToolsServiceService,
  getAnalytics: {
    ...BusinessToolsServiceService.getAnalytics,
    responseSerialize: (value: GetAnalyticsResponse | AnalyticsAnswer): Buffer =>
      value instanceof AnalyticsAnswer ? analyticsPeriodsView(value.periods) : Buffer.from(GetAnalyticsResponse.encode(value).finish()),
  },
};

/** A UTC day as "YYYY-MM-DD" that exists on the calendar. */
function utcDay(value: string, field: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) throw new InvalidInput(field, "must be a date YYYY-MM-DD");
  return value;
}

type IdxCursor = { i: number };
const isIdxCursor = (v: unknown): v is IdxCursor => typeof v === "object" && v !== null && Number.isSafeInteger((v as IdxCursor).i);

const quickReplyToPb = (q: QuickReplyRecord): QuickReply => ({ id: q.id, businessId: q.businessId, shortcut: q.shortcut, text: q.text, mediaId: q.mediaId, createdAt: q.createdAt, updatedAt: q.updatedAt });
const labelToPb = (l: LabelRecord): Label => ({ id: l.id, businessId: l.businessId, name: l.name, color: l.color, createdAt: l.createdAt });

const autoRepliesToPb = (s: AutoReplySettings): AutoReplySettingsPb => ({
  phoneNumberId: s.phoneNumberId,
  greeting: s.greeting,
  greetingSilenceDays: s.greetingSilenceDays,
  away: s.away,
  updatedAt: s.updatedAt,
});

/** A CSV upload's size: 100,000 rows of a number and a few parameters fit well within it. */
const MAX_CSV_BYTES = 32 * 1024 * 1024;
/** How often WatchBroadcast re-reads a broadcast's counts. */
const WATCH_INTERVAL_MS = 1000;

/** Thin handlers: decode → authorize → use case (domain/tools) → map. */
export function registerToolsServer(
  grpc: KitServer,
  tools: ToolsService,
  broadcasts: BroadcastService & { listRecipients(broadcastId: string, afterIdx: number, state: number, limit: number): Promise<RecipientRow[]> },
  directory: Pick<DirectoryCache, "get">,
  maxPageSize: number,
  analytics: { periodColumns(businessId: string, phoneNumberId: string, start: string, end: string, granularity: "day" | "month"): Promise<PeriodColumns[]> },
  flows: Pick<FlowService<unknown>, "save" | "list" | "remove" | "dryRun" | "handBack">,
  conversationOwner: (conversationId: string) => Promise<string | undefined>,
  autoReplies: Pick<AutoReplyService, "set" | "get">,
): void {
  /** The broadcast's number must be the business's own. */
  const ownNumber = (businessId: string, phoneNumberId: string) => {
    if (directory.get(phoneNumberId)?.businessId !== businessId) throw new NotFound("business number");
  };
  const handlers: BusinessToolsServiceServer = {
    createQuickReply: grpc.unary("CreateQuickReply", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { quickReply: quickReplyToPb(await tools.createQuickReply(req.businessId, req)) };
    }),
    listQuickReplies: grpc.unary("ListQuickReplies", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { quickReplies: (await tools.listQuickReplies(req.businessId)).map(quickReplyToPb) };
    }),
    updateQuickReply: grpc.unary("UpdateQuickReply", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { quickReply: quickReplyToPb(await tools.updateQuickReply(req.businessId, req.id, req)) };
    }),
    deleteQuickReply: grpc.unary("DeleteQuickReply", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      await tools.deleteQuickReply(req.businessId, req.id);
      return {};
    }),
    createLabel: grpc.unary("CreateLabel", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { label: labelToPb(await tools.createLabel(req.businessId, req)) };
    }),
    listLabels: grpc.unary("ListLabels", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { labels: (await tools.listLabels(req.businessId)).map(labelToPb) };
    }),
    updateLabel: grpc.unary("UpdateLabel", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { label: labelToPb(await tools.updateLabel(req.businessId, req.id, req)) };
    }),
    deleteLabel: grpc.unary("DeleteLabel", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      await tools.deleteLabel(req.businessId, req.id);
      return {};
    }),
    setConversationLabels: grpc.unary("SetConversationLabels", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { labelIds: await tools.setConversationLabels(req.businessId, req.conversationId, req.addLabelIds, req.removeLabelIds) };
    }),
    setCustomerLabels: grpc.unary("SetCustomerLabels", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { labelIds: await tools.setCustomerLabels(req.businessId, req.customerId, req.addLabelIds, req.removeLabelIds) };
    }),
    assignConversation: grpc.unary("AssignConversation", async (req, ctx) => {
      const by = authorizeBusinessTools(ctx.principal, req.businessId);
      const { agentId, at } = await tools.assign(req.businessId, req.conversationId, req.agentId, by);
      return { agentId, assignedAt: at };
    }),
    createBroadcast: grpc.unary("CreateBroadcast", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      ownNumber(req.businessId, req.phoneNumberId);
      const created = await broadcasts.create({
        businessId: req.businessId,
        phoneNumberId: req.phoneNumberId,
        templateName: req.templateName,
        templateLanguage: req.templateLanguage,
        components: req.components,
        recipients: req.recipients.map(recipientOf),
        labelId: req.labelId,
        optedInFollowers: req.optedInFollowers,
        start: req.start,
        sendAt: req.sendAt,
      });
      return { broadcast: broadcastToPb(created) };
    }),
    addBroadcastRecipients: grpc.unary("AddBroadcastRecipients", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { broadcast: broadcastToPb(await broadcasts.addRecipients(req.businessId, req.broadcastId, req.recipients.map(recipientOf))) };
    }),
    getBroadcast: grpc.unary("GetBroadcast", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { broadcast: broadcastToPb(await broadcasts.get(req.businessId, req.broadcastId)) };
    }),
    listBroadcastRecipients: grpc.unary("ListBroadcastRecipients", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      await broadcasts.get(req.businessId, req.broadcastId); // NOT_FOUND for another business's
      const { limit, take, cursor } = readPage(req.page, isIdxCursor, maxPageSize, 100);
      const rows = await broadcasts.listRecipients(req.broadcastId, cursor?.i ?? 0, req.state, take);
      const { items, page } = pageOf(rows, limit, (last) => ({ i: last.idx }));
      return { recipients: items.map(outcomeToPb), page };
    }),
    startBroadcast: grpc.unary("StartBroadcast", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { broadcast: broadcastToPb(await broadcasts.transition(req.businessId, req.broadcastId, "start", req.sendAt)) };
    }),
    pauseBroadcast: grpc.unary("PauseBroadcast", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { broadcast: broadcastToPb(await broadcasts.transition(req.businessId, req.broadcastId, "pause")) };
    }),
    getAnalytics: grpc.unary("GetAnalytics", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      if (req.phoneNumberId) ownNumber(req.businessId, req.phoneNumberId);
      const start = utcDay(req.startDate, "start_date");
      const end = utcDay(req.endDate, "end_date");
      if (end < start) throw new InvalidInput("end_date", "must not be before start_date");
      if ((Date.parse(end) - Date.parse(start)) / 86_400_000 >= 366) throw new InvalidInput("end_date", "a range is at most 366 days");
      const granularity = req.granularity === AnalyticsGranularity.ANALYTICS_GRANULARITY_MONTH ? "month" : req.granularity === AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY ? "day" : undefined;
      if (!granularity) throw new InvalidInput("granularity", "must be DAY or MONTH");
      // Written by hand straight from the columns read (wire.ts): no point objects, and no object or fork per map entry as the generated encoder makes.
      return new AnalyticsAnswer(await analytics.periodColumns(req.businessId, req.phoneNumberId, start, end, granularity)) as never;
    }),
    saveFlow: grpc.unary("SaveFlow", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      const { stored, secret, unreachable } = await flows.save(req.businessId, req.definitionJson);
      return { flow: { name: stored.flow.name, version: stored.flow.version, createdAt: stored.createdAt, unreachableStates: unreachable }, webhookSecret: secret };
    }),
    listFlows: grpc.unary("ListFlows", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { flows: (await flows.list(req.businessId)).map((f) => ({ name: f.flow.name, version: f.flow.version, createdAt: f.createdAt, unreachableStates: unreachableStates(f.flow) })) };
    }),
    deleteFlow: grpc.unary("DeleteFlow", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      await flows.remove(req.businessId, req.name);
      return {};
    }),
    dryRunFlow: grpc.unary("DryRunFlow", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      const transcript = req.transcript.map((m, i): InboundEvent => {
        const facts = { first: m.first, ...(m.referralSourceId ? { referral: { sourceId: m.referralSourceId } } : {}) };
        switch (m.kind?.$case) {
          case "text":
            return { kind: "text", text: m.kind.value, ...facts };
          case "buttonId":
            return { kind: "button_reply", id: m.kind.value, title: m.title, ...facts };
          case "listRowId":
            return { kind: "list_reply", id: m.kind.value, title: m.title, ...facts };
          default:
            throw new InvalidInput(`transcript[${i}]`, "needs text, button_id or list_row_id");
        }
      });
      const steps = flows.dryRun(req.definitionJson, transcript);
      return { steps: steps.map((st) => ({ outcome: st.outcome, state: st.session?.state ?? "", effectsJson: st.effects.map((e) => JSON.stringify(e)) })) };
    }),
    handBackConversation: grpc.unary("HandBackConversation", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      await flows.handBack(req.businessId, req.conversationId, async (id) => (await conversationOwner(id)) === req.businessId);
      return {};
    }),
    setAutoReplies: grpc.unary("SetAutoReplies", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      const s = req.settings;
      if (!s) throw new InvalidInput("settings", "is required");
      return { settings: autoRepliesToPb(await autoReplies.set(req.businessId, { phoneNumberId: s.phoneNumberId, greeting: s.greeting, greetingSilenceDays: s.greetingSilenceDays, away: s.away })) };
    }),
    getAutoReplies: grpc.unary("GetAutoReplies", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { settings: autoRepliesToPb(await autoReplies.get(req.businessId, req.phoneNumberId)) };
    }),
    uploadBroadcastRecipients: grpc.clientStream("UploadBroadcastRecipients", async (call, ctx) => {
      // The whole file is read (and each message checked by the kit) before anything is stored.
      let businessId = "";
      let broadcastId = "";
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const msg of call as AsyncIterable<UploadBroadcastRecipientsRequest>) {
        if (!businessId) {
          businessId = msg.businessId;
          broadcastId = msg.broadcastId;
          authorizeBusinessTools(ctx.principal, businessId);
        } else if ((msg.businessId && msg.businessId !== businessId) || (msg.broadcastId && msg.broadcastId !== broadcastId)) {
          throw new InvalidInput(msg.businessId !== businessId ? "business_id" : "broadcast_id", "must be the first message's");
        }
        size += msg.chunk.length;
        if (size > MAX_CSV_BYTES) throw new InvalidInput("chunk", `a file is at most ${MAX_CSV_BYTES} bytes`);
        chunks.push(msg.chunk);
      }
      if (!businessId) throw new InvalidInput("business_id", "is required");
      await broadcasts.get(businessId, broadcastId); // NOT_FOUND (another business's) before the file is looked at
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        throw new InvalidInput("chunk", "must be UTF-8");
      }
      const { recipients, errors } = parseRecipientsCsv(text);
      if (errors.length > 0) throw csvRefusal(errors);
      if (recipients.length === 0) throw new InvalidInput("chunk", "the file has no rows after its header");
      return { broadcast: broadcastToPb(await broadcasts.addCheckedRecipients(businessId, broadcastId, recipients)), added: String(recipients.length) };
    }),
    watchBroadcast: grpc.serverStream("WatchBroadcast", async (req, ctx, call) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      let last = "";
      for (;;) {
        const b = broadcastToPb(await broadcasts.get(req.businessId, req.broadcastId));
        const seen = JSON.stringify([b.status, b.counts]);
        if (seen !== last) {
          last = seen;
          if (!call.write({ broadcast: b })) await new Promise<void>((resolve) => call.once("drain", () => resolve()));
        }
        if (b.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED || b.status === BroadcastStatus.BROADCAST_STATUS_CANCELLED) return;
        // Counts are one aggregate over the broadcast's recipients: read them once a second, not per change.
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, WATCH_INTERVAL_MS);
          ctx.signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
        });
        if (ctx.signal.aborted) return;
      }
    }),
    cancelBroadcast: grpc.unary("CancelBroadcast", async (req, ctx) => {
      authorizeBusinessTools(ctx.principal, req.businessId);
      return { broadcast: broadcastToPb(await broadcasts.transition(req.businessId, req.broadcastId, "cancel")) };
    }),
  };
  grpc.addService(wireToolsService, handlers);
}

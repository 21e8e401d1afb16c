import { BusinessToolsServiceService, type BusinessToolsServiceServer } from "@kontor/proto/messaging/v1/tools_service";
import type { Label, QuickReply } from "@kontor/proto/messaging/v1/tools";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import type { LabelRecord, QuickReplyRecord, ToolsService } from "../domain/tools/tools-service.js";
import { authorizeBusinessTools } from "./authorize.js";

const quickReplyToPb = (q: QuickReplyRecord): QuickReply => ({ id: q.id, businessId: q.businessId, shortcut: q.shortcut, text: q.text, mediaId: q.mediaId, createdAt: q.createdAt, updatedAt: q.updatedAt });
const labelToPb = (l: LabelRecord): Label => ({ id: l.id, businessId: l.businessId, name: l.name, color: l.color, createdAt: l.createdAt });

/** Thin handlers: decode → authorize → use case (domain/tools) → map. */
export function registerToolsServer(grpc: KitServer, tools: ToolsService): void {
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
  };
  grpc.addService(BusinessToolsServiceService, handlers);
}

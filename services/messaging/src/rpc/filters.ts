import { WindowFilter, type ConversationFilter as PbFilter } from "@kontor/proto/messaging/v1/messaging_service";
import { InvalidInput } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { NO_FILTER, type ConversationFilter } from "../domain/message.js";
import { validateAgentId } from "../domain/tools/tools-service.js";

const WINDOWS: Record<number, ConversationFilter["window"]> = {
  [WindowFilter.WINDOW_FILTER_UNSPECIFIED]: "any",
  [WindowFilter.WINDOW_FILTER_OPEN]: "open",
  [WindowFilter.WINDOW_FILTER_CLOSED]: "closed",
};

/** ListConversations' filter, checked: the same object as no filter when nothing is asked. */
export function conversationFilterOf(f: PbFilter | undefined): ConversationFilter {
  if (!f) return NO_FILTER;
  f.labelIds.forEach((id, i) => {
    if (!isUuid(id)) throw new InvalidInput(`filter.label_ids[${i}]`, "must be a label id");
  });
  try {
    validateAgentId(f.assignedAgentId);
  } catch {
    throw new InvalidInput("filter.assigned_agent_id", "must be letters, digits, _ . @ or -, at most 64");
  }
  if (f.assignedAgentId && f.unassignedOnly) throw new InvalidInput("filter.unassigned_only", "cannot be combined with assigned_agent_id");
  const window = WINDOWS[f.window];
  if (!window) throw new InvalidInput("filter.window", "must be OPEN or CLOSED");
  if (f.query.length > 100) throw new InvalidInput("filter.query", "must be at most 100 characters");
  const filter: ConversationFilter = {
    labelIds: f.labelIds,
    unreadOnly: f.unreadOnly,
    assignedAgentId: f.assignedAgentId,
    unassignedOnly: f.unassignedOnly,
    window,
    activeSince: f.activeSince,
    query: f.query.trim(),
  };
  const empty = filter.labelIds.length === 0 && !filter.unreadOnly && !filter.assignedAgentId && !filter.unassignedOnly && window === "any" && !filter.activeSince && !filter.query;
  return empty ? NO_FILTER : filter;
}

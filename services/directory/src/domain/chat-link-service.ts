import QRCode from "qrcode";
import { InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { deactivateChatLink, findChatLink, insertChatLink, listChatLinks, openChatLink } from "../store/chat-link-store.js";
import type { ChatLinkRow } from "../store/chat-link.table.js";
import type { DirectoryPorts, DirectoryService } from "./directory-service.js";
import type { Business, PhoneNumber } from "./business.js";
import { isCode, linkUrl, newCode, validateLinkInput, type ChatLink } from "./chat-link.js";

/** Short links /c/<code> that open a chat, with prefilled text and a referral; QR codes for print. */
export function createChatLinkService(ports: DirectoryPorts, directory: DirectoryService, baseUrl: string) {
  const { db } = ports;
  const toLink = (r: ChatLinkRow): ChatLink => ({
    code: r.code,
    businessId: r.business_id,
    url: linkUrl(baseUrl, r.code),
    phoneNumberId: r.phone_number_id ?? "",
    prefilledMessage: r.prefilled_message,
    campaign: r.campaign,
    referralTag: r.referral_tag,
    active: r.active,
    openCount: Number(r.open_count),
    createdAt: r.created_at,
  });

  async function ownLink(businessId: string, code: string): Promise<ChatLink> {
    const row = isCode(code) ? await findChatLink(db, code) : undefined;
    if (!row || row.business_id !== businessId) throw new NotFound("chat link");
    return toLink(row);
  }

  return {
    async create(input: { businessId: string; prefilledMessage: string; campaign: string; referralTag: string; phoneNumberId: string; actor: string }): Promise<ChatLink> {
      const valid = validateLinkInput(input);
      const business = await directory.get(input.businessId);
      if (input.phoneNumberId && !business.profile.phoneNumbers.some((n) => n.phoneNumberId === input.phoneNumberId)) {
        throw new InvalidInput("phone_number_id", "is not a number of this business");
      }
      for (let attempt = 0; attempt < 5; attempt++) {
        const row = await insertChatLink(db, {
          code: newCode(),
          business_id: business.id,
          phone_number_id: input.phoneNumberId || null,
          prefilled_message: valid.prefilledMessage,
          campaign: valid.campaign,
          referral_tag: valid.referralTag,
          created_by: input.actor,
          // Millisecond clock: page cursors carry ms, so rows must not differ below that.
          created_at: new Date(),
        });
        if (row) return toLink(row);
      }
      throw new Error("could not draw a free chat link code");
    },

    async list(businessId: string, limit: number, after?: { createdAt: Date; code: string }): Promise<ChatLink[]> {
      return (await listChatLinks(db, businessId, limit, after)).map(toLink);
    },

    async remove(businessId: string, code: string): Promise<void> {
      if (!isCode(code) || !(await deactivateChatLink(db, businessId, code))) throw new NotFound("chat link");
    },

    /** Counts the open; what messaging needs to start the conversation. */
    async resolve(code: string): Promise<{ link: ChatLink; business: Business; phoneNumber: PhoneNumber }> {
      const row = isCode(code) ? await openChatLink(db, code) : undefined;
      if (!row) throw new NotFound("chat link");
      const link = toLink(row);
      const business = await directory.get(link.businessId);
      const numbers = business.profile.phoneNumbers;
      const phoneNumber = (link.phoneNumberId && numbers.find((n) => n.phoneNumberId === link.phoneNumberId)) || numbers[0];
      if (!phoneNumber) throw new PolicyRefused("NO_PHONE_NUMBER", "the business has no number to chat with");
      return { link, business, phoneNumber };
    },

    async qrCode(businessId: string, code: string): Promise<{ url: string; svg: string }> {
      const link = await ownLink(businessId, code);
      const svg = await QRCode.toString(link.url, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
      return { url: link.url, svg };
    },

    ownLink,
  };
}

export type ChatLinkService = ReturnType<typeof createChatLinkService>;

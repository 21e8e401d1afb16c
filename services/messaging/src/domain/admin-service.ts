import { MessageStatus, type Message } from "@kontor/proto/messaging/v1/message";
import { InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { statusEvent } from "../events/outbox.js";
import type { CustomerCache } from "./customers.js";
import type { LivePublisher } from "./inbox-service.js";
import type { Customer, MessageInConversation, MessageOpener } from "./message.js";
import { isValidId, normalizeE164 } from "./participant.js";

/** A customer registration or update, validated (see parseCustomerUpsert). */
export interface CustomerUpsert {
  customerId: string;
  /** Normalized; undefined keeps the stored number (required for a new customer). */
  e164: string | undefined;
  profileName: string;
  settings: { readReceipts: boolean; locale: string } | undefined;
}

/** An erased business key: who erased it, when and why (audited). */
export interface KeyErasure {
  businessId: string;
  keyIds: number[];
  /** The principal that erased it ("staff:<id>"). */
  erasedBy: string;
  reason: string;
  at: Date;
}

export interface AdminTransaction {
  /** "erased" when the id is an erased customer's: nothing is stored. */
  upsertCustomer(c: { id: string; e164: string | undefined; profileName: string | undefined; readReceipts: boolean | undefined; locale: string | undefined }): Promise<{ customer: Customer; created: boolean } | "erased">;
  /** Moves a message not yet delivered to FAILED; undefined when there is none or it is past that. */
  failMessage(id: string, errorCode: number): Promise<MessageInConversation | undefined>;
  enqueue(events: OutboxEvent[]): Promise<void>;
}

export interface AdminPorts {
  store: {
    findMessage(id: string): Promise<MessageInConversation | undefined>;
    countByKey(keyIds: number[]): Promise<number>;
    transaction<T>(work: (tx: AdminTransaction) => Promise<T>): Promise<T>;
  };
  keys: {
    /**
     * Destroys the business's data keys and, in the same transaction, writes
     * the audit row and the BusinessKeyErased event every replica consumes
     * (store/key-erasure-store.ts); returns the destroyed key ids.
     */
    erase(e: Omit<KeyErasure, "keyIds">): Promise<number[]>;
  };
  customers: CustomerCache;
  opener: MessageOpener;
  live: Pick<LivePublisher, "publishStatuses">;
}

const MAX_REASON = 1000;

/** Checks an UpsertCustomer request's fields (before the caller is authorized against them). */
export function parseCustomerUpsert(req: { customerId: string; e164: string; profileName: string; settings: { readReceipts: boolean; locale: string } | undefined }): CustomerUpsert {
  if (!isValidId(req.customerId)) throw new InvalidInput("customer_id", "must be 1-64 characters of [A-Za-z0-9_-]");
  const e164 = req.e164 ? normalizeE164(req.e164) : undefined;
  if (req.e164 && !e164) throw new InvalidInput("e164", "must be a phone number in E.164 form");
  if (req.profileName.length > 256) throw new InvalidInput("profile_name", "must be at most 256 characters");
  if (req.settings && req.settings.locale.length > 35) throw new InvalidInput("settings.locale", "must be a BCP 47 tag");
  return { customerId: req.customerId, e164, profileName: req.profileName, settings: req.settings };
}

/** Administration: customers, failing messages (the delivery side's verdict), erasing business keys. */
export function createAdminService(ports: AdminPorts) {
  const { store, keys, customers, opener, live } = ports;

  return {
    async upsertCustomer(input: CustomerUpsert): Promise<{ customer: Customer; created: boolean }> {
      const result = await store.transaction(async (tx) => {
        const r = await tx.upsertCustomer({
          id: input.customerId,
          e164: input.e164,
          profileName: input.profileName || undefined,
          readReceipts: input.settings?.readReceipts,
          locale: input.settings?.locale,
        });
        // An erased customer stays erased: its id never carries data again.
        if (r === "erased") throw new PolicyRefused("CUSTOMER_ERASED", "this customer's data was erased; register the person under a new id");
        if (r.created && !input.e164) throw new InvalidInput("e164", "is required for a new customer");
        return r;
      });
      customers.remember({ id: result.customer.id, e164: result.customer.e164, profileName: result.customer.profileName, readReceipts: result.customer.readReceipts });
      return result;
    },

    /** FAILED with a Cloud API error code, before delivery only; a repeat answers the message as it is. */
    async fail(messageId: string, errorCode: number): Promise<{ message: Message | undefined; changed: boolean }> {
      if (errorCode <= 0) throw new InvalidInput("error_code", "must be a Cloud API error code");
      const at = new Date();
      const row = await store.transaction(async (tx) => {
        const r = await tx.failMessage(messageId, errorCode);
        if (!r) return undefined;
        const customerE164 = (customers.cached(r.customerId) ?? (await customers.byId(r.customerId)))?.e164 ?? "";
        const body = await opener.body(r);
        await tx.enqueue([
          statusEvent({
            messageId: r.id,
            conversationId: r.conversationId,
            seq: Number(r.seq),
            senderKey: r.sender,
            recipientKey: r.recipient,
            status: MessageStatus.MESSAGE_STATUS_FAILED,
            errorCode,
            businessId: r.businessId,
            phoneNumberId: r.phoneNumberId,
            customerId: r.customerId,
            bizOpaqueCallbackData: body?.bizOpaqueCallbackData ?? "",
            pricingCategory: "",
              pricingType: "",
              pricingModel: "",
              billable: false,
              customerE164: customerE164,
            at,
          }),
        ]);
        return r;
      });
      if (!row) {
        const existing = /^wamid\./.test(messageId) ? await store.findMessage(messageId) : undefined;
        if (!existing) throw new NotFound("message");
        return { message: await opener.toMessage(existing, existing.sender), changed: false };
      }
      live.publishStatuses(row.sender, [
        { messageId: row.id, conversationId: row.conversationId, seq: row.seq, status: MessageStatus.MESSAGE_STATUS_FAILED, errorCode, occurredAt: at },
      ]);
      return { message: await opener.toMessage(row, row.sender), changed: true };
    },

    /**
     * Crypto-shredding: destroys the business's data key, so its stored
     * history can no longer be decrypted, and records who did it and why.
     * Returns how many messages were sealed with the erased keys.
     */
    async eraseBusinessKey(req: { businessId: string; reason: string; erasedBy: string }): Promise<number> {
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      const reason = req.reason.trim();
      if (!reason) throw new InvalidInput("reason", "is required: say why the history is destroyed");
      if (reason.length > MAX_REASON) throw new InvalidInput("reason", `must be at most ${MAX_REASON} characters`);
      const at = new Date();
      const keyIds = await keys.erase({ businessId: req.businessId, erasedBy: req.erasedBy, reason, at });
      return store.countByKey(keyIds);
    },

  };
}

export type AdminService = ReturnType<typeof createAdminService>;

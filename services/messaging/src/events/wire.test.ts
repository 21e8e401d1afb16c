import { describe, expect, it } from "vitest";
import { LiveBatch, StoredBody } from "@kontor/proto/messaging/v1/live";
import { MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { Content, MessageContext, type Message } from "@kontor/proto/messaging/v1/message";
import { InboxEvent, SendItemResult, SendMessageResponse } from "@kontor/proto/messaging/v1/messaging_service";
import { keyToPb } from "../domain/participant.js";
import { contentBytes, liveStatusesBytes, messageFrameBytes, sendItemResultBytes, sendMessageResponseBytes, statusChangedBytes, statusFrameBytes, storedBodyBytes } from "./wire.js";

const long = "ü".repeat(300);
const contents: Content[] = [
  { kind: { $case: "text", value: { body: "hi", previewUrl: false } } },
  { kind: { $case: "text", value: { body: long, previewUrl: true } } },
];
const contexts = [undefined, { messageId: "wamid.ctx" } as MessageContext];
const dates = [new Date(0), new Date("2026-11-21T15:40:00.123Z"), new Date(-1500)];

describe("hand-written encoders", () => {
  it("when encoding stored bodies, live frames, statuses and status events, then the bytes equal the generated encoders'", () => {
    for (const content of contents)
      for (const context of contexts)
        for (const at of dates)
          for (const [senderKey, recipientKey] of [["b_pn_1", "c_cust_ü"], ["c_c", "b_" + long]] as const) {
            const c = Content.encode(content).finish();
            const x = context ? MessageContext.encode(context).finish() : undefined;
            for (const biz of ["", "cb", long]) {
              expect(storedBodyBytes(c, x, biz)).toEqual(Buffer.from(StoredBody.encode({ content, context, bizOpaqueCallbackData: biz }).finish()));
            }
            for (const seq of [0, 1, 300, 2 ** 40]) {
              const message: Message = {
                id: "wamid.X",
                conversationId: "00000000-0000-0000-0000-000000000001",
                seq: String(seq),
                sender: keyToPb(senderKey),
                recipient: keyToPb(recipientKey),
                content,
                context,
                bizOpaqueCallbackData: "",
                clientMessageId: seq % 2 ? long : "",
                status: 2,
                errorCode: seq === 300 ? -5 : 0,
                createdAt: at,
                contentErased: false,
              };
              const frame = messageFrameBytes({ ...message, seq, senderKey, recipientKey, content: c, context: x, createdAt: at }, seq + 7);
              expect(frame).toEqual(Buffer.from(InboxEvent.encode({ event: { $case: "message", value: { message, cursor: String(seq + 7) } } }).finish()));
              const status = { messageId: "wamid.X", conversationId: "conv", seq, status: seq % 5, errorCode: seq === 1 ? 131026 : 0, at };
              expect(liveStatusesBytes([status, status])).toEqual(
                Buffer.from(LiveBatch.encode({ items: [], statuses: [0, 1].map(() => ({ messageId: "wamid.X", conversationId: "conv", seq: String(seq), status: status.status, errorCode: status.errorCode, occurredAt: at })), typing: undefined }).finish()),
              );
              // A status frame is an InboxEvent as a session writes it.
              expect(statusFrameBytes(status)).toEqual(
                Buffer.from(InboxEvent.encode({ event: { $case: "status", value: { messageId: "wamid.X", conversationId: "conv", seq: String(seq), status: status.status, errorCode: status.errorCode, occurredAt: at } } }).finish()),
              );
              const e = { ...status, eventId: `wamid.X:s${status.status}`, senderKey, recipientKey, businessId: seq ? "biz" : "", phoneNumberId: "pn", customerId: long, bizOpaqueCallbackData: seq ? "cb" : "" };
              expect(statusChangedBytes(e, e.eventId)).toEqual(
                Buffer.from(
                  MessageStatusChanged.encode({
                    meta: { eventId: e.eventId, occurredAt: at, businessId: e.businessId },
                    messageId: e.messageId,
                    conversationId: e.conversationId,
                    sender: keyToPb(senderKey),
                    recipient: keyToPb(recipientKey),
                    status: e.status,
                    errorCode: e.errorCode,
                    pricingCategory: "",
                    bizOpaqueCallbackData: e.bizOpaqueCallbackData,
                    phoneNumberId: e.phoneNumberId,
                    customerId: e.customerId,
                    seq: String(seq),
                  }).finish(),
                ),
              );
              for (const duplicate of [false, true]) {
                const r = { messageId: "wamid.X", conversationId: "conv", seq, status: seq % 5, clientMessageId: seq % 2 ? long : "", duplicate, acceptedAt: at, recipientKey };
                expect(sendMessageResponseBytes(r)).toEqual(
                  Buffer.from(
                    SendMessageResponse.encode({
                      result: { messageId: r.messageId, conversationId: r.conversationId, seq: String(seq), status: r.status, clientMessageId: r.clientMessageId, duplicate, acceptedAt: at, recipient: keyToPb(recipientKey) },
                    }).finish(),
                  ),
                );
              }
              for (const ref of ["0", "7", "18446744073709551615"]) {
                for (const duplicate of [false, true]) {
                  const r = { ref, messageId: "wamid.X", conversationId: "conv", seq, status: seq % 5, clientMessageId: seq % 2 ? long : "", duplicate, acceptedAt: at, recipientKey };
                  expect(sendItemResultBytes(ref, r)).toEqual(
                    Buffer.from(
                      SendItemResult.encode({
                        ref,
                        outcome: { $case: "result", value: { messageId: r.messageId, conversationId: r.conversationId, seq: String(seq), status: r.status, clientMessageId: r.clientMessageId, duplicate, acceptedAt: at, recipient: keyToPb(recipientKey) } },
                      }).finish(),
                    ),
                  );
                }
              }
            }
          }
  });

  it("when strings sit at the ASCII fast path's edges (127 and 128 characters, non-ASCII first, last or as a surrogate pair), then the bytes still equal the generated encoder's", () => {
    const at = dates[1]!;
    const edges = ["a", "x".repeat(127), "x".repeat(128), "x".repeat(126) + "é", "é" + "x".repeat(10), "abc😀", "😀".repeat(40), "\u007f\u0080"];
    for (const v of edges) {
      const e = { messageId: v, conversationId: "conv", seq: 3, status: 2, errorCode: 0, at, senderKey: "b_pn", recipientKey: "c_" + v, businessId: v, phoneNumberId: v, customerId: v, bizOpaqueCallbackData: v };
      expect(statusChangedBytes(e, v), JSON.stringify(v)).toEqual(
        Buffer.from(
          MessageStatusChanged.encode({
            meta: { eventId: v, occurredAt: at, businessId: v },
            messageId: v,
            conversationId: "conv",
            sender: keyToPb("b_pn"),
            recipient: keyToPb("c_" + v),
            status: 2,
            errorCode: 0,
            pricingCategory: "",
            bizOpaqueCallbackData: v,
            phoneNumberId: v,
            customerId: v,
            seq: "3",
          }).finish(),
        ),
      );
    }
  });

  it("when encoding a message's content, then text (written by hand) and every other kind equal the generated encoder's bytes", () => {
    const texts = ["", "hi", "x".repeat(127), "x".repeat(128), "ü".repeat(4096), "see https://kontor.example 😀"];
    const cases: Content[] = [
      ...texts.flatMap((body) => [false, true].map((previewUrl) => ({ kind: { $case: "text" as const, value: { body, previewUrl } } }))),
      { kind: { $case: "reaction", value: { messageId: "wamid.X", emoji: "👍" } } },
      { kind: undefined },
    ];
    for (const content of cases) expect(Buffer.from(contentBytes(content)), JSON.stringify(content).slice(0, 80)).toEqual(Buffer.from(Content.encode(content).finish()));
  });
});

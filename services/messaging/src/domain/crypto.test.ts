import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveIdKey, messageIdFor, newDataKey, open, seal, unwrapKey, wrapKey } from "./crypto.js";
import { canMove } from "./status.js";
import { MessageStatus as S } from "@kontor/proto/messaging/v1/message";

describe("crypto", () => {
  it("when sealed with the message id as AAD, then only that id opens it", () => {
    const key = newDataKey();
    const blob = seal(key, Buffer.from("hello"), Buffer.from("wamid.a"));
    expect(blob.includes(Buffer.from("hello"))).toBe(false);
    expect(open(key, blob, Buffer.from("wamid.a")).toString()).toBe("hello");
    expect(() => open(key, blob, Buffer.from("wamid.b"))).toThrow();
    expect(() => open(newDataKey(), blob, Buffer.from("wamid.a"))).toThrow();
  });

  it("when a data key is wrapped, then the master key unwraps it", () => {
    const master = randomBytes(32);
    const key = newDataKey();
    expect(unwrapKey(master, wrapKey(master, key)).equals(key)).toBe(true);
  });

  it("when the same sender retries a client id, then the message id is the same", () => {
    const idKey = deriveIdKey(randomBytes(32));
    expect(messageIdFor(idKey, "b_1", "c_2", "m1")).toBe(messageIdFor(idKey, "b_1", "c_2", "m1"));
    expect(messageIdFor(idKey, "b_1", "c_2", "m1")).not.toBe(messageIdFor(idKey, "b_1", "c_3", "m1"));
    expect(messageIdFor(idKey, "b_1", "c_2", "")).not.toBe(messageIdFor(idKey, "b_1", "c_2", ""));
  });

  it("when the master key is fixed, then a client id maps to the id every earlier release derived (a retry across an upgrade still dedupes)", () => {
    const master = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
    expect(messageIdFor(deriveIdKey(master), "b_1", "c_2", "m1")).toBe("wamid.1XLrw0f-pgRLn-vrtZSuWg");
  });
});

describe("status", () => {
  it("moves only forward; FAILED only before DELIVERED", () => {
    expect(canMove(S.MESSAGE_STATUS_SENT, S.MESSAGE_STATUS_DELIVERED)).toBe(true);
    expect(canMove(S.MESSAGE_STATUS_SENT, S.MESSAGE_STATUS_READ)).toBe(true);
    expect(canMove(S.MESSAGE_STATUS_READ, S.MESSAGE_STATUS_DELIVERED)).toBe(false);
    expect(canMove(S.MESSAGE_STATUS_SENT, S.MESSAGE_STATUS_FAILED)).toBe(true);
    expect(canMove(S.MESSAGE_STATUS_DELIVERED, S.MESSAGE_STATUS_FAILED)).toBe(false);
    expect(canMove(S.MESSAGE_STATUS_FAILED, S.MESSAGE_STATUS_READ)).toBe(false);
  });
});

describe("live framing", async () => {
  const { messageFrame } = await import("../events/live.js");
  const { liveItemsBytes, responseBytes } = await import("../events/wire.js");
  const { LiveBatch } = await import("@kontor/proto/messaging/v1/live");
  const { StreamInboxResponse } = await import("@kontor/proto/messaging/v1/messaging_service");
  it("when items are framed by hand, then the generated decoders read them", () => {
    const message = { id: "wamid.x", conversationId: "c", seq: "7", sender: undefined, recipient: undefined, content: undefined, context: undefined, bizOpaqueCallbackData: "", clientMessageId: "", status: 2, errorCode: 0, createdAt: undefined, contentErased: false };
    const frames = [1, 300, 2 ** 40].map((rseq) => ({ rseq, frame: messageFrame({ ...message, id: `wamid.${"x".repeat(rseq % 200)}` }, rseq) }));
    const batch = LiveBatch.decode(liveItemsBytes(frames));
    expect(batch.items.map((i) => i.inboxSeq)).toEqual(["1", "300", String(2 ** 40)]);
    const resp = StreamInboxResponse.decode(responseBytes(batch.items.map((i) => i.event)));
    expect(resp.events.map((e) => (e.event?.$case === "message" ? e.event.value.cursor : ""))).toEqual(["1", "300", String(2 ** 40)]);
  });
});

import { createSecretKey, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DataCorrupted } from "@kontor/service-kit/errors";
import { deriveIdKey, messageIdFor, newDataKey, open, openBody, seal, unwrapKey, wrapKey } from "./crypto.js";
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

  it("when the key was erased, then the body reads as erased (undefined), whatever the bytes", () => {
    const blob = seal(newDataKey(), Buffer.from("hello"), Buffer.from("wamid.a"));
    expect(openBody(null, blob, Buffer.from("wamid.a"))).toBeUndefined();
    expect(openBody(null, Buffer.from([9, 9, 9]), Buffer.from("wamid.a"))).toBeUndefined();
  });

  it("when a body fails its tag under a key that exists, then it is DataCorrupted (DATA_LOSS), never erased", () => {
    const key = createSecretKey(newDataKey());
    const aad = Buffer.from("wamid.a");
    const blob = seal(key, Buffer.from("hello"), aad);
    expect(openBody(key, blob, aad)?.toString()).toBe("hello");
    const corrupted = (b: Buffer, a = aad) => {
      try {
        openBody(key, b, a);
      } catch (err) {
        return err;
      }
      return "opened";
    };
    // One flipped bit in the ciphertext, in the tag, in the IV; another row's id; a truncated or foreign blob.
    for (const at of [blob.length - 1, 1 + 12, 1]) {
      const tampered = Buffer.from(blob);
      tampered[at]! ^= 0x01;
      expect(corrupted(tampered)).toBeInstanceOf(DataCorrupted);
    }
    expect(corrupted(blob, Buffer.from("wamid.b"))).toBeInstanceOf(DataCorrupted);
    expect(corrupted(blob.subarray(0, 10))).toBeInstanceOf(DataCorrupted);
    expect(corrupted(Buffer.concat([Buffer.from([2]), blob.subarray(1)]))).toBeInstanceOf(DataCorrupted);
    const err = corrupted(seal(createSecretKey(newDataKey()), Buffer.from("hello"), aad)) as DataCorrupted;
    expect(err).toBeInstanceOf(DataCorrupted);
    expect(err.reason).toBe("DATA_CORRUPTED");
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

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

import { describe, expect, it } from "vitest";
import { headers } from "nats";
import { OutboxBatch } from "@kontor/proto/common/v1/outbox";
import { encodeOutboxBatch, msgIdHeader } from "./outbox.js";

describe("encodeOutboxBatch", () => {
  it("when several events are encoded, then one OutboxBatch holds them in order with their bytes", () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const events = [
      { eventId: "e1", subject: "kontor.probe.thing.happened.v1", payload: new Uint8Array([0, 255]) },
      // A view into a larger buffer: only its own bytes may be stored.
      { eventId: "e2", subject: "kontor.probe.thing.changed.v1", payload: backing.subarray(2, 5) },
      { eventId: "e3", subject: "kontor.probe.thing.happened.v1", payload: new Uint8Array() },
    ];
    const decoded = OutboxBatch.decode(encodeOutboxBatch(events)).events;
    expect(decoded.map((e) => [e.eventId, e.subject, [...e.payload]])).toEqual([
      ["e1", "kontor.probe.thing.happened.v1", [0, 255]],
      ["e2", "kontor.probe.thing.changed.v1", [1, 2, 3]],
      ["e3", "kontor.probe.thing.happened.v1", []],
    ]);
  });

  it("when an event id holds a line break, then encoding throws (it would end the NATS header block)", () => {
    for (const eventId of ["a\r\nNats-Expected-Stream: x", "a\nb"]) {
      expect(() => encodeOutboxBatch([{ eventId, subject: "kontor.probe.thing.happened.v1", payload: new Uint8Array() }])).toThrow(/line break/);
    }
  });
});

describe("msgIdHeader", () => {
  it("when an event id header is built by hand, then its bytes equal nats.js's own encoding", () => {
    for (const id of ["wamid.AbC-_x:s2", "00000000-0000-0000-0000-000000000001:opened", "ü-ids-are-utf8"]) {
      const h = headers();
      h.set("Nats-Msg-Id", id);
      // encode() is what publish() calls; MsgHdrs does not declare it.
      const encoded = (x: unknown) => Buffer.from((x as { encode(): Uint8Array }).encode());
      expect(encoded(msgIdHeader(id))).toEqual(encoded(h));
    }
  });
});

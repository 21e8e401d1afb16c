import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { MediaKind, type Content } from "@kontor/proto/messaging/v1/message";
import { validateContent, validateEnvelope } from "./content.js";

const text = (body: string): Content => ({ kind: { $case: "text", value: { body, previewUrl: false } } });

describe("validateContent", () => {
  it("when a text is within 4,096 characters, then it is accepted (emoji count as one)", () => {
    expect(validateContent(text("a".repeat(4096)), "business").contentType).toBe(1);
    expect(validateContent(text("😀".repeat(4096)), "business").contentType).toBe(1);
  });

  it("when a field is bad, then the error names that field", () => {
    expect(invalidField(() => validateContent(undefined, "business"))).toBe("content");
    expect(invalidField(() => validateContent(text("a".repeat(4097)), "business"))).toBe("content.text.body");
    expect(invalidField(() => validateContent(text("  "), "business"))).toBe("content.text.body");
    const media = (over: object): Content => ({
      kind: { $case: "media", value: { kind: MediaKind.MEDIA_KIND_IMAGE, source: { $case: "mediaId", value: "123" }, caption: "", mimeType: "", sizeBytes: "0", sha256: "", filename: "", voice: false, animated: false, ...over } },
    });
    expect(invalidField(() => validateContent(media({ caption: "x".repeat(1025) }), "business"))).toBe("content.media.caption");
    expect(invalidField(() => validateContent(media({ kind: MediaKind.MEDIA_KIND_STICKER, caption: "hi" }), "business"))).toBe("content.media.caption");
    expect(invalidField(() => validateContent(media({ source: { $case: "link", value: "http://x.y/z.png" } }), "business"))).toBe("content.media.link");
    expect(invalidField(() => validateContent(media({ sizeBytes: String(6 * 1024 * 1024) }), "business"))).toBe("content.media.size_bytes");
    expect(invalidField(() => validateContent(media({ sha256: "abc" }), "business"))).toBe("content.media.sha256");
    const buttons = (n: number): Content => ({
      kind: {
        $case: "interactive",
        value: { header: undefined, body: "Pick", footer: "", action: { $case: "buttons", value: { buttons: Array.from({ length: n }, (_, i) => ({ id: `b${i}`, title: `B${i}` })) } } },
      },
    });
    expect(validateContent(buttons(3), "business").contentType).toBe(6);
    expect(invalidField(() => validateContent(buttons(4), "business"))).toBe("content.interactive.buttons.buttons");
    expect(invalidField(() => validateContent(buttons(1), "customer"))).toBe("content.interactive.buttons");
    const list = (rows: number): Content => ({
      kind: {
        $case: "interactive",
        value: {
          header: undefined,
          body: "Menu",
          footer: "",
          action: { $case: "list", value: { button: "Open", sections: [{ title: "", rows: Array.from({ length: rows }, (_, i) => ({ id: `r${i}`, title: `Row ${i}`, description: "" })) }] } },
        },
      },
    });
    expect(validateContent(list(10), "business").contentType).toBe(6);
    expect(invalidField(() => validateContent(list(11), "business"))).toBe("content.interactive.list.sections");
    expect(invalidField(() => validateContent({ kind: { $case: "reaction", value: { messageId: "nope", emoji: "👍" } } }, "customer"))).toBe("content.reaction.message_id");
    expect(invalidField(() => validateContent({ kind: { $case: "system", value: { type: 3, body: "x" } } }, "business"))).toBe("content.system");
    expect(invalidField(() => validateContent({ kind: { $case: "location", value: { latitude: 91, longitude: 0, name: "", address: "" } } }, "customer"))).toBe("content.location.latitude");
  });

  it("when the envelope is bad, then the field is named", () => {
    expect(invalidField(() => validateEnvelope({ clientMessageId: "x".repeat(129), bizOpaqueCallbackData: "", contextMessageId: "", kind: "text" }))).toBe("client_message_id");
    expect(invalidField(() => validateEnvelope({ clientMessageId: "", bizOpaqueCallbackData: "x".repeat(513), contextMessageId: "", kind: "text" }))).toBe("biz_opaque_callback_data");
    expect(invalidField(() => validateEnvelope({ clientMessageId: "", bizOpaqueCallbackData: "", contextMessageId: "wamid.AAAAAAAAAAAAAAAAAAAAAA", kind: "reaction" }))).toBe("context");
  });
});

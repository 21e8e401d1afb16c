import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { MediaKind, type Content } from "@kontor/proto/messaging/v1/message";
import { limits, validateContent, validateEnvelope } from "./content.js";

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

describe("validateContent bounds every part of a message (Cloud API limits), so no message is megabytes", () => {
  const template = (components: { type: string; parameters: { type: string; text: string }[] }[]): Content => ({
    kind: {
      $case: "template",
      value: { name: "order_update", languageCode: "en_US", rendered: undefined, components: components.map((c) => ({ subType: "", index: 0, ...c, parameters: c.parameters.map((p) => ({ parameterName: "", currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "", ...p })) })) },
    },
  });
  const param = (text = "x") => ({ type: "text", text });

  it("when a template has too many components or parameters, or a long parameter, then the field is named", () => {
    expect(validateContent(template(Array.from({ length: limits.templateComponents }, () => ({ type: "button", parameters: [] }))), "business").kind).toBe("template");
    expect(invalidField(() => validateContent(template(Array.from({ length: limits.templateComponents + 1 }, () => ({ type: "button", parameters: [] }))), "business"))).toBe("content.template.components");
    expect(validateContent(template([{ type: "body", parameters: Array.from({ length: limits.templateParameters }, () => param()) }]), "business").kind).toBe("template");
    expect(invalidField(() => validateContent(template([{ type: "body", parameters: Array.from({ length: limits.templateParameters }, () => param()) }, { type: "button", parameters: [param()] }]), "business"))).toBe(
      "content.template.components",
    );
    expect(validateContent(template([{ type: "body", parameters: [param("y".repeat(limits.templateParameterText))] }]), "business").kind).toBe("template");
    expect(invalidField(() => validateContent(template([{ type: "body", parameters: [param("y".repeat(limits.templateParameterText + 1))] }]), "business"))).toBe("content.template.components[0].parameters[0].text");
  });

  it("when an order has too many items or a long id, then the field is named", () => {
    const order = (n: number, id = "SKU"): Content => ({ kind: { $case: "order", value: { catalogId: "cat", text: "", items: Array.from({ length: n }, () => ({ productRetailerId: id, quantity: 1, itemPrice: undefined })) } } });
    expect(validateContent(order(limits.orderItems), "customer").kind).toBe("order");
    expect(invalidField(() => validateContent(order(limits.orderItems + 1), "customer"))).toBe("content.order.items");
    expect(invalidField(() => validateContent(order(1, "s".repeat(limits.id + 1)), "customer"))).toBe("content.order.items[0].product_retailer_id");
  });

  it("when a contact's sub-field or list is too long, then the field is named", () => {
    const contact = (over: object): Content => ({
      kind: { $case: "contacts", value: { contacts: [{ name: { formattedName: "Jane", firstName: "", lastName: "", middleName: "", suffix: "", prefix: "" }, birthday: "", addresses: [], emails: [], org: undefined, phones: [], urls: [], ...over }] } },
    });
    const long = "z".repeat(limits.contactField + 1);
    expect(invalidField(() => validateContent(contact({ name: { formattedName: "Jane", firstName: long, lastName: "", middleName: "", suffix: "", prefix: "" } }), "business"))).toBe("content.contacts.contacts[0].name.first_name");
    expect(invalidField(() => validateContent(contact({ org: { company: long, department: "", title: "" } }), "business"))).toBe("content.contacts.contacts[0].org.company");
    expect(invalidField(() => validateContent(contact({ addresses: [{ street: long, city: "", state: "", zip: "", country: "", countryCode: "", type: "" }] }), "business"))).toBe("content.contacts.contacts[0].addresses[0].street");
    expect(invalidField(() => validateContent(contact({ urls: Array.from({ length: limits.contactList + 1 }, () => ({ url: "https://a.b", type: "" })) }), "business"))).toBe("content.contacts.contacts[0].urls");
    expect(validateContent(contact({ urls: Array.from({ length: limits.contactList }, () => ({ url: "https://a.b", type: "" })) }), "business").kind).toBe("contacts");
  });

  it("when a product list's id or a system body is too long, then the field is named", () => {
    const productList = (ids: string[]): Content => ({
      kind: { $case: "interactive", value: { header: { kind: { $case: "text", value: "Shop" } }, body: "Pick", footer: "", action: { $case: "productList", value: { catalogId: "cat", sections: [{ title: "", productRetailerIds: ids }] } } } },
    });
    expect(invalidField(() => validateContent(productList(["a", "b".repeat(limits.id + 1)]), "business"))).toBe("content.interactive.product_list.sections[0].product_retailer_ids[1]");
    expect(invalidField(() => validateContent(productList(Array.from({ length: 100_000 }, () => "a")), "business"))).toBe("content.interactive.product_list.sections");
    const system = (body: string): Content => ({ kind: { $case: "system", value: { type: 1, body } } });
    expect(validateContent(system("s".repeat(limits.systemBody)), "service").kind).toBe("system");
    expect(invalidField(() => validateContent(system("s".repeat(limits.systemBody + 1)), "service"))).toBe("content.system.body");
  });
});

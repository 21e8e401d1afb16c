import { describe, expect, it } from "vitest";
import {
  afterInboundText,
  checkMarketing,
  classifyInbound,
  keywordTable,
  NO_CONSENT,
  normalizeKeyword,
  optedIn,
  recordOptIn,
  recordOptOut,
  type MarketingConsent,
} from "./consent.js";

const table = keywordTable();

describe("opt-out and opt-in keywords", () => {
  it("when an English customer writes STOP, unsubscribe or START in any case and spacing, then it is classified", () => {
    expect(classifyInbound(table, "STOP")).toBe("opt_out");
    expect(classifyInbound(table, "  stop \n")).toBe("opt_out");
    expect(classifyInbound(table, "Unsubscribe.")).toBe("opt_out");
    expect(classifyInbound(table, "opt   OUT")).toBe("opt_out");
    expect(classifyInbound(table, "STOPALL")).toBe("opt_out");
    expect(classifyInbound(table, "Start!")).toBe("opt_in");
  });

  it("when a German customer writes abmelden, STOPP or ANMELDEN, then it is classified", () => {
    expect(classifyInbound(table, "abmelden")).toBe("opt_out");
    expect(classifyInbound(table, "ABMELDEN")).toBe("opt_out");
    expect(classifyInbound(table, "Stopp")).toBe("opt_out");
    expect(classifyInbound(table, "Anmelden")).toBe("opt_in");
  });

  it("when a French or Spanish customer writes with or without accents, then it is classified", () => {
    expect(classifyInbound(table, "ARRÊT")).toBe("opt_out");
    expect(classifyInbound(table, "arret")).toBe("opt_out");
    expect(classifyInbound(table, "Se désabonner")).toBe("opt_out");
    expect(classifyInbound(table, "se desabonner")).toBe("opt_out");
    expect(classifyInbound(table, "s’abonner")).toBe("opt_in");
    expect(classifyInbound(table, "Démarrer")).toBe("opt_in");
    expect(classifyInbound(table, "Darse de BAJA")).toBe("opt_out");
    expect(classifyInbound(table, "cancelar suscripcion")).toBe("opt_out");
    expect(classifyInbound(table, "ALTA")).toBe("opt_in");
  });

  it("when a keyword is part of a longer sentence, then nothing is classified", () => {
    expect(classifyInbound(table, "please don't stop")).toBe("none");
    expect(classifyInbound(table, "Wie kann ich mich abmelden?")).toBe("none");
    expect(classifyInbound(table, "stopped")).toBe("none");
    expect(classifyInbound(table, "")).toBe("none");
    expect(classifyInbound(table, "stop ".repeat(100))).toBe("none");
  });

  it("when an operator configures a language, then its words replace the defaults and the other languages stay", () => {
    const custom = keywordTable({ de: { optOut: ["Schluss"], optIn: ["weiter"] } });
    expect(classifyInbound(custom, "SCHLUSS")).toBe("opt_out");
    expect(classifyInbound(custom, "Weiter")).toBe("opt_in");
    expect(classifyInbound(custom, "abmelden")).toBe("none");
    expect(classifyInbound(custom, "STOP")).toBe("opt_out");
    expect(() => keywordTable({ xx: { optOut: ["start"], optIn: [] } })).toThrow(/both/);
    expect(() => keywordTable({ xx: { optOut: ["!!"], optIn: [] } })).toThrow(/empty/);
  });

  it("when a text is normalized, then case, diacritics, ß, apostrophes, inner and outer spacing are folded", () => {
    expect(normalizeKeyword("  Se\tDÉSABONNER! ")).toBe("se desabonner");
    expect(normalizeKeyword("Straße")).toBe("strasse");
    expect(normalizeKeyword("S’ABONNER")).toBe("s'abonner");
  });
});

describe("marketing consent", () => {
  const optIn = (at: number): MarketingConsent => recordOptIn(NO_CONSENT, { at, source: "rpc", proof: "web form: I agree to offers from Acme" });

  it("when no opt-in is recorded, then a MARKETING template is refused (MARKETING_OPT_IN_MISSING, 131050) and a UTILITY one passes", () => {
    const refusal = checkMarketing(NO_CONSENT, true);
    expect(refusal?.reason).toBe("MARKETING_OPT_IN_MISSING");
    expect(refusal?.cloudApiCode).toBe(131050);
    expect(checkMarketing(NO_CONSENT, false)).toBeUndefined();
  });

  it("when opted in, then marketing passes; after a STOP message, refused as opted out; after START, passes again", () => {
    let consent = optIn(1_000);
    expect(checkMarketing(consent, true)).toBeUndefined();
    consent = afterInboundText(consent, table, "STOP", 2_000);
    expect(consent.optOut).toEqual({ at: 2_000, source: "keyword", proof: "STOP" });
    expect(consent.optIn?.proof).toBe("web form: I agree to offers from Acme");
    const refusal = checkMarketing(consent, true);
    expect(refusal?.reason).toBe("MARKETING_OPTED_OUT");
    expect(refusal?.cloudApiCode).toBe(131050);
    consent = afterInboundText(consent, table, "start", 3_000);
    expect(checkMarketing(consent, true)).toBeUndefined();
  });

  it("when an opt-out has the same time as the opt-in, then the opt-out wins", () => {
    expect(optedIn(recordOptOut(optIn(1_000), { at: 1_000, source: "keyword", proof: "abmelden" }))).toBe(false);
  });

  it("when an older change is delivered late, then the later record is kept", () => {
    const consent = recordOptOut(optIn(5_000), { at: 6_000, source: "rpc", proof: "" });
    expect(recordOptIn(consent, { at: 4_000, source: "rpc", proof: "old" })).toBe(consent);
    expect(recordOptOut(consent, { at: 5_500, source: "rpc", proof: "old" })).toBe(consent);
    expect(optedIn(consent)).toBe(false);
  });

  it("when an inbound text is no keyword, then the consent is the same object", () => {
    const consent = optIn(1);
    expect(afterInboundText(consent, table, "when do you open?", 2)).toBe(consent);
  });
});

import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { applyMask, changedFields, parseMask, validateProfile, type Profile } from "./business.js";

const valid: Profile = {
  displayName: "Shivika Pottery Gallery",
  legalName: "Shivika Crafts Pvt Ltd",
  category: "retail.pottery",
  description: "Hand thrown stoneware",
  about: "Pottery classes every weekend",
  address: { street: "MG Road 12", city: "Jaipur", postalCode: "302001", region: "Rajasthan", location: { lat: 26.9124, lng: 75.7873 } },
  country: "in",
  languages: ["en", "hi-IN"],
  hours: { timeZone: "Asia/Kolkata", weekly: [{ weekday: 1, ranges: [{ openMinute: 600, closeMinute: 1080 }] }], exceptions: [], alwaysOpen: false },
  websites: ["https://shivika.example"],
  email: "hello@shivika.example",
  profilePictureUrl: "https://cdn.example/shivika.png",
  phoneNumbers: [{ phoneNumberId: "", e164: "+91 98765 43210", displayName: "" }],
  handle: "@Shivika.Pottery",
};

describe("validateProfile", () => {
  it("when the profile is valid, then it is normalised", () => {
    const p = validateProfile(valid);
    expect(p.country).toBe("IN");
    expect(p.handle).toBe("shivika.pottery");
    expect(p.phoneNumbers[0]?.e164).toBe("+919876543210");
  });

  it("when a field is bad, then the error names it", () => {
    expect(invalidField(() => validateProfile({ ...valid, displayName: " " }))).toBe("profile.display_name");
    expect(invalidField(() => validateProfile({ ...valid, displayName: "Best pottery www.shop.com" }))).toBe("profile.display_name");
    expect(invalidField(() => validateProfile({ ...valid, category: "retail.unicorns" }))).toBe("profile.category");
    expect(invalidField(() => validateProfile({ ...valid, websites: ["https://a.example", "ftp://b.example"] }))).toBe("profile.websites[1]");
    expect(invalidField(() => validateProfile({ ...valid, websites: ["https://a.example", "https://b.example", "https://c.example"] }))).toBe("profile.websites");
    expect(invalidField(() => validateProfile({ ...valid, phoneNumbers: [{ phoneNumberId: "", e164: "0151 1234567", displayName: "" }] }))).toBe(
      "profile.phone_numbers[0].e164",
    );
    expect(invalidField(() => validateProfile({ ...valid, country: "XX" }))).toBe("profile.country");
    expect(invalidField(() => validateProfile({ ...valid, languages: ["en", "not a tag"] }))).toBe("profile.languages[1]");
    expect(invalidField(() => validateProfile({ ...valid, email: "nope" }))).toBe("profile.email");
    expect(invalidField(() => validateProfile({ ...valid, address: { ...valid.address, location: { lat: 91, lng: 0 } } }))).toBe("profile.address.location.latitude");
    expect(invalidField(() => validateProfile({ ...valid, handle: "a!" }))).toBe("profile.handle");
    expect(
      invalidField(() =>
        validateProfile({
          ...valid,
          hours: { ...valid.hours!, weekly: [{ weekday: 1, ranges: [{ openMinute: 600, closeMinute: 900 }, { openMinute: 800, closeMinute: 1000 }] }] },
        }),
      ),
    ).toBe("profile.hours.weekly[0].ranges[1]");
  });
});

describe("field masks", () => {
  it("when a path is unknown, then the error names its index", () => {
    expect(invalidField(() => parseMask(["about", "owner"]))).toBe("update_mask.paths[1]");
    expect(invalidField(() => parseMask([]))).toBe("update_mask");
  });

  it("when applying a mask, then only the named fields change", () => {
    const patch: Profile = { ...valid, about: "New", displayName: "Ignored", address: { ...valid.address, city: "Delhi" } };
    const next = applyMask(valid, patch, parseMask(["about", "profile.address.city"]));
    expect(next.about).toBe("New");
    expect(next.displayName).toBe(valid.displayName);
    expect(next.address).toEqual({ ...valid.address, city: "Delhi" });
    expect(changedFields(valid, next)).toEqual(["about", "address"]);
  });
});

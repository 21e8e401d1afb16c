import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import type { BusinessProfile } from "@kontor/proto/directory/v1/directory_service";
import { GraphError, invalidParameter } from "../domain/graph-error.js";
import { selectFields } from "../domain/template-mapping.js";
import type { ServiceClients } from "../clients/services.js";
import type { GatewayDatabase } from "../store/tables.js";
import { numberOf, ok, toGraphError } from "./server.js";
import { idParams } from "./schemas.js";

/** The Cloud API's verticals (cloud-api.md §5), from the top level of directory's category code ("retail.pottery"). */
const VERTICALS: Record<string, string> = {
  auto: "AUTO",
  beauty: "BEAUTY",
  apparel: "APPAREL",
  education: "EDU",
  entertainment: "ENTERTAIN",
  events: "EVENT_PLAN",
  finance: "FINANCE",
  grocery: "GROCERY",
  government: "GOVT",
  hotel: "HOTEL",
  health: "HEALTH",
  nonprofit: "NONPROFIT",
  professional: "PROF_SERVICES",
  retail: "RETAIL",
  travel: "TRAVEL",
  restaurant: "RESTAURANT",
  food: "RESTAURANT",
};

export function verticalOf(category: string): string {
  return category ? (VERTICALS[category.split(".")[0]!] ?? "OTHER") : "UNDEFINED";
}

/** The profile as GET /{phone-number-id}/whatsapp_business_profile answers it. */
export function profileJson(p: BusinessProfile | undefined): Record<string, unknown> {
  const a = p?.address;
  const address = a ? [a.street, [a.postalCode, a.city].filter(Boolean).join(" "), a.region].filter(Boolean).join(", ") : "";
  return {
    about: p?.about ?? "",
    address,
    description: p?.description ?? "",
    email: p?.email ?? "",
    profile_picture_url: p?.profilePictureUrl ?? "",
    websites: p?.websites ?? [],
    vertical: verticalOf(p?.category ?? ""),
    messaging_product: "whatsapp",
  };
}

const WRITABLE = new Set(["messaging_product", "about", "address", "description", "email", "websites", "vertical", "profile_picture_handle"]);

/**
 * The POST body (a partial update, cloud-api.md §5) → directory's profile and
 * update mask. `vertical` is directory's category, which the Cloud API's
 * coarse verticals cannot name: it is accepted when it is the current one.
 */
export function profileUpdateOf(body: Record<string, unknown>, current: BusinessProfile | undefined): { profile: Partial<BusinessProfile>; mask: string[] } {
  for (const key of Object.keys(body)) if (!WRITABLE.has(key)) throw invalidParameter(key, "is not a known parameter");
  if (body.messaging_product !== "whatsapp") throw body.messaging_product === undefined ? new GraphError(131008, "Parameter messaging_product is required.") : invalidParameter("messaging_product", 'must be "whatsapp"');
  const profile: Partial<BusinessProfile> = {};
  const mask: string[] = [];
  const text = (key: string, max: number, min = 0): string | undefined => {
    const v = body[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw invalidParameter(key, "must be a string");
    if (v.length < min || v.length > max) throw invalidParameter(key, min ? `must be ${min} to ${max} characters` : `must be at most ${max} characters`);
    return v;
  };
  const about = text("about", 139, 1);
  if (about !== undefined) (profile.about = about), mask.push("about");
  const description = text("description", 512);
  if (description !== undefined) (profile.description = description), mask.push("description");
  const email = text("email", 128);
  if (email !== undefined) {
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/.test(email)) throw invalidParameter("email", "must be an email address");
    profile.email = email;
    mask.push("email");
  }
  const address = text("address", 256);
  if (address !== undefined) {
    if (address.length > 200) throw invalidParameter("address", "must be at most 200 characters");
    profile.address = { street: address, city: "", postalCode: "", region: "", location: current?.address?.location };
    mask.push("address.street", "address.city", "address.postal_code", "address.region");
  }
  if (body.websites !== undefined) {
    const w = body.websites;
    if (!Array.isArray(w) || w.length > 2 || w.some((u) => typeof u !== "string" || u.length > 256 || !/^https?:\/\/\S+$/i.test(u))) throw invalidParameter("websites", "must be at most 2 http(s) URLs of at most 256 characters");
    profile.websites = w as string[];
    mask.push("websites");
  }
  if (body.vertical !== undefined && body.vertical !== "" && body.vertical !== verticalOf(current?.category ?? "")) {
    throw invalidParameter("vertical", "follows the business's category in Kontor's directory and cannot be changed here");
  }
  if (body.profile_picture_handle !== undefined) throw invalidParameter("profile_picture_handle", "is not supported: set the picture in Kontor's directory");
  return { profile, mask };
}

/** GET and POST /{phone-number-id}/whatsapp_business_profile, onto directory's GetBusiness and UpdateBusiness. */
export function registerProfileRoutes(app: FastifyInstance, deps: { db: Kysely<GatewayDatabase>; clients: ServiceClients; log: Logger }): void {
  const { db, clients, log } = deps;
  const nameField = (f: string) => f.replace(/^(profile\.)?address\.street$/, "address").replace(/^profile\./, "");

  app.get("/:id/whatsapp_business_profile", { schema: { params: idParams, querystring: { type: "object", properties: { fields: { type: "string", maxLength: 2048 } } } } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, number } = await numberOf(db, req, id, "whatsapp_business_management");
    const actingFor = { partnerId: partner.partnerId, businessId: number.businessId };
    try {
      const { business } = await clients.call(clients.directory, clients.directory.getBusiness, { businessId: number.businessId }, actingFor);
      const fields = (req.query as { fields?: string }).fields;
      const json = profileJson(business?.profile);
      return ok(reply, { data: [fields ? { ...selectFields(json, fields), messaging_product: "whatsapp" } : json] });
    } catch (err) {
      throw toGraphError(err, req, log, nameField);
    }
  });

  app.post("/:id/whatsapp_business_profile", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, number } = await numberOf(db, req, id, "whatsapp_business_management");
    const actingFor = { partnerId: partner.partnerId, businessId: number.businessId };
    try {
      const { business } = await clients.call(clients.directory, clients.directory.getBusiness, { businessId: number.businessId }, actingFor);
      const { profile, mask } = profileUpdateOf(req.params_, business?.profile);
      if (mask.length > 0) {
        await clients.call(
          clients.directory,
          clients.directory.updateBusiness,
          { businessId: number.businessId, profile: { ...business!.profile!, ...profile }, updateMask: mask, expectedVersion: "0" },
          actingFor,
        );
      }
      return ok(reply, { success: true });
    } catch (err) {
      throw toGraphError(err, req, log, nameField);
    }
  });
}

import { status, type ServiceError } from "@grpc/grpc-js";
import { DirectoryServiceClient, type Business } from "@kontor/proto/directory/v1/directory_service";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { TemplateCategory, TemplateComponentType, TemplateParameterFormat, TemplateStatus, type Template } from "@kontor/proto/messaging/v1/template";
import { TemplateServiceClient } from "@kontor/proto/messaging/v1/template_service";
import type { TokenSigner } from "@kontor/service-kit/auth";
import { createClient, unaryCall } from "@kontor/service-kit/grpc-client";
import type { Secrets } from "./credentials.js";

export interface SeedResult {
  /** The demo number's id as directory assigned it (what Cloud API clients send from). */
  phoneNumberId?: string;
  warnings: string[];
}

/**
 * Makes the demo identities real: the business (with its number) in directory,
 * which messaging then learns from directory's events, and the customers in
 * messaging. Idempotent across restarts; a failure only warns.
 */
export async function seedDemo(secrets: Secrets, signer: TokenSigner, addresses: { directory?: string; messaging?: string }): Promise<SeedResult> {
  const warnings: string[] = [];
  const token = await signer.sign({ kind: "service", service: "onboarding" });
  let phoneNumberId: string | undefined;

  if (addresses.directory) {
    const directory = createClient(DirectoryServiceClient, addresses.directory);
    try {
      let business: Business | undefined;
      try {
        ({ business } = await unaryCall(
          directory.registerBusiness.bind(directory),
          {
            businessId: secrets.business.id,
            profile: {
              displayName: secrets.business.name,
              legalName: `${secrets.business.name} LLC`,
              category: "retail.pottery",
              description: "Hand-thrown mugs, bowls and vases. The demo business of a local Kontor stack.",
              about: "Ask us anything about clay",
              address: { street: "1 Demo Street", city: "New York", postalCode: "10001", region: "NY", location: { latitude: 40.7506, longitude: -73.9972 } },
              country: "US",
              languages: ["en"],
              hours: { timeZone: "America/New_York", weekly: [], exceptions: [], alwaysOpen: true },
              websites: [],
              email: "hello@example.com",
              profilePictureUrl: "",
              phoneNumbers: [{ phoneNumberId: "", e164: secrets.business.phoneNumber, displayName: secrets.business.name }],
              handle: "",
            },
          },
          { token },
        ));
      } catch (err) {
        if ((err as ServiceError).code !== status.ALREADY_EXISTS) throw err;
        ({ business } = await unaryCall(directory.getBusiness.bind(directory), { businessId: secrets.business.id }, { token }));
      }
      phoneNumberId = business?.profile?.phoneNumbers.find((n) => n.e164 === secrets.business.phoneNumber)?.phoneNumberId;
    } catch (err) {
      warnings.push(`could not register the demo business in directory: ${(err as Error).message}`);
    } finally {
      directory.close();
    }
  }

  if (addresses.messaging) {
    const messaging = createClient(MessagingServiceClient, addresses.messaging);
    try {
      for (const c of secrets.customers) {
        await unaryCall(messaging.upsertCustomer.bind(messaging), { customerId: c.id, e164: c.number, profileName: c.name, settings: undefined }, { token });
      }
    } catch (err) {
      warnings.push(`could not register the demo customers in messaging: ${(err as Error).message}`);
    } finally {
      messaging.close();
    }
  }
  return { phoneNumberId, warnings };
}

/** The demo WABA's template: what local.json names and a Cloud API client can send at once. */
export const DEMO_TEMPLATE = {
  name: "order_update",
  language: "en_US",
  category: "UTILITY",
  body: "Your order {{1}} is {{2}}. Thank you for shopping with us!",
  example: ["A-1001", "on its way"],
} as const;

export interface SeededTemplate {
  id: string;
  name: string;
  language: string;
  category: string;
  status: string;
  body: string;
  /** Body parameters a send fills, in order, with an example of each. */
  bodyParameters: number;
  example: string[];
}

const STATUS_NAMES: Record<number, string> = {
  [TemplateStatus.TEMPLATE_STATUS_APPROVED]: "APPROVED",
  [TemplateStatus.TEMPLATE_STATUS_PENDING]: "PENDING",
  [TemplateStatus.TEMPLATE_STATUS_REJECTED]: "REJECTED",
};

/**
 * The demo business's `order_update` UTILITY template (two body parameters),
 * created once through messaging's TemplateService and found again on every
 * later start. Messaging learns the business from directory's events, so a
 * refusal right after the business was registered is retried for a while.
 */
export async function seedTemplate(secrets: Secrets, signer: TokenSigner, messagingAddress: string, waitMs = 30_000): Promise<{ template?: SeededTemplate; warnings: string[] }> {
  const templates = createClient(TemplateServiceClient, messagingAddress);
  const token = await signer.sign({ kind: "business", businessId: secrets.business.id });
  const businessId = secrets.business.id;
  const find = async (): Promise<Template | undefined> => {
    const { templates: found } = await unaryCall(
      templates.listTemplates.bind(templates),
      { businessId, page: { pageSize: 50, pageToken: "" }, status: 0, category: 0, language: DEMO_TEMPLATE.language, namePrefix: DEMO_TEMPLATE.name },
      { token },
    );
    return found.find((t) => t.name === DEMO_TEMPLATE.name && t.language === DEMO_TEMPLATE.language);
  };
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      try {
        let t = await find();
        if (!t) {
          try {
            ({ template: t } = await unaryCall(
              templates.createTemplate.bind(templates),
              {
                businessId,
                name: DEMO_TEMPLATE.name,
                language: DEMO_TEMPLATE.language,
                category: TemplateCategory.TEMPLATE_CATEGORY_UTILITY,
                parameterFormat: TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_POSITIONAL,
                components: [
                  { type: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY, format: 0, text: DEMO_TEMPLATE.body, example: { headerText: [], headerTextNamedParams: [], bodyText: [{ values: [...DEMO_TEMPLATE.example] }], bodyTextNamedParams: [], headerHandle: [] }, buttons: [] },
                ],
              },
              { token },
            ));
          } catch (err) {
            if ((err as ServiceError).code !== status.ALREADY_EXISTS) throw err;
            t = await find();
          }
        }
        if (!t) throw new Error("the template was neither found nor created");
        const statusName = STATUS_NAMES[t.status] ?? String(t.status);
        const warnings = statusName === "APPROVED" ? [] : [`the demo template ${DEMO_TEMPLATE.name} is ${statusName}, not APPROVED`];
        return {
          template: { id: t.id, name: t.name, language: t.language, category: DEMO_TEMPLATE.category, status: statusName, body: DEMO_TEMPLATE.body, bodyParameters: DEMO_TEMPLATE.example.length, example: [...DEMO_TEMPLATE.example] },
          warnings,
        };
      } catch (err) {
        const code = (err as ServiceError).code;
        const retryable = code === status.NOT_FOUND || code === status.FAILED_PRECONDITION || code === status.UNAVAILABLE || code === status.PERMISSION_DENIED;
        if (!retryable || Date.now() > deadline) return { warnings: [`could not create the demo template ${DEMO_TEMPLATE.name}: ${(err as Error).message}`] };
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    templates.close();
  }
}

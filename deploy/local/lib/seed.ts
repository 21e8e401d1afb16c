import { status, type ServiceError } from "@grpc/grpc-js";
import { DirectoryServiceClient, type Business } from "@kontor/proto/directory/v1/directory_service";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
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

import type { DirectoryServiceServer } from "@kontor/proto/directory/v1/directory_service";
import { OPERATOR_ROLE, SERVICE_NAMES, services, type AccessTableOf, type Caller } from "@kontor/service-kit/access";

export const REVIEWER_ROLE = "directory.reviewer";

/** Public profiles and links: every principal kind and every Kontor service reads them. */
const PUBLIC: readonly Caller[] = ["business", "customer", "partner", `staff:${REVIEWER_ROLE}`, `staff:${OPERATOR_ROLE}`, ...services(...SERVICE_NAMES)];
/**
 * What a business manages about itself: the business, its partner, and the
 * gateway (the Cloud API's business profile and QR code endpoints, for the
 * partners it authenticated).
 */
const OWNER: readonly Caller[] = ["business", "partner", ...services("gateway")];

/** Who may call each DirectoryService RPC; the kit refuses everyone else before a handler runs. */
export const directoryAccess: AccessTableOf<DirectoryServiceServer> = {
  RegisterBusiness: ["partner", `staff:${OPERATOR_ROLE}`, ...services("onboarding")],
  GetBusiness: PUBLIC,
  UpdateBusiness: OWNER,
  LookupBusiness: PUBLIC,
  ListCategories: PUBLIC,
  RequestVerification: ["business", "partner"],
  ListVerificationCases: ["business", "partner", `staff:${REVIEWER_ROLE}`],
  DecideVerification: [`staff:${REVIEWER_ROLE}`],
  RevokeVerification: [`staff:${REVIEWER_ROLE}`],
  SearchBusinesses: PUBLIC,
  SuggestBusinesses: PUBLIC,
  FollowBusiness: ["customer"],
  UnfollowBusiness: ["customer"],
  // Ads delivers marketing messages to a business's followers.
  ListFollowers: [...OWNER, ...services("ads")],
  ListFollowedBusinesses: ["customer"],
  CreateChatLink: OWNER,
  ListChatLinks: OWNER,
  DeleteChatLink: OWNER,
  ResolveChatLink: PUBLIC,
  GetChatLinkQrCode: OWNER,
  IsOpen: PUBLIC,
};

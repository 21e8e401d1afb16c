import type { Principal } from "./auth.js";

/**
 * Who may call an RPC. Each service declares one AccessTable next to its
 * handlers; the kit's server checks it before a handler runs and refuses a
 * method missing from the table (fail closed).
 *
 * - "business", "customer", "partner": any principal of that kind (the
 *   handler still checks *which* business or customer);
 * - "staff:<role>": staff holding that role;
 * - "service:<name>": that one Kontor service (service:gateway,
 *   service:payments, …), never every service.
 */
export type Caller = "business" | "customer" | "partner" | `staff:${string}` | `service:${string}`;

/** RPC method name (as passed to the kit server's unary()/duplex()/…) → its callers. */
export type AccessTable = Readonly<Record<string, readonly Caller[]>>;

/** Does this principal match one of the callers? */
export function allows(callers: readonly Caller[] | undefined, principal: Principal): boolean {
  if (!callers) return false;
  for (const caller of callers) {
    switch (principal.kind) {
      case "business":
      case "customer":
      case "partner":
        if (caller === principal.kind) return true;
        break;
      case "staff":
        if (caller.startsWith("staff:") && principal.roles.includes(caller.slice(6))) return true;
        break;
      case "service":
        if (caller === `service:${principal.service}`) return true;
        break;
    }
  }
  return false;
}

/**
 * allows() compiled once for one list of callers: the kit server builds one
 * per method at registration, so a call costs a Set lookup (services, kinds)
 * or a scan of a staff member's few roles, and never builds a string.
 */
export function callerMatcher(callers: readonly Caller[] | undefined): (principal: Principal) => boolean {
  if (!callers || callers.length === 0) return () => false;
  const kinds = new Set<string>();
  const services = new Set<string>();
  const roles: string[] = [];
  for (const caller of callers) {
    if (caller.startsWith("staff:")) roles.push(caller.slice(6));
    else if (caller.startsWith("service:")) services.add(caller.slice(8));
    else kinds.add(caller);
  }
  return (principal) => {
    switch (principal.kind) {
      case "staff":
        for (const role of roles) if (principal.roles.includes(role)) return true;
        return false;
      case "service":
        return services.has(principal.service);
      default:
        return kinds.has(principal.kind);
    }
  };
}

/**
 * The Kontor services that hold a service identity (`service:<name>`):
 * - gateway: the Cloud-API-shaped HTTP API; acts for the partners it authenticated;
 * - console: the web inbox for businesses and the customer app simulator;
 * - onboarding: signs businesses and customers up (the local stack's demo data too);
 * - messaging, directory, catalog, payments, ads: the domain services.
 * A token for any other name reaches nothing.
 */
export const SERVICE_NAMES = ["gateway", "console", "onboarding", "messaging", "directory", "catalog", "payments", "ads"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Staff role for platform operations: erasing a business's message key, registering a business by hand. */
export const OPERATOR_ROLE = "operator";

/** `service:<name>` for each name, typed against SERVICE_NAMES so a typo does not compile. */
export function services(...names: ServiceName[]): Caller[] {
  return names.map((name) => `service:${name}` as const);
}

type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: unknown };
/** The RPC names ("SendMessage") of a generated grpc-js server interface, without its index signature. */
export type RpcNames<Server> = Capitalize<Extract<KnownKeys<Server>, string>>;
/** An access table naming every RPC of one service: a new RPC does not compile until it is given its callers. */
export type AccessTableOf<Server> = Readonly<Record<RpcNames<Server>, readonly Caller[]>>;

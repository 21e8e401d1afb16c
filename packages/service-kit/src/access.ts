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

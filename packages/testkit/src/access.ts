import { Client, credentials, Metadata, status, type ServiceDefinition, type ServiceError } from "@grpc/grpc-js";
import { allows, SERVICE_NAMES, type AccessTable } from "@kontor/service-kit/access";
import { principalLabel, type Principal } from "@kontor/service-kit/auth";
import { errorDetail } from "@kontor/service-kit/errors";
import type { TestEnv } from "./env.js";

/**
 * One principal of every kind a table can name: each principal kind, staff
 * holding each role the table mentions (and staff with none), every Kontor
 * service name and one that is none.
 */
export function principalsFor(table: AccessTable): Principal[] {
  const roles = new Set<string>();
  for (const callers of Object.values(table)) for (const c of callers) if (c.startsWith("staff:")) roles.add(c.slice(6));
  return [
    { kind: "business", businessId: "biz_probe" },
    { kind: "customer", customerId: "cus_probe" },
    { kind: "partner", partnerId: "bsp_probe", businessIds: ["biz_probe"] },
    { kind: "staff", staffId: "staff_none", roles: [] },
    ...[...roles].map((role): Principal => ({ kind: "staff", staffId: `staff_${role}`, roles: [role] })),
    ...[...SERVICE_NAMES, "stranger"].map((service): Principal => ({ kind: "service", service })),
  ];
}

type Outcome = { code: status; reason: string | undefined };

/** Calls one method of any shape with an empty request; resolves with how it ended. */
function callOnce(client: Client, def: ServiceDefinition[string], md: Metadata): Promise<Outcome> {
  const empty = def.requestDeserialize(Buffer.alloc(0)) as unknown;
  const settle = (resolve: (o: Outcome) => void) => (err: ServiceError | null | undefined) =>
    resolve(err ? { code: err.code, reason: errorDetail(err)?.reason } : { code: status.OK, reason: undefined });
  const deadline = { deadline: Date.now() + 10_000 };
  return new Promise((resolve) => {
    const done = settle(resolve);
    if (!def.requestStream && !def.responseStream) {
      client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, empty, md, deadline, (err) => done(err));
    } else if (!def.requestStream) {
      const call = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, empty, md, deadline);
      call.on("error", (err: ServiceError) => done(err));
      call.on("status", (s) => (s.code === status.OK ? done(null) : undefined));
      // An admitted stream may stay open (a live inbox): its first message says it got past the check.
      call.once("data", () => {
        done(null);
        call.cancel();
      });
    } else if (!def.responseStream) {
      const call = client.makeClientStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, md, deadline, (err) => done(err));
      call.end();
    } else {
      const call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, md, deadline);
      call.on("data", () => undefined);
      call.on("error", (err: ServiceError) => done(err));
      call.on("status", (s) => (s.code === status.OK ? done(null) : undefined));
      call.end();
    }
  });
}

/**
 * For every RPC of a service's table and every principal of principalsFor():
 * callers not on the RPC's list are refused PERMISSION_DENIED by the
 * allow-list (reason CALLER_NOT_ALLOWED); callers on it get past it (any
 * other outcome: the empty request is usually refused as bad input).
 * Iterates the table and the definition, so a new RPC is covered as soon as
 * it exists. Returns one line per wrong outcome (empty when all hold).
 */
export async function allowListViolations(env: TestEnv, definition: ServiceDefinition, table: AccessTable, address: string): Promise<string[]> {
  const client = new Client(address, credentials.createInsecure());
  const wrong: string[] = [];
  try {
    const principals = principalsFor(table);
    const tokens = await Promise.all(principals.map((p) => env.token(p)));
    for (const def of Object.values(definition)) {
      const rpc = def.path.split("/")[2]!;
      if (!Object.hasOwn(table, rpc)) wrong.push(`${rpc}: missing from the access table`);
      for (const [i, p] of principals.entries()) {
        const md = new Metadata();
        md.set("authorization", `Bearer ${tokens[i]!}`);
        const outcome = await callOnce(client, def, md);
        const refused = outcome.code === status.PERMISSION_DENIED && outcome.reason === "CALLER_NOT_ALLOWED";
        const listed = allows(table[rpc], p);
        if (listed && refused) wrong.push(`${rpc}: ${principalLabel(p)} is on the list but was refused`);
        if (!listed && !refused) wrong.push(`${rpc}: ${principalLabel(p)} is not on the list but got ${status[outcome.code]} ${outcome.reason ?? ""}`.trim());
      }
    }
  } finally {
    client.close();
  }
  return wrong;
}

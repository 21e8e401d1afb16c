import { parseArgs } from "node:util";
import { SERVICE_NAMES } from "@kontor/service-kit/access";
import type { Principal } from "@kontor/service-kit/auth";
import { localSigner } from "../lib/credentials.js";
import { UsageError, type Command } from "./command.js";

const KINDS = ["business", "customer", "partner", "staff", "service"] as const;
type Kind = (typeof KINDS)[number];

const list = (value: string | undefined) => (value ?? "").split(",").map((v) => v.trim()).filter((v) => v !== "");

export function principalFor(kind: Kind, id: string, roles: string[], businesses: string[]): Principal {
  switch (kind) {
    case "business":
      return { kind, businessId: id };
    case "customer":
      return { kind, customerId: id };
    case "partner":
      return { kind, partnerId: id, businessIds: businesses };
    case "staff":
      return { kind, staffId: id, roles };
    case "service":
      return { kind, service: id };
  }
}

export const token: Command = {
  name: "token",
  summary: "mint a principal token signed with the local key (.kontor/secrets.json)",
  usage: `kontor token --kind business|customer|partner|staff|service --id <id> [--roles a,b] [--businesses id1,id2] [--expires 12h]

  --kind        who the token speaks for
  --id          the business id, customer id, partner id, staff id or service name
                (${SERVICE_NAMES.join(", ")})
  --roles       staff roles, comma-separated (staff only)
  --businesses  business ids the partner manages, comma-separated (partner only)
  --expires     lifetime, e.g. 15m, 12h, 30d (default 12h)

Prints only the token, so it composes: TOKEN=$(npm run -s kontor -- token --kind customer --id c1)`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        kind: { type: "string" },
        id: { type: "string" },
        roles: { type: "string" },
        businesses: { type: "string" },
        expires: { type: "string", default: "12h" },
      },
      strict: true,
      allowPositionals: false,
    });
    const kind = values.kind as Kind | undefined;
    if (!kind || !KINDS.includes(kind)) throw new UsageError(`--kind must be one of ${KINDS.join(", ")}`);
    if (!values.id) throw new UsageError("--id is required");
    if (kind === "service" && !(SERVICE_NAMES as readonly string[]).includes(values.id)) throw new UsageError(`--id for a service must be one of ${SERVICE_NAMES.join(", ")}`);
    if (values.roles && kind !== "staff") throw new UsageError("--roles applies to --kind staff only");
    if (values.businesses && kind !== "partner") throw new UsageError("--businesses applies to --kind partner only");
    if (!/^\d+[smhdw]$/.test(values.expires)) throw new UsageError("--expires must look like 15m, 12h or 30d");
    const signer = await localSigner();
    const jwt = await signer.sign(principalFor(kind, values.id, list(values.roles), list(values.businesses)), { expiresIn: values.expires });
    process.stdout.write(`${jwt}\n`);
    return 0;
  },
};

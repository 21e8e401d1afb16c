import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import type { ServiceError } from "@grpc/grpc-js";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { createClient, unaryCall } from "@kontor/service-kit/grpc-client";
import { readLocalJson } from "../lib/credentials.js";
import { UsageError, type Command } from "./command.js";

const usage = `kontor customer send --from <customer number> --to <business number> --text <text>

Sends a text message as a demo customer of the local stack (from .kontor/local.json),
so an inbound message can be produced without a phone:

  npm run kontor -- customer send --from +15550100101 --to +15550100000 --text "hi"

  --from   a demo customer's E.164 number (default: the first demo customer)
  --to     a business number's E.164 (default: the demo business number)
  --text   the message body (at most 4,096 characters)`;

export const customer: Command = {
  name: "customer",
  summary: "act as a demo customer: customer send --from <number> --to <business number> --text <text>",
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== "send") throw new UsageError(sub ? `unknown sub-command "${sub}"` : "a sub-command is required");
    const { values } = parseArgs({
      args: rest,
      options: { from: { type: "string" }, to: { type: "string" }, text: { type: "string" } },
      strict: true,
      allowPositionals: false,
    });
    if (!values.text) throw new UsageError("--text is required");
    const local = readLocalJson();
    const from = values.from ? local.customers.find((c) => c.number === values.from) : local.customers[0];
    if (!from) throw new UsageError(`--from ${values.from} is not a demo customer (${local.customers.map((c) => c.number).join(", ")})`);
    const address = local.services.messaging;
    if (!address) throw new Error("messaging is not running in this stack");
    const client = createClient(MessagingServiceClient, address);
    try {
      const { result } = await unaryCall(
        client.sendMessage.bind(client),
        {
          sender: { kind: { $case: "customerId", value: from.id } },
          recipient: undefined,
          to: values.to ?? local.business.phoneNumber,
          clientMessageId: randomUUID(),
          content: { kind: { $case: "text", value: { body: values.text, previewUrl: false } } },
          context: undefined,
          bizOpaqueCallbackData: "",
          referral: undefined,
        },
        { token: from.token },
      );
      process.stdout.write(`sent ${result?.messageId} (conversation ${result?.conversationId}, seq ${result?.seq})\n`);
      return 0;
    } catch (err) {
      const e = err as ServiceError;
      process.stderr.write(`send failed: ${e.details ?? e.message}\n`);
      return 1;
    } finally {
      client.close();
    }
  },
};

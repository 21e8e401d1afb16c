import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { createTokenSigner } from "@kontor/service-kit/auth";
import { createClient, unaryCall } from "@kontor/service-kit/grpc-client";
import type { SponsoredSender } from "../domain/sponsored-service.js";

/** Tokens live this long; a new one is signed a minute before. */
const TOKEN_TTL_S = 300;

/**
 * Sponsored messages through messaging's SendMessage as service:ads: the
 * business's number sends the approved template; messaging applies its own
 * rules too (opt-in, template approval, tier limits) and its refusal is the
 * outcome. The client message id makes a retried send one message.
 */
export async function createMessagingSender(options: { address: string; signingKey: string; timeoutMs: number }): Promise<SponsoredSender & { close(): void }> {
  const signer = await createTokenSigner(JSON.parse(options.signingKey));
  const client = createClient(MessagingServiceClient, options.address);
  let token: { value: string; renewAt: number } | undefined;
  const tokenNow = async () => {
    if (!token || token.renewAt <= Date.now()) {
      token = { value: await signer.sign({ kind: "service", service: "ads" }, { expiresIn: `${TOKEN_TTL_S}s` }), renewAt: Date.now() + (TOKEN_TTL_S - 60) * 1000 };
    }
    return token.value;
  };
  return {
    async send(m) {
      try {
        const res = await unaryCall(client.sendMessage.bind(client), {
          sender: { kind: { $case: "phoneNumberId", value: m.phoneNumberId } },
          recipient: { kind: { $case: "customerId", value: m.customerId } },
          to: "",
          clientMessageId: m.clientMessageId,
          content: { kind: { $case: "template", value: { name: m.templateName, languageCode: m.templateLanguage, components: [], rendered: undefined } } },
          context: undefined,
          bizOpaqueCallbackData: m.clientMessageId,
          referral: undefined,
        }, { token: await tokenNow(), timeoutMs: options.timeoutMs });
        return res.result?.messageId ? { messageId: res.result.messageId } : { refused: "messaging answered without a message id" };
      } catch (err) {
        return { refused: (err as Error).message };
      }
    },
    close: () => client.close(),
  };
}

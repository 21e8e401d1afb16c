/**
 * Cost of the kit's input check (src/input.ts) per request, in ns: a
 * typical SendMessage (a text), and a larger one (an interactive list).
 * `node --conditions=@kontor/source --import tsx bench/input-check.ts`
 */
import { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { compileInputCheck } from "../src/input.js";

// A service's table as messaging passes one (services/messaging/src/rpc/bounds.ts).
const check = compileInputCheck("kontor.messaging.v1.SendMessageRequest", { "content.text.body": 4096, client_message_id: 128, phone_number_id: 128, customer_id: 128, product_retailer_id: 128 });

const text = SendMessageRequest.fromPartial({
  sender: { kind: { $case: "phoneNumberId", value: "pn_4915112345678" } },
  recipient: { kind: { $case: "customerId", value: "cust_8f2c1a9e" } },
  clientMessageId: "c0a8012e-7d4b-4e55-9b1a-3f6f0e2d9c11",
  content: { kind: { $case: "text", value: { body: "Hello! Your order #4711 has shipped and arrives on Thursday. Reply STOP to opt out. 😀", previewUrl: false } } },
});
const list = SendMessageRequest.fromPartial({
  sender: { kind: { $case: "phoneNumberId", value: "pn_4915112345678" } },
  recipient: { kind: { $case: "customerId", value: "cust_8f2c1a9e" } },
  clientMessageId: "c0a8012e-7d4b-4e55-9b1a-3f6f0e2d9c11",
  content: {
    kind: {
      $case: "interactive",
      value: {
        header: { kind: { $case: "text", value: "Our menu" } },
        body: "Pick what you would like today",
        footer: "Open until 22:00",
        action: { $case: "list", value: { button: "Menu", sections: [0, 1].map((s) => ({ title: `Section ${s}`, rows: [0, 1, 2, 3, 4].map((r) => ({ id: `row_${s}_${r}`, title: `Dish ${r}`, description: "With a side of fries" })) })) } },
      },
    },
  },
});

/** The best of five rounds: the machine's other work only ever adds time. */
function measure(name: string, message: unknown, n: number): void {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (check(message)) throw new Error("refused");
    best = Math.min(best, Number(process.hrtime.bigint() - started) / n);
  }
  console.log(JSON.stringify({ bench: "input-check", request: name, ns_per_check: Math.round(best) }));
}

measure("SendMessage text", text, 2_000_000);
measure("SendMessage interactive list (10 rows)", list, 500_000);

import { randomBytes } from "node:crypto";
import { encodeOutboxBatch } from "@kontor/service-kit/outbox";
import { statusEvent } from "../src/events/outbox.js";
const events = Array.from({ length: 2000 }, (_, i) => statusEvent({ messageId: `wamid.${randomBytes(15).toString("base64url")}`, conversationId: "0b9f3c1e-8a55-4c8e-9f1e-2a6d3c9b7e11", seq: i, senderKey: "b_pn_01HZX3F5Q2", recipientKey: "c_cus_01HZX3F5Q2AB", status: 2, errorCode: 0, businessId: "biz_01HZX3F5Q2", phoneNumberId: "pn_01HZX3F5Q2", customerId: "cus_01HZX3F5Q2AB", bizOpaqueCallbackData: "", at: new Date() }));
const out: string[] = [];
for (let r = 0; r < 6; r++) { const t = process.cpuUsage(); for (let i = 0; i < 50; i++) encodeOutboxBatch(events); const u = process.cpuUsage(t); out.push(((u.user + u.system) / 50 / 2000 * 1000).toFixed(0)); }
console.log("encodeOutboxBatch ns per event", out.join(" "));
const out2: string[] = [];
for (let r = 0; r < 6; r++) { const t = process.cpuUsage(); for (let i = 0; i < 100_000; i++) statusEvent({ messageId: "wamid.HBgLMTU1NTAxMjM0NTYVAgARGBI", conversationId: "0b9f3c1e-8a55-4c8e-9f1e-2a6d3c9b7e11", seq: i, senderKey: "b_pn_01HZX3F5Q2", recipientKey: "c_cus_01HZX3F5Q2AB", status: 2, errorCode: 0, businessId: "biz_01HZX3F5Q2", phoneNumberId: "pn_01HZX3F5Q2", customerId: "cus_01HZX3F5Q2AB", bizOpaqueCallbackData: "", at: new Date() }); const u = process.cpuUsage(t); out2.push(((u.user + u.system) / 100).toFixed(0)); }
console.log("statusEvent ns", out2.join(" "));

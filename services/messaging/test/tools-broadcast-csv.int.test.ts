import { describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { type UploadBroadcastRecipientsRequest, type UploadBroadcastRecipientsResponse, type WatchBroadcastResponse } from "@kontor/proto/messaging/v1/tools_service";
import { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import { standardDetails } from "@kontor/service-kit/errors";
import { authMetadata, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { e164, registerCustomer, uid } from "./factories.js";
import { approvedTemplate, broadcastReq, useToolsService } from "./tools-fixtures.js";

/*
 * Broadcast recipients from a CSV upload (client-streamed in chunks, checked
 * row by row, taken whole or not at all) and the broadcast's progress
 * streamed by WatchBroadcast, against PostgreSQL and NATS with the policy on.
 */
const t = useToolsService("csv");

/** A business with an approved template. */
async function business() {
  const biz = await t.business();
  return { ...biz, template: await approvedTemplate(t.port, biz) };
}

async function draft(biz: Awaited<ReturnType<typeof business>>) {
  return (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, biz.template), { token: biz.token })).broadcast!.id;
}

/** The file in chunks of `size` bytes (cutting rows and characters apart), the ids in the first message only. */
function upload(token: string, businessId: string, broadcastId: string, csv: string | Buffer, size = 7): Promise<UploadBroadcastRecipientsResponse> {
  const bytes = typeof csv === "string" ? Buffer.from(csv, "utf8") : csv;
  return new Promise((resolve, reject) => {
    const call = t.tools.uploadBroadcastRecipients(authMetadata(token), (err, res) => (err ? reject(err) : resolve(res!)));
    for (let i = 0; i < bytes.length; i += size) {
      const m: UploadBroadcastRecipientsRequest = { businessId: i === 0 ? businessId : "", broadcastId: i === 0 ? broadcastId : "", chunk: bytes.subarray(i, i + size) };
      call.write(m);
    }
    call.end();
  });
}

async function refusal(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("the call succeeded");
}

const totalOf = async (biz: { businessId: string; token: string }, broadcastId: string) =>
  (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId }, { token: biz.token })).broadcast!.counts!.total;

describe("UploadBroadcastRecipients and WatchBroadcast", () => {
  it("when a CSV in chunks names phones and customer ids with their own parameters, then every row is a recipient, and the watch streams the progress to COMPLETED", async () => {
    const biz = await business();
    const id = await draft(biz);
    const ana = uid("cust_csv");
    const boPhone = e164();
    const bo = uid("cust_csv");
    await registerCustomer(t.messaging, t.onboarding, ana, undefined, "Ana");
    await registerCustomer(t.messaging, t.onboarding, bo, boPhone, "Bo");
    const csv = `\uFEFFcustomer_id,phone,body.1,body.2\r\n${ana},,Ana,Ä-1\r\n,"${boPhone}",Bo,B-2\r\n,+49 1500 0000000,,\r\n`;
    const res = await upload(biz.token, biz.businessId, id, csv);
    expect(res.added).toBe("3");
    expect(res.broadcast!.counts).toMatchObject({ total: "3", pending: "3" });
    const rows = await t.app.runtime.database.pool.query("SELECT idx, customer_id, e164, components FROM broadcast_recipient WHERE broadcast_id = $1 ORDER BY idx", [id]);
    expect(rows.rows.map((r) => [r.customer_id, r.e164])).toEqual([[ana, ""], ["", boPhone], ["", "+4915000000000"]]);
    expect(JSON.stringify(rows.rows[0].components)).toContain("Ä-1");
    expect(rows.rows[2].components).toBeNull();

    await unaryCall(t.tools.startBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: id, sendAt: undefined }, { token: biz.token });
    const seen: WatchBroadcastResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = t.tools.watchBroadcast({ businessId: biz.businessId, broadcastId: id }, authMetadata(biz.token));
      call.on("data", (r: WatchBroadcastResponse) => seen.push(r));
      call.on("error", reject);
      call.on("end", () => resolve());
    });
    const last = seen.at(-1)!.broadcast!;
    expect(last.status).toBe(BroadcastStatus.BROADCAST_STATUS_COMPLETED);
    expect(last.counts).toMatchObject({ total: "3", pending: "0", accepted: "2", failed: "1" });
    const pending = seen.map((r) => Number(r.broadcast!.counts!.pending));
    expect(pending).toEqual([...pending].sort((a, b) => b - a)); // never goes back up
    // Each streamed answer differs from the one before.
    for (let i = 1; i < seen.length; i++) expect(JSON.stringify(seen[i])).not.toBe(JSON.stringify(seen[i - 1]));
  });

  it("when rows are bad, then INVALID_ARGUMENT names the first, lists the bad rows, and nothing is added", async () => {
    const biz = await business();
    const id = await draft(biz);
    const good = e164();
    const csv = ["phone,body.1,body.2", `${good},Ana,A-1`, "+12,Bo,B-2", `${e164()},Cy,C-3`, `${good},Di,D-4`, `${e164()},Ed,`, `${e164()},Fi`].join("\n");
    const err = await refusal(upload(biz.token, biz.businessId, id, csv));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    const details = standardDetails(err)!;
    expect(details.fieldViolations[0]?.field).toBe("csv.rows[2].phone");
    expect(details.errorInfo?.metadata).toMatchObject({ bad_row_count: "4", bad_rows: "2:phone,4:phone,5:body.2,6:" });
    expect(await totalOf(biz, id)).toBe("0");

    const header = await refusal(upload(biz.token, biz.businessId, id, "phone,colour\n+4915112345678,red\n"));
    expect(standardDetails(header)!.fieldViolations[0]?.field).toBe("csv.header.colour");
    const gap = await refusal(upload(biz.token, biz.businessId, id, "phone,body.2\n+4915112345678,x\n"));
    expect(standardDetails(gap)!.fieldViolations[0]?.field).toBe("csv.header.body.1");
    const empty = await refusal(upload(biz.token, biz.businessId, id, "phone\n"));
    expect(standardDetails(empty)!.fieldViolations[0]?.field).toBe("chunk");
    const notUtf8 = await refusal(upload(biz.token, biz.businessId, id, Buffer.concat([Buffer.from("phone\n+4915112345678,"), Buffer.from([0xff, 0xfe]), Buffer.from("\n")])));
    expect(standardDetails(notUtf8)!.fieldViolations[0]?.field).toBe("chunk");
    expect(await totalOf(biz, id)).toBe("0");
  });

  it("when another business uploads to or watches a broadcast, then NOT_FOUND and nothing changes; a started broadcast takes no upload", async () => {
    const biz = await business();
    const other = await business();
    const id = await draft(biz);
    const theirs = await refusal(upload(other.token, other.businessId, id, `phone\n${e164()}\n`));
    expect(theirs.code).toBe(status.NOT_FOUND);
    const watch = await refusal(
      new Promise((resolve, reject) => {
        const call = t.tools.watchBroadcast({ businessId: other.businessId, broadcastId: id }, authMetadata(other.token));
        call.on("data", () => reject(new Error("streamed another business's broadcast")));
        call.on("error", reject);
        call.on("end", resolve);
      }),
    );
    expect(watch.code).toBe(status.NOT_FOUND);
    const mixed = await refusal(
      new Promise((resolve, reject) => {
        const call = t.tools.uploadBroadcastRecipients(authMetadata(biz.token), (err, res) => (err ? reject(err) : resolve(res)));
        call.write({ businessId: biz.businessId, broadcastId: id, chunk: Buffer.from("phone\n") });
        call.write({ businessId: other.businessId, broadcastId: "", chunk: Buffer.from(`${e164()}\n`) });
        call.end();
      }),
    );
    expect(mixed.code).toBe(status.INVALID_ARGUMENT);
    expect(await totalOf(biz, id)).toBe("0");

    await upload(biz.token, biz.businessId, id, `phone\n${e164()}\n`);
    await unaryCall(t.tools.cancelBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: id }, { token: biz.token });
    const cancelled = await refusal(upload(biz.token, biz.businessId, id, `phone\n${e164()}\n`));
    expect(cancelled.code).toBe(status.FAILED_PRECONDITION);
    await waitFor(async () => (await totalOf(biz, id)) === "1");
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "nats";
import { connectNats } from "@kontor/service-kit/nats";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";

// connectNats({ noEcho }): what messaging's live delivery relies on to not get its own publishes back.

let env: TestEnv;
const open: NatsConnection[] = [];

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await env?.cleanup();
});

async function connection(noEcho?: boolean): Promise<NatsConnection> {
  const nc = await connectNats({ url: env.natsUrl, name: "kit-probe", ...(noEcho === undefined ? {} : { noEcho }) });
  open.push(nc);
  return nc;
}

/** Subscribes on `sub`, publishes `count` messages on `pub`, and returns what `sub` received. */
async function roundTrip(sub: NatsConnection, pub: NatsConnection, subject: string, count: number): Promise<string[]> {
  const got: string[] = [];
  sub.subscribe(subject, { callback: (_err, msg) => got.push(msg.string()) });
  await sub.flush();
  for (let i = 0; i < count; i++) pub.publish(subject, `m${i}`);
  await pub.flush();
  return got;
}

describe("connectNats", () => {
  it("when noEcho is set, then the connection gets others' publishes but never its own", async () => {
    const quiet = await connection(true);
    const other = await connection();
    const subject = `${env.natsPrefix}probe.echo.quiet`;
    const fromOther = await roundTrip(quiet, other, subject, 3);
    await waitFor(() => fromOther.length === 3);
    expect(fromOther).toEqual(["m0", "m1", "m2"]);

    const own = await roundTrip(quiet, quiet, `${subject}.own`, 3);
    // A marker from the other connection on the same subject proves the subscription is live when we look.
    other.publish(`${subject}.own`, "marker");
    await waitFor(() => own.includes("marker"));
    expect(own).toEqual(["marker"]);
  });

  it("when noEcho is not set, then the connection receives its own publishes (the default)", async () => {
    const nc = await connection();
    const got = await roundTrip(nc, nc, `${env.natsPrefix}probe.echo.default`, 3);
    await waitFor(() => got.length === 3);
    expect(got).toEqual(["m0", "m1", "m2"]);
  });
});

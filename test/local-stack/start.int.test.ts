import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { allocatorEnv } from "@kontor/service-kit/allocator";
import { createTokenVerifier } from "@kontor/service-kit/auth";
import { checkHealth, createClient, unaryCall } from "@kontor/service-kit/grpc-client";
import { DirectoryServiceClient } from "@kontor/proto/directory/v1/directory_service";
import { commandLine, portFree } from "../../deploy/local/lib/process.js";

// The local stack (`npm start`) on the embedded path: its own PostgreSQL and
// nats-server on spare ports, services shifted by KONTOR_PORT_OFFSET, state in
// a temporary KONTOR_DIR, so it never meets a developer's running stack.
const root = fileURLToPath(new URL("../../", import.meta.url));
const presentServices = readdirSync(join(root, "services")).filter((name) => existsSync(join(root, "services", name, "src", "main.ts")));
const stateDir = mkdtempSync(join(tmpdir(), "kontor-local-"));
// As root the embedded PostgreSQL runs as the postgres user, which must be able to enter this folder.
chmodSync(stateDir, 0o755);

/**
 * The kernel's ephemeral port range, where outgoing connections (the other
 * test files', running at the same time) take their local ports.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo!, hi!];
  } catch {
    // not Linux: the IANA range
  }
  return [49152, 65535];
}

/**
 * Ports nobody holds right now, and outside the ephemeral range where it
 * can: a port free when chosen can still be taken by an outgoing connection
 * before the stack binds it ("address already in use"). The gRPC ports
 * (50051-50056 + offset) go above the range, which puts the metrics and
 * HTTP ports (9461-9466, 8090 + offset) below it.
 */
async function sparePorts(): Promise<{ offset: number; pg: number; nats: number }> {
  const base = [50051, 50052, 50053, 50054, 50055, 50056, 9461, 9462, 9463, 9464, 9465, 9466, 8090];
  const [, ephemeralHigh] = ephemeralRange();
  const [low, high] = ephemeralHigh + 1 - 50051 <= 65535 - 50056 ? [ephemeralHigh + 1 - 50051, 65535 - 50056] : [1000, 10_000];
  for (let attempt = 0; attempt < 100; attempt++) {
    const offset = low + Math.floor(Math.random() * (high - low + 1));
    // Above the metrics and HTTP ports (≤ 24,945), below the ephemeral range.
    const pg = 25_000 + Math.floor(Math.random() * 7_000);
    const nats = pg + 1;
    const ports = [...base.map((p) => p + offset), pg, nats];
    if ((await Promise.all(ports.map((p) => portFree(p)))).every(Boolean)) return { offset, pg, nats };
  }
  throw new Error("no spare ports for the local stack");
}
const spare = await sparePorts();

const stackEnv: Record<string, string> = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  KONTOR_DIR: stateDir,
  KONTOR_PORT_OFFSET: String(spare.offset),
  KONTOR_PG_PORT: String(spare.pg),
  KONTOR_NATS_PORT: String(spare.nats),
  KONTOR_LOG_LEVEL: "warn",
  NO_COLOR: "1",
};

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Pids of the running processes whose parent is `parent`. */
function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // Field 4 of /proc/<pid>/stat, after the parenthesised command name.
      if (Number(readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]!.split(" ")[1]) === parent) out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

describe("npm start (embedded PostgreSQL and nats-server)", () => {
  it("when started without DATABASE_URL and NATS_URL, then every present service is SERVING, local.json holds working tokens, and SIGINT stops every process it started", async () => {
    const child = spawn(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", "deploy/local/start.ts"], {
      cwd: root,
      env: stackEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    let pids: { postgres?: number; nats?: number; services: Record<string, number> } | undefined;
    let code: number | null = null;

    try {
      const deadline = Date.now() + 80_000;
      while (!output.includes("Kontor is up")) {
        if (child.exitCode !== null) throw new Error(`npm start exited during start-up:\n${output}`);
        if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }

      const local = JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8")) as {
        services: Record<string, string>;
        postgres: { url: string; embedded: boolean };
        nats: { url: string; embedded: boolean };
        business: { id: string; token: string; phoneNumberId: string; phoneNumber: string };
        gateway?: { url: string };
        partner: { token: string; wabaId: string; phoneNumberId: string; template?: { id: string; name: string; language: string; category: string; status: string; bodyParameters: number; example: string[] } };
        customers: { id: string; token: string; number: string }[];
        authPublicKeys: unknown[];
      };
      expect(Object.keys(local.services).sort()).toEqual([...presentServices].sort());
      expect(local.postgres).toEqual({ url: `postgres://postgres@127.0.0.1:${spare.pg}/kontor`, embedded: true });
      expect(local.nats).toEqual({ url: `nats://127.0.0.1:${spare.nats}`, embedded: true });
      for (const [name, address] of Object.entries(local.services)) {
        expect(await checkHealth(address), name).toBe("SERVING");
      }

      // Every service runs with jemalloc as its malloc when the machine has it, and with glibc's otherwise.
      const preload = allocatorEnv(stackEnv).LD_PRELOAD;
      const services = childrenOf(child.pid!).filter((pid) => /services\/[a-z]+\/src\/main\.ts/.test(commandLine(pid) ?? ""));
      expect(services.length).toBe(presentServices.length);
      for (const pid of services) {
        const maps = readFileSync(`/proc/${pid}/maps`, "utf8");
        if (preload) expect(maps, String(pid)).toContain(preload);
        else expect(maps, String(pid)).not.toMatch(/libjemalloc/);
      }

      const verifier = createTokenVerifier(JSON.stringify(local.authPublicKeys));
      expect(await verifier.verify(local.business.token)).toEqual({ kind: "business", businessId: local.business.id });
      expect((await verifier.verify(local.partner.token)).kind).toBe("partner");
      expect(local.customers.length).toBeGreaterThan(0);
      for (const c of local.customers) expect(await verifier.verify(c.token)).toEqual({ kind: "customer", customerId: c.id });

      if (local.services.directory) {
        // The demo business is registered for real, with the number id directory assigned.
        const directory = createClient(DirectoryServiceClient, local.services.directory);
        try {
          const { business } = await unaryCall(directory.getBusiness.bind(directory), { businessId: local.business.id }, { token: local.business.token });
          const number = business?.profile?.phoneNumbers.find((n) => n.e164 === local.business.phoneNumber);
          expect(number?.phoneNumberId).toBeTruthy();
          expect(local.business.phoneNumberId).toBe(number?.phoneNumberId);
        } finally {
          directory.close();
        }
      }

      const status = spawnSync(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", "deploy/local/cli.ts", "status", "--json"], {
        cwd: root,
        env: stackEnv,
        encoding: "utf8",
      });
      expect(status.status, status.stderr).toBe(0);
      expect((JSON.parse(status.stdout) as { healthy: boolean }).healthy).toBe(true);

      if (local.services.messaging && local.services.directory) {
        // The demo loop: a customer writes to the demo business; messaging learns its number from directory's event.
        let sent: ReturnType<typeof spawnSync> | undefined;
        for (let attempt = 0; attempt < 20; attempt++) {
          sent = spawnSync(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", "deploy/local/cli.ts", "customer", "send", "--text", "hi"], {
            cwd: root,
            env: stackEnv,
            encoding: "utf8",
          });
          if (sent.status === 0) break;
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(sent?.status, String(sent?.stderr)).toBe(0);
        expect(String(sent?.stdout)).toMatch(/^sent \S+ \(conversation \S+, seq 1\)/);
      }

      if (local.gateway && local.services.messaging && local.services.directory) {
        // The Cloud API with local.json alone: the approved order_update template is listed and sends (two body parameters).
        expect(local.partner.template).toMatchObject({ name: "order_update", language: "en_US", category: "UTILITY", status: "APPROVED", bodyParameters: 2 });
        expect(local.partner.phoneNumberId).toBe(local.business.phoneNumberId);
        const auth = { authorization: `Bearer ${local.partner.token}`, "content-type": "application/json" };
        const listed = await fetch(`${local.gateway.url}/v23.0/${local.partner.wabaId}/message_templates?name=order_update`, { headers: auth });
        expect(listed.status).toBe(200);
        const found = ((await listed.json()) as { data: { id: string; name: string; status: string; category: string; components: { type: string; text: string }[] }[] }).data;
        expect(found.map((t) => [t.id, t.name, t.status, t.category])).toEqual([[local.partner.template!.id, "order_update", "APPROVED", "UTILITY"]]);
        expect(found[0]!.components.find((c) => c.type === "BODY")!.text.match(/\{\{\d\}\}/g)).toEqual(["{{1}}", "{{2}}"]);
        const send = JSON.stringify({
          messaging_product: "whatsapp",
          to: local.customers[0]!.number,
          type: "template",
          template: { name: "order_update", language: { code: "en_US" }, components: [{ type: "body", parameters: local.partner.template!.example.map((text) => ({ type: "text", text })) }] },
        });
        // The gateway learns the number from directory's event: retried until it has.
        let sent: { status: number; body: { messages?: { id: string; message_status?: string }[] } } | undefined;
        for (let attempt = 0; attempt < 40; attempt++) {
          const res = await fetch(`${local.gateway.url}/v23.0/${local.partner.phoneNumberId}/messages`, { method: "POST", headers: auth, body: send });
          sent = { status: res.status, body: (await res.json()) as { messages?: { id: string; message_status?: string }[] } };
          if (sent.status === 200) break;
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(sent?.status, JSON.stringify(sent?.body)).toBe(200);
        expect(sent?.body.messages?.[0]).toEqual({ id: expect.stringMatching(/^wamid\./), message_status: "accepted" });
      }

      const minted = spawnSync(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", "deploy/local/cli.ts", "token", "--kind", "staff", "--id", "s1", "--roles", "reviewer"], {
        cwd: root,
        env: stackEnv,
        encoding: "utf8",
      });
      expect(minted.status, minted.stderr).toBe(0);
      expect(await verifier.verify(minted.stdout.trim())).toEqual({ kind: "staff", staffId: "s1", roles: ["reviewer"] });
    } finally {
      // Read the pids before SIGINT: a clean stop deletes the file.
      const pidsFile = join(stateDir, "run", "pids.json");
      if (existsSync(pidsFile)) pids = JSON.parse(readFileSync(pidsFile, "utf8")) as typeof pids;

      child.kill("SIGINT");
      code = await exited;
    }
    const started = pids ? [pids.postgres, pids.nats, ...Object.values(pids.services)].filter((p): p is number => p !== undefined) : [];
    expect(code, output).toBe(0);
    expect(started.length).toBe(presentServices.length + 2);
    expect(started.filter(alive)).toEqual([]);
  });

  it("when whoever reads its output goes away, then it stops everything it started and exits, instead of looping on the write errors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kontor-local-"));
    chmodSync(dir, 0o755);
    const ports = await sparePorts();
    const env = { ...stackEnv, KONTOR_DIR: dir, KONTOR_PORT_OFFSET: String(ports.offset), KONTOR_PG_PORT: String(ports.pg), KONTOR_NATS_PORT: String(ports.nats) };
    const child = spawn(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", "deploy/local/start.ts"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    let started: number[] = [];
    try {
      const deadline = Date.now() + 80_000;
      while (!output.includes("Kontor is up")) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const state = JSON.parse(readFileSync(join(dir, "run", "pids.json"), "utf8")) as { postgres?: number; nats?: number; services: Record<string, number> };
      started = [state.postgres, state.nats, ...Object.values(state.services)].filter((p): p is number => p !== undefined);
      expect(started.length).toBe(presentServices.length + 2);

      // The reader goes; the signal makes it write (and fail to).
      child.stdout.destroy();
      child.stderr.destroy();
      child.kill("SIGINT");
      const code = await Promise.race([exited, new Promise<"still running">((r) => setTimeout(() => r("still running"), 40_000))]);
      expect(code).toBe(0);
      expect(started.filter(alive)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      for (const pid of started.filter(alive)) process.kill(pid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

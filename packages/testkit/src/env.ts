import { randomBytes } from "node:crypto";
import pg from "pg";
import { connect, type NatsConnection } from "nats";
import { createTokenSigner, generateSigningKeys, type Principal, type TokenSigner } from "@kontor/service-kit/auth";

/** Where the real servers are: DATABASE_URL / NATS_URL, else the machine's defaults. */
export const adminDatabaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

export interface TestEnv {
  /** A fresh database for this test file only. */
  databaseUrl: string;
  databaseName: string;
  natsUrl: string;
  /** Subject prefix ("t1a2b3c.") and stream tag for this test file only. */
  natsPrefix: string;
  authPublicKeys: string;
  signer: TokenSigner;
  token(principal: Principal): Promise<string>;
  /** Environment for a service's loadConfig: real servers, isolated names, port 0. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** A NATS connection for the test's own assertions (closed by cleanup). */
  nats(): Promise<NatsConnection>;
  cleanup(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Isolates one test file on the real servers: creates a database and picks a
 * NATS prefix; cleanup drops the database and the prefixed streams.
 */
export async function createTestEnv(): Promise<TestEnv> {
  const id = randomBytes(5).toString("hex");
  const databaseName = `kontor_t_${id}`;
  const admin = new pg.Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${databaseName}`);
  } finally {
    await admin.end();
  }
  const databaseUrl = withDatabase(adminDatabaseUrl, databaseName);
  const natsPrefix = `t${id}.`;
  const keys = await generateSigningKeys(`test-${id}`);
  const signer = await createTokenSigner(keys.privateJwk);
  const authPublicKeys = JSON.stringify([keys.publicJwk]);
  const connections: NatsConnection[] = [];
  return {
    databaseUrl,
    databaseName,
    natsUrl,
    natsPrefix,
    authPublicKeys,
    signer,
    token: (principal) => signer.sign(principal),
    env(extra = {}) {
      return {
        DATABASE_URL: databaseUrl,
        NATS_URL: natsUrl,
        NATS_PREFIX: natsPrefix,
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: "0",
        METRICS_PORT: "0",
        LOG_LEVEL: process.env.KONTOR_LOG_LEVEL ?? "silent",
        AUTH_PUBLIC_KEYS: authPublicKeys,
        DB_POOL_MAX: "4",
        SHUTDOWN_GRACE_MS: "2000",
        ...extra,
      };
    },
    async nats() {
      const nc = await connect({ servers: natsUrl.split(",") });
      connections.push(nc);
      return nc;
    },
    async cleanup() {
      const nc = await connect({ servers: natsUrl.split(",") });
      try {
        const jsm = await nc.jetstreamManager();
        const tag = `T${id.toUpperCase()}_`;
        for await (const s of jsm.streams.list()) {
          if (s.config.name.startsWith(tag)) await jsm.streams.delete(s.config.name);
        }
      } finally {
        await nc.close();
      }
      for (const c of connections.splice(0)) await c.close().catch(() => undefined);
      const admin2 = new pg.Client({ connectionString: adminDatabaseUrl });
      await admin2.connect();
      try {
        await admin2.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
      } finally {
        await admin2.end();
      }
    },
  };
}

// Test harness: a real Allot on a real database (in-memory PGlite, or a fresh PostgreSQL database
// per call when DATABASE_URL is set), listening on 127.0.0.1 on an ephemeral port.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadConfig } from "../../src/config/env.ts";
import { createDatabase, type Database } from "../../src/db/database.ts";
import { type Allot, createAllot } from "../../src/main.ts";
import type { Role } from "../../src/modules/access/roles.ts";

export const engine: "pglite" | "postgres" = process.env.DATABASE_URL ? "postgres" : "pglite";

export const BOOTSTRAP_CLIENT_ID = "test-bootstrap-client";
export const BOOTSTRAP_CLIENT_SECRET = "test-bootstrap-secret-0123456789";

/** A fresh database on the test's engine. PostgreSQL: a new database on the DATABASE_URL server, dropped on close. */
export async function freshDatabase(): Promise<Database & { url?: string }> {
  if (engine === "pglite") return createDatabase({ kind: "pglite", memory: true });
  const adminUrl = process.env.DATABASE_URL!;
  const name = `allot_t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await createDatabase({ kind: "postgres", url: url.toString() }, { poolSize: 5 });
  const close = database.close;
  return {
    ...database,
    url: url.toString(),
    close: async () => {
      await close();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface TestAllot {
  allot: Allot;
  url: string;
  dataDir: string;
  /** Bearer token of the bootstrap Global administrator app registration (default tenant). */
  adminToken: string;
  token(clientId: string, secret: string, tenant?: string): Promise<string>;
  /** An app registration with exactly these roles in the given tenant (default: the default tenant); returns its bearer token. */
  tokenFor(roles: Role[], tenantId?: string): Promise<string>;
  request(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  close(): Promise<void>;
}

export async function startTestAllot(overrides: Record<string, string> = {}): Promise<TestAllot> {
  const dataDir = mkdtempSync(join(tmpdir(), "allot-test-"));
  const database = await freshDatabase();
  const config = loadConfig(
    {},
    {
      ALLOT_DATA_DIR: dataDir,
      ALLOT_SECRET_KEY: "test-secret-key-test-secret-key-0123456789",
      LOG_LEVEL: "silent",
      ALLOT_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_CLIENT_ID,
      ALLOT_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_CLIENT_SECRET,
      PORT: "0",
      ...overrides,
    },
  );
  const allot = await createAllot(config, { database });
  await allot.server.listen({ port: 0, host: "127.0.0.1" });
  const address = allot.server.server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

  const request: TestAllot["request"] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(`${url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as any, headers: res.headers, text };
  };
  const token = async (clientId: string, secret: string, tenant = "default") => {
    const res = await fetch(`${url}/${tenant}/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: clientId, client_secret: secret, grant_type: "client_credentials", scope: "https://graph.microsoft.com/.default" }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  };
  const adminToken = await token(BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET);
  const tokenFor = async (roles: Role[], tenantId?: string) => {
    const tid = tenantId ?? allot.bootstrapResult.tenantId;
    const created = await allot.services.accessService.createAppRegistration(
      { tenantId: tid, requestId: "test", actor: { type: "system" } },
      { displayName: `test ${roles.join(",")}`, roles },
    );
    return token(created.appId, created.clientSecret, tid);
  };
  return {
    allot,
    url,
    dataDir,
    adminToken,
    token,
    tokenFor,
    request,
    close: async () => {
      await allot.server.close();
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

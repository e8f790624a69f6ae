// Shared by the benchmarks that run Allot as its own process: a free loopback port, a scratch
// PostgreSQL database (dropped by the caller), and the client-credentials sign-in with a small
// JSON API helper. Everything on 127.0.0.1.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import pg from "pg";

/** The `--database-url` option of the benchmarks (PostgreSQL server on which scratch databases are made). */
export const databaseUrlOption = {
  type: "string",
  default: process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
} as const;

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A new database `<prefix>_<random>` on the server of `adminUrl`; `drop()` removes it (forcing connections out). */
export async function createScratchDatabase(
  adminUrl: string,
  prefix: string,
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

/** An access token from Allot's token endpoint (client-credentials flow, the default tenant). */
export async function clientCredentialsToken(
  base: string,
  clientId: string,
  clientSecret: string,
): Promise<string> {
  const res = await fetch(`${base}/default/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({
      client_id: clientId,
      client_secret: clientSecret,
      grant_type: "client_credentials",
      scope: "https://graph.microsoft.com/.default",
    }),
  });
  if (!res.ok) throw new Error(`token endpoint answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** JSON calls with the bearer token; a non-2xx answer throws with its body. */
export function graphApi(base: string, bearer: string) {
  return async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : undefined;
  };
}

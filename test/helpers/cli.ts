// Runs the real `allot` command (bin/allot.mjs under the pinned Node 24) as a child process, with a
// clean environment: nothing from the test's own ALLOT_* or DATABASE_URL leaks in unless given.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";

const root = fileURLToPath(new URL("../..", import.meta.url));
const nodeBin = `${root}node_modules/.bin/node`;
const allotBin = `${root}bin/allot.mjs`;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cliEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (
      !k.startsWith("ALLOT_") &&
      k !== "DATABASE_URL" &&
      k !== "PORT" &&
      k !== "HOST" &&
      k !== "RUN_MODE" &&
      k !== "LOG_LEVEL"
    )
      base[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) base[k] = v;
  return base;
}

/** Runs `allot ARGS…` to completion (killed after timeoutMs). */
export function runAllot(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 30_000,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [allotBin, ...args], {
      cwd: root,
      env: cliEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `allot ${args.join(" ")} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Served {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Starts `allot serve` and waits for "Allot is listening". */
export function startServe(env: Record<string, string | undefined>, timeoutMs = 40_000): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [allotBin, "serve"], {
      cwd: root,
      env: cliEnv({ PORT: "0", LOG_LEVEL: "info", ...env }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    let out = "";
    const exited = new Promise<number | null>((r) =>
      child.on("exit", (code) => {
        running.delete(child);
        r(code);
      }),
    );
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`allot serve did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d;
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"Allot is listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          child,
          url: m[1],
          output: () => out,
          stop: async () => {
            child.kill("SIGTERM");
            return exited;
          },
        });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`allot serve exited with ${code} before listening:\n${out}`));
    });
  });
}

/** Kills any `allot serve` a failed test left running. */
export function killServes(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** A fresh, empty PostgreSQL database on the DATABASE_URL server (for the spawned CLI), dropped by drop(). */
export async function emptyPostgresDatabase(
  adminUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `allot_cli_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Signs in to the console and returns a request function carrying the session cookie and CSRF header. */
export async function consoleSession(
  url: string,
  userPrincipalName: string,
  password: string,
  tenant?: string,
) {
  const res = await fetch(`${url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userPrincipalName, password, ...(tenant ? { tenant } : {}) }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { csrfToken: string; tenantId: string };
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  return {
    tenantId: body.tenantId,
    async request(method: string, path: string, payload?: unknown): Promise<{ status: number; body: any }> {
      const r = await fetch(`${url}${path}`, {
        method,
        headers: {
          cookie,
          "x-csrf-token": body.csrfToken,
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
        },
        body: payload === undefined ? undefined : JSON.stringify(payload),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

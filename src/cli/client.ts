// How CLI commands reach Allot: always through its HTTP API, wherever that API is.
//
//   withApi(config, fn, options?) → runs fn(api) against
//     1. --url/ALLOT_URL with --token/ALLOT_TOKEN, when a URL is given (a remote server);
//     2. the server that holds the embedded data directory (its lock info names its URL and the
//        machine-local CLI token), when one runs;
//     3. otherwise an in-process Allot on 127.0.0.1 (taking the data-directory lock on PGlite),
//        closed again when fn returns.
//   api.json(method, path, body?)  JSON in and out; a non-2xx answer throws CliError with the server's message
//   api.fetch(path, init?)         raw authenticated fetch (streamed uploads and downloads)
//   api.pages(path)                every page of a Graph collection, following @odata.nextLink
//
// A command declares the connection options with addApiOptions(cmd) and passes apiOptionsOf(cmd)
// as withApi's third argument. `--tenant` makes the local CLI token act in another tenant (the
// x-allot-tenant header, honoured for that token only). Example:
//   addApiOptions(program.command("whoami")).action(async (_opts, cmd: Command) => {
//     const me = await withApi(loadConfig(), (api) => api.json("GET", "/auth/session"), apiOptionsOf(cmd));
//     output(cmd, me, `${me.name} in tenant ${me.tenantId}`);
//   });
// Failures throw CliError; src/cli/main.ts prints the message and exits with 1.
import { existsSync, mkdirSync } from "node:fs";
import type { Command } from "commander";
import type { AppConfig } from "../config/env.ts";
import {
  type DataDirLock,
  DataDirLockedError,
  isDataDirLocked,
  lockDataDir,
  readLockInfo,
} from "../db/data-dir-lock.ts";
import { TENANT_HEADER } from "../http/auth.ts";
import { randomSecret } from "../lib/crypto.ts";
import { AppError } from "../lib/errors.ts";
import type { Allot } from "../main.ts";

/** A failure the CLI reports as one clear line (and exit code 1). */
export class CliError extends Error {}

export interface ApiOptions {
  /** Base URL of a running Allot (else ALLOT_URL). */
  url?: string;
  /** Bearer token for that server (else ALLOT_TOKEN). */
  token?: string;
  /** Act in this tenant (id) instead of the default tenant; local CLI token only. */
  tenant?: string;
}

export interface Api {
  /** Where requests go, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** remote: --url; server: the server holding the data directory; in-process: started for this command. */
  mode: "remote" | "server" | "in-process";
  json<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  pages<T = any>(path: string): AsyncGenerator<T[]>;
}

export function addApiOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "base URL of a running Allot server (default: $ALLOT_URL, else the local one)")
    .option(
      "--token <token>",
      "bearer token for --url (default: $ALLOT_TOKEN, which keeps it out of the process list)",
    )
    .option("--tenant <id>", "act in this tenant instead of the default tenant")
    .option("--json", "print the result as JSON");
}

export function apiOptionsOf(cmd: Command): ApiOptions & { json?: boolean } {
  return cmd.optsWithGlobals();
}

/** Prints `value` as JSON with --json, else the human-readable text. */
export function output(cmd: Command, value: unknown, text: string): void {
  if (cmd.optsWithGlobals().json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else process.stdout.write(`${text}\n`);
}

/** A secret from an option, else from an environment variable (keeps it out of shell history). */
export function secretOption(value: string | undefined, envName: string, optionName: string): string {
  const v = value ?? process.env[envName];
  if (!v)
    throw new CliError(`${optionName} is required (or set ${envName} to keep it out of the shell history).`);
  return v;
}

/** The server that holds the embedded data directory, if one runs (waits briefly while it starts). */
async function serverHoldingDataDir(
  dataDir: string,
): Promise<{ url: string; cliToken: string } | "busy" | undefined> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!isDataDirLocked(dataDir)) return undefined;
    const info = readLockInfo(dataDir);
    if (info?.url && info.cliToken) return { url: info.url, cliToken: info.cliToken };
    // Locked without a URL: a server still starting, or another command working offline.
    if (Date.now() > deadline) return "busy";
    await new Promise((r) => setTimeout(r, 250));
  }
}

function describeBusy(dataDir: string): string {
  const info = readLockInfo(dataDir);
  return `The data directory ${dataDir} is in use by another Allot process${info ? ` (pid ${info.pid})` : ""} that does not serve an API. Wait for it to finish and try again.`;
}

/**
 * The API of a server that is already running: --url/ALLOT_URL, or the server holding the embedded
 * data directory. Undefined when there is none (the caller may then work offline).
 */
export async function connectToServer(config: AppConfig, options: ApiOptions = {}): Promise<Api | undefined> {
  const url = options.url ?? process.env.ALLOT_URL;
  const tenant = options.tenant;
  if (url) {
    const token = options.token ?? process.env.ALLOT_TOKEN;
    if (!token)
      throw new CliError(
        `--token (or ALLOT_TOKEN) is required with --url ${url}: a bearer token from ${url.replace(/\/$/, "")}/{tenant}/oauth2/v2.0/token.`,
      );
    if (tenant)
      throw new CliError(
        "--tenant works with the local CLI connection only; with --url the token's own tenant applies (use a token issued in that tenant).",
      );
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliError(`--url: '${url}' is not a URL.`);
    }
    return createApi(parsed.origin + parsed.pathname.replace(/\/$/, ""), token, "remote");
  }
  return localServer(config, tenant);
}

/** The server holding the embedded data directory, if one runs (never a remote one). */
export async function localServer(config: AppConfig, tenant?: string): Promise<Api | undefined> {
  if (config.database.kind !== "pglite") return undefined;
  const held = await serverHoldingDataDir(config.dataDir);
  if (held === "busy") throw new CliError(describeBusy(config.dataDir));
  return held ? createApi(held.url, held.cliToken, "server", tenant) : undefined;
}

export async function withApi<T>(
  config: AppConfig,
  fn: (api: Api) => Promise<T>,
  options: ApiOptions = {},
): Promise<T> {
  let lock: DataDirLock | undefined;
  for (;;) {
    const running = await connectToServer(config, options);
    if (running) return fn(running);
    if (config.database.kind !== "pglite") break;
    mkdirSync(config.dataDir, { recursive: true });
    try {
      lock = lockDataDir(config.dataDir);
      break;
    } catch (err) {
      // Another process took the lock between the check and now: look again.
      if (!(err instanceof DataDirLockedError)) throw err;
    }
  }
  if (config.database.kind === "pglite" && !existsSync(`${config.database.dataDir}/PG_VERSION`))
    process.stderr.write(`Note: no database in ${config.dataDir} yet; creating a new one.\n`);

  let allot: Allot | undefined;
  const onSignal = async () => {
    await allot?.close().catch(() => undefined);
    await lock?.release().catch(() => undefined);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    // Loaded only here: commands that talk to a running server stay quick to start.
    const { createAllot } = await import("../main.ts");
    allot = await createAllot({ ...config, LOG_LEVEL: "silent" as AppConfig["LOG_LEVEL"] });
    // Logs are silent (stdout carries the command's output); unexpected server errors go to stderr.
    allot.server.addHook("onError", async (_req, _reply, error) => {
      const status =
        error instanceof AppError ? error.status : ((error as { statusCode?: number }).statusCode ?? 500);
      if (status >= 500) process.stderr.write(`allot: internal error: ${error.stack ?? error.message}\n`);
    });
    const cliToken = `allot-cli.${randomSecret(32)}`;
    allot.services.accessService.setCliToken(cliToken);
    await allot.server.listen({ port: 0, host: "127.0.0.1" });
    const address = allot.server.server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    return await fn(createApi(`http://127.0.0.1:${port}`, cliToken, "in-process", options.tenant));
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    try {
      await allot?.close();
    } finally {
      await lock?.release();
    }
  }
}

function createApi(baseUrl: string, token: string, mode: Api["mode"], tenant?: string): Api {
  const authFetch = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    if (tenant) headers.set(TENANT_HEADER, tenant);
    try {
      return await fetch(`${baseUrl}${path}`, { ...init, headers });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `Cannot reach Allot at ${baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}` +
          (mode === "server"
            ? " (the server that locked the data directory may have died; its lock goes stale 15 seconds later)"
            : ""),
      );
    }
  };
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await authFetch(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await readJson(res, method, path)) as T;
  };
  return {
    baseUrl,
    mode,
    fetch: authFetch,
    json,
    async *pages<T>(path: string) {
      let next: string | undefined = path;
      while (next) {
        const page: { value?: T[]; "@odata.nextLink"?: string } = await json("GET", next);
        yield page.value ?? [];
        const link = page["@odata.nextLink"];
        // Follow the link on our own base URL, so the token never goes to another origin.
        next = link
          ? (() => {
              const u = new URL(link);
              return u.pathname + u.search;
            })()
          : undefined;
      }
    },
  };
}

/** The body of a JSON response; a non-2xx answer becomes a CliError with the server's message. */
export async function readJson(res: Response, method: string, path: string): Promise<unknown> {
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok)
    throw new CliError(
      `${method} ${path.split("?")[0]} failed (${res.status}): ${errorMessageOf(body, text)}`,
    );
  return body;
}

export function errorMessageOf(body: any, text: string): string {
  if (body?.error?.message) return body.error.message;
  if (typeof body?.error_description === "string") return body.error_description;
  if (typeof body?.detail === "string") return body.detail;
  return text.slice(0, 500) || "(no body)";
}

// Shared by the emulator's own tests (*.test.ts beside this file): an HTTP client for Apple's API,
// a local notification receiver, fixture loading and the "same key sets and value types" check.
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { type AppleEmulator, startAppleEmulator } from "./index.ts";
import type { AppleEmulatorOptions } from "./options.ts";

export function fixture(name: string): any {
  const text = readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
  return name.endsWith(".json") ? JSON.parse(text) : text;
}

export function fixtureText(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
}

const running: AppleEmulator[] = [];

/** Starts an emulator that `stopAll()` (call it in afterEach/afterAll) closes. */
export async function startEmu(options: AppleEmulatorOptions = {}): Promise<AppleEmulator> {
  const emu = await startAppleEmulator({ rateLimitRps: 0, ...options });
  running.push(emu);
  return emu;
}

export async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((e) => e.close()));
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export interface AppleClient {
  get(path: string): Promise<Reply>;
  post(path: string, body?: unknown): Promise<Reply>;
  raw(
    method: string,
    path: string,
    init?: { headers?: Record<string, string>; body?: string },
  ): Promise<Reply>;
}

export function appleClient(emu: AppleEmulator, sToken: string | undefined): AppleClient {
  const raw = async (
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: string } = {},
  ) => {
    const headers: Record<string, string> = {
      ...(sToken ? { Authorization: `Bearer ${sToken}` } : {}),
      ...init.headers,
    };
    const res = await fetch(emu.baseUrl + path, { method, headers, body: init.body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  return {
    raw,
    get: (path) => raw("GET", path),
    post: (path, body) =>
      raw("POST", path, {
        headers: { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
  };
}

/** Every page of a paged endpoint, following nextPageIndex. */
export async function allPages(
  client: AppleClient,
  path: string,
  key: string,
): Promise<{ rows: any[]; versionIds: string[] }> {
  const rows: any[] = [];
  const versionIds: string[] = [];
  let page = 0;
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const r = await client.get(`${path}${sep}pageIndex=${page}`);
    if (r.status !== 200 || r.body.errorNumber)
      throw new Error(`${path} page ${page}: ${JSON.stringify(r.body)}`);
    rows.push(...r.body[key]);
    versionIds.push(r.body.versionId);
    if (r.body.nextPageIndex === undefined) break;
    page = r.body.nextPageIndex;
  }
  return { rows, versionIds };
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: any;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Status to answer the n-th request (0-based) with; default 200. */
  answer: (n: number, body: any) => number;
  close(): Promise<void>;
  waitFor(predicate: (r: Received[]) => boolean, timeoutMs?: number): Promise<void>;
}

export async function startReceiver(
  options: { tls?: { key: string; cert: string }; path?: string } = {},
): Promise<Receiver> {
  const received: Received[] = [];
  let n = 0;
  const receiver: Receiver = {
    url: "",
    received,
    answer: () => 200,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    waitFor: (predicate, timeoutMs = 5000) => waitFor(() => predicate(received), timeoutMs),
  };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const status = receiver.answer(n++, body);
      received.push({ headers: req.headers, body, at: Date.now() });
      res.writeHead(status).end();
    });
  };
  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler)
    : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  receiver.url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}${options.path ?? "/notifications/apple/tok-1"}`;
  return receiver;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/**
 * Differences between the key sets and value types of `actual` and `expected` (recursively).
 * Array elements of `actual` must each match the shape of some element of `expected`.
 */
export function shapeDiff(actual: unknown, expected: unknown, path = "$"): string[] {
  const ka = kind(actual);
  const ke = kind(expected);
  if (ka !== ke) return [`${path}: ${ka} instead of ${ke}`];
  if (ke === "array") {
    const a = actual as unknown[];
    const e = expected as unknown[];
    if (e.length === 0) return [];
    if (a.length === 0) return [`${path}: empty array (fixture has elements)`];
    const out: string[] = [];
    a.forEach((item, i) => {
      const candidates = e.map((x) => shapeDiff(item, x, `${path}[${i}]`));
      if (!candidates.some((c) => c.length === 0))
        out.push(...candidates.sort((x, y) => x.length - y.length)[0]);
    });
    return out;
  }
  if (ke === "object") {
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const out: string[] = [];
    for (const k of Object.keys(e)) if (!(k in a)) out.push(`${path}.${k}: missing`);
    for (const k of Object.keys(a)) if (!(k in e)) out.push(`${path}.${k}: not in fixture`);
    for (const k of Object.keys(e)) if (k in a) out.push(...shapeDiff(a[k], e[k], `${path}.${k}`));
    return out;
  }
  return [];
}

/** Like shapeDiff, but keys `actual` has beyond the fixture are allowed. */
export function shapeDiffSubset(actual: unknown, expected: unknown): string[] {
  return shapeDiff(actual, expected).filter((d) => !d.endsWith("not in fixture"));
}

export const testOrg = { orgName: "ORG12345", locationName: "PS01", countryISO2ACode: "US" };

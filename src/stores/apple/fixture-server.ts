// A small programmable HTTP server on 127.0.0.1 for the client's tests: it records every request and
// answers with Apple's example bodies (fixtures/, copied from reference/apple-fixtures) or whatever
// a test's handler returns. Used only by the *.test.ts files of this folder.
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";

// One copy of Apple's example files lives with the emulator (which serves parts of it at run time).
export const fixturesDir = new URL("../../emulators/apple/fixtures/", import.meta.url);

/** Apple's example files (fixtures/biome.json only keeps the linter off Apple's verbatim text). */
export function fixtureNames(): string[] {
  return readdirSync(fixturesDir)
    .filter((n) => n !== "biome.json")
    .sort();
}

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, fixturesDir), "utf8");
}

export function fixture<T = any>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
  /** performance.now() at arrival. */
  at: number;
}

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Answer after this long (the connection stays open meanwhile). */
  delayMs?: number;
}

export type Handler = (req: RecordedRequest) => Reply | Promise<Reply>;

export interface FixtureServer {
  origin: string;
  /** origin + "/mdm/v2" */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Highest number of requests being answered at the same time. */
  maxInFlight: number;
  setHandler(handler: Handler): void;
  close(): Promise<void>;
}

export async function startFixtureServer(handler: Handler): Promise<FixtureServer> {
  let current = handler;
  let inFlight = 0;
  const state = { maxInFlight: 0 };
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        at,
      };
      requests.push(recorded);
      try {
        const reply = await current(recorded);
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (res.destroyed) return;
        res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
        res.end(
          reply.body === undefined
            ? ""
            : typeof reply.body === "string"
              ? reply.body
              : JSON.stringify(reply.body),
        );
      } catch (error) {
        if (!res.destroyed) {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(String(error));
        }
      } finally {
        inFlight--;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    baseUrl: `${origin}/mdm/v2`,
    requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    setHandler(h) {
      current = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Apple's service config example with its URLs pointing at `origin` and the given limits changed. */
export function serviceConfigFor(origin: string, limits: Record<string, number> = {}): any {
  const body = fixture("service-config-response.json");
  body.limits = { ...body.limits, ...limits };
  for (const [key, value] of Object.entries(body.urls as Record<string, string>)) {
    body.urls[key] = value
      .replace("https://vpp.itunes.apple.com", origin)
      .replace("https://uclient-api.itunes.apple.com", origin);
  }
  return body;
}

export const envelope = { tokenExpirationDate: "2030-11-08T22:33:22+0000", uId: "2049025000431439" };

/** A paged body as Apple writes it. */
export function pageBody(
  key: string,
  all: unknown[],
  pageIndex: number,
  pageSize: number,
  versionId: string,
): any {
  const totalPages = Math.max(1, Math.ceil(all.length / pageSize));
  const items = all.slice(pageIndex * pageSize, (pageIndex + 1) * pageSize);
  const body: Record<string, unknown> = {
    [key]: items,
    currentPageIndex: pageIndex,
    size: items.length,
    totalPages,
    versionId,
    ...envelope,
  };
  if (pageIndex + 1 < totalPages) body.nextPageIndex = pageIndex + 1;
  return body;
}

/** A token as Apple's .vpptoken file holds it (Base64 of {token, expDate, orgName}). */
export function makeSToken(label: string, expDate = "2030-11-08T22:33:22+0000"): string {
  return Buffer.from(
    JSON.stringify({
      token: `${label}-${Math.random().toString(36).slice(2)}`,
      expDate,
      orgName: "ORG12345",
    }),
  ).toString("base64");
}

type Route = Reply | ((req: RecordedRequest) => Reply | Promise<Reply>);

/** Answers by "METHOD /path"; anything else gets Apple's invalid-argument error (HTTP 400, not retried). */
export function routes(table: Record<string, Route>): Handler {
  return (req) => {
    const route = table[`${req.method} ${req.path}`];
    if (route === undefined)
      return { status: 400, body: { errorNumber: 9602, errorMessage: "Invalid argument." } };
    return typeof route === "function" ? route(req) : route;
  };
}

/** Retry timings small enough for tests. */
export const fastRetry = { baseDelayMs: 10, factor: 2, maxDelayMs: 200, maxAttempts: 5 };

interface MiniAssignment {
  adamId: string;
  pricingParam: string;
  serialNumber?: string;
  clientUserId?: string;
}

export interface MiniWriteDecision {
  /** Which of the write's items Apple applies: all (default), none, or those the predicate keeps. */
  apply?: "all" | "none" | ((item: MiniAssignment | { clientUserId: string }) => boolean);
  /** Overrides the reply (e.g. a delay longer than the client's timeout). */
  reply?: Partial<Reply>;
}

/**
 * Just enough of Apple's state for the client's write tests: assignments and users with the
 * documented filters and paging, events, versionIds. Writes apply synchronously (or as `onWrite` says).
 */
export class MiniApple {
  origin = "";
  limits: Record<string, number>;
  pageSize: number;
  version = 1;
  configReads = 0;
  assignments = new Map<string, MiniAssignment>();
  users = new Map<string, { clientUserId: string; email?: string; status: string }>();
  events = new Map<string, { eventType: string; numRequested: number }>();
  onWrite?: (path: string, body: any) => MiniWriteDecision | undefined;

  constructor(options: { limits?: Record<string, number>; pageSize?: number } = {}) {
    this.limits = options.limits ?? {};
    this.pageSize = options.pageSize ?? 100;
  }

  static key(a: MiniAssignment): string {
    return `${a.adamId}/${a.pricingParam}/${a.serialNumber ?? ""}/${a.clientUserId ?? ""}`;
  }

  #page(key: string, list: unknown[], req: RecordedRequest): Reply {
    const pageIndex = Number(req.query.get("pageIndex") ?? 0);
    const totalPages = Math.max(1, Math.ceil(list.length / this.pageSize));
    if (pageIndex >= totalPages)
      return {
        status: 400,
        body: {
          errorNumber: 9650,
          errorMessage:
            "The provided page index must be greater than 0, and less than the total number of pages.",
        },
      };
    return { body: pageBody(key, list, pageIndex, this.pageSize, `v${this.version}`) };
  }

  #event(eventType: string, numRequested: number, decision: MiniWriteDecision | undefined): Reply {
    const eventId = crypto.randomUUID();
    this.events.set(eventId, { eventType, numRequested });
    return { body: { eventId, ...envelope }, ...decision?.reply };
  }

  #applies(
    decision: MiniWriteDecision | undefined,
    item: MiniAssignment | { clientUserId: string },
  ): boolean {
    const apply = decision?.apply ?? "all";
    return apply === "all" ? true : apply === "none" ? false : apply(item);
  }

  handler: Handler = (req) => {
    const path = req.path.replace(/^\/mdm\/v2/, "");
    if (req.method === "GET" && path === "/service/config") {
      this.configReads++;
      return { body: serviceConfigFor(this.origin, this.limits) };
    }
    if (req.method === "GET" && path === "/assignments") {
      const q = req.query;
      const list = [...this.assignments.values()].filter(
        (a) =>
          (!q.get("adamId") || a.adamId === q.get("adamId")) &&
          (!q.get("pricingParam") || a.pricingParam === q.get("pricingParam")) &&
          (!q.get("serialNumber") || a.serialNumber === q.get("serialNumber")) &&
          (!q.get("clientUserId") || a.clientUserId === q.get("clientUserId")),
      );
      return this.#page("assignments", list, req);
    }
    if (req.method === "GET" && path === "/users") {
      const id = req.query.get("clientUserId");
      return this.#page(
        "users",
        [...this.users.values()].filter((u) => !id || u.clientUserId === id),
        req,
      );
    }
    if (req.method === "GET" && path === "/status") {
      const e = this.events.get(req.query.get("eventId") ?? "");
      if (!e)
        return { status: 400, body: { errorNumber: 9708, errorMessage: "EventId could not be found." } };
      return {
        body: {
          eventStatus: "COMPLETE",
          eventType: e.eventType,
          numCompleted: e.numRequested,
          numRequested: e.numRequested,
          ...envelope,
        },
      };
    }
    if (req.method === "POST" && (path === "/assets/associate" || path === "/assets/disassociate")) {
      const decision = this.onWrite?.(path, req.body);
      const pairs: MiniAssignment[] = [];
      for (const a of req.body.assets) {
        for (const serialNumber of req.body.serialNumbers ?? [])
          pairs.push({ adamId: a.adamId, pricingParam: a.pricingParam ?? "STDQ", serialNumber });
        for (const clientUserId of req.body.clientUserIds ?? [])
          pairs.push({ adamId: a.adamId, pricingParam: a.pricingParam ?? "STDQ", clientUserId });
      }
      for (const p of pairs) {
        if (!this.#applies(decision, p)) continue;
        if (path === "/assets/associate") this.assignments.set(MiniApple.key(p), p);
        else this.assignments.delete(MiniApple.key(p));
      }
      this.version++;
      return this.#event(path === "/assets/associate" ? "ASSOCIATE" : "DISASSOCIATE", pairs.length, decision);
    }
    if (req.method === "POST" && path === "/assets/revoke") {
      const decision = this.onWrite?.(path, req.body);
      const serials = new Set<string>(req.body.serialNumbers ?? []);
      const users = new Set<string>(req.body.clientUserIds ?? []);
      let n = 0;
      for (const [k, a] of this.assignments) {
        if (
          (a.serialNumber && serials.has(a.serialNumber)) ||
          (a.clientUserId && users.has(a.clientUserId))
        ) {
          if (!this.#applies(decision, a)) continue;
          this.assignments.delete(k);
          n++;
        }
      }
      this.version++;
      return this.#event("REVOKE", n, decision);
    }
    if (req.method === "POST" && path.startsWith("/users/")) {
      const kind = path.slice("/users/".length);
      const decision = this.onWrite?.(path, req.body);
      for (const u of req.body.users as { clientUserId: string; email?: string }[]) {
        if (!this.#applies(decision, u)) continue;
        if (kind === "create")
          this.users.set(u.clientUserId, {
            clientUserId: u.clientUserId,
            email: u.email,
            status: "Registered",
          });
        else if (kind === "update") {
          const existing = this.users.get(u.clientUserId);
          if (existing) existing.email = u.email;
        } else if (kind === "retire") {
          const existing = this.users.get(u.clientUserId);
          if (existing) existing.status = "Retired";
        }
      }
      this.version++;
      return this.#event(kind.toUpperCase(), req.body.users.length, decision);
    }
    return { status: 400, body: { errorNumber: 9602, errorMessage: "Invalid argument." } };
  };
}

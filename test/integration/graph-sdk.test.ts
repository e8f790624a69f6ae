// API-1 with the real Microsoft Graph JS SDK (@microsoft/microsoft-graph-client): the stock
// middleware pipeline over HTTPS (a TLS front with a throwaway self-signed certificate, forwarding to
// the test server as a reverse proxy would), and a custom middleware chain over plain HTTP.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BatchRequestContent,
  BatchResponseContent,
  Client,
  GraphError,
  HTTPMessageHandler,
  type Middleware,
  PageIterator,
  RetryHandler,
  RetryHandlerOptions,
} from "@microsoft/microsoft-graph-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

type Ctx = Parameters<Middleware["execute"]>[0];

/** A TLS front: terminates HTTPS with a fresh self-signed certificate and forwards to `target`. */
async function startTlsFront(target: string): Promise<{ port: number; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "allot-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    const key = readFileSync(join(dir, "key.pem"));
    const cert = readFileSync(join(dir, "cert.pem"));
    const upstream = new URL(target);
    const server = https.createServer({ key, cert }, (req, res) => {
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, "x-forwarded-proto": "https" },
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      out.on("error", () => {
        res.writeHead(502).end();
      });
      req.pipe(out);
    });
    await new Promise<void>((resolve) => server.listen(0, resolve));
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const prefixes = ["alice", "Andrew", "bob", "amber", "carol", "ALVARO", "dave", "erin"];
const USERS = 250;

interface GraphUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
}

describe(`Microsoft Graph JS SDK (${engine})`, () => {
  let t: TestAllot;
  let front: { port: number; close(): Promise<void> };
  let client: Client;
  let users: GraphUser[];
  const groups: Record<string, { id: string; displayName: string }> = {};
  const previousTls = process.env.NODE_TLS_REJECT_UNAUTHORIZED;

  beforeAll(async () => {
    // Only this test process trusts the throwaway certificate.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    t = await startTestAllot();
    front = await startTlsFront(t.url);
    client = Client.initWithMiddleware({
      authProvider: { getAccessToken: async () => t.adminToken },
      baseUrl: `https://localhost:${front.port}`,
      customHosts: new Set(["localhost"]),
    });
    users = [];
    for (let start = 0; start < USERS; start += 10) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(10, USERS - start) }, (_, k) => {
          const i = start + k;
          const name = `${prefixes[i % prefixes.length]} ${String(i).padStart(3, "0")}`;
          return client.api("/users").post({
            displayName: name,
            userPrincipalName: `user${i}@contoso.com`,
            accountEnabled: i % 7 !== 0,
          }) as Promise<GraphUser>;
        }),
      );
      users.push(...chunk);
    }
    for (const [name, kind] of [
      ["Alpha team", "user"],
      ["alpha devices", "device"],
      ["Beta team", "user"],
      ["Gamma", "mixed"],
      ["ALPHA admins", "user"],
    ] as const)
      groups[name] = await client
        .api("/groups")
        .post({ displayName: name, memberKind: kind, description: `${name} group` });
  }, 120_000);

  afterAll(async () => {
    await front?.close();
    await t?.close();
    if (previousTls === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previousTls;
  });

  it("created every user through the stock pipeline (bearer token attached because localhost is a custom host)", () => {
    expect(users).toHaveLength(USERS);
    expect(new Set(users.map((u) => u.id)).size).toBe(USERS);
    for (const u of users) expect(u.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("pages users with $filter, $top and $count through PageIterator over https @odata.nextLink, exactly once each", async () => {
    const expected = users.filter((u) => u.displayName.toLowerCase().startsWith("a")).map((u) => u.id);
    expect(expected.length).toBeGreaterThan(100);
    const first = await client.api("/users").filter("startswith(displayName,'a')").top(10).count(true).get();
    expect(first["@odata.count"]).toBe(expected.length);
    expect(first.value).toHaveLength(10);
    expect(first["@odata.context"]).toBe(`https://localhost:${front.port}/v1.0/$metadata#users`);
    expect(first["@odata.nextLink"]).toMatch(new RegExp(`^https://localhost:${front.port}/v1\\.0/users\\?`));

    const seen: string[] = [];
    const iterator = new PageIterator(client, first, (u: GraphUser) => {
      expect(u.displayName.toLowerCase().startsWith("a")).toBe(true);
      seen.push(u.id);
      return true;
    });
    await iterator.iterate();
    expect(iterator.isComplete()).toBe(true);
    expect(seen).toHaveLength(expected.length);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...expected].sort());
  });

  it("pages an ordered listing ($orderby desc) without duplicates or gaps", async () => {
    const first = await client
      .api("/users")
      .filter("accountEnabled eq false")
      .orderby("displayName desc")
      .top(7)
      .get();
    const seen: GraphUser[] = [];
    await new PageIterator(client, first, (u: GraphUser) => {
      seen.push(u);
      return true;
    }).iterate();
    const expected = users.filter((_, i) => i % 7 === 0);
    expect(new Set(seen.map((u) => u.id)).size).toBe(expected.length);
    expect(seen.map((u) => u.id).sort()).toEqual(expected.map((u) => u.id).sort());
    const names = seen.map((u) => u.displayName.toLowerCase());
    expect(names).toEqual([...names].sort().reverse());
  });

  it("lists groups with $filter, $select and $orderby", async () => {
    const res = await client
      .api("/groups")
      .filter("startswith(displayName,'alpha')")
      .select(["id", "displayName"])
      .orderby("displayName")
      .get();
    expect(res["@odata.context"]).toBe(
      `https://localhost:${front.port}/v1.0/$metadata#groups(id,displayName)`,
    );
    expect(res.value.map((g: { displayName: string }) => g.displayName)).toEqual([
      "ALPHA admins",
      "alpha devices",
      "Alpha team",
    ]);
    for (const g of res.value) expect(Object.keys(g).sort()).toEqual(["displayName", "id"]);
    const userGroups = await client
      .api("/groups")
      .filter("memberKind eq 'user'")
      .orderby("displayName desc")
      .get();
    expect(userGroups.value.map((g: { displayName: string }) => g.displayName)).toEqual([
      "Beta team",
      "Alpha team",
      "ALPHA admins",
    ]);
  });

  it("adds members with $ref and reads them back through a cast segment", async () => {
    const team = groups["Alpha team"];
    for (const u of users.slice(0, 5))
      await client
        .api(`/groups/${team.id}/members/$ref`)
        .post({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${u.id}` });
    const res = await client
      .api(`/groups/${team.id}/members/microsoft.graph.user`)
      .filter("startswith(displayName,'a')")
      .count(true)
      .get();
    const expected = users.slice(0, 5).filter((u) => u.displayName.toLowerCase().startsWith("a"));
    expect(res["@odata.count"]).toBe(expected.length);
    expect(res.value.map((u: GraphUser) => u.id).sort()).toEqual(expected.map((u) => u.id).sort());
  });

  it("raises GraphError with statusCode, code and requestId on 404", async () => {
    const missing = "00000000-0000-4000-8000-000000000000";
    const err = await client
      .api(`/users/${missing}`)
      .get()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(GraphError);
    const ge = err as GraphError;
    expect(ge.statusCode).toBe(404);
    expect(ge.code).toBe("Request_ResourceNotFound");
    expect(ge.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ge.message).toContain(missing);
  });

  it("sends a JSON batch with BatchRequestContent (sub-request URLs carry /v1.0) and parses the answers", async () => {
    const base = `https://localhost:${front.port}/v1.0`;
    // The SDK accepts parallel, serial or "same dependency" batches; every request here waits for "1".
    const batch = new BatchRequestContent([
      {
        id: "1",
        request: new Request(`${base}/groups`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ displayName: "Batch group", memberKind: "user" }),
        }),
      },
      {
        id: "2",
        request: new Request(`${base}/users?$filter=startswith(displayName,'bob')&$count=true&$top=1`, {
          method: "GET",
        }),
        dependsOn: ["1"],
      },
      {
        id: "3",
        request: new Request(`${base}/groups?$filter=displayName eq 'Batch group'`, { method: "GET" }),
        dependsOn: ["1"],
      },
      {
        id: "4",
        request: new Request(`${base}/users/not-a-user@contoso.com`, { method: "GET" }),
        dependsOn: ["1"],
      },
    ]);
    const content = await batch.getContent();
    expect(content.requests.map((r: { url: string }) => r.url)).toEqual([
      "/v1.0/groups",
      "/v1.0/users?$filter=startswith(displayName,%27bob%27)&$count=true&$top=1",
      "/v1.0/groups?$filter=displayName%20eq%20%27Batch%20group%27",
      "/v1.0/users/not-a-user@contoso.com",
    ]);
    const raw = await client.api("/$batch").post(content);
    const parsed = new BatchResponseContent(raw);
    const r1 = parsed.getResponseById("1");
    expect(r1.status).toBe(201);
    const created = (await r1.json()) as any;
    const r2 = parsed.getResponseById("2");
    expect(r2.status).toBe(200);
    const b2 = (await r2.json()) as any;
    expect(b2["@odata.count"]).toBe(users.filter((u) => u.displayName.startsWith("bob")).length);
    expect(b2["@odata.nextLink"]).toMatch(new RegExp(`^https://localhost:${front.port}/v1\\.0/users\\?`));
    const r3 = parsed.getResponseById("3");
    expect(r3.status).toBe(200);
    expect(((await r3.json()) as any).value.map((g: { id: string }) => g.id)).toEqual([created.id]);
    const r4 = parsed.getResponseById("4");
    expect(r4.status).toBe(404);
    expect(((await r4.json()) as any).error.code).toBe("Request_ResourceNotFound");
  });

  it("works over plain HTTP with a custom chain: own bearer middleware → RetryHandler → HTTPMessageHandler", async () => {
    const bearer: Middleware & { next?: Middleware } = {
      async execute(context: Ctx) {
        const headers = new Headers(
          (context.options?.headers as ConstructorParameters<typeof Headers>[0]) ?? {},
        );
        headers.set("Authorization", `Bearer ${t.adminToken}`);
        context.options = { ...(context.options ?? {}), headers: Object.fromEntries(headers) };
        return this.next!.execute(context);
      },
      setNext(next: Middleware) {
        this.next = next;
      },
    };
    const retry = new RetryHandler(new RetryHandlerOptions());
    const io = new HTTPMessageHandler();
    bearer.setNext!(retry);
    retry.setNext(io);
    const plain = Client.initWithMiddleware({ baseUrl: t.url, middleware: bearer });

    const first = await plain
      .api("/users")
      .filter("startswith(displayName,'amber')")
      .top(5)
      .count(true)
      .get();
    const expected = users.filter((u) => u.displayName.startsWith("amber"));
    expect(first["@odata.count"]).toBe(expected.length);
    expect(first["@odata.nextLink"]).toMatch(new RegExp(`^${t.url.replace(/[.]/g, "\\.")}/v1\\.0/users\\?`));
    // The SDK only treats https:// links as absolute, so over plain HTTP the test follows
    // @odata.nextLink itself (checking it stays on this origin) rather than through PageIterator.
    const seen: string[] = first.value.map((u: GraphUser) => u.id);
    let next: string | undefined = first["@odata.nextLink"];
    while (next) {
      expect(next.startsWith(`${t.url}/v1.0/`)).toBe(true);
      const page = await plain.api(next.slice(`${t.url}/v1.0`.length)).get();
      seen.push(...page.value.map((u: GraphUser) => u.id));
      next = page["@odata.nextLink"];
    }
    expect(seen).toHaveLength(expected.length);
    expect(seen.sort()).toEqual(expected.map((u) => u.id).sort());

    const groupsRes = await plain
      .api("/groups")
      .version("beta")
      .filter("memberKind eq 'device'")
      .select("displayName")
      .get();
    expect(groupsRes["@odata.context"]).toBe(`${t.url}/beta/$metadata#groups(displayName)`);
    expect(groupsRes.value).toEqual([{ displayName: "alpha devices" }]);

    const err = await plain
      .api("/groups/00000000-0000-4000-8000-000000000000")
      .get()
      .then(
        () => undefined,
        (e: unknown) => e as GraphError,
      );
    expect(err?.statusCode).toBe(404);
    expect(err?.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("without the custom chain, plain HTTP sends no token and is refused with a Graph 401", async () => {
    const stock = Client.initWithMiddleware({
      authProvider: { getAccessToken: async () => t.adminToken },
      baseUrl: t.url,
      customHosts: new Set(["127.0.0.1"]),
    });
    const err = await stock
      .api("/users")
      .get()
      .then(
        () => undefined,
        (e: unknown) => e as GraphError,
      );
    expect(err?.statusCode).toBe(401);
    expect(err?.code).toBe("InvalidAuthenticationToken");
  });
});

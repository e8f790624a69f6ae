// RUN_MODE: an `api` process sends jobs but never runs them; a `worker` process runs them and
// serves only /healthz, /readyz and /metrics. Two Allots share one database here, as two processes
// share PostgreSQL in production (on PGlite they share the one embedded instance in this process).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/env.ts";
import type { Database } from "../../src/db/database.ts";
import { type AppleEmulator, startAppleEmulator } from "../../src/emulators/apple/index.ts";
import { type Allot, createAllot } from "../../src/main.ts";
import { BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET, engine, freshDatabase } from "../helpers/allot.ts";
import { seedLocation, waitFor } from "./sync-helpers.ts";

describe(`RUN_MODE api and worker (${engine})`, () => {
  let emu: AppleEmulator;
  let database: Database;
  let api: Allot;
  let worker: Allot | undefined;
  let apiUrl: string;
  let workerUrl: string;
  let adminToken: string;
  const dataDir = mkdtempSync(join(tmpdir(), "allot-runmode-"));

  const start = async (runMode: "api" | "worker") => {
    const config = loadConfig(
      {},
      {
        ALLOT_DATA_DIR: dataDir,
        ALLOT_SECRET_KEY: "test-secret-key-test-secret-key-0123456789",
        LOG_LEVEL: "silent",
        ALLOT_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_CLIENT_ID,
        ALLOT_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_CLIENT_SECRET,
        ALLOT_APPLE_BASE_URL: emu.baseUrl,
      },
    );
    const allot = await createAllot(config, { database, runMode });
    await allot.server.listen({ port: 0, host: "127.0.0.1" });
    const address = allot.server.server.address();
    return { allot, url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}` };
  };
  const call = async (base: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    emu = await startAppleEmulator({ settleMs: 20 });
    database = await freshDatabase();
    ({ allot: api, url: apiUrl } = await start("api"));
    const res = await fetch(`${apiUrl}/default/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        client_id: BOOTSTRAP_CLIENT_ID,
        client_secret: BOOTSTRAP_CLIENT_SECRET,
        grant_type: "client_credentials",
        scope: "https://graph.microsoft.com/.default",
      }),
    });
    adminToken = ((await res.json()) as { access_token: string }).access_token;
  });
  afterAll(async () => {
    await api?.server.close();
    await worker?.server.close();
    await database?.close();
    await emu?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("the api process queues the first sync of an uploaded token without running it; a worker process runs it", async () => {
    expect(api.services.queue.consumes).toBe(false);
    const loc = await seedLocation({ emu });
    const uploaded = await call(apiUrl, "POST", "/beta/deviceAppManagement/vppTokens", {
      token: loc.sToken,
      vppTokenAccountType: "business",
    });
    expect(uploaded.status).toBe(201);
    const tokenPath = `/beta/deviceAppManagement/vppTokens/${uploaded.body.id}`;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await call(apiUrl, "GET", tokenPath)).body.lastSyncStatus).toBe("inProgress");
    expect((await call(apiUrl, "GET", "/beta/deviceAppManagement/mobileApps")).body.value).toEqual([]);

    ({ allot: worker, url: workerUrl } = await start("worker"));
    expect(worker.services.queue.consumes).toBe(true);
    const done = await waitFor("the worker ran the sync", async () => {
      const t = await call(apiUrl, "GET", tokenPath);
      return t.body.lastSyncStatus === "completed" ? t.body : undefined;
    });
    expect(done.lastSyncDateTime).toBeTruthy();
    expect(
      (await call(apiUrl, "GET", "/beta/deviceAppManagement/mobileApps")).body.value
        .map((a: any) => a.adamId)
        .sort(),
    ).toEqual([loc.ids.ios, loc.ids.mac]);
  });

  it("a worker serves only /healthz, /readyz and /metrics over HTTP", async () => {
    expect((await fetch(`${workerUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${workerUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${workerUrl}/metrics`)).status).toBe(200);
    for (const [method, path] of [
      ["GET", "/v1.0/users"],
      ["GET", "/beta/deviceAppManagement/mobileApps"],
      ["POST", "/v1.0/$batch"],
      ["POST", "/notifications/apple/00000000-0000-4000-8000-000000000000"],
      ["GET", "/openapi.json"],
      ["POST", "/default/oauth2/v2.0/token"],
    ] as const)
      expect((await call(workerUrl, method, path)).status, `${method} ${path}`).toBe(404);
  });
});

// `npm run demo` (`allot demo`): Allot on the embedded database in ./data-demo (or ALLOT_DATA_DIR)
// with an in-process Apple emulator, seeded through the emulator's control API and Allot's own API:
// one organization with two VPP tokens (uploaded through the real upload path, so the claim, the
// notification endpoint and the first sync happen for real), about 20 apps and 2 books, licenses
// another MDM already assigned, and a directory of users, devices and nested groups. It prints where
// to sign in and runs until Ctrl-C. A second run on the same directory finds its data there: the
// directory rows are only added when missing and the tokens are renewed (the emulator is new on
// every run), so nothing is duplicated.
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { type AppConfig, loadConfig } from "../config/env.ts";
import { type DataDirLock, lockDataDir, updateLockInfo } from "../db/data-dir-lock.ts";
import { type AppleEmulator, startAppleEmulator } from "../emulators/apple/index.ts";
import { randomSecret } from "../lib/crypto.ts";
import { type Allot, createAllot } from "../main.ts";
import {
  assignedSerials,
  DEMO_ADMIN_EMAIL,
  DEMO_CLIENT_ID,
  DEMO_LOCATIONS,
  DEMO_ORG,
  DEMO_SEED,
  type DemoDirectory,
  demoDirectory,
} from "./demo.data.ts";

const DAY = 86_400_000;
const SYNC_WAIT_MS = 120_000;

/** A free TCP port on `host` (for PORT=0: the public URL must be known before Allot listens). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Demo credentials derived from the data directory's secret key: the same on every run, never stored. */
function derived(secretKey: Buffer, purpose: string, length: number): string {
  return createHmac("sha256", secretKey).update(`allot-demo/${purpose}`).digest("base64url").slice(0, length);
}

function csv(rows: Record<string, string | boolean | undefined>[], columns: string[]): string {
  const cell = (v: string | boolean | undefined) => {
    const s = v === undefined ? "" : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n")}\n`;
}

type Api = (method: string, path: string, body?: unknown, contentType?: string) => Promise<any>;

function apiClient(url: string, clientId: string, clientSecret: string): Api {
  let token: { value: string; until: number } | undefined;
  const bearer = async () => {
    if (token && token.until > Date.now()) return token.value;
    const res = await fetch(`${url}/default/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        client_id: clientId,
        client_secret: clientSecret,
        grant_type: "client_credentials",
        scope: "https://graph.microsoft.com/.default",
      }),
    });
    const body = (await res.json()) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new Error(`the demo could not sign in as ${clientId} (${res.status})`);
    token = { value: body.access_token, until: Date.now() + ((body.expires_in ?? 3600) - 60) * 1000 };
    return token.value;
  };
  return async (method, path, body, contentType) => {
    const headers: Record<string, string> = { authorization: `Bearer ${await bearer()}` };
    if (body !== undefined) headers["content-type"] = contentType ?? "application/json";
    const res = await fetch(path.startsWith("http") ? path : `${url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (!res.ok)
      throw new Error(`${method} ${path} answered ${res.status}: ${parsed?.error?.message ?? text}`);
    return parsed;
  };
}

async function listAll(api: Api, path: string): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  for (let next: string | undefined = path; next; ) {
    const page = await api("GET", next);
    out.push(...page.value);
    next = page["@odata.nextLink"];
  }
  return out;
}

async function sleep(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

/** Imports the rows through POST /beta/imports and waits until the import is written. */
async function importRows(api: Api, kind: string, body: string): Promise<void> {
  const started = await api("POST", `/beta/imports?kind=${kind}&fileName=demo-${kind}.csv`, body, "text/csv");
  for (const until = Date.now() + 60_000; ; ) {
    const state = await api("GET", `/beta/imports/${started.id}`);
    if (state.status === "completed") return;
    if (state.status === "failed" || Date.now() > until)
      throw new Error(`the demo's ${kind} import did not complete (${state.status})`);
    await sleep(100);
  }
}

/** Adds whatever part of the demo directory is missing (users, devices, groups, memberships). */
async function seedDirectory(api: Api, dir: DemoDirectory) {
  const haveUsers = new Set(
    (await listAll(api, "/v1.0/users?$select=userPrincipalName&$top=999")).map((u) =>
      u.userPrincipalName.toLowerCase(),
    ),
  );
  const users = dir.users.filter((u) => !haveUsers.has(u.userPrincipalName.toLowerCase()));
  if (users.length > 0)
    await importRows(
      api,
      "users",
      csv(users as never, [
        "userPrincipalName",
        "displayName",
        "givenName",
        "surname",
        "mail",
        "jobTitle",
        "department",
        "usageLocation",
      ]),
    );

  const haveDevices = new Set(
    (await listAll(api, "/v1.0/deviceManagement/managedDevices?$select=serialNumber&$top=999")).map(
      (d) => d.serialNumber,
    ),
  );
  const devices = dir.devices.filter((d) => !haveDevices.has(d.serialNumber));
  if (devices.length > 0)
    await importRows(
      api,
      "devices",
      csv(devices as never, [
        "serialNumber",
        "deviceName",
        "operatingSystem",
        "osVersion",
        "isSupervised",
        "kioskMode",
        "userPrincipalName",
      ]),
    );

  let groups = await listAll(api, "/v1.0/groups?$select=id,mailNickname&$top=999");
  const haveGroups = new Set(groups.map((g) => g.mailNickname));
  const newGroups = dir.groups.filter((g) => !haveGroups.has(g.mailNickname));
  if (newGroups.length > 0) {
    await importRows(
      api,
      "groups",
      csv(newGroups as never, ["mailNickname", "displayName", "description", "memberKind"]),
    );
    groups = await listAll(api, "/v1.0/groups?$select=id,mailNickname&$top=999");
  }

  const have = new Set<string>();
  for (const g of groups.filter((x) => dir.groups.some((d) => d.mailNickname === x.mailNickname)))
    for (const m of await listAll(api, `/v1.0/groups/${g.id}/members?$top=999`)) {
      const type = String(m["@odata.type"] ?? "");
      const key = type.endsWith(".user")
        ? `user|${String(m.userPrincipalName).toLowerCase()}`
        : type.endsWith(".group")
          ? `group|${m.mailNickname}`
          : `device|${m.serialNumber}`;
      have.add(`${g.mailNickname}|${key}`);
    }
  const members = dir.members.filter(
    (m) =>
      !have.has(
        `${m.groupMailNickname}|${m.memberType}|${m.memberType === "user" ? m.member.toLowerCase() : m.member}`,
      ),
  );
  if (members.length > 0)
    await importRows(api, "members", csv(members as never, ["groupMailNickname", "memberType", "member"]));
  return { users: users.length, devices: devices.length, groups: newGroups.length, members: members.length };
}

/** The two locations at the (new) emulator, with the licenses another MDM assigned there. */
async function seedEmulator(emu: AppleEmulator, dir: DemoDirectory) {
  const out: { key: string; uId: string; sToken: string }[] = [];
  for (const l of DEMO_LOCATIONS) {
    const expDate = l.expiresInDays ? new Date(Date.now() + l.expiresInDays * DAY).toISOString() : undefined;
    const { uId, sToken } = await emu.control.createLocation({
      ...l.location,
      ...(expDate ? { expDate } : {}),
    });
    for (const a of l.assigned)
      await emu.control.seedAssignments(uId, {
        assets: [{ adamId: a.adamId, pricingParam: "STDQ" }],
        serialNumbers: assignedSerials(dir, a.serials),
      });
    out.push({ key: l.key, uId, sToken });
  }
  return out;
}

/**
 * Uploads each location's token through POST …/vppTokens (claim, notifications, first sync), or —
 * when this data directory already has it from an earlier run — renews it with the new emulator's
 * token (PATCH with `token`), which claims it again and syncs.
 */
async function seedTokens(api: Api, locations: { key: string; sToken: string }[]) {
  const existing = await listAll(api, "/beta/deviceAppManagement/vppTokens");
  const ids: string[] = [];
  let renewed = 0;
  for (const loc of locations) {
    const l = DEMO_LOCATIONS.find((x) => x.key === loc.key)!;
    const found = existing.find(
      (t) => t.locationName === l.location.locationName && t.organizationName === DEMO_ORG,
    );
    if (found) {
      await api("PATCH", `/beta/deviceAppManagement/vppTokens/${found.id}`, { token: loc.sToken });
      ids.push(found.id);
      renewed++;
    } else {
      const created = await api("POST", "/beta/deviceAppManagement/vppTokens", {
        token: loc.sToken,
        displayName: l.displayName,
        appleId: l.appleId,
        countryOrRegion: l.location.countryISO2ACode,
        vppTokenAccountType: "business",
        automaticallyUpdateApps: true,
      });
      ids.push(created.id);
    }
  }
  return { ids, renewed };
}

async function waitForSyncs(api: Api, ids: string[], since: number): Promise<Record<string, any>[]> {
  const until = Date.now() + SYNC_WAIT_MS;
  for (;;) {
    const tokens = await Promise.all(
      ids.map((id) => api("GET", `/beta/deviceAppManagement/vppTokens/${id}`)),
    );
    const done = tokens.filter(
      (t) =>
        (t.lastSyncStatus === "completed" || t.lastSyncStatus === "failed") &&
        Date.parse(t.lastSyncDateTime) >= since - 1000,
    );
    if (done.length === tokens.length || Date.now() > until) return tokens;
    await sleep(200);
  }
}

export async function runDemo(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const host = env.HOST || "127.0.0.1";
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const dataDirSetting = env.ALLOT_DATA_DIR || "./data-demo";
  const port = env.PORT === "0" ? await freePort(host) : Number(env.PORT || 8080);
  const publicUrl = env.ALLOT_PUBLIC_URL || `http://${urlHost}:${port}`;
  // Always the embedded database, one process: the demo never touches a configured PostgreSQL server.
  const source: NodeJS.ProcessEnv = { ...env };
  const ignoredDatabase = source.DATABASE_URL;
  delete source.DATABASE_URL;
  delete source.RUN_MODE;

  const emu = await startAppleEmulator({ seed: DEMO_SEED, host: "127.0.0.1" });
  let lock: DataDirLock | undefined;
  let allot: Allot | undefined;
  const shutdown = async () => {
    await allot?.close().catch(() => undefined);
    await emu.close().catch(() => undefined);
    await lock?.release().catch(() => undefined);
  };
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`Allot demo: stopping (${signal}) …\n`);
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    try {
      await shutdown();
    } finally {
      process.exit(0);
    }
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  try {
    const base: Record<string, string> = {
      ALLOT_DATA_DIR: dataDirSetting,
      PORT: String(port),
      HOST: host,
      ALLOT_PUBLIC_URL: publicUrl,
      ALLOT_APPLE_BASE_URL: emu.baseUrl,
      LOG_LEVEL: env.LOG_LEVEL || "warn",
    };
    // The secret key (generated into the data directory on the first run) derives the demo's credentials.
    const first = loadConfig(source, base);
    mkdirSync(first.dataDir, { recursive: true });
    lock = lockDataDir(first.dataDir);
    const adminEmail = env.ALLOT_BOOTSTRAP_ADMIN_EMAIL || DEMO_ADMIN_EMAIL;
    const adminPassword =
      env.ALLOT_BOOTSTRAP_ADMIN_PASSWORD || `Demo-${derived(first.secretKey, "admin-password", 16)}`;
    const clientId = env.ALLOT_BOOTSTRAP_CLIENT_ID || DEMO_CLIENT_ID;
    const clientSecret = env.ALLOT_BOOTSTRAP_CLIENT_SECRET || derived(first.secretKey, "client-secret", 40);
    const config: AppConfig = loadConfig(source, {
      ...base,
      ALLOT_BOOTSTRAP_ADMIN_EMAIL: adminEmail,
      ALLOT_BOOTSTRAP_ADMIN_PASSWORD: adminPassword,
      ALLOT_BOOTSTRAP_CLIENT_ID: clientId,
      ALLOT_BOOTSTRAP_CLIENT_SECRET: clientSecret,
    });

    allot = await createAllot(config);
    const cliToken = `allot-cli.${randomSecret(32)}`;
    allot.services.accessService.setCliToken(cliToken);
    try {
      await allot.server.listen({ port, host });
    } catch (err) {
      throw new Error(
        `Allot could not listen on ${host}:${port} (${err instanceof Error ? err.message : String(err)}); set PORT to a free port (PORT=0 picks one).`,
      );
    }
    const url = `http://${urlHost}:${port}`;
    updateLockInfo(config.dataDir, { url, cliToken });

    process.stdout.write(`Allot demo: seeding ${config.dataDir} …\n`);
    const since = Date.now();
    const api = apiClient(url, clientId, clientSecret);
    const dir = demoDirectory();
    const locations = await seedEmulator(emu, dir);
    // Tokens first: their first syncs run while the directory is imported.
    const tokens = await seedTokens(api, locations);
    const added = await seedDirectory(api, dir);
    const synced = await waitForSyncs(api, tokens.ids, since);
    // TOK-4: a newly uploaded token that expires in 10 days warns now rather than at tomorrow's check
    // (a renewal on a re-run is left to the daily check, so re-runs do not repeat the alert at once).
    if (tokens.renewed < tokens.ids.length) await allot.services.tokensService.checkExpiries();

    const [apps, books, users, devices, groups] = await Promise.all([
      api("GET", "/beta/deviceAppManagement/mobileApps?$count=true&$top=1"),
      api("GET", "/beta/deviceAppManagement/managedEBooks?$count=true&$top=1"),
      api("GET", "/v1.0/users?$count=true&$top=1"),
      api("GET", "/v1.0/deviceManagement/managedDevices?$count=true&$top=1"),
      api("GET", "/v1.0/groups?$count=true&$top=1"),
    ]);
    const tokenLines = synced.map((t) => {
      const days = Math.round((Date.parse(t.expirationDateTime) - Date.now()) / DAY);
      const status = t.lastSyncStatus === "completed" ? "synced" : `sync ${t.lastSyncStatus}`;
      return `    ${t.displayName} (${t.locationName}, ${String(t.countryOrRegion).toUpperCase()}): ${status}, expires in ${days} days`;
    });
    const reused =
      added.users + added.devices + added.groups + added.members === 0 &&
      tokens.renewed === tokens.ids.length;
    process.stdout.write(
      [
        "",
        `Allot demo is ready${reused ? " (data from an earlier run, tokens renewed)" : ""}.`,
        "",
        `  Console:          ${url}/`,
        `  Sign in:          ${adminEmail}`,
        `  Password:         ${adminPassword}`,
        `  Scripts:          client id ${clientId}`,
        `                    client secret ${clientSecret}`,
        `                    curl -s ${url}/default/oauth2/v2.0/token -d client_id=${clientId} \\`,
        `                      -d client_secret=${clientSecret} -d grant_type=client_credentials \\`,
        "                      -d scope=https://graph.microsoft.com/.default",
        `  API:              ${url}/v1.0, ${url}/beta (OpenAPI: ${url}/openapi.json)`,
        `  Apple emulator:   ${emu.url} (control API: ${emu.url}/_emulator)`,
        `  Data directory:   ${config.dataDir} (delete it to start over)`,
        "",
        `  ${DEMO_ORG}: ${synced.length} VPP tokens`,
        ...tokenLines,
        `  Catalog:          ${apps["@odata.count"]} apps, ${books["@odata.count"]} books`,
        `  Directory:        ${users["@odata.count"]} users, ${devices["@odata.count"]} devices, ${groups["@odata.count"]} groups`,
        ...(ignoredDatabase
          ? ["  (DATABASE_URL is ignored: the demo always uses the embedded database)"]
          : []),
        "",
        "Press Ctrl-C to stop.",
        "",
      ].join("\n"),
    );
  } catch (err) {
    if (stopping) return;
    await shutdown();
    throw err;
  }
}

// `npm run demo` (node src/cli/main.ts demo) in a child process on a free port and a temporary data
// directory: everything it promises is checked through the HTTP API, then SIGTERM stops it with exit
// code 0, and a second run on the same directory reuses the data without duplicating anything.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_ADMIN_EMAIL, DEMO_CATALOG, demoDirectory } from "../../src/demo/demo.data.ts";
import { cliEnv } from "../helpers/cli.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const DAY = 86_400_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

interface RunningDemo {
  child: ChildProcess;
  output: () => string;
  url: string;
  clientId: string;
  clientSecret: string;
  password: string;
  api(path: string): Promise<any>;
  stop(): Promise<number | null>;
}

async function startDemo(dataDir: string): Promise<RunningDemo> {
  const port = await freePort();
  const child = spawn(`${root}node_modules/.bin/node`, ["src/cli/main.ts", "demo"], {
    cwd: root,
    // A PostgreSQL DATABASE_URL of the test run must not matter: the demo is embedded-only.
    env: cliEnv({ PORT: String(port), ALLOT_DATA_DIR: dataDir, DATABASE_URL: process.env.DATABASE_URL }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo was not ready within 120 s:\n${out}`)), 120_000);
    const check = () => {
      if (out.includes("Press Ctrl-C to stop.")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code}) before it was ready:\n${out}`));
    });
  });
  const field = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) throw new Error(`${re} not in the demo's output:\n${out}`);
    return m[1];
  };
  const url = field(/Console:\s+(http:\/\/127\.0\.0\.1:\d+)\//);
  const clientId = field(/client id (\S+)/);
  const clientSecret = field(/client secret (\S+)/);
  const password = field(/Password:\s+(\S+)/);
  let bearer: string | undefined;
  const api = async (path: string) => {
    if (!bearer) {
      const res = await fetch(`${url}/default/oauth2/v2.0/token`, {
        method: "POST",
        body: new URLSearchParams({
          client_id: clientId,
          client_secret: clientSecret,
          grant_type: "client_credentials",
          scope: "https://graph.microsoft.com/.default",
        }),
      });
      bearer = ((await res.json()) as { access_token: string }).access_token;
    }
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(res.status, `${path}: ${res.status}`).toBe(200);
    return res.json();
  };
  return {
    child,
    output: () => out,
    url,
    clientId,
    clientSecret,
    password,
    api,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

const dir = demoDirectory();

async function counts(demo: RunningDemo) {
  const n = async (path: string) =>
    (await demo.api(`${path}${path.includes("?") ? "&" : "?"}$count=true&$top=1`))["@odata.count"];
  return {
    tokens: (await demo.api("/beta/deviceAppManagement/vppTokens")).value.length,
    apps: await n("/beta/deviceAppManagement/mobileApps"),
    books: await n("/beta/deviceAppManagement/managedEBooks"),
    users: await n("/v1.0/users"),
    devices: await n("/v1.0/deviceManagement/managedDevices"),
    groups: await n("/v1.0/groups"),
    assignments: (await demo.api("/beta/deviceAppManagement/mobileApps?$top=100")).value.reduce(
      (s: number, a: { usedLicenseCount: number }) => s + a.usedLicenseCount,
      0,
    ),
  };
}

describe("npm run demo", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "allot-demo-"));
  let demo: RunningDemo;
  let firstCounts: Awaited<ReturnType<typeof counts>>;

  beforeAll(async () => {
    demo = await startDemo(dataDir);
  }, 130_000);
  afterAll(async () => {
    if (demo && demo.child.exitCode === null) await demo.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("prints the console URL, a demo administrator who can sign in, and working script credentials", async () => {
    expect(demo.output()).toContain(`Sign in:          ${DEMO_ADMIN_EMAIL}`);
    const login = await fetch(`${demo.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userPrincipalName: DEMO_ADMIN_EMAIL, password: demo.password }),
    });
    expect(login.status).toBe(200);
    expect((await fetch(`${demo.url}/`)).status).toBe(200);
    // The client secret is printed once by the demo, never returned by the API.
    const apps = await demo.api("/beta/admin/appRegistrations");
    expect(JSON.stringify(apps)).not.toContain(demo.clientSecret);
  });

  it("has two synced tokens of one organization, one of them expiring within 10 days (with its warning)", async () => {
    const tokens = (await demo.api("/beta/deviceAppManagement/vppTokens")).value;
    expect(tokens).toHaveLength(2);
    expect(new Set(tokens.map((t: any) => t.organizationName))).toEqual(new Set(["Contoso Ltd"]));
    for (const t of tokens)
      expect(t).toMatchObject({ state: "valid", lastSyncStatus: "completed", token: null });
    const days = tokens
      .map((t: any) => (Date.parse(t.expirationDateTime) - Date.now()) / DAY)
      .sort((a: number, b: number) => a - b);
    expect(days[0]).toBeGreaterThan(9);
    expect(days[0]).toBeLessThanOrEqual(10);
    expect(days[1]).toBeGreaterThan(300);
    const alerts = (await demo.api("/beta/admin/notifications")).value;
    expect(alerts.some((a: any) => a.kind === "vppTokenExpiring" && /10 days/.test(a.title))).toBe(true);
  });

  it("has about 20 apps and 2 books with names and counts after the first sync", async () => {
    const apps = (await demo.api("/beta/deviceAppManagement/mobileApps?$top=100")).value;
    expect(apps).toHaveLength(DEMO_CATALOG.apps.length);
    expect(apps.length).toBeGreaterThanOrEqual(18);
    for (const a of apps) {
      expect(a.displayName, JSON.stringify(a)).toBeTruthy();
      expect(a.bundleId).toBeTruthy();
      expect(a.metadataStatus).toBe("ok");
      expect(a.totalLicenseCount).toBeGreaterThanOrEqual(5);
      expect(a.totalLicenseCount).toBeLessThanOrEqual(500);
    }
    const names = new Set(apps.map((a: any) => a.displayName));
    for (const n of [
      "Microsoft Outlook",
      "Slack",
      "Zoom Workplace",
      "Keynote",
      "Pages",
      "Numbers",
      "GoodNotes 5",
      "Jamf Self Service",
    ])
      expect(names).toContain(n);
    expect(
      apps
        .filter((a: any) => a["@odata.type"] === "#microsoft.graph.macOsVppApp")
        .map((a: any) => a.displayName),
    ).toEqual(["Final Cut Pro"]);
    expect(apps.some((a: any) => a.licensingType?.supportsDeviceLicensing === false)).toBe(true);
    // Licenses another MDM assigned before: used and untracked.
    const jamf = apps.find((a: any) => a.displayName === "Jamf Self Service");
    expect(jamf.usedLicenseCount).toBe(dir.devices.length);
    expect(jamf.untrackedLicenseCount).toBe(dir.devices.length);
    // v1.0 has no macOS type.
    expect((await demo.api("/v1.0/deviceAppManagement/mobileApps?$top=100")).value).toHaveLength(
      DEMO_CATALOG.apps.length - 1,
    );

    const books = (await demo.api("/beta/deviceAppManagement/managedEBooks")).value;
    expect(books).toHaveLength(2);
    for (const b of books) {
      expect(b["@odata.type"]).toBe("#microsoft.graph.iosVppEBook");
      expect(b.displayName).toBeTruthy();
      expect(b.totalLicenseCount).toBeGreaterThan(0);
    }
  });

  it("has a directory of users, devices with primary users, and nested user and device groups", async () => {
    firstCounts = await counts(demo);
    expect(firstCounts).toMatchObject({
      users: dir.users.length,
      devices: dir.devices.length,
      groups: dir.groups.length,
    });
    expect(firstCounts.users).toBeGreaterThanOrEqual(200);
    const groups = (await demo.api("/v1.0/groups?$top=100")).value;
    const id = (nick: string) => groups.find((g: any) => g.mailNickname === nick).id;
    const allStaff = await demo.api(`/v1.0/groups/${id("all-staff")}/transitiveMembers?$count=true&$top=1`);
    const teamGroups = dir.members.filter(
      (m) => m.memberType === "group" && m.groupMailNickname !== "pilot-keynote",
    ).length;
    expect(allStaff["@odata.count"]).toBe(dir.users.length + teamGroups);
    const nested = (await demo.api(`/v1.0/groups/${id("all-staff")}/members?$top=100`)).value.map(
      (m: any) => m.displayName,
    );
    expect(nested).toEqual(expect.arrayContaining(["Engineering", "Sales"]));
    const ipads = await demo.api(`/v1.0/groups/${id("shared-ipads")}/members?$count=true&$top=1`);
    expect(ipads["@odata.count"]).toBe(30);
    const macs = (
      await demo.api("/v1.0/deviceManagement/managedDevices?$filter=operatingSystem eq 'macOS'&$top=5")
    ).value;
    expect(macs.length).toBe(5);
    for (const m of macs) {
      expect(m.serialNumber).toMatch(/^DMP\d{8}$/);
      expect(m.userPrincipalName).toMatch(/@contoso\.example$/);
    }
  });

  it("stops on SIGTERM with exit code 0; a second run reuses the data directory without duplicates", async () => {
    expect(await demo.stop()).toBe(0);
    demo = await startDemo(dataDir);
    expect(demo.output()).toContain("data from an earlier run");
    expect(await counts(demo)).toEqual(firstCounts);
    const tokens = (await demo.api("/beta/deviceAppManagement/vppTokens")).value;
    for (const t of tokens) expect(t).toMatchObject({ state: "valid", lastSyncStatus: "completed" });
    expect(await demo.stop()).toBe(0);
  }, 60_000);
});

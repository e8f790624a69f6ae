// `allot serve` as a real process, and the CLI while it runs (issue items 3, 4, 11): the data
// directory lock, first start (key file, setup link), commands through the server's API, SIGTERM,
// and bootstrap from the environment on restart. Runs on the suite's engine (DATABASE_URL or PGlite).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  consoleSession,
  emptyPostgresDatabase,
  killServes,
  runAllot,
  type Served,
  startServe,
} from "../helpers/cli.ts";

const engine = process.env.DATABASE_URL ? "postgres" : "pglite";
const PASSWORD = "correct-horse-battery-staple";
const USERS_CSV =
  "userPrincipalName,displayName,accountEnabled,mail,appleIdEmail,usageLocation,givenName,surname,jobTitle,department\n" +
  'ann@contoso.example,"Smith, ""Ann""",true,ann@contoso.example,ann.apple@contoso.example,US,Ann,Smith,Engineer,R&D\n' +
  "bob@contoso.example,Bob,false,,,,,,,\n";

let work: string;
let dataDir: string;
let env: Record<string, string>;
let dropDatabase: (() => Promise<void>) | undefined;
let server: Served | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "allot-cli-server-"));
  dataDir = join(work, "data");
  env = { ALLOT_DATA_DIR: dataDir };
  if (engine === "postgres") {
    const db = await emptyPostgresDatabase(process.env.DATABASE_URL!);
    env.DATABASE_URL = db.url;
    dropDatabase = db.drop;
  }
});

afterAll(async () => {
  killServes();
  await dropDatabase?.();
  rmSync(work, { recursive: true, force: true });
});

const run = (args: string[], extra: Record<string, string> = {}) => runAllot(args, { ...env, ...extra });

describe(`allot serve and the CLI through a running server (${engine})`, { timeout: 60_000 }, () => {
  let setupToken: string;

  it("starts on a fresh data directory: key file with mode 0600, a one-time setup link on the listening address", async () => {
    server = await startServe(env);
    const key = join(dataDir, "secret.key");
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const link = /(http:\/\/\S+)\/setup\?token=(\S+)/.exec(server.output());
    expect(link, server.output()).not.toBeNull();
    expect(link![1]).toBe(server.url);
    setupToken = decodeURIComponent(link![2]);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it("the setup link creates the first Global administrator once; a second use is refused", async () => {
    const setup = (email: string) =>
      fetch(`${server!.url}/auth/setup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: setupToken, userPrincipalName: email, password: PASSWORD }),
      });
    const first = await setup("first@contoso.example");
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({
      userPrincipalName: "first@contoso.example",
      roles: ["globalAdministrator"],
    });
    const again = await setup("second@contoso.example");
    expect(again.status).toBe(403);
    expect(((await again.json()) as any).error.message).toMatch(/not valid: it was used already/);
    expect(await (await fetch(`${server!.url}/auth/setup`)).json()).toEqual({ setupRequired: false });
  });

  it(
    engine === "pglite"
      ? "a second serve on the same data directory refuses to start, and so do migrate and restore"
      : "PostgreSQL has no data-directory lock: a second serve shares the database",
    async () => {
      if (engine === "pglite") {
        const second = await runAllot(["serve"], { ...env, PORT: "0" }, 20_000);
        expect(second.code).toBe(1);
        expect(second.stderr).toContain(
          `The data directory ${dataDir} is in use by another Allot process (pid ${server!.child.pid})`,
        );
        expect(second.stderr).toMatch(/lose data/);
        const migrate = await run(["migrate"]);
        expect(migrate.code).toBe(1);
        expect(migrate.stderr).toMatch(/holds the data directory .*ran the migrations when it started/);
        const restore = await run(["restore", join(work, "nothing.tar.gz")]);
        expect(restore.code).toBe(1);
        expect(restore.stderr).toMatch(
          /holds the data directory .*Stop it first: a database is restored only into a stopped data directory/,
        );
        // The running server was not disturbed.
        expect((await fetch(`${server!.url}/readyz`)).status).toBe(200);
      } else {
        const second = await startServe(env);
        expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
        expect(await second.stop()).toBe(0);
        const migrate = await run(["migrate"]);
        expect(migrate.code, migrate.stderr).toBe(0);
        expect(migrate.stdout).toMatch(/up to date/);
      }
    },
  );

  it(`admin create, tenant create, scim-token create and export while a server runs (${engine === "pglite" ? "through its API" : "on the shared database"})`, async () => {
    const admin = await run(
      [
        "admin",
        "create",
        "--email",
        "ops@contoso.example",
        "--roles",
        "userAdministrator,reader",
        "--display-name",
        "Ops",
        "--json",
      ],
      { ALLOT_ADMIN_PASSWORD: PASSWORD },
    );
    expect(admin.code, admin.stderr).toBe(0);
    expect(JSON.parse(admin.stdout)).toMatchObject({
      userPrincipalName: "ops@contoso.example",
      displayName: "Ops",
      roles: ["userAdministrator", "reader"],
    });
    expect(admin.stdout).not.toContain(PASSWORD);
    // The administrator exists in the server's database: it can sign in there.
    const ops = await consoleSession(server!.url, "ops@contoso.example", PASSWORD);

    const tenant = await run([
      "tenant",
      "create",
      "--name",
      "Fabrikam",
      "--admin-email",
      "root@fabrikam.example",
      "--admin-password",
      PASSWORD,
      "--json",
    ]);
    expect(tenant.code, tenant.stderr).toBe(0);
    const created = JSON.parse(tenant.stdout);
    expect(created).toMatchObject({
      displayName: "Fabrikam",
      isDefault: false,
      administrator: { userPrincipalName: "root@fabrikam.example" },
    });
    const fabrikam = await consoleSession(server!.url, "root@fabrikam.example", PASSWORD, created.id);
    expect(fabrikam.tenantId).toBe(created.id);

    // --tenant: the local CLI acts in another tenant.
    const tenantAdmin = await run(
      ["admin", "create", "--email", "second@fabrikam.example", "--tenant", created.id],
      { ALLOT_ADMIN_PASSWORD: PASSWORD },
    );
    expect(tenantAdmin.code, tenantAdmin.stderr).toBe(0);
    const inFabrikam = await fabrikam.request("GET", "/beta/admin/administrators");
    expect(
      inFabrikam.body.value.map((a: { userPrincipalName: string }) => a.userPrincipalName).sort(),
    ).toEqual(["root@fabrikam.example", "second@fabrikam.example"]);

    const scim = await run(["scim-token", "create", "--name", "Entra ID"]);
    expect(scim.code, scim.stderr).toBe(0);
    const secret = /^\s+(\S+)$/m.exec(scim.stdout)![1];
    // PGlite: through the server, whose address it names. PostgreSQL: an in-process server on the shared
    // database, which names the configured address (HOST:PORT) since its own port closes with it.
    expect(scim.stdout).toContain(
      `Tenant URL: ${engine === "pglite" ? server!.url : "http://127.0.0.1:8080"}/scim/v2`,
    );
    const scimUsers = await fetch(`${server!.url}/scim/v2/Users`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(scimUsers.status).toBe(200);

    for (const user of [
      {
        displayName: 'Smith, "Ann"',
        userPrincipalName: "ann@contoso.example",
        accountEnabled: true,
        mail: "ann@contoso.example",
        appleIdEmail: "ann.apple@contoso.example",
        usageLocation: "US",
        givenName: "Ann",
        surname: "Smith",
        jobTitle: "Engineer",
        department: "R&D",
      },
      { displayName: "Bob", userPrincipalName: "bob@contoso.example", accountEnabled: false },
    ])
      expect((await ops.request("POST", "/v1.0/users", user)).status).toBe(201);
    const group = await ops.request("POST", "/v1.0/groups", {
      displayName: "Engineering",
      mailNickname: "eng",
      memberKind: "user",
    });
    const ann = await ops.request("GET", "/v1.0/users/ann@contoso.example");
    expect(
      (
        await ops.request("POST", `/v1.0/groups/${group.body.id}/members/$ref`, {
          "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${ann.body.id}`,
        })
      ).status,
    ).toBe(204);

    const users = await run(["export", "users", "--out", join(work, "users.csv")]);
    expect(users.code, users.stderr).toBe(0);
    expect(users.stdout).toContain("Exported 2 users");
    expect(readFileSync(join(work, "users.csv"), "utf8")).toBe(USERS_CSV);
    const members = await run(["export", "members"]);
    expect(members.code, members.stderr).toBe(0);
    expect(members.stdout).toBe("groupMailNickname,memberType,member\neng,user,ann@contoso.example\n");

    // --url/--token: the same export with an app registration's token.
    const app = await ops.request("POST", "/beta/admin/appRegistrations", {
      displayName: "export",
      roles: ["reader"],
    });
    expect(app.status).toBe(403); // ops is not a Global administrator
    const root = await consoleSession(server!.url, "first@contoso.example", PASSWORD);
    const reg = await root.request("POST", "/beta/admin/appRegistrations", {
      displayName: "export",
      roles: ["reader"],
    });
    const tokenRes = await fetch(`${server!.url}/default/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        client_id: reg.body.appId,
        client_secret: reg.body.clientSecret,
        grant_type: "client_credentials",
        scope: "https://graph.microsoft.com/.default",
      }),
    });
    const token = ((await tokenRes.json()) as any).access_token;
    const remote = await runAllot(["export", "users", "--url", server!.url, "--token", token], {
      ALLOT_DATA_DIR: join(work, "elsewhere"),
    });
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stdout).toBe(USERS_CSV);
    // Only the local CLI token may switch tenants.
    const switched = await fetch(`${server!.url}/v1.0/users`, {
      headers: { authorization: `Bearer ${token}`, "x-allot-tenant": created.id },
    });
    expect(switched.status).toBe(400);
    expect(((await switched.json()) as any).error.message).toMatch(/honoured only for the local allot CLI/);
    const denied = await runAllot(
      ["tenant", "create", "--name", "X", "--url", server!.url, "--token", token],
      { ALLOT_DATA_DIR: join(work, "elsewhere") },
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/failed \(403\): Insufficient privileges/);
  });

  it(
    engine === "pglite"
      ? "backup takes a consistent copy through the running server that restores with the data intact"
      : "backup runs pg_dump; the server's backup API explains that PostgreSQL uses pg_dump",
    async () => {
      const file = join(work, "online-backup");
      const r = await run(["backup", "--out", file, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(result).toMatchObject({ file, database: engine });
      expect(result.bytes).toBe(statSync(file).size);
      const head = readFileSync(file).subarray(0, 5);
      // The copy holds every tenant: another tenant's Global administrator may not take it.
      const tenants = (await consoleSession(server!.url, "first@contoso.example", PASSWORD)).request(
        "GET",
        "/beta/admin/tenants",
      );
      const fabrikamId = (await tenants).body.value.find(
        (t: { displayName: string }) => t.displayName === "Fabrikam",
      ).id;
      const other = await consoleSession(server!.url, "root@fabrikam.example", PASSWORD, fabrikamId);
      const refused = await other.request("POST", "/beta/admin/backup");
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toMatch(
        /Only administrators of the default tenant can back up the instance/,
      );
      if (engine === "pglite") {
        expect(result.via).toBe(server!.url);
        expect([head[0], head[1]]).toEqual([0x1f, 0x8b]);
        const restoredEnv = { ALLOT_DATA_DIR: join(work, "restored") };
        const restored = await runAllot(["restore", file], restoredEnv);
        expect(restored.code, restored.stderr).toBe(0);
        expect(restored.stdout).toMatch(/\(2 tenant\(s\), 2 user\(s\)\)/);
        const exported = await runAllot(["export", "users"], restoredEnv);
        expect(exported.code, exported.stderr).toBe(0);
        expect(exported.stdout).toBe(USERS_CSV);
      } else {
        expect(result.via).toBe("pg_dump");
        expect(head.toString("latin1")).toBe("PGDMP");
        const root = await consoleSession(server!.url, "first@contoso.example", PASSWORD);
        const viaApi = await root.request("POST", "/beta/admin/backup");
        expect(viaApi.status).toBe(400);
        expect(viaApi.body.error.message).toMatch(/PostgreSQL: back it up with pg_dump/);
      }
    },
  );

  it("SIGTERM stops serve with exit code 0 and releases the data directory", async () => {
    expect(await server!.stop()).toBe(0);
    expect(existsSync(join(dataDir, "allot.lock"))).toBe(false);
    expect(existsSync(join(dataDir, "allot.lock.json"))).toBe(false);
  });

  it("restarts with bootstrap variables: same key file; one administrator and one app registration across two starts", async () => {
    const key = readFileSync(join(dataDir, "secret.key"), "utf8");
    const bootstrapEnv = {
      ...env,
      ALLOT_BOOTSTRAP_ADMIN_EMAIL: "boot@contoso.example",
      ALLOT_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
      ALLOT_BOOTSTRAP_CLIENT_ID: "automation",
      ALLOT_BOOTSTRAP_CLIENT_SECRET: "automation-secret-0123456789",
    };
    const tokenFrom = async (url: string) => {
      const res = await fetch(`${url}/default/oauth2/v2.0/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          client_id: "automation",
          client_secret: "automation-secret-0123456789",
          grant_type: "client_credentials",
          scope: "api://allot/.default",
        }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as any).access_token as string;
    };
    const counts = async (url: string, token: string) => {
      const h = { authorization: `Bearer ${token}` };
      const admins = ((await (await fetch(`${url}/beta/admin/administrators`, { headers: h })).json()) as any)
        .value as { userPrincipalName: string }[];
      const apps = ((await (await fetch(`${url}/beta/admin/appRegistrations`, { headers: h })).json()) as any)
        .value as { appId: string }[];
      return {
        boot: admins.filter((a) => a.userPrincipalName === "boot@contoso.example").length,
        apps: apps.filter((a) => a.appId === "automation").length,
        admins: admins.length,
      };
    };

    server = await startServe(bootstrapEnv);
    expect(server.output()).not.toContain("/setup?token=");
    const token = await tokenFrom(server.url);
    expect(await counts(server.url, token)).toEqual({ boot: 1, apps: 1, admins: 3 });
    expect(await server.stop()).toBe(0);

    server = await startServe(bootstrapEnv);
    expect(readFileSync(join(dataDir, "secret.key"), "utf8")).toBe(key);
    // A token signed before the restart still verifies: the key was reused, not regenerated.
    expect(await counts(server.url, token)).toEqual({ boot: 1, apps: 1, admins: 3 });
    expect(await server.stop()).toBe(0);
  });
});

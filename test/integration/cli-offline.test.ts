// The CLI with no server running (issue items 3 and 11): each command starts an in-process Allot on
// the suite's engine (taking the PGlite data-directory lock and releasing it), export writes the
// import CSV formats exactly, and a backup restores with the data intact.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/env.ts";
import type { Ctx } from "../../src/http/context.ts";
import { createAllot } from "../../src/main.ts";
import { emptyPostgresDatabase, runAllot } from "../helpers/cli.ts";

const engine = process.env.DATABASE_URL ? "postgres" : "pglite";
const PASSWORD = "correct-horse-battery-staple";

const USERS_CSV =
  "userPrincipalName,displayName,accountEnabled,mail,appleIdEmail,usageLocation,givenName,surname,jobTitle,department\n" +
  'ann@contoso.example,"Smith, ""Ann""",true,ann@contoso.example,ann.apple@contoso.example,US,Ann,Smith,Engineer,"R&D, Lab 2"\n' +
  "bob@contoso.example,Bob,false,,,,,,,\n";
const DEVICES_CSV =
  "serialNumber,deviceName,operatingSystem,osVersion,managedDeviceOwnerType,isSupervised,userPrincipalName,joinType,kioskMode,iTunesStoreBlocked,storeAppBlocked\n" +
  "C02XK1,Ann's iPad,iPadOS,17.4,company,true,ann@contoso.example,,true,false,true\n" +
  "W-7781,Kiosk,Windows,,personal,false,,azureADJoined,false,false,false\n";
const GROUPS_CSV =
  'mailNickname,displayName,description,memberKind\neng,Engineering,"Builds things, mostly",user\nall,Everything,,mixed\n';
const MEMBERS_CSV =
  "groupMailNickname,memberType,member\neng,user,ann@contoso.example\neng,user,bob@contoso.example\nall,group,eng\nall,device,C02XK1\n";

let work: string;
let env: Record<string, string>;
const dropDatabases: (() => Promise<void>)[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "allot-cli-offline-"));
  env = { ALLOT_DATA_DIR: join(work, "data") };
  if (engine === "postgres") {
    const db = await emptyPostgresDatabase(process.env.DATABASE_URL!);
    env.DATABASE_URL = db.url;
    dropDatabases.push(db.drop);
  }
  // Seed the directory through the services, then close: the CLI below finds no server running.
  const allot = await createAllot(loadConfig(env, { LOG_LEVEL: "silent" }));
  try {
    const ctx: Ctx = {
      tenantId: allot.bootstrapResult.tenantId,
      requestId: "seed",
      actor: { type: "system", applicationDisplayName: "test seed" },
    };
    const dir = allot.services.directoryService;
    const ann = await dir.createUser(ctx, {
      displayName: 'Smith, "Ann"',
      userPrincipalName: "ann@contoso.example",
      accountEnabled: true,
      mail: "ann@contoso.example",
      appleIdEmail: "ann.apple@contoso.example",
      usageLocation: "US",
      givenName: "Ann",
      surname: "Smith",
      jobTitle: "Engineer",
      department: "R&D, Lab 2",
    });
    const bob = await dir.createUser(ctx, {
      displayName: "Bob",
      userPrincipalName: "bob@contoso.example",
      accountEnabled: false,
    });
    const ipad = await dir.createDevice(ctx, {
      deviceName: "Ann's iPad",
      serialNumber: "C02XK1",
      operatingSystem: "iPadOS",
      osVersion: "17.4",
      managedDeviceOwnerType: "company",
      isSupervised: true,
      userId: ann.id,
      kioskMode: true,
      storeAppBlocked: true,
    });
    await dir.createDevice(ctx, {
      deviceName: "Kiosk",
      serialNumber: "W-7781",
      operatingSystem: "Windows",
      managedDeviceOwnerType: "personal",
      joinType: "azureADJoined",
    });
    const eng = await dir.createGroup(ctx, {
      displayName: "Engineering",
      mailNickname: "eng",
      description: "Builds things, mostly",
      memberKind: "user",
    });
    const all = await dir.createGroup(ctx, { displayName: "Everything", mailNickname: "all" });
    for (const [group, member] of [
      [eng.id, ann.id],
      [eng.id, bob.id],
      [all.id, eng.id],
      [all.id, ipad.id],
    ])
      await dir.addMember(ctx, group, `https://graph.microsoft.com/v1.0/directoryObjects/${member}`);
  } finally {
    await allot.close();
  }
});

afterAll(async () => {
  for (const drop of dropDatabases) await drop();
  rmSync(work, { recursive: true, force: true });
});

const run = (args: string[], extra: Record<string, string> = {}) => runAllot(args, { ...env, ...extra });
const lockHeld = () => existsSync(join(env.ALLOT_DATA_DIR, "allot.lock"));

describe(`the CLI offline (${engine})`, { timeout: 60_000 }, () => {
  it("admin create and tenant create work without a server, and release the data directory", async () => {
    const admin = await run(
      ["admin", "create", "--email", "carol@contoso.example", "--roles", "licenseAdministrator", "--json"],
      { ALLOT_ADMIN_PASSWORD: PASSWORD },
    );
    expect(admin.code, admin.stderr).toBe(0);
    expect(JSON.parse(admin.stdout)).toMatchObject({
      userPrincipalName: "carol@contoso.example",
      roles: ["licenseAdministrator"],
      accountEnabled: true,
    });
    expect(lockHeld()).toBe(false);

    const tenant = await run(
      ["tenant", "create", "--name", "Fabrikam", "--admin-email", "root@fabrikam.example"],
      { ALLOT_ADMIN_PASSWORD: PASSWORD },
    );
    expect(tenant.code, tenant.stderr).toBe(0);
    expect(tenant.stdout).toMatch(
      /^Created tenant 'Fabrikam' with id [0-9a-f-]{36}\.\nIts Global administrator root@fabrikam.example can sign in/,
    );

    const missing = await run(["admin", "create", "--email", "dave@contoso.example"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--password is required \(or set ALLOT_ADMIN_PASSWORD/);
    const badRole = await run(
      ["admin", "create", "--email", "dave@contoso.example", "--roles", "superuser"],
      { ALLOT_ADMIN_PASSWORD: PASSWORD },
    );
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toMatch(/--roles: 'superuser' is not a role/);
  });

  it("export writes users, devices, groups and members in the import CSV formats, and the audit log", async () => {
    const expected = { users: USERS_CSV, devices: DEVICES_CSV, groups: GROUPS_CSV, members: MEMBERS_CSV };
    for (const [kind, csv] of Object.entries(expected)) {
      const file = join(work, `${kind}.csv`);
      const r = await run(["export", kind, "--out", file]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(file, "utf8"), kind).toBe(csv);
    }
    const audit = await run(["export", "audit"]);
    expect(audit.code, audit.stderr).toBe(0);
    const lines = audit.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^activityDateTime,activity,componentName,/);
    expect(audit.stdout).toMatch(
      /Create administrator,Access,Create,Success,cli,allot CLI \(local\),administrator,[0-9a-f-]{36},carol@contoso.example/,
    );
    expect(audit.stdout).toMatch(/Create tenant,Tenants,Create,Success,cli/);
    expect(audit.stdout).not.toContain(PASSWORD);
    expect(lockHeld()).toBe(false);
  });

  it(
    engine === "pglite"
      ? "backup writes a consistent copy that restores into a fresh data directory with the data intact"
      : "backup runs pg_dump; the dump restores with the data intact; restore refuses on PostgreSQL",
    async () => {
      const file = join(work, engine === "pglite" ? "backup.tar.gz" : "backup.dump");
      const r = await run(["backup", "--out", file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Backup written to ${file} \\(\\d+ bytes\\)`));
      let restoredEnv: Record<string, string>;
      if (engine === "pglite") {
        expect(lockHeld()).toBe(false);
        restoredEnv = { ALLOT_DATA_DIR: join(work, "restored") };
        const restored = await runAllot(["restore", file, "--json"], restoredEnv);
        expect(restored.code, restored.stderr).toBe(0);
        expect(JSON.parse(restored.stdout)).toMatchObject({ replaced: false, tenants: 2, users: 2 });
        const again = await runAllot(["restore", file], restoredEnv);
        expect(again.code).toBe(1);
        expect(again.stderr).toMatch(/already holds a database\. Pass --force to replace it/);
        const garbage = join(work, "garbage.tar.gz");
        writeFileSync(garbage, "not a backup");
        const bad = await runAllot(["restore", garbage, "--force"], restoredEnv);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/is not an Allot backup of the embedded database/);
      } else {
        const target = await emptyPostgresDatabase(process.env.DATABASE_URL!);
        dropDatabases.push(target.drop);
        execFileSync("pg_restore", ["--no-owner", "--dbname", target.url, file]);
        restoredEnv = { ALLOT_DATA_DIR: join(work, "restored"), DATABASE_URL: target.url };
        const refused = await run(["restore", file]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(
          /This Allot runs on PostgreSQL \(DATABASE_URL\): restore a pg_dump backup with pg_restore/,
        );
      }
      for (const [kind, csv] of [
        ["users", USERS_CSV],
        ["members", MEMBERS_CSV],
      ]) {
        const exported = await runAllot(["export", kind], restoredEnv);
        expect(exported.code, exported.stderr).toBe(0);
        expect(exported.stdout, kind).toBe(csv);
      }
    },
  );
});

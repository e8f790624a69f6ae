// DIR-2: bulk import through POST /beta/imports on the test engine — valid files of every kind,
// bad files refused whole with line numbers (nothing written), streaming past the 10 MB limit,
// access, and resuming an interrupted import from processed_rows.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

const csv = (lines: string[]) => `${lines.join("\n")}\n`;

describe(`bulk import (${engine})`, () => {
  let t: TestAllot;
  let tenantId: string;
  beforeAll(async () => {
    t = await startTestAllot({ ALLOT_IMPORT_CHUNK_ROWS: "100" });
    tenantId = t.allot.bootstrapResult.tenantId;
  });
  afterAll(async () => {
    await t?.allot.services.importsService.idle();
    await t?.close();
  });

  const post = (kind: string, body: string, options: { token?: string; contentType?: string } = {}) =>
    t.request("POST", `/beta/imports?kind=${kind}&fileName=${kind}.csv`, { token: options.token ?? t.adminToken, body, headers: { "content-type": options.contentType ?? "text/csv" } });

  /** Polls the import until it is no longer running; returns every progress figure seen. */
  async function finish(id: string) {
    const seen: number[] = [];
    for (let i = 0; i < 600; i++) {
      const r = await t.request("GET", `/beta/imports/${id}`, { token: t.adminToken });
      expect(r.status).toBe(200);
      seen.push(r.body.processedRows);
      if (r.body.status !== "running") return { body: r.body, seen };
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error(`import ${id} did not finish`);
  }

  async function importOk(kind: string, body: string) {
    const res = await post(kind, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.headers.get("location")).toBe(`/beta/imports/${res.body.id}`);
    const done = await finish(res.body.id);
    expect(done.body.status).toBe("completed");
    expect(done.body.processedRows).toBe(done.body.totalRows);
    return { accepted: res.body, done: done.body, seen: done.seen };
  }

  const count = async (table: "users" | "devices" | "groups" | "group_members" | "imports") =>
    Number((await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)} where tenant_id = ${tenantId}`.execute(t.allot.database.db)).rows[0].n);
  const changes = async (changeType: string) =>
    (await t.allot.services.directoryService.changesSince(tenantId, 0, 100_000)).filter((c) => c.change_type === changeType);

  it("imports users in chunks with progress to completion, upserts by UPN on a second import, and audits once per import", async () => {
    const rows = Array.from({ length: 250 }, (_, i) => `user${i}@contoso.com,User ${i},true,US,Staff`);
    const { accepted, done, seen } = await importOk("users", csv(["userPrincipalName,displayName,accountEnabled,usageLocation,jobTitle", ...rows]));
    // progress moves a chunk (100 rows here) at a time and never backwards
    expect(seen.every((v, i) => (v % 100 === 0 || v === 250) && (i === 0 || v >= seen[i - 1]))).toBe(true);
    expect(accepted).toMatchObject({ kind: "users", status: "running", totalRows: 250, fileName: "users.csv", errors: [] });
    expect(accepted["@odata.context"]).toMatch(/\/beta\/\$metadata#imports\/\$entity$/);
    expect(done).toMatchObject({ totalRows: 250, processedRows: 250, createdRows: 250, updatedRows: 0 });
    expect(done.completedDateTime).toEqual(expect.any(String));
    expect(await count("users")).toBe(250);
    const u = await t.request("GET", "/v1.0/users/user7@contoso.com", { token: t.adminToken });
    expect(u.body).toMatchObject({ displayName: "User 7", accountEnabled: true, usageLocation: "US", jobTitle: "Staff" });
    expect((await changes("userCreated")).length).toBe(250);

    // Same keys (case-insensitive), columns in another order and case: one renamed, one disabled,
    // the rest unchanged; columns absent from the file keep their values.
    const again = [
      "DISPLAYNAME,userprincipalname,AccountEnabled",
      "Renamed Seven,USER7@contoso.com,true",
      "User 8,user8@contoso.com,false",
      ...Array.from({ length: 10 }, (_, i) => `User ${i + 20},user${i + 20}@contoso.com,true`),
    ];
    const second = await importOk("users", csv(again));
    expect(second.done).toMatchObject({ totalRows: 12, createdRows: 0, updatedRows: 2, unchangedRows: 10 });
    const renamed = await t.request("GET", "/v1.0/users/user7@contoso.com", { token: t.adminToken });
    expect(renamed.body).toMatchObject({ displayName: "Renamed Seven", jobTitle: "Staff", usageLocation: "US" });
    const disabled = await changes("userDisabled");
    expect(disabled.map((c) => c.object_id)).toEqual([(await t.request("GET", "/v1.0/users/user8@contoso.com", { token: t.adminToken })).body.id]);

    const audit = await t.request("GET", "/v1.0/deviceManagement/auditEvents?$top=999", { token: t.adminToken });
    const imports = audit.body.value.filter((e: { componentName: string }) => e.componentName === "Imports");
    expect(imports).toHaveLength(2);
    expect(imports.map((e: { activity: string }) => e.activity)).toEqual(["Import users", "Import users"]);
    expect(audit.body.value.filter((e: { activity: string }) => e.activity === "Create user")).toHaveLength(0);
  });

  it("imports managed devices with their primary users, and groups", async () => {
    const devices = await importOk(
      "devices",
      csv([
        "serialNumber,deviceName,operatingSystem,osVersion,managedDeviceOwnerType,isSupervised,userPrincipalName,joinType,kioskMode,iTunesStoreBlocked,storeAppBlocked",
        "C02ABC,MacBook 1,macos,14.5,company,true,user1@contoso.com,azureADJoined,false,false,true",
        "DMP001,iPad 1,iPadOS,17.5,,TRUE,,,true,true,false",
        "W-1,Surface,Windows,10.0,personal,false,USER2@CONTOSO.COM,hybridAzureADJoined,,,",
      ]),
    );
    expect(devices.done).toMatchObject({ totalRows: 3, createdRows: 3 });
    const list = await t.request("GET", "/v1.0/deviceManagement/managedDevices?$orderby=deviceName", { token: t.adminToken });
    const byName = Object.fromEntries(list.body.value.map((d: { deviceName: string }) => [d.deviceName, d]));
    const user1 = (await t.request("GET", "/v1.0/users/user1@contoso.com", { token: t.adminToken })).body;
    expect(byName["MacBook 1"]).toMatchObject({ serialNumber: "C02ABC", operatingSystem: "macOS", isSupervised: true, userId: user1.id, joinType: "azureADJoined", storeAppBlocked: true });
    expect(byName["iPad 1"]).toMatchObject({ managedDeviceOwnerType: "company", isSupervised: true, kioskMode: true, iTunesStoreBlocked: true, userId: null });
    expect(byName.Surface).toMatchObject({ managedDeviceOwnerType: "personal", kioskMode: false });
    expect((await changes("deviceCreated")).length).toBe(3);

    const groups = await importOk(
      "groups",
      csv(["mailNickname,displayName,description,memberKind", "all-staff,All staff,Everyone,mixed", "engineering,Engineering,,user", "ipads,iPads,Shared iPads,device", "leads,Leads,,"]),
    );
    expect(groups.done).toMatchObject({ totalRows: 4, createdRows: 4 });
    const g = await t.request("GET", "/v1.0/groups?$filter=mailNickname eq 'engineering'", { token: t.adminToken });
    expect(g.body.value[0]).toMatchObject({ displayName: "Engineering", memberKind: "user", description: null });
    const leads = await t.request("GET", "/v1.0/groups?$filter=mailNickname eq 'leads'", { token: t.adminToken });
    expect(leads.body.value[0].memberKind).toBe("mixed");
  });

  it("imports memberships (users, devices, nested groups), records memberAdded per edge, and re-adding resets joinedAt", async () => {
    const lines = ["groupMailNickname,memberType,member", "all-staff,group,engineering", "all-staff,device,C02ABC", "ipads,device,dmp001", "engineering,group,leads"];
    for (let i = 0; i < 150; i++) lines.push(`engineering,user,user${i}@contoso.com`);
    lines.push("leads,user,user200@contoso.com");
    const first = await importOk("members", csv(lines));
    expect(first.done).toMatchObject({ totalRows: 155, createdRows: 155, updatedRows: 0 });
    const all = (await t.request("GET", "/v1.0/groups?$filter=mailNickname eq 'all-staff'", { token: t.adminToken })).body.value[0];
    const tm = await t.request("GET", `/v1.0/groups/${all.id}/transitiveMembers?$count=true&$top=1`, { token: t.adminToken });
    expect(tm.body["@odata.count"]).toBe(1 + 1 + 1 + 150 + 1); // engineering, device, leads, 150 users, user200
    const added = await changes("memberAdded");
    expect(added).toHaveLength(155);
    expect(added.every((c) => c.group_id)).toBe(true);
    expect(await count("group_members")).toBe(155);

    const before = await t.allot.database.db.selectFrom("group_members").select(["member_id", "joined_at"]).where("tenant_id", "=", tenantId).where("group_id", "=", all.id).execute();
    await new Promise((r) => setTimeout(r, 20));
    const again = await importOk("members", csv(["groupMailNickname,memberType,member", "all-staff,device,C02ABC"]));
    expect(again.done).toMatchObject({ createdRows: 0, updatedRows: 1 });
    const after = await t.allot.database.db.selectFrom("group_members").select(["member_id", "joined_at"]).where("tenant_id", "=", tenantId).where("group_id", "=", all.id).execute();
    const device = before.find((m) => !after.some((a) => a.member_id === m.member_id && a.joined_at.getTime() === m.joined_at.getTime()));
    expect(device).toBeDefined(); // exactly the re-added edge got a new joinedAt
    expect(after.filter((a) => before.some((b) => b.member_id === a.member_id && b.joined_at.getTime() === a.joined_at.getTime()))).toHaveLength(before.length - 1);
  });

  describe("a file with bad rows writes nothing and answers 400 with line numbers", () => {
    async function refused(kind: string, body: string) {
      const counts = { users: await count("users"), devices: await count("devices"), groups: await count("groups"), members: await count("group_members"), imports: await count("imports") };
      const res = await post(kind, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("Request_BadRequest");
      expect(res.body.error.message).toMatch(/nothing was imported/);
      expect(Object.keys(res.body.error.innerError).sort()).toEqual(["date", "request-id"]);
      expect(await count("users")).toBe(counts.users);
      expect(await count("devices")).toBe(counts.devices);
      expect(await count("groups")).toBe(counts.groups);
      expect(await count("group_members")).toBe(counts.members);
      expect(await count("imports")).toBe(counts.imports);
      // the spooled copy of a refused file is gone too
      expect(existsSync(join(t.dataDir, "imports")) ? readdirSync(join(t.dataDir, "imports")) : []).toEqual([]);
      return res.body.error as { message: string; errorCount: number; details: { line: number; column?: string; message: string; target: string | null }[] };
    }

    it("bad enum value and missing required value (valid rows around them are not written either)", async () => {
      const err = await refused(
        "devices",
        csv(["serialNumber,deviceName,operatingSystem", "OK-1,Fine,iOS", "BAD-1,Phone,Linux", "BAD-2,,Windows", "OK-2,Fine too,macOS"]),
      );
      expect(err.errorCount).toBe(2);
      expect(err.details).toEqual([
        expect.objectContaining({ line: 3, column: "operatingSystem", target: "operatingSystem", message: expect.stringMatching(/'Linux'.*iOS, iPadOS, macOS, Windows/) }),
        expect.objectContaining({ line: 4, column: "deviceName", message: expect.stringMatching(/required/) }),
      ]);
    });

    it("unknown columns are named; missing required columns too", async () => {
      const unknown = await refused("users", csv(["userPrincipalName,displayName,favouriteColour,shoeSize", "a@contoso.com,A,blue,42"]));
      expect(unknown.details[0].line).toBe(1);
      expect(unknown.message).toMatch(/'favouriteColour', 'shoeSize'/);
      const missing = await refused("groups", csv(["displayName,memberKind", "No nickname,user"]));
      expect(missing.details[0]).toMatchObject({ line: 1, message: expect.stringMatching(/'mailNickname'/) });
    });

    it("duplicate keys within the file (case-insensitive) name both lines", async () => {
      const err = await refused("users", csv(["userPrincipalName,displayName", "new1@contoso.com,One", "new2@contoso.com,Two", "NEW1@contoso.com,One again"]));
      expect(err.details).toEqual([expect.objectContaining({ line: 4, column: "userPrincipalName", message: expect.stringMatching(/already on line 2/) })]);
      const dupMember = await refused("members", csv(["groupMailNickname,memberType,member", "leads,user,user1@contoso.com", "LEADS,user,USER1@contoso.com"]));
      expect(dupMember.details[0]).toMatchObject({ line: 3, message: expect.stringMatching(/already on line 2/) });
    });

    it("unknown references: primary user, group, member; kind mismatches and cycles", async () => {
      const dev = await refused("devices", csv(["serialNumber,deviceName,operatingSystem,userPrincipalName", "N-1,New,iOS,nobody@contoso.com"]));
      expect(dev.details[0]).toMatchObject({ line: 2, column: "userPrincipalName", message: expect.stringMatching(/nobody@contoso.com/) });
      const mem = await refused(
        "members",
        csv([
          "groupMailNickname,memberType,member",
          "no-such-group,user,user1@contoso.com",
          "engineering,user,ghost@contoso.com",
          "engineering,device,C02ABC",
          "ipads,user,user1@contoso.com",
          "leads,group,no-such-group",
          "leads,group,all-staff",
          "leads,group,leads",
          "leads,robot,r2d2",
        ]),
      );
      expect(mem.details.map((d) => d.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      expect(mem.details[0].message).toMatch(/No group with mailNickname 'no-such-group'/);
      expect(mem.details[1].message).toMatch(/ghost@contoso.com/);
      expect(mem.details[2].message).toMatch(/user group/);
      expect(mem.details[3].message).toMatch(/device group/);
      expect(mem.details[5].message).toMatch(/cycle/);
      expect(mem.details[6].message).toMatch(/itself/);
      expect(mem.details[7]).toMatchObject({ column: "memberType" });
    });

    it("a group turned into a user group while it holds devices", async () => {
      const err = await refused("groups", csv(["mailNickname,displayName,memberKind", "all-staff,All staff,user"]));
      expect(err.details[0]).toMatchObject({ line: 2, column: "memberKind", message: expect.stringMatching(/device members/) });
    });

    it("unreadable CSV, wrong column counts, empty files", async () => {
      const quote = await refused("users", csv(["userPrincipalName,displayName", "a@contoso.com,A", '"b@contoso.com,B']));
      expect(quote.details.at(-1)).toMatchObject({ line: 3, message: expect.stringMatching(/not valid CSV/) });
      const width = await refused("users", csv(["userPrincipalName,displayName", "a@contoso.com,A,extra"]));
      expect(width.details[0]).toMatchObject({ line: 2, message: expect.stringMatching(/Expected 2 columns/) });
      expect((await refused("users", "")).message).toMatch(/empty/);
      expect((await refused("users", "userPrincipalName,displayName\n")).message).toMatch(/no data rows/);
    });

    it("lists at most 100 errors and counts them all", async () => {
      const rows = Array.from({ length: 150 }, (_, i) => `bad${i}@contoso.com,User,perhaps`);
      const err = await refused("users", csv(["userPrincipalName,displayName,accountEnabled", ...rows]));
      expect(err.errorCount).toBe(150);
      expect(err.details).toHaveLength(100);
      expect(err.details[0].line).toBe(2);
      expect(err.message).toMatch(/150 errors/);
    });

    it("streams a body over 10 MB (no 413 here, while JSON routes keep the limit)", async () => {
      const rows = Array.from({ length: Math.ceil((11 * 1024 * 1024) / 230) }, (_, i) => `big${i}@contoso.com,${"x".repeat(200)}`);
      const big = csv(["userPrincipalName,displayName", ...rows, "bad-upn,Oops"]);
      expect(big.length).toBeGreaterThan(10 * 1024 * 1024);
      const err = await refused("users", big);
      // the whole body was read and validated: the bad UPN on the last line is reported with its line number
      expect(err.errorCount).toBe(1);
      expect(err.details[0]).toMatchObject({ line: rows.length + 2, column: "userPrincipalName", message: expect.stringMatching(/address/) });
      const json = await t.request("POST", "/v1.0/users", { token: t.adminToken, body: JSON.stringify({ displayName: "x".repeat(11 * 1024 * 1024), userPrincipalName: "a@b.c", accountEnabled: true }) });
      expect(json.status).toBe(413);
    });
  });

  it("refuses other content types, unknown kinds, and callers without imports.write; readers see progress", async () => {
    const json = await t.request("POST", "/beta/imports?kind=users", { token: t.adminToken, body: { userPrincipalName: "a@b.c" } });
    expect(json.status).toBe(415);
    expect(json.body.error.message).toMatch(/text\/csv/);
    const kind = await post("printers", "a,b\n1,2\n");
    expect(kind.status).toBe(400);
    expect(kind.body.error.message).toMatch(/kind/);
    const reader = await t.tokenFor(["reader"]);
    expect((await post("users", "userPrincipalName,displayName\nr@contoso.com,R\n", { token: reader })).status).toBe(403);
    const list = await t.request("GET", "/beta/imports?$count=true&$filter=kind eq 'users'&$top=1", { token: reader });
    expect(list.status).toBe(200);
    expect(list.body["@odata.count"]).toBe(2);
    expect(list.body.value).toHaveLength(1);
    expect(list.body["@odata.nextLink"]).toMatch(/\$skiptoken=/);
    expect((await t.request("GET", `/beta/imports/${randomUUID()}`, { token: reader })).status).toBe(404);
    expect((await t.request("POST", "/beta/imports?kind=users", { body: "a\n", headers: { "content-type": "text/csv" } })).status).toBe(401);
  });

  it("resumes an interrupted import from processed_rows", async () => {
    // An import a stopped process left running: 350 rows spooled, the first 200 already processed.
    const id = randomUUID();
    const dir = join(t.dataDir, "imports");
    mkdirSync(dir, { recursive: true });
    const spool = join(dir, `${id}.csv`);
    writeFileSync(spool, csv(["userPrincipalName,displayName", ...Array.from({ length: 350 }, (_, i) => `resume${i}@contoso.com,Resumed ${i}`)]));
    await t.allot.database.db
      .insertInto("imports")
      .values({
        tenant_id: tenantId,
        id,
        kind: "users",
        status: "running",
        file_name: "resume.csv",
        spool_path: spool,
        total_rows: 350,
        processed_rows: 200,
        created_rows: 200,
        created_by: JSON.stringify({ type: "application", applicationDisplayName: "test" }),
        errors: "[]",
        started_at: new Date(),
      })
      .execute();
    expect(await t.allot.services.importsService.resumePending()).toBeGreaterThanOrEqual(1);
    await t.allot.services.importsService.idle();
    const done = await t.request("GET", `/beta/imports/${id}`, { token: t.adminToken });
    expect(done.body).toMatchObject({ status: "completed", totalRows: 350, processedRows: 350, createdRows: 350, updatedRows: 0 });
    const written = await sql<{ upn: string }>`select user_principal_name as upn from users where tenant_id = ${tenantId} and user_principal_name like 'resume%'`.execute(t.allot.database.db);
    const numbers = written.rows.map((r) => Number(/resume(\d+)@/.exec(r.upn)![1])).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 150 }, (_, i) => 200 + i)); // rows 1–200 were the stopped process's to write
    expect(existsSync(spool)).toBe(false);
  });

  it("fails (not resumes) an interrupted import whose spooled file is gone", async () => {
    const id = randomUUID();
    await t.allot.database.db
      .insertInto("imports")
      .values({ tenant_id: tenantId, id, kind: "groups", status: "running", spool_path: join(t.dataDir, "imports", "missing.csv"), total_rows: 5, created_by: JSON.stringify({ type: "system" }), errors: "[]" })
      .execute();
    await t.allot.services.importsService.resumePending();
    await t.allot.services.importsService.idle();
    const r = await t.request("GET", `/beta/imports/${id}`, { token: t.adminToken });
    expect(r.body.status).toBe("failed");
    expect(r.body.errors[0].message).toMatch(/cannot be read|gone/);
  });
});

// TEN-5: every change made through the API leaves an audit event (actor, time, target, before/after,
// request id) at Graph's /deviceManagement/auditEvents, queryable with OData, exportable as CSV,
// append-only, and free of secrets.
import { randomUUID } from "node:crypto";
import { parse } from "csv-parse/sync";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOOTSTRAP_CLIENT_SECRET, engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

const PASSWORD = "correct horse battery staple";
const EVENTS = "/v1.0/deviceManagement/auditEvents";
const APP_NAME = "Bootstrap automation"; // the harness's bootstrap app registration

interface ModifiedProperty {
  displayName: string;
  oldValue: string | null;
  newValue: string | null;
}
interface AuditEvent {
  id: string;
  activity: string;
  activityDateTime: string;
  activityOperationType: string;
  activityResult: string;
  componentName: string;
  correlationId: string;
  actor: { auditActorType: string; userPrincipalName?: string; applicationDisplayName?: string; applicationId?: string; ipAddress?: string };
  resources: { resourceId: string; auditResourceType: string; displayName: string | null; modifiedProperties: ModifiedProperty[] }[];
}
interface Made {
  activity: string;
  requestId: string;
  target: string;
  actor: "app" | "admin";
  startedAt: number;
  endedAt: number;
  /** Property names whose change must show in modifiedProperties, with the expected old/new values (undefined: any). */
  props?: Record<string, { oldValue?: string | null; newValue?: string | null }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`audit log (${engine})`, () => {
  let t: TestAllot;
  let session: { cookie: string; csrf: string };
  const made: Made[] = [];
  /** Every secret the tests handle; none may appear in the audit log or its export. */
  const secrets: string[] = [PASSWORD, BOOTSTRAP_CLIENT_SECRET];
  let boundary: string;
  let newTenantId: string;

  /** Makes one change through the API and remembers what its audit event must say. */
  const change = async (
    method: string,
    path: string,
    body: unknown,
    expectStatus: number,
    expect_: { activity: string; target?: (res: { body: any }) => string; actor?: "app" | "admin"; props?: Made["props"] },
  ) => {
    const actor = expect_.actor ?? "app";
    const startedAt = Date.now();
    const res =
      actor === "app"
        ? await t.request(method, path, { token: t.adminToken, body })
        : await t.request(method, path, { headers: { cookie: session.cookie, "x-csrf-token": session.csrf }, body });
    const endedAt = Date.now();
    expect(res.status, `${method} ${path}: ${res.text}`).toBe(expectStatus);
    const requestId = res.headers.get("request-id");
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    made.push({ activity: expect_.activity, requestId: requestId!, target: expect_.target ? expect_.target(res) : path.split("/").filter(Boolean).at(-1)!, actor, startedAt, endedAt, props: expect_.props });
    return res;
  };

  /** All audit events of the caller's tenant, following @odata.nextLink. */
  const allEvents = async (query = "", token?: string) => {
    const out: AuditEvent[] = [];
    let next: string | undefined = `${EVENTS}${query}`;
    let pages = 0;
    while (next) {
      const res = await t.request("GET", next.replace(t.url, ""), { token: token ?? t.adminToken });
      expect(res.status, res.text).toBe(200);
      out.push(...res.body.value);
      next = res.body["@odata.nextLink"];
      if (++pages > 200) throw new Error("paging does not end");
    }
    return out;
  };

  beforeAll(async () => {
    t = await startTestAllot({ ALLOT_LOGIN_RATE_LIMIT: "100" });
    const id = (r: { body: any }) => r.body.id as string;

    // an administrator signs in to the console; their changes carry their UPN
    await change("POST", "/beta/admin/administrators", { userPrincipalName: "auditor@contoso.com", password: PASSWORD, roles: ["globalAdministrator"] }, 201, {
      activity: "Create administrator",
      target: id,
      props: { userPrincipalName: { oldValue: null, newValue: "auditor@contoso.com" } },
    });
    const login = await t.request("POST", "/auth/login", { body: { userPrincipalName: "auditor@contoso.com", password: PASSWORD } });
    expect(login.status).toBe(200);
    session = { cookie: login.headers.getSetCookie().map((l) => l.split(";")[0]).join("; "), csrf: login.body.csrfToken };
    secrets.push(...login.headers.getSetCookie().map((l) => l.split(";")[0].split("=")[1]), t.adminToken);

    // directory: users, groups, devices, members
    const user = await change("POST", "/v1.0/users", { displayName: "Ada Lovelace", userPrincipalName: "ada@contoso.com", accountEnabled: true }, 201, {
      activity: "Create user",
      target: id,
      props: { displayName: { oldValue: null, newValue: "Ada Lovelace" }, userPrincipalName: { newValue: "ada@contoso.com" } },
    });
    await change("PATCH", `/v1.0/users/${user.body.id}`, { displayName: "Ada King", accountEnabled: false }, 204, {
      activity: "Update user",
      props: { displayName: { oldValue: "Ada Lovelace", newValue: "Ada King" }, accountEnabled: { oldValue: "true", newValue: "false" } },
    });
    const group = await change("POST", "/v1.0/groups", { displayName: "Engineering", memberKind: "mixed" }, 201, { activity: "Create group", target: id, props: { displayName: { oldValue: null, newValue: "Engineering" } } });
    await change("PATCH", `/v1.0/groups/${group.body.id}`, { description: "Builds things" }, 204, { activity: "Update group", props: { description: { oldValue: null, newValue: "Builds things" } } });
    const device = await change("POST", "/v1.0/deviceManagement/managedDevices", { deviceName: "iPad 7", operatingSystem: "iPadOS", serialNumber: "AUD001" }, 201, {
      activity: "Create managed device",
      target: id,
      props: { deviceName: { oldValue: null, newValue: "iPad 7" } },
    });
    await change("PATCH", `/v1.0/deviceManagement/managedDevices/${device.body.id}`, { osVersion: "17.4" }, 200, { activity: "Update managed device", props: { osVersion: { newValue: "17.4" } } });

    await sleep(30);
    boundary = new Date().toISOString();
    await sleep(30);

    const ref = (x: string) => ({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${x}` });
    await change("POST", `/v1.0/groups/${group.body.id}/members/$ref`, ref(user.body.id), 204, { activity: "Add member to group", target: () => group.body.id, props: { memberId: { oldValue: null, newValue: user.body.id } } });
    await change("POST", `/v1.0/groups/${group.body.id}/members/$ref`, ref(device.body.id), 204, { activity: "Add member to group", target: () => group.body.id, actor: "admin", props: { memberId: { newValue: device.body.id } } });
    await change("DELETE", `/v1.0/groups/${group.body.id}/members/${user.body.id}/$ref`, undefined, 204, { activity: "Remove member from group", target: () => group.body.id, props: { memberId: { oldValue: user.body.id, newValue: null } } });
    await change("DELETE", `/v1.0/deviceManagement/managedDevices/${device.body.id}`, undefined, 204, { activity: "Delete managed device", props: { deviceName: { oldValue: "iPad 7", newValue: null } } });
    await change("DELETE", `/v1.0/groups/${group.body.id}`, undefined, 204, { activity: "Delete group", actor: "admin", props: { displayName: { oldValue: "Engineering", newValue: null } } });
    await change("DELETE", `/v1.0/users/${user.body.id}`, undefined, 204, { activity: "Delete user", props: { displayName: { oldValue: "Ada King", newValue: null } } });
    await change("POST", "/v1.0/users", { displayName: "By Console", userPrincipalName: "console@contoso.com", accountEnabled: true }, 201, { activity: "Create user", target: id, actor: "admin" });

    // administrators (a password change is recorded without the password)
    const newPassword = "a different long passphrase";
    secrets.push(newPassword);
    const other = await change("POST", "/beta/admin/administrators", { userPrincipalName: "helper@contoso.com", password: PASSWORD, roles: ["reader"] }, 201, { activity: "Create administrator", target: id, actor: "admin" });
    await change("PATCH", `/beta/admin/administrators/${other.body.id}`, { roles: ["reader", "userAdministrator"], password: newPassword }, 200, {
      activity: "Update administrator",
      actor: "admin",
      props: { roles: { oldValue: '["reader"]', newValue: '["reader","userAdministrator"]' } },
    });
    await change("DELETE", `/beta/admin/administrators/${other.body.id}`, undefined, 204, { activity: "Delete administrator", props: { userPrincipalName: { oldValue: "helper@contoso.com", newValue: null } } });

    // app registrations: the secret is revealed to the caller once, never recorded
    const app = await change("POST", "/beta/admin/appRegistrations", { displayName: "Payroll sync", roles: ["reader"] }, 201, { activity: "Create app registration", target: id, props: { displayName: { newValue: "Payroll sync" } } });
    secrets.push(app.body.clientSecret);
    const rotated = await change("POST", `/beta/admin/appRegistrations/${app.body.id}/rotateSecret`, undefined, 200, { activity: "Rotate app registration secret", target: () => app.body.id });
    secrets.push(rotated.body.clientSecret);
    await change("DELETE", `/beta/admin/appRegistrations/${app.body.id}`, undefined, 204, { activity: "Delete app registration", actor: "admin" });

    // SCIM tokens
    const scim = await change("POST", "/beta/admin/scimTokens", { displayName: "Entra provisioning" }, 201, { activity: "Create SCIM token", target: id });
    expect(typeof scim.body.token).toBe("string");
    secrets.push(scim.body.token);
    await change("DELETE", `/beta/admin/scimTokens/${scim.body.id}`, undefined, 204, { activity: "Delete SCIM token" });

    // tenants (the first administrator's creation is audited in the new tenant)
    const tenant = await change("POST", "/beta/admin/tenants", { displayName: "Fabrikam", adminUserPrincipalName: "boss@fabrikam.example", adminPassword: PASSWORD }, 201, {
      activity: "Create tenant",
      target: id,
      props: { displayName: { oldValue: null, newValue: "Fabrikam" } },
    });
    newTenantId = tenant.body.id;
  });
  afterAll(async () => t?.close());

  it("records every change with actor, time, target, before/after and the response's request-id", async () => {
    const problems: string[] = [];
    for (const m of made) {
      const res = await t.request("GET", `${EVENTS}?$filter=correlationId eq '${m.requestId}'`, { token: t.adminToken });
      expect(res.status).toBe(200);
      const events = res.body.value as AuditEvent[];
      const e = events.find((x) => x.activity === m.activity);
      if (!e) {
        problems.push(`${m.activity} (${m.requestId}): no event; found ${events.map((x) => x.activity).join(", ") || "none"}`);
        continue;
      }
      expect(e.correlationId).toBe(m.requestId);
      expect(e.activityResult).toBe("Success");
      const at = Date.parse(e.activityDateTime);
      if (!(at >= m.startedAt - 2000 && at <= m.endedAt + 2000)) problems.push(`${m.activity}: time ${e.activityDateTime} outside the request`);
      if (m.actor === "app") {
        if (e.actor.auditActorType !== "application" || e.actor.applicationDisplayName !== APP_NAME) problems.push(`${m.activity}: actor ${JSON.stringify(e.actor)}`);
      } else if (e.actor.auditActorType !== "administrator" || e.actor.userPrincipalName !== "auditor@contoso.com") problems.push(`${m.activity}: actor ${JSON.stringify(e.actor)}`);
      const resource = e.resources.find((r) => r.resourceId === m.target);
      if (!resource) {
        problems.push(`${m.activity}: no resource ${m.target} in ${JSON.stringify(e.resources)}`);
        continue;
      }
      for (const [name, want] of Object.entries(m.props ?? {})) {
        const p = resource.modifiedProperties.find((x) => x.displayName === name);
        if (!p) problems.push(`${m.activity}: modifiedProperties lacks ${name}: ${JSON.stringify(resource.modifiedProperties)}`);
        else {
          if (want.oldValue !== undefined && p.oldValue !== want.oldValue) problems.push(`${m.activity}: ${name}.oldValue ${p.oldValue} ≠ ${want.oldValue}`);
          if (want.newValue !== undefined && p.newValue !== want.newValue) problems.push(`${m.activity}: ${name}.newValue ${p.newValue} ≠ ${want.newValue}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // the Graph shape of an event
    const one = (await t.request("GET", `${EVENTS}?$top=1`, { token: t.adminToken })).body.value[0];
    expect(Object.keys(one)).toEqual(expect.arrayContaining(["id", "displayName", "componentName", "activity", "activityDateTime", "activityType", "activityOperationType", "activityResult", "correlationId", "actor", "resources"]));
    const byId = await t.request("GET", `${EVENTS}/${one.id}`, { token: t.adminToken });
    expect(byId.status).toBe(200);
    expect(byId.body.id).toBe(one.id);
    expect(byId.body["@odata.context"]).toMatch(/\$metadata#deviceManagement\/auditEvents\/\$entity$/);
  });

  it("records a password change without the password, and the first administrator of a new tenant in that tenant", async () => {
    const upd = made.find((m) => m.activity === "Update administrator")!;
    const e = (await t.request("GET", `${EVENTS}?$filter=correlationId eq '${upd.requestId}'`, { token: t.adminToken })).body.value[0] as AuditEvent;
    const pw = e.resources[0].modifiedProperties.find((p) => p.displayName === "password");
    expect(pw).toEqual({ displayName: "password", oldValue: null, newValue: "(changed)" });
    const tenantCreate = made.find((m) => m.activity === "Create tenant")!;
    const inNew = await allEvents(`?$filter=correlationId eq '${tenantCreate.requestId}'`, await t.tokenFor(["reader"], newTenantId));
    expect(inNew.map((x) => x.activity)).toEqual(["Create administrator"]);
    expect(inNew[0].resources[0].displayName).toBe("boss@fabrikam.example");
  });

  it("leaves no event for a change that failed", async () => {
    const dup = await t.request("POST", "/v1.0/users", { token: t.adminToken, body: { displayName: "Dup", userPrincipalName: "console@contoso.com", accountEnabled: true } });
    expect(dup.status).toBe(409);
    const bad = await t.request("POST", "/v1.0/groups/00000000-0000-4000-8000-000000000000/members/$ref", { token: t.adminToken, body: { "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/00000000-0000-4000-8000-000000000001" } });
    expect(bad.status).toBe(404);
    for (const res of [dup, bad]) {
      const events = await t.request("GET", `${EVENTS}?$filter=correlationId eq '${res.headers.get("request-id")}'`, { token: t.adminToken });
      expect(events.body.value).toEqual([]);
    }
  });

  it("answers OData queries: $filter on time and actor, $orderby, $count, paging", async () => {
    const all = await allEvents("?$top=999");
    expect(all.length).toBeGreaterThanOrEqual(made.length);

    const after = await allEvents(`?$filter=activityDateTime ge ${boundary}`);
    const expectedAfter = all.filter((e) => e.activityDateTime >= boundary);
    expect(after.map((e) => e.id).sort()).toEqual(expectedAfter.map((e) => e.id).sort());
    expect(after.length).toBeGreaterThan(5);
    expect(after.length).toBeLessThan(all.length);
    for (const m of made.filter((x) => x.startedAt > Date.parse(boundary))) expect(after.some((e) => e.correlationId === m.requestId)).toBe(true);
    const before = await allEvents(`?$filter=activityDateTime lt ${boundary}`);
    expect(before.length + after.length).toBe(all.length);

    const byAdmin = await allEvents("?$filter=actor/userPrincipalName eq 'auditor@contoso.com'");
    expect(byAdmin.length).toBe(made.filter((m) => m.actor === "admin").length);
    expect(byAdmin.every((e) => e.actor.userPrincipalName === "auditor@contoso.com")).toBe(true);
    const combined = await allEvents(`?$filter=actor/userPrincipalName eq 'auditor@contoso.com' and activityDateTime ge ${boundary} and activity eq 'Delete group'`);
    expect(combined.map((e) => e.activity)).toEqual(["Delete group"]);

    const desc = await t.request("GET", `${EVENTS}?$orderby=activityDateTime desc&$top=999`, { token: t.adminToken });
    const times = (desc.body.value as AuditEvent[]).map((e) => e.activityDateTime);
    expect(times).toEqual([...times].sort().reverse());
    expect(times.length).toBe(all.length);

    const counted = await t.request("GET", `${EVENTS}?$count=true&$top=2`, { token: t.adminToken });
    expect(counted.body["@odata.count"]).toBe(all.length);
    expect(counted.body.value).toHaveLength(2);
    expect(counted.body["@odata.nextLink"]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/deviceManagement\/auditEvents\?/);

    // paging in small pages visits every event once, in the requested order
    const paged = await allEvents("?$top=3&$orderby=activityDateTime desc");
    expect(paged.map((e) => e.id)).toEqual((desc.body.value as AuditEvent[]).map((e) => e.id));
    const pagedDefault = await allEvents("?$top=4");
    expect(new Set(pagedDefault.map((e) => e.id)).size).toBe(all.length);

    const unknown = await t.request("GET", `${EVENTS}?$filter=secretThing eq 'x'`, { token: t.adminToken });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain("secretThing");
  });

  it("exports the log as CSV, with filters", async () => {
    const all = await allEvents("?$top=999");
    const res = await t.request("GET", `${EVENTS}/export`, { token: t.adminToken });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="audit-events\.csv"/);
    const rows = parse(res.text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
    expect(rows.length).toBe(all.length);
    expect(Object.keys(rows[0])).toEqual(expect.arrayContaining(["activityDateTime", "activity", "actor", "resourceId", "modifiedProperties", "correlationId"]));
    for (const m of made) {
      const row = rows.find((r) => r.correlationId === m.requestId && r.activity === m.activity);
      expect(row, m.activity).toBeDefined();
      expect(row!.actor).toBe(m.actor === "app" ? APP_NAME : "auditor@contoso.com");
      expect(row!.resourceId).toBe(m.target);
      expect(() => JSON.parse(row!.modifiedProperties)).not.toThrow();
    }
    const createUser = rows.find((r) => r.activity === "Update user")!;
    expect(JSON.parse(createUser.modifiedProperties)).toEqual(expect.arrayContaining([{ displayName: "displayName", oldValue: "Ada Lovelace", newValue: "Ada King" }]));

    const filtered = await t.request("GET", `${EVENTS}/export?$filter=actor/userPrincipalName eq 'auditor@contoso.com'&$orderby=activityDateTime desc`, { token: t.adminToken });
    const frows = parse(filtered.text, { columns: true }) as Record<string, string>[];
    expect(frows.length).toBe(made.filter((m) => m.actor === "admin").length);
    expect(frows.map((r) => r.activityDateTime)).toEqual(frows.map((r) => r.activityDateTime).sort().reverse());
  });

  it("exports more events than one page holds, whole and without duplicates, in any order", async () => {
    // 2,100 events in the second tenant, written in one transaction (so they share one timestamp)
    const ctx = { tenantId: newTenantId, requestId: "bulk-export", actor: { type: "system" as const, applicationDisplayName: "Bulk test" } };
    const entries = Array.from({ length: 2100 }, (_, i) => ({ activity: `Bulk ${i}`, component: "Directory" as const, operation: "Action" as const, changes: [{ type: "test", id: randomUUID(), after: { n: i } }] }));
    await t.allot.database.db.transaction().execute((trx) => t.allot.services.auditService.record(trx, ctx, entries));
    const token = await t.tokenFor(["reader"], newTenantId);
    for (const q of ["", "?$orderby=activityDateTime desc", "?$orderby=activity", "?$filter=actor/type eq 'system'", "?$filter=correlationId eq 'bulk-export'&$orderby=activityDateTime"]) {
      const filter = new URLSearchParams(q.slice(1)).get("$filter");
      const total = (await t.request("GET", `${EVENTS}?$count=true&$top=1${filter ? `&$filter=${filter}` : ""}`, { token })).body["@odata.count"] as number;
      expect(total).toBeGreaterThanOrEqual(2100);
      const res = await t.request("GET", `${EVENTS}/export${q}`, { token });
      expect(res.status).toBe(200);
      const rows = parse(res.text, { columns: true }) as Record<string, string>[];
      expect(rows.length, q).toBe(total);
      const bulk = rows.filter((r) => r.activity.startsWith("Bulk ")).map((r) => r.activity);
      expect(new Set(bulk).size, q).toBe(2100);
    }
  });

  it("neutralises spreadsheet formulas in exported cells", async () => {
    const evil = "=HYPERLINK(\"http://evil.example\",\"click\")";
    const res = await t.request("POST", "/v1.0/groups", { token: t.adminToken, body: { displayName: evil, memberKind: "user" } });
    expect(res.status).toBe(201);
    const csv = await t.request("GET", `${EVENTS}/export?$filter=correlationId eq '${res.headers.get("request-id")}'`, { token: t.adminToken });
    const [row] = parse(csv.text, { columns: true }) as Record<string, string>[];
    expect(row.resourceName).toBe(`'${evil}`);
    for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it("is append-only: a direct UPDATE, DELETE or TRUNCATE on audit_events raises", async () => {
    const db = t.allot.database.db;
    const before = await allEvents("?$top=999");
    await expect(db.updateTable("audit_events").set({ activity: "tampered" }).where("tenant_id", "=", t.allot.bootstrapResult.tenantId).execute()).rejects.toThrow(/append-only/);
    await expect(db.deleteFrom("audit_events").where("tenant_id", "=", t.allot.bootstrapResult.tenantId).execute()).rejects.toThrow(/append-only/);
    await expect(sql`update audit_events set actor = '{}'::jsonb`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_events`.execute(db)).rejects.toThrow(/append-only/);
    // the database still works, and nothing changed
    const after = await allEvents("?$top=999");
    expect(after).toEqual(before);
  });

  it("never contains a secret (client secret, password, SCIM token, session, access token) in any event or export", async () => {
    const secretsFound = (text: string) => secrets.filter((s) => s && text.includes(s));
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    const list = await t.request("GET", `${EVENTS}?$top=999`, { token: t.adminToken });
    expect(secretsFound(list.text)).toEqual([]);
    expect(list.text).not.toMatch(/scrypt\$|password_hash|secret_hash|token_hash/);
    const csv = await t.request("GET", `${EVENTS}/export`, { token: t.adminToken });
    expect(secretsFound(csv.text)).toEqual([]);
    expect(csv.text).not.toMatch(/scrypt\$/);
    // and the raw rows, whatever the API shows
    const raw = await t.allot.database.db.selectFrom("audit_events").selectAll().execute();
    const rawText = JSON.stringify(raw);
    expect(secretsFound(rawText)).toEqual([]);
    expect(rawText).not.toMatch(/scrypt\$/);
  });
});

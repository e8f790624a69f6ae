// DIR-1, DIR-3, API-1: the directory over real HTTP on the test engine.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

describe(`directory (${engine})`, () => {
  let t: TestAllot;
  beforeAll(async () => {
    t = await startTestAllot();
  });
  afterAll(async () => t?.close());

  it("creates a user with only displayName, userPrincipalName and accountEnabled, and refuses a duplicate UPN with 409", async () => {
    const created = await t.request("POST", "/v1.0/users", { token: t.adminToken, body: { displayName: "Ada Lovelace", userPrincipalName: "ada@contoso.com", accountEnabled: true } });
    expect(created.status).toBe(201);
    expect(created.body.userPrincipalName).toBe("ada@contoso.com");
    expect(created.body["@odata.context"]).toMatch(/\/v1\.0\/\$metadata#users\/\$entity$/);
    const dup = await t.request("POST", "/v1.0/users", { token: t.adminToken, body: { displayName: "Other", userPrincipalName: "ADA@contoso.com", accountEnabled: true } });
    expect(dup.status).toBe(409);
    expect(Object.keys(dup.body.error).sort()).toEqual(["code", "innerError", "message"]);
    expect(Object.keys(dup.body.error.innerError).sort()).toEqual(["date", "request-id"]);
    const byUpn = await t.request("GET", "/v1.0/users/ada@contoso.com", { token: t.adminToken });
    expect(byUpn.body.id).toBe(created.body.id);
  });

  it("adds nested members with $ref, lists transitive members with a count, and records joinedAt changes", async () => {
    const mk = async (path: string, body: unknown) => (await t.request("POST", path, { token: t.adminToken, body })).body;
    const outer = await mk("/v1.0/groups", { displayName: "All staff", memberKind: "mixed" });
    const inner = await mk("/v1.0/groups", { displayName: "Engineering", memberKind: "user" });
    const u1 = await mk("/v1.0/users", { displayName: "Bob", userPrincipalName: "bob@contoso.com", accountEnabled: true });
    const u2 = await mk("/v1.0/users", { displayName: "Carol", userPrincipalName: "carol@contoso.com", accountEnabled: true });
    const dev = await mk("/v1.0/deviceManagement/managedDevices", { deviceName: "iPad 1", operatingSystem: "iPadOS", serialNumber: "SER001" });
    const ref = (id: string) => ({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });
    for (const [g, m] of [[inner.id, u1.id], [inner.id, u2.id], [outer.id, inner.id], [outer.id, dev.id]])
      expect((await t.request("POST", `/v1.0/groups/${g}/members/$ref`, { token: t.adminToken, body: ref(m) })).status).toBe(204);
    // a device cannot join a user group; a cycle is refused
    expect((await t.request("POST", `/v1.0/groups/${inner.id}/members/$ref`, { token: t.adminToken, body: ref(dev.id) })).status).toBe(400);
    const cycle = await t.request("POST", `/v1.0/groups/${inner.id}/members/$ref`, { token: t.adminToken, body: ref(outer.id) });
    expect(cycle.status).toBe(400);
    expect(cycle.body.error.message).toMatch(/cycle/);

    const tm = await t.request("GET", `/v1.0/groups/${outer.id}/transitiveMembers?$count=true&$top=1`, { token: t.adminToken });
    expect(tm.status).toBe(200);
    expect(tm.body["@odata.count"]).toBe(4); // inner group, two users, one device
    expect(tm.body.value).toHaveLength(1);
    expect(tm.body["@odata.nextLink"]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/groups\/.+\$skiptoken=/);
    const users = await t.request("GET", `/v1.0/groups/${outer.id}/transitiveMembers/microsoft.graph.user?$orderby=displayName`, { token: t.adminToken });
    expect(users.body.value.map((u: { displayName: string }) => u.displayName)).toEqual(["Bob", "Carol"]);
    const direct = await t.request("GET", `/v1.0/groups/${outer.id}/members?$filter=serialNumber eq 'SER001'`, { token: t.adminToken });
    expect(direct.body.value.map((o: { id: string }) => o.id)).toEqual([dev.id]);
    expect(direct.body.value[0]["@odata.type"]).toBe("#microsoft.graph.managedDevice");

    const memberOf = await t.request("GET", `/v1.0/users/${u1.id}/memberOf`, { token: t.adminToken });
    expect(memberOf.body.value.map((g: { id: string }) => g.id)).toEqual([inner.id]);

    expect((await t.request("DELETE", `/v1.0/groups/${inner.id}/members/${u1.id}/$ref`, { token: t.adminToken })).status).toBe(204);
    expect((await t.request("PATCH", `/v1.0/users/${u2.id}`, { token: t.adminToken, body: { accountEnabled: false } })).status).toBe(204);
    const tenantId = t.allot.bootstrapResult.tenantId;
    const changes = await t.allot.services.directoryService.changesSince(tenantId, 0);
    const kinds = changes.map((c) => `${c.change_type}:${c.object_id}`);
    expect(kinds).toContain(`memberRemoved:${u1.id}`);
    expect(kinds).toContain(`userDisabled:${u2.id}`);
    // A new serial number is a change the licensing engine reads (device licenses are bound to it);
    // a new name is not.
    const seq = Number(changes.at(-1)?.seq);
    const patchDevice = (body: object) =>
      t.request("PATCH", `/v1.0/deviceManagement/managedDevices/${dev.id}`, { token: t.adminToken, body });
    expect((await patchDevice({ deviceName: "iPad one" })).status).toBe(200);
    expect(await t.allot.services.directoryService.changesSince(tenantId, seq)).toHaveLength(0);
    expect((await patchDevice({ serialNumber: "SER001B" })).status).toBe(200);
    const later = await t.allot.services.directoryService.changesSince(tenantId, seq);
    expect(later.map((c) => `${c.change_type}:${c.object_id}`)).toEqual([`deviceUserChanged:${dev.id}`]);
  });
});

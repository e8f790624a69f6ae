// DIR-2, DIR-3: SCIM 2.0 provisioning at /scim/v2 with the payloads Microsoft Entra ID actually sends
// (capitalised ops, "True"/"False" strings, path-less PATCH objects), per-tenant bearer secrets and the
// token admin API, over real HTTP on the test engine.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

const SCIM = { "content-type": "application/scim+json" };
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const q = (filter: string) => `filter=${encodeURIComponent(filter)}`;

/** The body Entra ID posts to create a user (its default attribute mappings). */
const entraUser = (userName: string, externalId: string, displayName: string) => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
  externalId,
  userName,
  active: true,
  displayName,
  emails: [{ primary: true, type: "work", value: userName }],
  meta: { resourceType: "User" },
  name: { formatted: displayName, familyName: displayName.split(" ")[1], givenName: displayName.split(" ")[0] },
  title: "Engineer",
  [ENTERPRISE]: { department: "Research", employeeNumber: "4711" },
  phoneNumbers: [{ type: "work", value: "+1 555 0100" }],
  addresses: [{ type: "work", country: "US", formatted: "1 Main St" }],
  roles: [],
});

describe(`SCIM 2.0 provisioning (${engine})`, () => {
  let t: TestAllot;
  let secret: string;
  let tokenId: string;
  let tenantId: string;

  const scim = (method: string, path: string, body?: unknown, token = secret) => t.request(method, `/scim/v2${path}`, { token, body, headers: SCIM });
  const graphUser = async (id: string) => (await t.request("GET", `/v1.0/users/${id}`, { token: t.adminToken })).body;
  const changes = async () => (await t.allot.services.directoryService.changesSince(tenantId, 0, 100_000)).map((c) => `${c.change_type}:${c.object_id}${c.group_id ? `@${c.group_id}` : ""}`);

  beforeAll(async () => {
    t = await startTestAllot();
    tenantId = t.allot.bootstrapResult.tenantId;
    const created = await t.request("POST", "/beta/admin/scimTokens", { token: t.adminToken, body: { displayName: "Microsoft Entra ID" } });
    expect(created.status).toBe(201);
    secret = created.body.token;
    tokenId = created.body.id;
  });
  afterAll(async () => t?.close());

  it("runs Entra's provisioning sequence: create, find, add to group, disable with \"False\", path-less replace, delete", async () => {
    // Create (Entra posts application/scim+json and reads it back)
    const created = await scim("POST", "/Users", entraUser("grace@contoso.com", "6d4a0c6e-entra-object-1", "Grace Hopper"));
    expect(created.status).toBe(201);
    expect(created.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    const id = created.body.id as string;
    expect(created.headers.get("location")).toMatch(new RegExp(`/scim/v2/Users/${id}$`));
    expect(created.body).toMatchObject({
      schemas: expect.arrayContaining(["urn:ietf:params:scim:schemas:core:2.0:User"]),
      userName: "grace@contoso.com",
      externalId: "6d4a0c6e-entra-object-1",
      active: true,
      displayName: "Grace Hopper",
      title: "Engineer",
      name: { givenName: "Grace", familyName: "Hopper" },
      emails: [{ value: "grace@contoso.com", primary: true, type: "work" }],
      [ENTERPRISE]: { department: "Research" },
      meta: { resourceType: "User" },
    });
    expect(await graphUser(id)).toMatchObject({ userPrincipalName: "grace@contoso.com", accountEnabled: true, mail: "grace@contoso.com", givenName: "Grace", surname: "Hopper", jobTitle: "Engineer", department: "Research" });

    // Find by userName (case-insensitive) and by externalId, as Entra does before creating
    const found = await scim("GET", `/Users?${q('userName eq "Grace@Contoso.com"')}`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(found.body.Resources[0].id).toBe(id);
    expect((await scim("GET", `/Users?${q('externalId eq "6d4a0c6e-entra-object-1"')}`)).body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);
    const none = await scim("GET", `/Users?${q('userName eq "nobody@contoso.com"')}`);
    expect(none.body).toMatchObject({ totalResults: 0, Resources: [] });

    // Duplicate userName → 409 uniqueness
    const dup = await scim("POST", "/Users", entraUser("GRACE@contoso.com", "other", "Other Person"));
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ schemas: [ERROR], status: "409", scimType: "uniqueness" });

    // Create a group and add the user with Entra's literal PATCH
    const group = await scim("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], externalId: "entra-group-1", displayName: "Engineering", meta: { resourceType: "Group" } });
    expect(group.status).toBe(201);
    const gid = group.body.id as string;
    expect(group.body).toMatchObject({ displayName: "Engineering", externalId: "entra-group-1", members: [] });
    const byName = await scim("GET", `/Groups?excludedAttributes=members&${q('displayName eq "Engineering"')}`);
    expect(byName.body.totalResults).toBe(1);
    expect(byName.body.Resources[0]).not.toHaveProperty("members");

    const add = await scim("PATCH", `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: "Add", path: "members", value: [{ value: id }] }] });
    expect(add.status).toBe(204);
    const members = await t.request("GET", `/v1.0/groups/${gid}/members`, { token: t.adminToken });
    expect(members.body.value.map((m: { id: string }) => m.id)).toEqual([id]);
    const fetched = await scim("GET", `/Groups/${gid}`);
    expect(fetched.body.members).toEqual([expect.objectContaining({ value: id, display: "Grace Hopper", type: "User" })]);
    expect((await scim("GET", `/Groups?${q(`members[value eq "${id}"]`)}`)).body.totalResults).toBe(1);
    // Entra re-sending the same add keeps the original joinedAt (no new memberAdded change)
    const addedBefore = (await changes()).filter((c) => c === `memberAdded:${id}@${gid}`).length;
    expect((await scim("PATCH", `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: "Add", path: "members", value: [{ value: id }] }] })).status).toBe(204);
    expect((await changes()).filter((c) => c === `memberAdded:${id}@${gid}`).length).toBe(addedBefore);
    expect(addedBefore).toBe(1);

    // Disable with Entra's pre-compliance payload: "Replace" and the string "False"
    const disabled = await scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: "False" }] });
    expect(disabled.status).toBe(200);
    expect(disabled.body.active).toBe(false);
    expect((await graphUser(id)).accountEnabled).toBe(false);
    expect(await changes()).toContain(`userDisabled:${id}`);

    // The path-less form re-enables, then changes several attributes at once
    const enabled = await scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", value: { active: "True" } }] });
    expect(enabled.status).toBe(200);
    expect((await graphUser(id)).accountEnabled).toBe(true);
    expect(await changes()).toContain(`userEnabled:${id}`);
    const multi = await scim("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        {
          op: "replace",
          value: {
            displayName: "Rear Admiral Hopper",
            "name.givenName": "Grace B.",
            "name.familyName": "Hopper-Murray",
            'emails[type eq "work"].value': "grace.hopper@contoso.com",
            externalId: "6d4a0c6e-entra-object-1b",
            [`${ENTERPRISE}:employeeNumber`]: "4712",
          },
        },
      ],
    });
    expect(multi.status).toBe(200);
    expect(await graphUser(id)).toMatchObject({ displayName: "Rear Admiral Hopper", givenName: "Grace B.", surname: "Hopper-Murray", mail: "grace.hopper@contoso.com", accountEnabled: true });
    expect(multi.body.externalId).toBe("6d4a0c6e-entra-object-1b");
    // Capitalised path forms Entra sends for single attributes, plus attributes Allot does not keep
    const paths = await scim("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Replace", path: `${ENTERPRISE}:department`, value: "Navy" },
        { op: "Add", path: 'emails[type eq "work"].value', value: "ghopper@contoso.com" },
        { op: "Replace", path: "title", value: "Rear Admiral" },
        { op: "Add", path: "nickName", value: "Amazing Grace" },
        { op: "Replace", path: 'phoneNumbers[type eq "mobile"].value', value: "+1 555 0101" },
      ],
    });
    expect(paths.status).toBe(200);
    expect(await graphUser(id)).toMatchObject({ department: "Navy", mail: "ghopper@contoso.com", jobTitle: "Rear Admiral" });
    const removed = await scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: "title" }] });
    expect(removed.body).not.toHaveProperty("title");
    expect((await graphUser(id)).jobTitle).toBeNull();

    // The changes were audited under Provisioning with the token as actor
    const audit = await t.request("GET", `/v1.0/deviceManagement/auditEvents?$filter=${encodeURIComponent("componentName eq 'Provisioning'")}&$top=999`, { token: t.adminToken });
    expect(audit.status).toBe(200);
    const activities = audit.body.value.map((e: { activity: string }) => e.activity);
    expect(activities).toEqual(expect.arrayContaining(["Create user", "Create group", "Add member to group", "Update user"]));
    expect(audit.body.value.find((e: { activity: string }) => e.activity === "Create user").actor).toMatchObject({ auditActorType: "scim", applicationDisplayName: "Microsoft Entra ID" });

    // Delete: 204, then 404 (SCIM error), memberships ended and recorded
    const del = await scim("DELETE", `/Users/${id}`);
    expect(del.status).toBe(204);
    const gone = await scim("GET", `/Users/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ schemas: [ERROR], status: "404" });
    expect((await t.request("GET", `/v1.0/users/${id}`, { token: t.adminToken })).status).toBe(404);
    expect(await changes()).toEqual(expect.arrayContaining([`memberRemoved:${id}@${gid}`, `userDeleted:${id}`]));
    expect((await scim("GET", `/Groups/${gid}`)).body.members).toEqual([]);
  });

  it("changes group members with Remove (value and members[value eq] forms), replace and displayName", async () => {
    const mk = async (n: number) => (await scim("POST", "/Users", entraUser(`member${n}@contoso.com`, `ext-m${n}`, `Member ${n}`))).body.id as string;
    const [a, b, c] = [await mk(1), await mk(2), await mk(3)];
    const nested = (await scim("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Nested" })).body.id as string;
    const g = await scim("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Sales", members: [{ value: a }, { value: b }] });
    expect(g.status).toBe(201);
    const gid = g.body.id as string;
    const ids = async () => ((await scim("GET", `/Groups/${gid}`)).body.members as { value: string }[]).map((m) => m.value).sort();

    expect(await ids()).toEqual([a, b].sort());
    expect((await scim("PATCH", `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: "members", value: [{ value: a }] }] })).status).toBe(204);
    expect(await ids()).toEqual([b]);
    const rename = await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Add", path: "members", value: [{ value: c }, { value: nested }] },
        { op: "remove", path: `members[value eq "${b}"]` },
        { op: "Replace", path: "displayName", value: "Sales EMEA" },
      ],
    });
    expect(rename.status).toBe(204);
    const after = await scim("GET", `/Groups/${gid}`);
    expect(after.body.displayName).toBe("Sales EMEA");
    expect(after.body.members.map((m: { value: string; type: string }) => `${m.type}:${m.value}`).sort()).toEqual([`Group:${nested}`, `User:${c}`].sort());
    expect((await scim("PATCH", `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { displayName: "Sales" } }] })).status).toBe(204);
    expect((await t.request("GET", `/v1.0/groups/${gid}`, { token: t.adminToken })).body.displayName).toBe("Sales");

    // PUT replaces the member list; removing a non-member is not an error
    const put = await scim("PUT", `/Groups/${gid}`, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Sales", externalId: "ext-sales", members: [{ value: a }] });
    expect(put.status).toBe(200);
    expect(put.body.members.map((m: { value: string }) => m.value)).toEqual([a]);
    expect((await scim("PATCH", `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: "members", value: [{ value: c }] }] })).status).toBe(204);
    expect(await ids()).toEqual([a]);

    // An unknown member is a bad value, and the whole PATCH is atomic
    const bad = await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Add", path: "members", value: [{ value: b }] },
        { op: "Add", path: "members", value: [{ value: "00000000-0000-4000-8000-000000000000" }] },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ schemas: [ERROR], status: "400", scimType: "invalidValue" });
    expect(await ids()).toEqual([a]);
    // A group cannot contain itself (the directory's cycle rule applies)
    expect((await scim("PATCH", `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: gid }] }] })).status).toBe(400);

    // Removing all members, then deleting the group
    expect((await scim("PATCH", `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: "remove", path: "members" }] })).status).toBe(204);
    expect(await ids()).toEqual([]);
    expect(await changes()).toContain(`memberRemoved:${a}@${gid}`);
    expect((await scim("DELETE", `/Groups/${gid}`)).status).toBe(204);
    expect((await scim("GET", `/Groups/${gid}`)).status).toBe(404);
  });

  it("pages lists with startIndex and count, and rejects bad filters and PATCH bodies with SCIM errors", async () => {
    for (let i = 0; i < 5; i++) expect((await scim("POST", "/Users", entraUser(`page${i}@fabrikam.com`, `ext-p${i}`, `Page ${i}`))).status).toBe(201);
    const page = await scim("GET", `/Users?${q('userName sw "page"')}&startIndex=2&count=2`);
    expect(page.body).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
    expect(page.body.Resources.map((r: { userName: string }) => r.userName)).toEqual(["page1@fabrikam.com", "page2@fabrikam.com"]);
    const countOnly = await scim("GET", `/Users?${q('userName co "@fabrikam"')}&count=0`);
    expect(countOnly.body).toMatchObject({ totalResults: 5, itemsPerPage: 0, Resources: [] });
    expect((await scim("GET", `/Users?${q('displayName eq "Page 3"')}`)).body.Resources[0].userName).toBe("page3@fabrikam.com");
    expect((await scim("GET", `/Users?${q('userName sw "page" and not (displayName eq "Page 3")')}&attributes=userName`)).body.Resources.map((r: Record<string, unknown>) => Object.keys(r).sort())).toEqual(
      Array(4).fill(["id", "meta", "schemas", "userName"]),
    );

    const unparsable = await scim("GET", `/Users?${q("userName eq")}`);
    expect(unparsable.status).toBe(400);
    expect(unparsable.body).toMatchObject({ schemas: [ERROR], status: "400", scimType: "invalidFilter" });
    const unknownAttr = await scim("GET", `/Users?${q('favouriteColour eq "blue"')}`);
    expect(unknownAttr.body).toMatchObject({ status: "400", scimType: "invalidFilter" });
    expect(unknownAttr.body.detail).toMatch(/favouriteColour/);

    const id = (await scim("GET", `/Users?${q('userName eq "page0@fabrikam.com"')}`)).body.Resources[0].id;
    const badOp = await scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Move", path: "active", value: false }] });
    expect(badOp.body).toMatchObject({ status: "400", scimType: "invalidSyntax" });
    const badBool = await scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: "Maybe" }] });
    expect(badBool.body).toMatchObject({ status: "400", scimType: "invalidValue" });
    const noTarget = await scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove" }] });
    expect(noTarget.body).toMatchObject({ status: "400", scimType: "noTarget" });
    const userNameGone = await scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: "userName" }] });
    expect(userNameGone.body).toMatchObject({ status: "400", scimType: "mutability" });
    const notJson = await t.request("POST", "/scim/v2/Users", { token: secret, body: "{not json", headers: SCIM });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ schemas: [ERROR], status: "400" });
    const noUserName = await scim("POST", "/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], active: true });
    expect(noUserName.body).toMatchObject({ status: "400", scimType: "invalidValue" });
    expect((await scim("GET", "/Users/not-a-uuid")).status).toBe(404);
    expect((await scim("PATCH", "/Users/00000000-0000-4000-8000-000000000000", { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: false }] })).status).toBe(404);

    // PUT replaces the user; a renamed userName that collides is a uniqueness error
    const put = await scim("PUT", `/Users/${id}`, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "page0@fabrikam.com", active: "False", displayName: "Page Zero" });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ displayName: "Page Zero", active: false });
    expect(put.body).not.toHaveProperty("emails");
    const clash = await scim("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "userName", value: "page1@fabrikam.com" }] });
    expect(clash.body).toMatchObject({ status: "409", scimType: "uniqueness" });
  });

  it("serves ServiceProviderConfig, Schemas and ResourceTypes", async () => {
    const spc = await scim("GET", "/ServiceProviderConfig");
    expect(spc.status).toBe(200);
    expect(spc.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    expect(spc.body).toMatchObject({ patch: { supported: true }, filter: { supported: true }, bulk: { supported: false } });
    const schemas = await scim("GET", "/Schemas");
    expect(schemas.body.Resources.map((s: { id: string }) => s.id)).toEqual(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, "urn:ietf:params:scim:schemas:core:2.0:Group"]);
    expect((await scim("GET", `/Schemas/${ENTERPRISE}`)).body.attributes.map((a: { name: string }) => a.name)).toEqual(["department"]);
    const types = await scim("GET", "/ResourceTypes");
    expect(types.body.Resources.map((r: { endpoint: string }) => r.endpoint)).toEqual(["/Users", "/Groups"]);
    expect((await scim("GET", "/ResourceTypes/Group")).body.schema).toBe("urn:ietf:params:scim:schemas:core:2.0:Group");
    expect((await scim("GET", "/ResourceTypes/Device")).status).toBe(404);
  });

  it("answers a missing or wrong bearer with a 401 SCIM error, and keeps SCIM and Graph credentials apart", async () => {
    for (const token of [undefined, "wrong", `allot_scim_${"x".repeat(43)}`, t.adminToken]) {
      const r = await t.request("GET", "/scim/v2/Users", { token, headers: SCIM });
      expect(r.status).toBe(401);
      expect(r.headers.get("content-type")).toMatch(/^application\/scim\+json/);
      expect(r.body).toMatchObject({ schemas: [ERROR], status: "401" });
    }
    expect((await t.request("GET", "/v1.0/users", { token: secret })).status).toBe(401);
    expect((await t.request("GET", "/beta/admin/scimTokens", { token: secret })).status).toBe(401);
  });

  it("isolates tenants: a token of another tenant sees and changes nothing here", async () => {
    const other = await t.request("POST", "/beta/admin/tenants", { token: t.adminToken, body: { displayName: "Fabrikam" } });
    expect(other.status).toBe(201);
    const admin = { tenantId: other.body.id as string, requestId: "test", actor: { type: "system" as const } };
    const otherSecret = (await t.allot.services.scimService.createToken(admin, "Fabrikam Entra")).token;

    const mine = await scim("POST", "/Users", entraUser("isolated@contoso.com", "ext-iso", "Iso Lated"));
    const myGroup = await scim("POST", "/Groups", { displayName: "Isolated group", members: [{ value: mine.body.id }] });
    expect((await scim("GET", "/Users", undefined, otherSecret)).body.totalResults).toBe(0);
    expect((await scim("GET", "/Groups", undefined, otherSecret)).body.totalResults).toBe(0);
    expect((await scim("GET", `/Users?${q('userName eq "isolated@contoso.com"')}`, undefined, otherSecret)).body.totalResults).toBe(0);
    expect((await scim("GET", `/Users/${mine.body.id}`, undefined, otherSecret)).status).toBe(404);
    expect((await scim("PATCH", `/Users/${mine.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: "False" }] }, otherSecret)).status).toBe(404);
    expect((await scim("DELETE", `/Groups/${myGroup.body.id}`, undefined, otherSecret)).status).toBe(404);
    // Its own group cannot take this tenant's user as a member
    const theirs = await scim("POST", "/Groups", { displayName: "Theirs" }, otherSecret);
    const steal = await scim("PATCH", `/Groups/${theirs.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: "Add", path: "members", value: [{ value: mine.body.id }] }] }, otherSecret);
    expect(steal.status).toBe(400);
    // The same userName may exist in both tenants
    expect((await scim("POST", "/Users", entraUser("isolated@contoso.com", "ext-iso", "Iso Lated"), otherSecret)).status).toBe(201);
    expect((await graphUser(mine.body.id)).accountEnabled).toBe(true);
    expect((await scim("GET", `/Groups/${myGroup.body.id}`)).body.members).toHaveLength(1);
    // Each tenant's admin API lists only its own tokens
    const listed = await t.request("GET", "/beta/admin/scimTokens", { token: t.adminToken });
    expect(listed.body.value.map((x: { displayName: string }) => x.displayName)).not.toContain("Fabrikam Entra");
  });

  it("manages tokens through the admin API: secret shown once, never listed or audited, revocation, roles", async () => {
    const created = await t.request("POST", "/beta/admin/scimTokens", { token: t.adminToken, body: { displayName: "Second IdP" } });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(["createdDateTime", "displayName", "id", "token"]);
    const token2 = created.body.token as string;
    expect(token2).toMatch(/^allot_scim_[A-Za-z0-9_-]{40,}$/);
    expect((await scim("GET", "/Users?count=1", undefined, token2)).status).toBe(200);

    const list = await t.request("GET", "/beta/admin/scimTokens", { token: t.adminToken });
    expect(list.status).toBe(200);
    expect(list.body.value.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([tokenId, created.body.id]));
    const first = list.body.value.find((x: { id: string }) => x.id === tokenId);
    expect(Object.keys(first).sort()).toEqual(["createdDateTime", "displayName", "id", "lastUsedDateTime"]);
    expect(first.lastUsedDateTime).not.toBeNull();
    expect(list.text).not.toContain(secret);
    expect(list.text).not.toContain(token2);

    // Only Global administrators manage tokens
    const reader = await t.tokenFor(["userAdministrator"]);
    expect((await t.request("GET", "/beta/admin/scimTokens", { token: reader })).status).toBe(403);
    expect((await t.request("POST", "/beta/admin/scimTokens", { token: reader, body: { displayName: "x" } })).status).toBe(403);
    expect((await t.request("POST", "/beta/admin/scimTokens", { token: t.adminToken, body: {} })).status).toBe(400);
    expect((await t.request("GET", "/v1.0/admin/scimTokens", { token: t.adminToken })).status).toBe(404);

    // Revocation: the secret stops working at once; a second delete is 404
    expect((await t.request("DELETE", `/beta/admin/scimTokens/${created.body.id}`, { token: t.adminToken })).status).toBe(204);
    expect((await scim("GET", "/Users", undefined, token2)).status).toBe(401);
    expect((await t.request("DELETE", `/beta/admin/scimTokens/${created.body.id}`, { token: t.adminToken })).status).toBe(404);

    // Audit: creation and deletion recorded, no secret anywhere in the audit log or its export
    const events = await t.allot.database.db.selectFrom("audit_events").selectAll().execute();
    expect(events.map((e) => e.activity)).toEqual(expect.arrayContaining(["Create SCIM token", "Delete SCIM token"]));
    const everything = JSON.stringify(events);
    for (const s of [secret, token2]) expect(everything).not.toContain(s);
    const stored = await t.allot.database.db.selectFrom("scim_tokens").select("token_hash").execute();
    for (const row of stored) expect([secret, token2]).not.toContain(row.token_hash);
    const exported = await t.request("GET", "/v1.0/deviceManagement/auditEvents/export", { token: t.adminToken });
    expect(exported.status).toBe(200);
    for (const s of [secret, token2]) expect(exported.text).not.toContain(s);
  });
});

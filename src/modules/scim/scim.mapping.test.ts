// How SCIM requests are read: Entra ID's non-standard forms, attribute paths and member operations.
import { describe, expect, it } from "vitest";
import { AppError } from "../../lib/errors.ts";
import { applyUserPatch, parsePath, pickEmail, planGroupPatch, projectAttributes, readPatch, toBoolean, userPropsFromResource, wantsMembers } from "./scim.mapping.ts";

const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const current = {
  userPrincipalName: "ada@contoso.com",
  displayName: "Ada Lovelace",
  accountEnabled: true,
  mail: "ada@contoso.com",
  givenName: "Ada",
  surname: "Lovelace",
  jobTitle: null,
  department: null,
  externalId: "e-1",
};
const scimTypeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return `${err.status}:${(err.details as { scimType?: string }).scimType}`;
    throw err;
  }
  return "no error";
};

describe("SCIM request mapping", () => {
  it("reads booleans as Entra sends them and refuses anything else", () => {
    expect([true, false, "True", "False", "true", " FALSE "].map((v) => toBoolean(v, "active"))).toEqual([true, false, true, false, true, false]);
    expect(scimTypeOf(() => toBoolean("yes", "active"))).toBe("400:invalidValue");
    expect(scimTypeOf(() => toBoolean(1, "active"))).toBe("400:invalidValue");
  });

  it("reads ops case-insensitively and the Operations member in any case", () => {
    expect(readPatch({ Operations: [{ op: "Replace", path: "active", value: "False" }] })).toEqual([{ op: "replace", path: "active", value: "False" }]);
    expect(readPatch({ operations: [{ OP: "ADD", value: { a: 1 } }] })).toEqual([{ op: "add", path: undefined, value: { a: 1 } }]);
    expect(scimTypeOf(() => readPatch({ Operations: [] }))).toBe("400:invalidSyntax");
    expect(scimTypeOf(() => readPatch({ Operations: [{ op: "copy", path: "x" }] }))).toBe("400:invalidSyntax");
  });

  it("parses attribute paths with schema prefixes, value filters and sub-attributes", () => {
    expect(parsePath('emails[type eq "work"].value', "User")).toMatchObject({ attribute: "emails", sub: "value", filter: { op: "eq", attrPath: "type", compValue: "work" } });
    expect(parsePath(`${ENTERPRISE}:department`, "User")).toMatchObject({ attribute: "enterprise:department" });
    expect(parsePath("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "User")).toMatchObject({ attribute: "name", sub: "givenname" });
    expect(parsePath('members[value eq "abc"]', "Group")).toMatchObject({ attribute: "members", filter: { attrPath: "value", compValue: "abc" } });
    expect(scimTypeOf(() => parsePath("emails[type eq ].value", "User"))).toBe("400:invalidFilter");
    expect(scimTypeOf(() => parsePath("not a path!", "User"))).toBe("400:invalidPath");
  });

  it("applies path-less operations carrying an object of attributes, returning only what changed", () => {
    const ops = readPatch({
      Operations: [
        {
          op: "Replace",
          value: {
            active: "False",
            displayName: "Countess of Lovelace",
            "name.givenName": "Augusta Ada",
            'emails[type eq "work"].value': "countess@contoso.com",
            [`${ENTERPRISE}:department`]: "Analytical Engines",
            [`${ENTERPRISE}:employeeNumber`]: "1815",
            preferredLanguage: "en-GB",
          },
        },
      ],
    });
    expect(applyUserPatch(current, ops)).toEqual({
      accountEnabled: false,
      displayName: "Countess of Lovelace",
      givenName: "Augusta Ada",
      mail: "countess@contoso.com",
      department: "Analytical Engines",
    });
    // the extension as a nested object, name as an object
    expect(applyUserPatch(current, readPatch({ Operations: [{ op: "add", value: { [ENTERPRISE]: { department: "R&D" }, name: { familyName: "King" } } }] }))).toEqual({ department: "R&D", surname: "King" });
  });

  it("keeps only the work or primary e-mail and ignores other kinds", () => {
    expect(applyUserPatch(current, readPatch({ Operations: [{ op: "Add", path: 'emails[type eq "home"].value', value: "home@example.com" }] }))).toEqual({});
    expect(applyUserPatch(current, readPatch({ Operations: [{ op: "replace", path: "emails", value: [{ value: "b@x.com", type: "home" }, { value: "p@x.com", primary: "True" }] }] }))).toEqual({ mail: "p@x.com" });
    expect(applyUserPatch(current, readPatch({ Operations: [{ op: "remove", path: 'emails[type eq "work"]' }] }))).toEqual({ mail: null });
    expect(pickEmail([{ value: "o@x.com", type: "other" }, { value: "w@x.com", type: "work" }])).toBe("w@x.com");
    expect(pickEmail([])).toBeNull();
  });

  it("removes optional attributes, refuses to remove userName or active, and falls back for displayName", () => {
    expect(applyUserPatch(current, readPatch({ Operations: [{ op: "Remove", path: "externalId" }, { op: "Remove", path: "displayName" }] }))).toEqual({ externalId: null }); // the fallback name equals the current one
    expect(applyUserPatch({ ...current, givenName: null, surname: null }, readPatch({ Operations: [{ op: "Remove", path: "displayName" }] }))).toEqual({ displayName: "ada@contoso.com" });
    expect(scimTypeOf(() => applyUserPatch(current, readPatch({ Operations: [{ op: "Remove", path: "userName" }] })))).toBe("400:mutability");
    expect(scimTypeOf(() => applyUserPatch(current, readPatch({ Operations: [{ op: "Remove", path: "active" }] })))).toBe("400:mutability");
    expect(scimTypeOf(() => applyUserPatch(current, readPatch({ Operations: [{ op: "Remove" }] })))).toBe("400:noTarget");
    expect(scimTypeOf(() => applyUserPatch(current, readPatch({ Operations: [{ op: "Replace", value: "False" }] })))).toBe("400:invalidSyntax");
  });

  it("reads a full User resource (POST/PUT), requiring userName and deriving displayName", () => {
    expect(userPropsFromResource({ userName: "u@x.com", name: { givenName: "U", familyName: "X" }, [ENTERPRISE]: { department: "Ops" }, active: "True" })).toEqual({
      userPrincipalName: "u@x.com",
      displayName: "U X",
      accountEnabled: true,
      mail: null,
      givenName: "U",
      surname: "X",
      jobTitle: null,
      department: "Ops",
      externalId: null,
    });
    expect(userPropsFromResource({ userName: "u@x.com" })).not.toHaveProperty("accountEnabled");
    expect(scimTypeOf(() => userPropsFromResource({ displayName: "No user name" }))).toBe("400:invalidValue");
    expect(scimTypeOf(() => userPropsFromResource({ userName: { nested: true } }))).toBe("400:invalidValue");
  });

  it("plans group member steps from every form Entra and the RFC use", () => {
    const a = "3f1c1c55-1111-4aaa-8bbb-000000000001";
    const b = "3f1c1c55-1111-4aaa-8bbb-000000000002";
    const plan = planGroupPatch(
      readPatch({
        Operations: [
          { op: "Add", path: "members", value: [{ value: a }, { value: b.toUpperCase() }] },
          { op: "Remove", path: "members", value: [{ value: a }] },
          { op: "remove", path: `members[value eq "${b}"]` },
          { op: "Replace", path: "displayName", value: "Renamed" },
          { op: "replace", value: { externalId: "x-9", members: [{ value: a }] } },
          { op: "remove", path: "members" },
        ],
      }),
    );
    expect(plan.props).toEqual({ displayName: "Renamed", externalId: "x-9" });
    expect(plan.steps).toEqual([{ kind: "add", ids: [a, b] }, { kind: "remove", ids: [a] }, { kind: "remove", ids: [b] }, { kind: "set", ids: [a] }, { kind: "removeAll" }]);
    expect(scimTypeOf(() => planGroupPatch(readPatch({ Operations: [{ op: "add", path: 'members[value eq "x"]', value: [] }] })))).toBe("400:invalidPath");
    expect(scimTypeOf(() => planGroupPatch(readPatch({ Operations: [{ op: "remove", path: 'members[display eq "x"]' }] })))).toBe("400:invalidFilter");
    expect(scimTypeOf(() => planGroupPatch(readPatch({ Operations: [{ op: "add", path: "members", value: [{ display: "no id" }] }] })))).toBe("400:invalidValue");
    expect(scimTypeOf(() => planGroupPatch(readPatch({ Operations: [{ op: "remove", path: "displayName" }] })))).toBe("400:mutability");
  });

  it("projects attributes and excludedAttributes, always keeping id, schemas and meta", () => {
    const r = { schemas: ["s"], id: "1", userName: "u", emails: [], [ENTERPRISE]: { department: "d" }, meta: {} };
    expect(Object.keys(projectAttributes(r, "userName,emails.value"))).toEqual(["schemas", "id", "userName", "emails", "meta"]);
    expect(Object.keys(projectAttributes(r, `${ENTERPRISE}:department`))).toEqual(["schemas", "id", ENTERPRISE, "meta"]);
    expect(Object.keys(projectAttributes(r, undefined, "emails,id"))).toEqual(["schemas", "id", "userName", ENTERPRISE, "meta"]);
    expect([wantsMembers(undefined, "members"), wantsMembers("displayName"), wantsMembers("members.value"), wantsMembers(undefined, undefined)]).toEqual([false, false, true, true]);
  });
});

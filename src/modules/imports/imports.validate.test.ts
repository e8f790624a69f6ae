// The import validator on its own: CSV dialect details (BOM, CRLF, quoted newlines) keep line
// numbers right, and nested groups stay acyclic across existing and new edges.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { type ImportPlan, ImportValidator, type KeyIndex, readCsv, type ReferenceLoader } from "./imports.validate.ts";

const index = (pairs: [string, string][]): KeyIndex => ({ keys: new Map(pairs.map(([k], i) => [k, i])), ids: pairs.map(([, id]) => id) });

function refs(over: Partial<ReferenceLoader> = {}): ReferenceLoader {
  return {
    users: async () => index([["ada@contoso.com", "u-ada"]]),
    devices: async () => index([["SER1", "d-1"]]),
    groups: async () => [
      { id: "g-a", key: "a", memberKind: "mixed", displayName: "A" },
      { id: "g-b", key: "b", memberKind: "mixed", displayName: "B" },
      { id: "g-c", key: "c", memberKind: "user", displayName: "C" },
    ],
    groupEdges: async () => [{ parent: "g-a", child: "g-b" }],
    groupsWithMemberType: async () => [],
    ...over,
  };
}

async function validate(kind: "users" | "devices" | "groups" | "members", text: string | Buffer, r = refs(), chunkSize = 7) {
  const v = new ImportValidator(kind, r);
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  await readCsv(Readable.from(chunks), v);
  return v.finish();
}

describe("import validation", () => {
  it("keeps line numbers right across a BOM, CRLF endings, blank lines and quoted newlines", async () => {
    const text = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('userPrincipalName,displayName,department\r\nada@contoso.com,"Ada\r\nLovelace",R&D\r\n\r\nbob@contoso.com,Bob,"Sales, ""EMEA"""\r\nbad,Carol,\r\n'),
    ]);
    const r = await validate("users", text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([{ line: 6, column: "userPrincipalName", message: expect.stringMatching(/'bad'/) }]);
  });

  it("produces a columnar plan with defaults for absent columns and only present columns marked for update", async () => {
    const r = await validate("users", "displayName,userPrincipalName,usageLocation\nAda,ada@contoso.com,gb\nBob,bob@contoso.com,\n");
    expect(r.ok).toBe(true);
    const plan = (r as { plan: ImportPlan }).plan;
    expect(plan).toEqual({
      kind: "users",
      rows: 2,
      columns: { user_principal_name: ["ada@contoso.com", "bob@contoso.com"], display_name: ["Ada", "Bob"], account_enabled: ["true", "true"], usage_location: ["GB", null] },
      present: expect.arrayContaining(["display_name", "user_principal_name", "usage_location"]),
    });
    expect((plan as { present: string[] }).present).toHaveLength(3);
  });

  it("resolves members and refuses a cycle through an existing edge", async () => {
    const ok = await validate("members", "groupMailNickname,memberType,member\na,user,ADA@contoso.com\nc,group,a\nb,device,ser1\n");
    expect(ok).toMatchObject({ ok: true, plan: { kind: "members", rows: 3, groupIds: ["g-a", "g-c", "g-b"], memberIds: ["u-ada", "g-a", "d-1"], memberTypes: ["user", "group", "device"] } });
    // a → b exists; b → c and c → a close a cycle
    const cycle = await validate("members", "groupMailNickname,memberType,member\nb,group,c\nc,group,a\n");
    expect(cycle.ok).toBe(false);
    if (cycle.ok) return;
    expect(cycle.errors.map((e) => e.line)).toEqual([2, 3]);
    expect(cycle.errors[0].message).toMatch(/cycle/);
  });

  it("loads each reference map at most once and only when rows need it", async () => {
    const calls: string[] = [];
    const counted = refs({
      users: async () => {
        calls.push("users");
        return index([["ada@contoso.com", "u-ada"]]);
      },
      devices: async () => {
        calls.push("devices");
        return index([]);
      },
    });
    const rows = Array.from({ length: 50 }, () => "").map((_, i) => `S${i},Phone ${i},iOS,ada@contoso.com`);
    const r = await validate("devices", `serialNumber,deviceName,operatingSystem,userPrincipalName\n${rows.join("\n")}\n`, counted, 13);
    expect(r.ok).toBe(true);
    expect(calls).toEqual(["users"]);
  });
});

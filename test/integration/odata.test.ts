// API-1 over real HTTP on the test engine: every OData query option on users, groups, managed
// devices and the polymorphic member collections; $batch; and bad input of every kind, each
// answered with exactly Graph's error shape.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

type Res = Awaited<ReturnType<TestAllot["request"]>>;
type Obj = Record<string, any>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Asserts the exact Graph error body and that the request-id header matches the inner one. */
function expectGraphError(res: Res, status: number, message?: RegExp | string) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(Object.keys(res.body)).toEqual(["error"]);
  expect(Object.keys(res.body.error).sort()).toEqual(["code", "innerError", "message"]);
  expect(Object.keys(res.body.error.innerError).sort()).toEqual(["date", "request-id"]);
  expect(typeof res.body.error.code).toBe("string");
  expect(res.body.error.code.length).toBeGreaterThan(0);
  expect(typeof res.body.error.message).toBe("string");
  expect(res.body.error.innerError["request-id"]).toMatch(UUID);
  expect(res.headers.get("request-id")).toBe(res.body.error.innerError["request-id"]);
  expect(res.body.error.innerError.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  if (message !== undefined) {
    if (typeof message === "string") expect(res.body.error.message).toContain(message);
    else expect(res.body.error.message).toMatch(message);
  }
}

describe(`OData query options, $batch and bad input (${engine})`, () => {
  let t: TestAllot;
  let get: (path: string, headers?: Record<string, string>) => Promise<Res>;
  let follow: (link: string) => Promise<Res>;
  /** All pages of a listing, following @odata.nextLink (on the test server's origin). */
  let all: (
    path: string,
    headers?: Record<string, string>,
  ) => Promise<{ items: Obj[]; pages: number; first: Res }>;
  const users: Obj[] = [];
  const devices: Obj[] = [];
  const g: Record<string, Obj> = {};

  /** A request with a chosen Host header (fetch does not let a caller set it). */
  function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    const u = new URL(t.url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path,
          method: "GET",
          headers: { authorization: `Bearer ${t.adminToken}`, ...headers },
        },
        (res) => {
          let data = "";
          res.setEncoding("utf8");
          res.on("data", (c) => {
            data += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  beforeAll(async () => {
    t = await startTestAllot();
    get = (path, headers) => t.request("GET", path, { token: t.adminToken, headers });
    follow = (link) => {
      expect(link.startsWith(`${t.url}/`)).toBe(true);
      return get(link.slice(t.url.length));
    };
    all = async (path, headers) => {
      const first = await get(path, headers);
      expect(first.status, first.text).toBe(200);
      const items = [...first.body.value];
      let pages = 1;
      let next: string | undefined = first.body["@odata.nextLink"];
      while (next) {
        const page = await follow(next);
        expect(page.status, page.text).toBe(200);
        items.push(...page.body.value);
        pages++;
        next = page.body["@odata.nextLink"];
      }
      return { items, pages, first };
    };
    const post = async (path: string, body: unknown) => {
      const res = await t.request("POST", path, { token: t.adminToken, body });
      expect(res.status, res.text).toBe(201);
      return res.body as Obj;
    };
    const names = ["Ann", "bob", "Cara", "dan", "Eve"];
    for (let i = 0; i < 25; i++)
      users.push(
        await post("/v1.0/users", {
          displayName: `${names[i % 5]} ${String(i).padStart(2, "0")}`,
          userPrincipalName: `u${i}@contoso.com`,
          accountEnabled: i % 4 !== 0,
          department: i % 3 === 0 ? "Sales" : "Engineering",
          mail: i % 2 === 0 ? `u${i}@contoso.com` : undefined,
        }),
      );
    const oses = ["iOS", "iPadOS", "macOS", "Windows", "iPadOS", "iOS"];
    for (let i = 0; i < 6; i++)
      devices.push(
        await post("/v1.0/deviceManagement/managedDevices", {
          deviceName: `Device ${i}`,
          operatingSystem: oses[i],
          serialNumber: `SN${i}`,
          isSupervised: i % 2 === 0,
          userId: i < 3 ? users[i].id : null,
          managedDeviceOwnerType: i === 5 ? "personal" : "company",
        }),
      );
    g.staff = await post("/v1.0/groups", {
      displayName: "Staff",
      memberKind: "mixed",
      description: "everyone",
    });
    g.team = await post("/v1.0/groups", { displayName: "Team", memberKind: "user" });
    g.ipads = await post("/v1.0/groups", { displayName: "iPads", memberKind: "device" });
    g.empty = await post("/v1.0/groups", { displayName: "Empty", memberKind: "user", mailNickname: "empty" });
    const add = async (group: Obj, id: string) => {
      const res = await t.request("POST", `/v1.0/groups/${group.id}/members/$ref`, {
        token: t.adminToken,
        body: { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${id}` },
      });
      expect(res.status, res.text).toBe(204);
    };
    for (const u of users.slice(0, 5)) await add(g.staff, u.id);
    for (const u of users.slice(5, 9)) await add(g.team, u.id);
    await add(g.staff, g.team.id);
    await add(g.staff, devices[0].id);
    await add(g.staff, devices[1].id);
    await add(g.ipads, devices[1].id);
    await add(g.ipads, devices[4].id);
  }, 120_000);
  afterAll(async () => t?.close());

  const ids = (items: Obj[]) => items.map((i) => i.id);
  const sorted = (a: string[]) => [...a].sort();

  // ------------------------------------------------------------------ users

  describe("/v1.0/users", () => {
    it("$filter selects exactly the matching users (startswith ignores case, not, ne, in, and/or)", async () => {
      const starts = await get("/v1.0/users?$filter=startswith(displayName,'B')");
      expect(sorted(ids(starts.body.value))).toEqual(
        sorted(ids(users.filter((u) => u.displayName.startsWith("bob")))),
      );
      const combo = await get(
        `/v1.0/users?$filter=${encodeURIComponent("department eq 'sales' and (accountEnabled eq false or startswith(displayName,'eve'))")}`,
      );
      const expected = users.filter(
        (u, i) => i % 3 === 0 && (i % 4 === 0 || u.displayName.startsWith("Eve")),
      );
      expect(sorted(ids(combo.body.value))).toEqual(sorted(ids(expected)));
      const notIn = await get(
        `/v1.0/users?$filter=${encodeURIComponent("not (department in ('Engineering')) and mail ne null")}&$count=true`,
      );
      expect(notIn.body["@odata.count"]).toBe(users.filter((_, i) => i % 3 === 0 && i % 2 === 0).length);
      const byId = await get(`/v1.0/users?$filter=id eq ${users[7].id}`);
      expect(ids(byId.body.value)).toEqual([users[7].id]);
      const endsWith = await get(
        `/v1.0/users?$filter=${encodeURIComponent("endswith(userPrincipalName,'7@contoso.com')")}`,
      );
      expect(sorted(ids(endsWith.body.value))).toEqual(sorted([users[7].id, users[17].id]));
      const since = await get(
        `/v1.0/users?$filter=createdDateTime ge ${encodeURIComponent(users[0].createdDateTime)}&$count=true&$top=1`,
      );
      expect(since.body["@odata.count"]).toBe(25);
    });

    it("$select returns only those properties, and @odata.context reflects it", async () => {
      const res = await get("/v1.0/users?$select=displayName,id&$top=3");
      expect(res.body["@odata.context"]).toBe(`${t.url}/v1.0/$metadata#users(displayName,id)`);
      for (const u of res.body.value) expect(Object.keys(u).sort()).toEqual(["displayName", "id"]);
      const one = await get(`/v1.0/users/${users[3].id}?$select=mail`);
      expect(one.body).toEqual({
        "@odata.context": `${t.url}/v1.0/$metadata#users(mail)/$entity`,
        mail: null,
      });
      const plain = await get("/v1.0/users?$top=1");
      expect(plain.body["@odata.context"]).toBe(`${t.url}/v1.0/$metadata#users`);
      expect(Object.keys(plain.body.value[0])).toEqual(
        expect.arrayContaining(["id", "displayName", "userPrincipalName", "accountEnabled", "mail"]),
      );
    });

    it("$expand=memberOf lists each user's groups (with $select and on a single user)", async () => {
      const res = await get(
        `/v1.0/users?$expand=memberOf&$select=id&$filter=${encodeURIComponent(`id in (${users[0].id}, ${users[6].id}, ${users[20].id})`)}`,
      );
      const byId = new Map<string, Obj>(res.body.value.map((u: Obj) => [u.id, u]));
      expect(byId.get(users[0].id)!.memberOf.map((x: Obj) => x.id)).toEqual([g.staff.id]);
      expect(byId.get(users[6].id)!.memberOf.map((x: Obj) => x.id)).toEqual([g.team.id]);
      expect(byId.get(users[20].id)!.memberOf).toEqual([]);
      expect(byId.get(users[0].id)!.memberOf[0]["@odata.type"]).toBe("#microsoft.graph.group");
      const one = await get(`/v1.0/users/${users[6].id}?$expand=memberOf`);
      expect(one.status, one.text).toBe(200);
      expect(one.body.memberOf.map((x: Obj) => x.id)).toEqual([g.team.id]);
      const withDevices = await get(`/v1.0/users/${users[0].id}?$expand=managedDevices,memberOf&$select=id`);
      expect(Object.keys(withDevices.body).sort()).toEqual([
        "@odata.context",
        "id",
        "managedDevices",
        "memberOf",
      ]);
      expect(withDevices.body.managedDevices.map((d: Obj) => d.id)).toEqual([devices[0].id]);
      expect(withDevices.body.memberOf.map((x: Obj) => x.id)).toEqual([g.staff.id]);
      expectGraphError(await get("/v1.0/users?$expand=manager"), 400, "'manager'");
      expectGraphError(await get(`/v1.0/users/${users[0].id}?$expand=manager`), 400, "'manager'");
    });

    it("$orderby asc/desc pages stably: every user once, in order, across pages", async () => {
      const byName = (a: Obj, b: Obj) =>
        a.displayName.toLowerCase() < b.displayName.toLowerCase()
          ? -1
          : a.displayName.toLowerCase() > b.displayName.toLowerCase()
            ? 1
            : 0;
      const asc = await all("/v1.0/users?$orderby=displayName&$top=4");
      expect(asc.pages).toBe(7);
      expect(ids(asc.items)).toEqual(ids([...users].sort(byName)));
      const desc = await all("/v1.0/users?$orderby=displayName%20desc&$top=6");
      expect(ids(desc.items)).toEqual(ids([...users].sort(byName).reverse()));
      // ties on the first key are broken by creation order, so pages never overlap
      const multi = await all("/v1.0/users?$orderby=department%20desc,accountEnabled&$top=5");
      expect(new Set(ids(multi.items)).size).toBe(25);
      const depts = multi.items.map((u) => u.department);
      expect(depts).toEqual([...depts].sort().reverse());
      const keyset = await all("/v1.0/users?$top=10");
      expect(ids(keyset.items)).toEqual(ids(users));
    });

    it("$top is 1..999 (1000 → 400 naming $top); `top` works without the $; $skip skips", async () => {
      const max = await get("/v1.0/users?$top=999");
      expect(max.status).toBe(200);
      expect(max.body.value).toHaveLength(25);
      expect(max.body["@odata.nextLink"]).toBeUndefined();
      expectGraphError(await get("/v1.0/users?$top=1000"), 400, "$top");
      expectGraphError(await get("/v1.0/users?$top=0"), 400, "$top");
      expectGraphError(await get("/v1.0/users?$top=ten"), 400, "$top");
      expectGraphError(await get("/v1.0/users?$skip=-1"), 400, "$skip");
      const noDollar = await get("/v1.0/users?top=3&filter=startswith(displayName,'a')&count=true");
      expect(noDollar.body.value).toHaveLength(3);
      expect(noDollar.body["@odata.count"]).toBe(5);
      // option names in any letter case
      const upper = await get("/v1.0/users?$TOP=2&$Filter=startswith(displayName,'a')&$COUNT=true");
      expect(upper.body.value).toHaveLength(2);
      expect(upper.body["@odata.count"]).toBe(5);
      expectGraphError(await get("/v1.0/users?$top=2&top=3"), 400, "$top");
      expectGraphError(await get("/v1.0/users?$skip=99999999999999999999"), 400, "$skip");
      const skipped = await get("/v1.0/users?$skip=20");
      expect(ids(skipped.body.value)).toEqual(ids(users.slice(20)));
      const skipOrdered = await all("/v1.0/users?$orderby=userPrincipalName%20desc&$skip=3&$top=10");
      expect(skipOrdered.items.map((u) => u.userPrincipalName)).toEqual(
        users
          .map((u) => u.userPrincipalName)
          .sort()
          .reverse()
          .slice(3),
      );
    });

    it("$count=true gives @odata.count with and without ConsistencyLevel: eventual", async () => {
      const a = await get("/v1.0/users?$count=true&$top=2");
      const b = await get("/v1.0/users?$count=true&$top=2", { ConsistencyLevel: "eventual" });
      expect(a.body["@odata.count"]).toBe(25);
      expect(b.body["@odata.count"]).toBe(25);
      const none = await get("/v1.0/users?$top=2");
      expect(none.body["@odata.count"]).toBeUndefined();
      const off = await get("/v1.0/users?$count=false&$top=2");
      expect(off.body["@odata.count"]).toBeUndefined();
      expectGraphError(await get("/v1.0/users?$count=yes"), 400, "$count");
    });

    it("@odata.nextLink is absolute on the request's own scheme and host, and keeps the other options", async () => {
      const plain = await rawGet("/v1.0/users?$top=2&$filter=accountEnabled%20eq%20true", {
        host: "example.test:1234",
      });
      expect(plain.status).toBe(200);
      const link = new URL(plain.body["@odata.nextLink"]);
      expect(`${link.protocol}//${link.host}${link.pathname}`).toBe("http://example.test:1234/v1.0/users");
      expect(link.searchParams.get("$top")).toBe("2");
      expect(link.searchParams.get("$filter")).toBe("accountEnabled eq true");
      expect(link.searchParams.get("$skiptoken")).toBeTruthy();
      expect(plain.body["@odata.context"]).toBe("http://example.test:1234/v1.0/$metadata#users");
      const proxied = await rawGet("/beta/users?$top=2", {
        host: "example.test:1234",
        "x-forwarded-proto": "https",
      });
      expect(proxied.body["@odata.nextLink"]).toMatch(/^https:\/\/example\.test:1234\/beta\/users\?/);
      // following it on the real origin continues the listing
      const next = await get(`${link.pathname}${link.search}`);
      expect(next.status).toBe(200);
      const firstTwo = ids(plain.body.value);
      for (const id of ids(next.body.value)) expect(firstTwo).not.toContain(id);
      expectGraphError(await get("/v1.0/users?$skiptoken=garbage"), 400, "$skiptoken");
      const token = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
      expectGraphError(await get(`/v1.0/users?$skiptoken=${token({ o: -5 })}`), 400, "$skiptoken");
      expectGraphError(await get(`/v1.0/users?$skiptoken=${token({ k: 1e300 })}`), 400, "$skiptoken");
      // a Host header that is not host[:port] cannot become a link
      for (const host of ["bad host", "example.test:99999", "example.test/path"])
        expect((await rawGet("/v1.0/users?$top=1", { host })).status, host).toBe(400);
    });

    it("rejects unknown options and unknown properties with 400s that name them; malformed $filter → 400", async () => {
      expectGraphError(await get("/v1.0/users?$foo=1"), 400, "'$foo'");
      expectGraphError(await get("/v1.0/users?$filter=nickname%20eq%20'x'"), 400, "'nickname'");
      expectGraphError(await get("/v1.0/users?$select=id,nickname"), 400, "'nickname'");
      expectGraphError(await get("/v1.0/users?$orderby=nickname"), 400, "'nickname'");
      expectGraphError(await get("/v1.0/users?$orderby=displayName%20sideways"), 400, "displayName sideways");
      expectGraphError(await get("/v1.0/users?$filter=displayName%20eq"), 400, /filter/i);
      expectGraphError(
        await get("/v1.0/users?$filter=displayName%20eq%20'unterminated"),
        400,
        /unterminated/,
      );
      expectGraphError(await get("/v1.0/users?$filter=substringof('a',displayName)"), 400, "'substringof'");
      expectGraphError(await get("/v1.0/users?$filter=displayName%20like%20'a'"), 400, "'like'");
      expectGraphError(await get("/v1.0/users?$filter=id%20eq%20'nope'"), 400, "'id'");
      expectGraphError(await get("/v1.0/users?$filter=accountEnabled%20eq%20'yes'"), 400, "'accountEnabled'");
      expectGraphError(await get("/v1.0/users?$top=1&$top=2"), 400, "$top");
      expectGraphError(await get("/v1.0/users?$search=%22displayName:ann%22"), 400, "$search");
      expectGraphError(await get(`/v1.0/users/${users[0].id}?$filter=accountEnabled`), 400, "$filter");
    });
  });

  // ------------------------------------------------------------------ groups

  describe("/v1.0/groups", () => {
    it("$filter, $select, $orderby, $count", async () => {
      const res = await get(
        `/v1.0/groups?$filter=${encodeURIComponent("memberKind in ('user','device')")}&$select=displayName&$orderby=displayName%20desc&$count=true`,
      );
      expect(res.body["@odata.context"]).toBe(`${t.url}/v1.0/$metadata#groups(displayName)`);
      expect(res.body["@odata.count"]).toBe(3);
      expect(res.body.value).toEqual([
        { displayName: "Team" },
        { displayName: "iPads" },
        { displayName: "Empty" },
      ]);
      const nick = await get("/v1.0/groups?$filter=mailNickname%20eq%20'EMPTY'");
      expect(ids(nick.body.value)).toEqual([g.empty.id]);
      expectGraphError(await get("/v1.0/groups?$filter=memberKind%20eq%20'robots'"), 400, "'robots'");
      expectGraphError(await get("/v1.0/groups?$select=owner"), 400, "'owner'");
    });

    it("$expand=members lists each group's direct members with their @odata.type", async () => {
      const res = await get(
        `/v1.0/groups?$expand=members&$filter=${encodeURIComponent("displayName in ('Staff','iPads','Empty')")}&$orderby=displayName`,
      );
      const [empty, ipads, staff] = res.body.value;
      expect(empty.members).toEqual([]);
      expect(sorted(ids(ipads.members))).toEqual(sorted([devices[1].id, devices[4].id]));
      expect(ipads.members.every((m: Obj) => m["@odata.type"] === "#microsoft.graph.managedDevice")).toBe(
        true,
      );
      expect(sorted(ids(staff.members))).toEqual(
        sorted([...ids(users.slice(0, 5)), g.team.id, devices[0].id, devices[1].id]),
      );
      const types = new Set(staff.members.map((m: Obj) => m["@odata.type"]));
      expect(types).toEqual(
        new Set(["#microsoft.graph.user", "#microsoft.graph.group", "#microsoft.graph.managedDevice"]),
      );
      const one = await get(`/v1.0/groups/${g.team.id}?$expand=members&$select=id`);
      expect(one.body.id).toBe(g.team.id);
      expect(sorted(ids(one.body.members))).toEqual(sorted(ids(users.slice(5, 9))));
    });
  });

  // ------------------------------------------------------------------ managed devices

  describe("/v1.0/deviceManagement/managedDevices", () => {
    it("$filter on enums, booleans and the primary user; $select; $orderby; $top/$skip; $count", async () => {
      const ios = await get(
        `/v1.0/deviceManagement/managedDevices?$filter=${encodeURIComponent("operatingSystem eq 'iOS' or operatingSystem eq 'ipados'")}&$count=true`,
      );
      expect(ios.body["@odata.count"]).toBe(4);
      expect(sorted(ids(ios.body.value))).toEqual(
        sorted(ids([devices[0], devices[1], devices[4], devices[5]])),
      );
      const supervised = await get(
        "/v1.0/deviceManagement/managedDevices?$filter=isSupervised&$select=deviceName,isSupervised",
      );
      expect(supervised.body.value).toEqual(
        [0, 2, 4].map((i) => ({ deviceName: `Device ${i}`, isSupervised: true })),
      );
      const ofUser = await get(`/v1.0/deviceManagement/managedDevices?$filter=userId eq ${users[1].id}`);
      expect(ids(ofUser.body.value)).toEqual([devices[1].id]);
      expect(ofUser.body.value[0].userPrincipalName).toBe("u1@contoso.com");
      const unowned = await get(
        "/v1.0/deviceManagement/managedDevices?$filter=userId%20eq%20null&$count=true&$top=1",
      );
      expect(unowned.body["@odata.count"]).toBe(3);
      const personal = await get(
        "/v1.0/deviceManagement/managedDevices?$filter=managedDeviceOwnerType%20eq%20'personal'",
      );
      expect(ids(personal.body.value)).toEqual([devices[5].id]);
      const paged = await all(
        "/v1.0/deviceManagement/managedDevices?$orderby=deviceName%20desc&$skip=1&$top=2",
      );
      expect(paged.items.map((d) => d.deviceName)).toEqual([
        "Device 4",
        "Device 3",
        "Device 2",
        "Device 1",
        "Device 0",
      ]);
      expect(paged.first.body["@odata.context"]).toBe(
        `${t.url}/v1.0/$metadata#deviceManagement/managedDevices`,
      );
      const expanded = await get(
        `/v1.0/deviceManagement/managedDevices?$expand=users&$filter=serialNumber%20eq%20'sn2'`,
      );
      expect(expanded.body.value[0].users.map((u: Obj) => u.id)).toEqual([users[2].id]);
      expectGraphError(
        await get("/v1.0/deviceManagement/managedDevices?$filter=operatingSystem%20eq%20'Android'"),
        400,
        "'Android'",
      );
      const single = await get(
        `/v1.0/deviceManagement/managedDevices/${devices[0].id}?$expand=users&$select=deviceName`,
      );
      expect(single.body["@odata.context"]).toBe(
        `${t.url}/v1.0/$metadata#deviceManagement/managedDevices(deviceName)/$entity`,
      );
      expect(single.body.deviceName).toBe("Device 0");
      expect(single.body.users.map((u: Obj) => u.id)).toEqual([users[0].id]);
      expectGraphError(await get("/v1.0/deviceManagement/managedDevices?$orderby=imei"), 400, "'imei'");
    });
  });

  describe("/v1.0/users/{id}/managedDevices", () => {
    it("lists only that user's devices, whatever the caller's $filter says", async () => {
      const own = await get(`/v1.0/users/${users[1].id}/managedDevices?$select=id`);
      expect(ids(own.body.value)).toEqual([devices[1].id]);
      const narrowed = await get(
        `/v1.0/users/${users[0].id}/managedDevices?$filter=isSupervised%20eq%20false`,
      );
      expect(narrowed.body.value).toEqual([]);
      // text that would escape a string-built "userId eq X and (...)" scope stays inside it
      const breakout = await get(
        `/v1.0/users/${users[0].id}/managedDevices?$filter=${encodeURIComponent("isSupervised) or (isSupervised")}`,
      );
      expectGraphError(breakout, 400);
      const or = await get(
        `/v1.0/users/${users[0].id}/managedDevices?$filter=${encodeURIComponent("isSupervised or operatingSystem eq 'macOS'")}`,
      );
      expect(ids(or.body.value)).toEqual([devices[0].id]);
    });
  });

  // ------------------------------------------------------------------ polymorphic collections

  describe("/groups/{id}/members and transitiveMembers", () => {
    it("filters on derived-type properties used directly", async () => {
      const bySerial = await get(`/v1.0/groups/${g.staff.id}/members?$filter=serialNumber%20eq%20'sn1'`);
      expect(ids(bySerial.body.value)).toEqual([devices[1].id]);
      expect(bySerial.body.value[0]["@odata.type"]).toBe("#microsoft.graph.managedDevice");
      const byUpn = await get(
        `/v1.0/groups/${g.staff.id}/members?$filter=${encodeURIComponent("userPrincipalName in ('u2@contoso.com','u3@contoso.com')")}`,
      );
      expect(sorted(ids(byUpn.body.value))).toEqual(sorted([users[2].id, users[3].id]));
      const byKind = await get(`/v1.0/groups/${g.staff.id}/members?$filter=memberKind%20eq%20'user'`);
      expect(ids(byKind.body.value)).toEqual([g.team.id]);
      const byName = await get(
        `/v1.0/groups/${g.staff.id}/members?$filter=startswith(displayName,'device')&$count=true`,
      );
      expect(byName.body["@odata.count"]).toBe(2);
    });

    it("filters through a cast segment in the path and in the filter, and with isof()", async () => {
      const cast = await get(
        `/v1.0/groups/${g.staff.id}/members/microsoft.graph.user?$filter=startswith(displayName,'a')&$count=true`,
      );
      expect(cast.status, cast.text).toBe(200);
      expect(ids(cast.body.value)).toEqual([users[0].id]);
      expect(cast.body["@odata.count"]).toBe(1);
      expect(cast.body["@odata.context"]).toBe(`${t.url}/v1.0/$metadata#users`);
      const castAll = await get(`/v1.0/groups/${g.staff.id}/members/microsoft.graph.user`);
      expect(sorted(ids(castAll.body.value))).toEqual(sorted(ids(users.slice(0, 5))));
      const devicesOnly = await get(
        `/v1.0/groups/${g.staff.id}/members/microsoft.graph.managedDevice?$select=deviceName`,
      );
      expect(devicesOnly.body.value.map((d: Obj) => d.deviceName)).toEqual(["Device 0", "Device 1"]);
      const deviceAlias = await get(`/v1.0/groups/${g.staff.id}/members/microsoft.graph.device?$count=true`);
      expect(deviceAlias.body["@odata.count"]).toBe(2);
      const inFilter = await get(
        `/v1.0/groups/${g.staff.id}/members?$filter=${encodeURIComponent("microsoft.graph.user/accountEnabled eq false")}`,
      );
      expect(ids(inFilter.body.value)).toEqual([users[0].id, users[4].id]);
      const isof = await get(
        `/v1.0/groups/${g.staff.id}/members?$filter=${encodeURIComponent("isof('microsoft.graph.user')")}&$count=true`,
      );
      expect(isof.body["@odata.count"]).toBe(5);
      const notUser = await get(
        `/v1.0/groups/${g.staff.id}/members?$filter=${encodeURIComponent("not isof('microsoft.graph.user')")}`,
      );
      expect(sorted(ids(notUser.body.value))).toEqual(sorted([g.team.id, devices[0].id, devices[1].id]));
      expectGraphError(
        await get(`/v1.0/groups/${g.staff.id}/members/microsoft.graph.printer`),
        400,
        "microsoft.graph.printer",
      );
      expectGraphError(
        await get(
          `/v1.0/groups/${g.staff.id}/members?$filter=${encodeURIComponent("microsoft.graph.group/serialNumber eq 'x'")}`,
        ),
        400,
        "'serialNumber'",
      );
      expectGraphError(
        await get(
          `/v1.0/groups/${g.staff.id}/members?$filter=${encodeURIComponent("isof('microsoft.graph.printer')")}`,
        ),
        400,
        "microsoft.graph.printer",
      );
      expectGraphError(
        await get(
          `/v1.0/groups/${g.staff.id}/members/microsoft.graph.user?$filter=${encodeURIComponent("serialNumber eq 'x'")}`,
        ),
        400,
        "'serialNumber'",
      );
      expectGraphError(
        await get(`/v1.0/groups/${g.staff.id}/members/microsoft.graph.user?$select=id,serialNumber`),
        400,
        "'serialNumber'",
      );
      expectGraphError(
        await get(
          `/v1.0/groups/${g.staff.id}/members/microsoft.graph.managedDevice?$orderby=userPrincipalName`,
        ),
        400,
        "'userPrincipalName'",
      );
    });

    it("$select keeps @odata.type; $orderby and paging on transitive members; $count with and without ConsistencyLevel", async () => {
      const sel = await get(`/v1.0/groups/${g.staff.id}/members?$select=id,displayName`);
      expect(sel.body["@odata.context"]).toBe(`${t.url}/v1.0/$metadata#directoryObjects(id,displayName)`);
      for (const m of sel.body.value)
        expect(Object.keys(m).sort()).toEqual(["@odata.type", "displayName", "id"]);
      const expected = [...users.slice(0, 9), g.team, devices[0], devices[1]];
      const tm = await all(
        `/v1.0/groups/${g.staff.id}/transitiveMembers?$orderby=displayName%20desc&$top=3&$count=true`,
        { ConsistencyLevel: "eventual" },
      );
      expect(tm.first.body["@odata.count"]).toBe(expected.length);
      expect(sorted(ids(tm.items))).toEqual(sorted(ids(expected)));
      const shown = tm.items.map((m) => String(m.displayName).toLowerCase());
      expect(shown).toEqual([...shown].sort().reverse());
      const keyset = await all(`/v1.0/groups/${g.staff.id}/transitiveMembers?$top=4`);
      expect(new Set(ids(keyset.items)).size).toBe(expected.length);
      const tmUsers = await get(
        `/v1.0/groups/${g.staff.id}/transitiveMembers/microsoft.graph.user?$count=true&$top=1`,
      );
      expect(tmUsers.body["@odata.count"]).toBe(9);
      const memberOf = await get(
        `/v1.0/users/${users[6].id}/transitiveMemberOf?$select=displayName&$orderby=displayName`,
      );
      expect(memberOf.body.value).toEqual([
        { "@odata.type": "#microsoft.graph.group", displayName: "Staff" },
        { "@odata.type": "#microsoft.graph.group", displayName: "Team" },
      ]);
    });
  });

  // ------------------------------------------------------------------ $batch

  describe("$batch", () => {
    const batch = (requests: unknown, version = "v1.0") =>
      t.request("POST", `/${version}/$batch`, { token: t.adminToken, body: { requests } });

    it("answers every request with its own status inside an outer 200; urls with or without the version prefix", async () => {
      const res = await batch([
        { id: "a", method: "GET", url: `/users/${users[0].id}?$select=displayName` },
        {
          id: "b",
          method: "GET",
          url: `/v1.0/users?$filter=startswith(displayName,'cara')&$count=true&$top=1`,
        },
        { id: "c", method: "GET", url: "users/00000000-0000-4000-8000-000000000000" },
        {
          id: "d",
          method: "POST",
          url: "/groups",
          headers: { "Content-Type": "application/json" },
          body: { displayName: "Batched", nope: 1 },
        },
        { id: "e", method: "GET", url: "/beta/groups?$top=1" },
      ]);
      expect(res.status, res.text).toBe(200);
      const byId = new Map<string, Obj>(res.body.responses.map((r: Obj) => [r.id, r]));
      expect(byId.get("a")).toMatchObject({ status: 200, body: { displayName: users[0].displayName } });
      expect(byId.get("a")!.headers["Content-Type"]).toMatch(/^application\/json/);
      expect(byId.get("b")!.status).toBe(200);
      expect(byId.get("b")!.body["@odata.count"]).toBe(5);
      expect(byId.get("b")!.body["@odata.nextLink"]).toMatch(
        new RegExp(`^${t.url.replace(/\./g, "\\.")}/v1\\.0/users\\?`),
      );
      expect(byId.get("c")!.status).toBe(404);
      expect(byId.get("c")!.body.error.code).toBe("Request_ResourceNotFound");
      expect(byId.get("d")!.status).toBe(400);
      expect(byId.get("d")!.body.error.message).toContain("'nope'");
      expect(byId.get("e")!.status).toBe(200);
      expect(byId.get("e")!.body["@odata.context"]).toContain("/beta/$metadata#groups");
    });

    it("runs dependsOn in order and answers 424 for dependants of a failed request", async () => {
      const res = await batch([
        {
          id: "3",
          method: "GET",
          url: "/groups?$filter=displayName%20eq%20'Batch%20ordered'",
          dependsOn: ["2"],
        },
        {
          id: "1",
          method: "POST",
          url: "/groups",
          headers: { "content-type": "application/json" },
          body: { displayName: "Batch ordered", memberKind: "user" },
        },
        {
          id: "2",
          method: "POST",
          url: "/users",
          headers: { "content-type": "application/json" },
          body: { displayName: "Batch user", userPrincipalName: "batch@contoso.com", accountEnabled: true },
          dependsOn: ["1"],
        },
        {
          id: "4",
          method: "POST",
          url: "/users",
          headers: { "content-type": "application/json" },
          body: { displayName: "Dup", userPrincipalName: "u1@contoso.com", accountEnabled: true },
        },
        { id: "5", method: "GET", url: "/users?$top=1", dependsOn: ["4"] },
        { id: "6", method: "GET", url: "/users?$top=1", dependsOn: ["5"] },
      ]);
      expect(res.status, res.text).toBe(200);
      const byId = new Map<string, Obj>(res.body.responses.map((r: Obj) => [r.id, r]));
      expect(byId.get("1")!.status).toBe(201);
      expect(byId.get("2")!.status).toBe(201);
      expect(byId.get("3")!.status).toBe(200);
      expect(ids(byId.get("3")!.body.value)).toEqual([byId.get("1")!.body.id]);
      expect(byId.get("4")!.status).toBe(409);
      expect(byId.get("5")!.status).toBe(424);
      expect(byId.get("5")!.body.error.code).toBe("failedDependency");
      expect(byId.get("6")!.status).toBe(424);
      await t.request("DELETE", `/v1.0/users/${byId.get("2")!.body.id}`, { token: t.adminToken });
      await t.request("DELETE", `/v1.0/groups/${byId.get("1")!.body.id}`, { token: t.adminToken });
    });

    it("refuses malformed batches with 400: over 20, duplicate ids, unknown dependency, cycle, body without Content-Type", async () => {
      const many = Array.from({ length: 21 }, (_, i) => ({
        id: String(i),
        method: "GET",
        url: "/users?$top=1",
      }));
      expectGraphError(await batch(many), 400, "20");
      expect((await batch(many.slice(0, 20))).status).toBe(200);
      expectGraphError(
        await batch([
          { id: "x", method: "GET", url: "/users" },
          { id: "x", method: "GET", url: "/groups" },
        ]),
        400,
        "'x'",
      );
      expectGraphError(
        await batch([{ id: "a", method: "GET", url: "/users", dependsOn: ["zz"] }]),
        400,
        "'zz'",
      );
      expectGraphError(
        await batch([
          { id: "a", method: "GET", url: "/users", dependsOn: ["b"] },
          { id: "b", method: "GET", url: "/users", dependsOn: ["a"] },
        ]),
        400,
        "cycle",
      );
      expectGraphError(
        await batch([{ id: "a", method: "POST", url: "/groups", body: { displayName: "x" } }]),
        400,
        "Content-Type",
      );
      expectGraphError(await batch([{ id: "a", method: "TRACE", url: "/users" }]), 400, "method");
      expectGraphError(await batch([]), 400);
    });
  });

  // ------------------------------------------------------------------ bad input

  describe("bad input", () => {
    const post = (path: string, body: unknown, headers?: Record<string, string>) =>
      t.request("POST", path, { token: t.adminToken, body, headers });

    it("invalid JSON → 400", async () => {
      expectGraphError(await post("/v1.0/users", '{"displayName": "x",'), 400, /JSON/);
    });

    it("unknown body property → 400 naming it (also nested and on PATCH)", async () => {
      expectGraphError(
        await post("/v1.0/users", {
          displayName: "x",
          userPrincipalName: "x@contoso.com",
          accountEnabled: true,
          favouriteColour: "red",
        }),
        400,
        "'favouriteColour'",
      );
      expectGraphError(
        await t.request("PATCH", `/v1.0/users/${users[1].id}`, {
          token: t.adminToken,
          body: { shoeSize: 44 },
        }),
        400,
        "'shoeSize'",
      );
      expectGraphError(
        await post(`/v1.0/groups/${g.team.id}/members/$ref`, {
          "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${users[9].id}`,
          extra: 1,
        }),
        400,
        "'extra'",
      );
    });

    it("wrong type → 400 naming the property", async () => {
      expectGraphError(
        await post("/v1.0/users", {
          displayName: "x",
          userPrincipalName: "x@contoso.com",
          accountEnabled: "yes",
        }),
        400,
        "'accountEnabled'",
      );
      expectGraphError(
        await post("/v1.0/users", {
          displayName: 42,
          userPrincipalName: "x@contoso.com",
          accountEnabled: true,
        }),
        400,
        "'displayName'",
      );
      expectGraphError(
        await post("/v1.0/deviceManagement/managedDevices", { deviceName: "d", operatingSystem: "Android" }),
        400,
        "'operatingSystem'",
      );
      expectGraphError(await post("/v1.0/groups", { displayName: "g", memberKind: 3 }), 400, "'memberKind'");
      expectGraphError(await post("/v1.0/users", [1, 2]), 400);
    });

    it("missing required → 400 naming it", async () => {
      expectGraphError(
        await post("/v1.0/users", { displayName: "x", accountEnabled: true }),
        400,
        "'userPrincipalName'",
      );
      expectGraphError(
        await post("/v1.0/deviceManagement/managedDevices", { operatingSystem: "iOS" }),
        400,
        "'deviceName'",
      );
      expectGraphError(await post("/v1.0/groups", {}), 400, "'displayName'");
    });

    it("text that PostgreSQL cannot store (a NUL character) → 400, not a server error", async () => {
      expectGraphError(
        await post("/v1.0/users", {
          displayName: "nul\u0000name",
          userPrincipalName: "nul@contoso.com",
          accountEnabled: true,
        }),
        400,
      );
      expectGraphError(
        await get(`/v1.0/users?$filter=${encodeURIComponent("displayName eq 'a\u0000b'")}`),
        400,
      );
    });

    it("a body over 10 MB → 413 Graph error", async () => {
      const big = JSON.stringify({
        displayName: "x".repeat(10 * 1024 * 1024 + 10),
        userPrincipalName: "big@contoso.com",
        accountEnabled: true,
      });
      const res = await post("/v1.0/users", big);
      expectGraphError(res, 413);
      expect(res.body.error.message).toMatch(/10 MB/);
    });

    it("unsupported content type → 415 Graph error", async () => {
      expectGraphError(
        await post("/v1.0/users", "<user/>", { "content-type": "application/xml" }),
        415,
        "application/xml",
      );
      expectGraphError(await post("/v1.0/users", "displayName=x", { "content-type": "text/plain" }), 415);
    });

    it("unknown route → 404 Graph error; unknown ids → 404", async () => {
      expectGraphError(await get("/v1.0/printers"), 404, "/v1.0/printers");
      expectGraphError(await get("/v2.0/users"), 404);
      expectGraphError(await t.request("PUT", "/v1.0/users", { token: t.adminToken, body: {} }), 404);
      expectGraphError(
        await get("/v1.0/users/00000000-0000-4000-8000-000000000000"),
        404,
        "00000000-0000-4000-8000-000000000000",
      );
      expectGraphError(await get("/v1.0/groups/not-a-guid"), 404);
      expectGraphError(await get("/v1.0/deviceManagement/managedDevices/not-a-guid"), 404);
      expectGraphError(await get("/v1.0/groups/not-a-guid/members"), 404);
    });

    it("no token → 401, and the error still has Graph's shape", async () => {
      expectGraphError(await t.request("GET", "/v1.0/users"), 401);
      expectGraphError(await t.request("GET", "/v1.0/users", { token: "not-a-token" }), 401);
    });

    it("echoes client-request-id and gives every response a request-id", async () => {
      const res = await get("/v1.0/users?$top=1", {
        "client-request-id": "3f1e0d3c-1111-4222-8333-444455556666",
      });
      expect(res.headers.get("client-request-id")).toBe("3f1e0d3c-1111-4222-8333-444455556666");
      expect(res.headers.get("request-id")).toMatch(UUID);
    });
  });
});

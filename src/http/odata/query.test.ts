// Query options (API-1): parsing and validation of $top/$skip/$count/$select/$orderby/$expand,
// cast segments, and the absolute links built from the request's own scheme and host.
import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { AppError } from "../../lib/errors.ts";
import type { EntityDef } from "./entity.ts";
import {
  collectionBody,
  contextUrl,
  nextLink,
  parseListOptions,
  readOption,
  requestOrigin,
} from "./query.ts";

const WIDGET = "microsoft.graph.widget";
const entity: EntityDef = {
  typeName: "microsoft.graph.thing",
  discriminator: "odata_type",
  derivedTypes: [WIDGET, "microsoft.graph.gadget"],
  sequenceColumn: "seq",
  expandable: ["parts"],
  properties: {
    id: { column: "id", type: "guid" },
    name: { column: "name", type: "string", caseInsensitive: true },
    tags: { column: "tags", type: "stringCollection" },
    color: { column: "color", type: "string", ownerTypes: [WIDGET] },
    weight: { column: "weight", type: "integer", sortable: false },
  },
};

const fakeReq = (url: string, host = "example.test:8443", protocol = "https") =>
  ({ url, host, protocol }) as unknown as FastifyRequest;

function rejected(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(400);
    return (err as AppError).message;
  }
  throw new Error("expected a 400");
}

describe("parseListOptions", () => {
  it("defaults to 100 items; $top 1..999, with or without $, in any letter case", () => {
    expect(parseListOptions({}, entity)).toMatchObject({
      top: 100,
      skip: 0,
      count: false,
      expand: [],
      orderBy: [],
    });
    expect(parseListOptions({ $top: "999" }, entity).top).toBe(999);
    expect(parseListOptions({ top: "7" }, entity).top).toBe(7);
    expect(parseListOptions({ $TOP: "8", $Count: "TRUE" }, entity)).toMatchObject({ top: 8, count: true });
    expect(rejected(() => parseListOptions({ $top: "1000" }, entity))).toContain("$top");
    expect(rejected(() => parseListOptions({ $top: "0" }, entity))).toContain("$top");
    expect(rejected(() => parseListOptions({ $top: "1.5" }, entity))).toContain("$top");
    expect(rejected(() => parseListOptions({ $top: ["1", "2"] }, entity))).toContain("more than once");
    expect(rejected(() => parseListOptions({ $top: "1", top: "2" }, entity))).toContain("more than once");
    expect(rejected(() => parseListOptions({ $skip: "-1" }, entity))).toContain("$skip");
    expect(rejected(() => parseListOptions({ $count: "1" }, entity))).toContain("$count");
    expect(rejected(() => parseListOptions({ $format: "xml" }, entity))).toContain("xml");
  });

  it("names unknown options, properties and navigation properties", () => {
    expect(rejected(() => parseListOptions({ $foo: "1" }, entity))).toContain("'$foo'");
    expect(rejected(() => parseListOptions({ $search: '"name:a"' }, entity))).toContain("'$search'");
    expect(rejected(() => parseListOptions({ $select: "name,size" }, entity))).toContain("'size'");
    expect(rejected(() => parseListOptions({ $orderby: "size desc" }, entity))).toContain("'size'");
    expect(rejected(() => parseListOptions({ $orderby: "weight" }, entity))).toContain("'weight'");
    expect(rejected(() => parseListOptions({ $orderby: "tags" }, entity))).toContain("'tags'");
    expect(rejected(() => parseListOptions({ $orderby: "name upward" }, entity))).toContain("name upward");
    expect(rejected(() => parseListOptions({ $expand: "owner" }, entity))).toContain("'owner'");
    expect(rejected(() => parseListOptions({ $expand: "parts($select=id)" }, entity))).toContain(
      "parts($select=id)",
    );
    expect(rejected(() => parseListOptions({ $filter: "size eq 1" }, entity))).toContain("'size'");
    expect(rejected(() => parseListOptions({ $skiptoken: "nonsense" }, entity))).toContain("$skiptoken");
  });

  it("resolves names case-insensitively to their declared spelling", () => {
    const o = parseListOptions({ $select: "NAME,Id", $orderby: "name DESC, id", $expand: "PARTS" }, entity);
    expect(o.select).toEqual(["name", "id"]);
    expect(o.orderBy).toEqual([
      { name: "name", column: "name", desc: true, lowered: true },
      { name: "id", column: "id", desc: false, lowered: false },
    ]);
    expect(o.expand).toEqual(["parts"]);
  });

  it("through a cast segment, properties are the cast type's: others are 400s that name them", () => {
    const o = parseListOptions({ $filter: "color eq 'red' and name eq 'x'", $select: "color" }, entity, {
      castType: WIDGET,
    });
    expect(o.filter).toEqual({
      kind: "and",
      left: {
        kind: "compare",
        op: "eq",
        left: { kind: "property", path: [WIDGET, "color"] },
        right: { kind: "literal", value: "red", type: "string" },
      },
      right: {
        kind: "compare",
        op: "eq",
        left: { kind: "property", path: [WIDGET, "name"] },
        right: { kind: "literal", value: "x", type: "string" },
      },
    });
    const gadget = { castType: "microsoft.graph.gadget" };
    expect(rejected(() => parseListOptions({ $filter: "color eq 'red'" }, entity, gadget))).toBe(
      "Could not find a property named 'color' on type 'microsoft.graph.gadget'.",
    );
    expect(rejected(() => parseListOptions({ $select: "color" }, entity, gadget))).toContain("'color'");
    expect(rejected(() => parseListOptions({ $orderby: "color" }, entity, gadget))).toContain("'color'");
    // without a cast, a derived type's property may be used directly
    expect(parseListOptions({ $filter: "color eq 'red'" }, entity).filter).toMatchObject({ kind: "compare" });
  });
});

describe("links", () => {
  it("readOption finds an option with or without $", () => {
    expect(readOption({ $filter: "a" }, "filter")).toBe("a");
    expect(readOption({ filter: "b" }, "filter")).toBe("b");
    expect(readOption({}, "filter")).toBeUndefined();
  });

  it("builds @odata.context and @odata.nextLink on the request's own scheme and host", () => {
    const req = fakeReq("/beta/users?$top=2&$filter=name%20eq%20'a'&$skip=4&$count=true");
    expect(requestOrigin(req)).toBe("https://example.test:8443");
    expect(contextUrl(req, "users")).toBe("https://example.test:8443/beta/$metadata#users");
    const link = nextLink(req, "TOKEN");
    expect(link.startsWith("https://example.test:8443/beta/users?$top=2&$filter=")).toBe(true);
    const u = new URL(link);
    expect(u.searchParams.get("$filter")).toBe("name eq 'a'");
    expect(u.searchParams.get("$count")).toBe("true");
    expect(u.searchParams.get("$skip")).toBeNull();
    expect(u.searchParams.get("$skiptoken")).toBe("TOKEN");
    expect(requestOrigin(fakeReq("/v1.0/users", "LOCALHOST:80", "http"))).toBe("http://localhost");
    expect(requestOrigin(fakeReq("/v1.0/users", "127.0.0.1:1234", "gopher"))).toBe("http://127.0.0.1:1234");
    for (const host of ["", "a b", "a/b", "user@host", "host:99999", "host?x"])
      expect(() => requestOrigin(fakeReq("/v1.0/users", host))).toThrow(AppError);
  });

  it("collectionBody applies $select (keeping @odata.type and expansions) and adds count and nextLink", () => {
    const req = fakeReq("/v1.0/things?$select=name&$expand=parts&$count=true");
    const options = parseListOptions({ $select: "name", $expand: "parts", $count: "true" }, entity);
    const body = collectionBody(req, "things", options, {
      items: [{ "@odata.type": `#${WIDGET}`, id: "1", name: "n", color: "c", parts: [] }],
      count: 3,
      skiptoken: "T",
    });
    expect(body).toEqual({
      "@odata.context": "https://example.test:8443/v1.0/$metadata#things(name)",
      "@odata.count": 3,
      value: [{ "@odata.type": `#${WIDGET}`, name: "n", parts: [] }],
      "@odata.nextLink":
        "https://example.test:8443/v1.0/things?$select=name&$expand=parts&$count=true&$skiptoken=T",
    });
  });
});

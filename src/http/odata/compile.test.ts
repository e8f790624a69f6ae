// $filter → SQL (API-1): what each operator selects on a real PostgreSQL engine (in-memory PGlite),
// the 400s that name the offending property/function/type, and a property test that the SQL text
// never carries a value from the request (every literal is a bound parameter).
import { PGlite } from "@electric-sql/pglite";
import fc from "fast-check";
import {
  DummyDriver,
  Kysely,
  PGliteDialect,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../lib/errors.ts";
import { compileFilter } from "./compile.ts";
import type { EntityDef } from "./entity.ts";
import { type FilterNode, type Literal, type PropertyPath, parseFilter } from "./filter-parser.ts";

const THING = "microsoft.graph.thing";
const WIDGET = "microsoft.graph.widget";
const GADGET = "microsoft.graph.gadget";
const kinds = ["alpha", "beta", "gamma"] as const;

/** A small polymorphic entity: a thing is a widget or a gadget; only widgets have a colour. */
const thing: EntityDef = {
  typeName: THING,
  discriminator: "odata_type",
  derivedTypes: [WIDGET, GADGET],
  sequenceColumn: "seq",
  properties: {
    id: { column: "id", type: "guid" },
    name: { column: "name", type: "string", caseInsensitive: true },
    code: { column: "code", type: "string" },
    enabled: { column: "enabled", type: "boolean" },
    size: { column: "size", type: "integer" },
    createdDateTime: { column: "created_at", type: "datetime" },
    kind: { column: "kind", type: "enum", enumValues: kinds },
    tags: { column: "tags", type: "stringCollection", caseInsensitive: true },
    color: { column: "color", type: "string", caseInsensitive: true, ownerTypes: [WIDGET] },
    secret: { column: "secret", type: "string", filterable: false },
  },
};

const ids = [
  "11111111-1111-4111-8111-111111111111",
  "22222222-2222-4222-8222-222222222222",
  "33333333-3333-4333-8333-333333333333",
  "44444444-4444-4444-8444-444444444444",
  "55555555-5555-4555-8555-555555555555",
];

// A dialect that compiles without a database, to inspect the SQL text.
const offline = new Kysely<any>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

function compileText(filter: FilterNode | string) {
  const node = typeof filter === "string" ? parseFilter(filter) : filter;
  const { sql: text, parameters } = offline
    .selectFrom("things as t")
    .select("t.name")
    .where(compileFilter(node, thing, "t"))
    .compile();
  return { text: text.slice(text.indexOf(" where ") + 7), parameters };
}

function rejection(filter: string): string {
  try {
    compileFilter(parseFilter(filter), thing, "t");
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(400);
    return (err as AppError).message;
  }
  throw new Error(`expected '${filter}' to be rejected`);
}

describe("compileFilter", () => {
  let pglite: PGlite;
  let db: Kysely<any>;
  const names = async (filter: string) =>
    (
      await db
        .selectFrom("things as t")
        .select("t.name")
        .where(compileFilter(parseFilter(filter), thing, "t"))
        .orderBy("t.seq")
        .execute()
    ).map((r) => r.name);

  beforeAll(async () => {
    pglite = await PGlite.create("memory://");
    db = new Kysely<any>({ dialect: new PGliteDialect({ pglite }) });
    await sql`create table things (
      seq int primary key, id uuid not null, odata_type text not null, name text not null, code text, enabled boolean,
      size int, created_at timestamptz, kind text, tags text[], color text, secret text)`.execute(db);
    await sql`insert into things values
      (1, ${ids[0]}, ${WIDGET}, 'Alpha',   'AB',  true,  1,    '2024-01-01T00:00:00Z', 'alpha', '{red,Blue}', 'Red',  's1'),
      (2, ${ids[1]}, ${GADGET}, 'alfred',  'ab',  false, 5,    '2024-06-01T12:00:00Z', 'beta',  '{}',         null,   's2'),
      (3, ${ids[2]}, ${WIDGET}, 'Bob_1',   null,  true,  10,   '2025-01-01T00:00:00Z', 'gamma', '{green}',    'blue', 's3'),
      (4, ${ids[3]}, ${GADGET}, 'O''Brien', 'x%y', null, null, '2023-03-03T03:03:03Z', null,    null,         null,   's4'),
      (5, ${ids[4]}, ${WIDGET}, '50% off', 'z',   true,  -3,   null,                   'alpha', '{Red}',      'green', 's5')`.execute(
      db,
    );
  });
  afterAll(async () => {
    await db?.destroy();
    if (pglite && !pglite.closed) await pglite.close();
  });

  it("compares strings case-insensitively where the property is, and exactly where it is not", async () => {
    expect(await names("name eq 'ALPHA'")).toEqual(["Alpha"]);
    expect(await names("code eq 'ab'")).toEqual(["alfred"]);
    expect(await names("code eq 'AB'")).toEqual(["Alpha"]);
    expect(await names("name eq 'O''Brien'")).toEqual(["O'Brien"]);
    expect(await names("name gt 'b' and name lt 'c'")).toEqual(["Bob_1"]);
    expect(compileText("name eq 'x'")).toEqual({ text: 'lower("t"."name") = lower($1)', parameters: ["x"] });
  });

  it("ne also matches missing values, as Graph does", async () => {
    expect(await names("code ne 'ab'")).toEqual(["Alpha", "Bob_1", "O'Brien", "50% off"]);
    expect(await names("size ne 5")).toEqual(["Alpha", "Bob_1", "O'Brien", "50% off"]);
  });

  it("orders numbers with gt, ge, lt and le", async () => {
    expect(await names("size gt 1")).toEqual(["alfred", "Bob_1"]);
    expect(await names("size ge 5")).toEqual(["alfred", "Bob_1"]);
    expect(await names("size lt 5")).toEqual(["Alpha", "50% off"]);
    expect(await names("size le 1")).toEqual(["Alpha", "50% off"]);
    expect(await names("size eq -3")).toEqual(["50% off"]);
  });

  it("startswith, endswith and contains ignore case and treat % _ \\ as ordinary characters", async () => {
    expect(await names("startswith(name,'AL')")).toEqual(["Alpha", "alfred"]);
    expect(await names("startsWith(name,'al') eq false")).toEqual(["Bob_1", "O'Brien", "50% off"]);
    expect(await names("endswith(name,'_1')")).toEqual(["Bob_1"]);
    expect(await names("startswith(name,'bo%')")).toEqual([]);
    expect(await names("startswith(name,'50%')")).toEqual(["50% off"]);
    expect(await names("contains(name,'_')")).toEqual(["Bob_1"]);
    expect(await names("contains(name,'\\')")).toEqual([]);
    expect(await names("startswith(code,'x%')")).toEqual(["O'Brien"]);
    expect(compileText("startswith(name,'a%_')")).toEqual({
      text: 'lower("t"."name") like $1',
      parameters: ["a\\%\\_%"],
    });
  });

  it("combines with and, or and not (not treats unknown as false); precedence as parsed", async () => {
    expect(await names("size eq 1 or size eq 5 and enabled")).toEqual(["Alpha"]);
    expect(await names("(size eq 1 or size eq 5) and enabled eq false")).toEqual(["alfred"]);
    expect(await names("enabled")).toEqual(["Alpha", "Bob_1", "50% off"]);
    expect(await names("not enabled")).toEqual(["alfred", "O'Brien"]);
    expect(await names("not (size gt 1)")).toEqual(["Alpha", "O'Brien", "50% off"]);
    expect(await names("not startswith(name,'a') and not (kind eq 'gamma')")).toEqual(["O'Brien", "50% off"]);
  });

  it("compares with null", async () => {
    expect(await names("enabled eq null")).toEqual(["O'Brien"]);
    expect(await names("kind ne null and createdDateTime eq null")).toEqual(["50% off"]);
    expect(compileText("code eq null")).toEqual({ text: '"t"."code" is null', parameters: [] });
  });

  it("matches 'in' lists (case-insensitively for such properties) and enums by any letter case", async () => {
    expect(await names("kind in ('alpha', 'GAMMA')")).toEqual(["Alpha", "Bob_1", "50% off"]);
    expect(await names("name in ('ALPHA','bob_1','nobody')")).toEqual(["Alpha", "Bob_1"]);
    expect(await names("kind eq 'Beta'")).toEqual(["alfred"]);
  });

  it("filters GUIDs quoted or not, and datetimes with offsets or as dates", async () => {
    expect(await names(`id eq ${ids[2].toUpperCase()}`)).toEqual(["Bob_1"]);
    expect(await names(`id eq '${ids[3]}'`)).toEqual(["O'Brien"]);
    expect(await names(`id in (${ids[0]}, ${ids[4]})`)).toEqual(["Alpha", "50% off"]);
    expect(await names("createdDateTime ge 2024-06-01T12:00:00Z")).toEqual(["alfred", "Bob_1"]);
    expect(await names("createdDateTime lt 2024-06-01T13:00:00+02:00")).toEqual(["Alpha", "O'Brien"]);
    expect(await names("createdDateTime lt 2024-01-02")).toEqual(["Alpha", "O'Brien"]);
  });

  it("evaluates any() on a string collection, case-insensitively, with and without a predicate", async () => {
    expect(await names("tags/any(t: t eq 'RED')")).toEqual(["Alpha", "50% off"]);
    expect(await names("tags/any(x: startswith(x,'gr') or x eq 'blue')")).toEqual(["Alpha", "Bob_1"]);
    expect(await names("tags/any(t: t ne 'red')")).toEqual(["Alpha", "Bob_1"]);
    expect(await names("tags/any()")).toEqual(["Alpha", "Bob_1", "50% off"]);
    expect(await names("not tags/any(t: t eq 'red')")).toEqual(["alfred", "Bob_1", "O'Brien"]);
  });

  it("supports isof and derived-type properties, directly and through a cast segment", async () => {
    expect(await names(`isof('${WIDGET}')`)).toEqual(["Alpha", "Bob_1", "50% off"]);
    expect(await names(`isof('#${GADGET}') and startswith(name,'a')`)).toEqual(["alfred"]);
    expect(await names(`isof('${THING}')`)).toHaveLength(5);
    expect(await names("color eq 'red'")).toEqual(["Alpha"]);
    expect(await names(`${WIDGET}/color eq 'BLUE'`)).toEqual(["Bob_1"]);
    expect(await names(`${GADGET}/name eq 'alfred' or ${GADGET}/name eq 'alpha'`)).toEqual(["alfred"]);
    expect(compileText(`${WIDGET}/color eq 'x'`)).toEqual({
      text: '("t"."odata_type" = $1 and lower("t"."color") = lower($2))',
      parameters: [WIDGET, "x"],
    });
  });

  it("rejects with a 400 naming the unknown or unusable property, type, value or function", () => {
    expect(rejection("nope eq 1")).toBe(`Could not find a property named 'nope' on type '${THING}'.`);
    expect(rejection(`${GADGET}/color eq 'red'`)).toBe(
      `Could not find a property named 'color' on type '${GADGET}'.`,
    );
    expect(rejection(`${GADGET}/nope eq 'red'`)).toBe(
      `Could not find a property named 'nope' on type '${GADGET}'.`,
    );
    expect(rejection("name/first eq 'a'")).toContain("'name/first'");
    expect(rejection("secret eq 'x'")).toContain("'secret'");
    expect(rejection("size eq 'five'")).toContain("'size'");
    expect(rejection("size eq 1.5")).toContain("'size'");
    expect(rejection("enabled eq 'true'")).toContain("'enabled'");
    expect(rejection("kind eq 'delta'")).toMatch(/'delta'.*'kind'/);
    expect(rejection("id eq 'not-a-guid'")).toContain("'id'");
    expect(rejection("id eq 5")).toContain("'id'");
    expect(rejection("createdDateTime ge 'yesterday'")).toContain("'createdDateTime'");
    expect(rejection("createdDateTime ge 2024-13-45T99:00:00Z")).toContain("'createdDateTime'");
    expect(rejection("tags eq 'red'")).toMatch(/tags\/any/);
    expect(rejection("name/any(x: x eq 'a')")).toMatch(/'name' is not a collection/);
    expect(rejection("tags/any(x: size eq 1)")).toMatch(/tags\/any/);
    expect(rejection("startswith(size,'1')")).toContain("'size'");
    expect(rejection("name")).toContain("'name'");
    expect(rejection("size gt null")).toMatch(/null/);
    expect(rejection("isof('microsoft.graph.nothing')")).toContain("'microsoft.graph.nothing'");
  });

  // ---------------- property test: arbitrary ASTs compile to SQL whose literals are all parameters

  const adversarial = fc.constantFrom(
    "'",
    "''",
    "%",
    "_",
    "\\",
    "'; drop table things; --",
    "$1",
    '"t"."secret"',
    ") or (1=1",
    "lower(",
    "é€😀",
  );
  const text = fc.oneof(fc.string({ unit: "grapheme", maxLength: 12 }), adversarial);
  const lit = (value: Literal["value"], type: Literal["type"]): Literal => ({ kind: "literal", value, type });
  const path = (...p: string[]): PropertyPath => ({ kind: "property", path: p });
  const stringPath = fc.constantFrom(
    path("name"),
    path("code"),
    path("color"),
    path(WIDGET, "color"),
    path(GADGET, "name"),
  );
  const ops = ["eq", "ne", "gt", "ge", "lt", "le"] as const;
  const stringLit = text.map((v) => lit(v, "string"));
  const dateLit = fc
    .date({
      min: new Date("1970-01-01T00:00:00Z"),
      max: new Date("2100-01-01T00:00:00Z"),
      noInvalidDate: true,
    })
    .map((d) => lit(d.toISOString(), "datetime"));

  const leaf: fc.Arbitrary<FilterNode> = fc.oneof(
    fc.record({
      kind: fc.constant("compare" as const),
      op: fc.constantFrom(...ops),
      left: stringPath,
      right: stringLit,
    }),
    fc.record({
      kind: fc.constant("compare" as const),
      op: fc.constantFrom(...ops),
      left: fc.constant(path("size")),
      right: fc.integer().map((n) => lit(n, "number")),
    }),
    fc.record({
      kind: fc.constant("compare" as const),
      op: fc.constantFrom(...ops),
      left: fc.constant(path("createdDateTime")),
      right: dateLit,
    }),
    fc.record({
      kind: fc.constant("compare" as const),
      op: fc.constantFrom("eq", "ne"),
      left: fc.constant(path("id")),
      right: fc.uuid().map((u) => lit(u, "guid")),
    }),
    fc.record({
      kind: fc.constant("compare" as const),
      op: fc.constantFrom(...ops),
      left: fc.constant(path("kind")),
      right: fc.constantFrom(...kinds).map((k) => lit(k, "string")),
    }),
    fc.record({
      kind: fc.constant("compare" as const),
      op: fc.constantFrom("eq", "ne"),
      left: fc.constant(path("enabled")),
      right: fc.boolean().map((b) => lit(b, "boolean")),
    }),
    fc.record({
      kind: fc.constant("compare" as const),
      op: fc.constantFrom("eq", "ne"),
      left: fc.constantFrom(path("code"), path("size"), path("enabled"), path("createdDateTime")),
      right: fc.constant(lit(null, "null")),
    }),
    fc.constant<FilterNode>({ kind: "boolProperty", property: path("enabled") }),
    fc.record({
      kind: fc.constant("call" as const),
      fn: fc.constantFrom("startswith", "endswith", "contains"),
      property: stringPath,
      value: stringLit,
    }),
    fc.record({
      kind: fc.constant("in" as const),
      property: fc.constantFrom(path("name"), path("code")),
      values: fc.array(stringLit, { minLength: 1, maxLength: 4 }),
    }),
    fc.record({
      kind: fc.constant("isof" as const),
      typeName: fc.constantFrom(THING, WIDGET, GADGET, `#${WIDGET}`),
    }),
    fc.constantFrom("x", "t", "item").chain((variable) => {
      const v = path(variable);
      const elem: fc.Arbitrary<FilterNode> = fc.oneof(
        fc.record({
          kind: fc.constant("compare" as const),
          op: fc.constantFrom("eq", "ne"),
          left: fc.constant(v),
          right: stringLit,
        }),
        fc.record({
          kind: fc.constant("call" as const),
          fn: fc.constantFrom("startswith", "endswith", "contains"),
          property: fc.constant(v),
          value: stringLit,
        }),
      );
      const predicate = fc.oneof(
        elem,
        fc.record({ kind: fc.constantFrom("and" as const, "or" as const), left: elem, right: elem }),
        elem.map((operand): FilterNode => ({ kind: "not", operand })),
      );
      return fc
        .record({
          kind: fc.constant("any" as const),
          collection: fc.constant(path("tags")),
          variable: fc.constant(variable),
          predicate: fc.option(predicate, { nil: null }),
        })
        .map((n) => (n.predicate === null ? { ...n, variable: "" } : n));
    }),
  );
  const node: fc.Memo<FilterNode> = fc.memo((depth) =>
    depth <= 1
      ? leaf
      : fc.oneof(
          { depthSize: "small" },
          leaf,
          fc.record({
            kind: fc.constantFrom("and" as const, "or" as const),
            left: node(depth - 1),
            right: node(depth - 1),
          }),
          node(depth - 1).map((operand): FilterNode => ({ kind: "not", operand })),
        ),
  );

  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  function literalText(l: Literal): string {
    if (l.type === "string") return quote(String(l.value));
    return String(l.value);
  }
  /** Writes an AST as $filter text (fully parenthesised), so the parser can be checked too. */
  function serialize(n: FilterNode): string {
    switch (n.kind) {
      case "and":
      case "or":
        return `(${serialize(n.left)}) ${n.kind} (${serialize(n.right)})`;
      case "not":
        return `not (${serialize(n.operand)})`;
      case "compare":
        return `${n.left.path.join("/")} ${n.op} ${literalText(n.right)}`;
      case "call":
        return `${n.fn}(${n.property.path.join("/")},${literalText(n.value)})`;
      case "in":
        return `${n.property.path.join("/")} in (${n.values.map(literalText).join(", ")})`;
      case "isof":
        return `isof(${quote(n.typeName)})`;
      case "boolProperty":
        return n.property.path.join("/");
      case "any":
        return `${n.collection.path.join("/")}/any(${n.predicate ? `${n.variable}: ${serialize(n.predicate)}` : ""})`;
    }
  }
  /** The same AST with every non-null literal replaced by a fixed value of its type. */
  function blank(n: FilterNode): FilterNode {
    const b = (l: Literal): Literal =>
      l.type === "string"
        ? { ...l, value: kinds.includes(l.value as never) ? "alpha" : "s" }
        : l.type === "number"
          ? { ...l, value: 0 }
          : l.type === "guid"
            ? { ...l, value: ids[0] }
            : l.type === "datetime"
              ? { ...l, value: "2000-01-01T00:00:00.000Z" }
              : l.type === "boolean"
                ? { ...l, value: true }
                : l;
    switch (n.kind) {
      case "and":
      case "or":
        return { ...n, left: blank(n.left), right: blank(n.right) };
      case "not":
        return { ...n, operand: blank(n.operand) };
      case "compare":
        return { ...n, right: b(n.right) };
      case "call":
        return { ...n, value: b(n.value) };
      case "in":
        return { ...n, values: n.values.map(b) };
      case "any":
        return n.predicate ? { ...n, predicate: blank(n.predicate) } : n;
      default:
        return n;
    }
  }

  it("property: any filter round-trips through the parser and compiles to SQL with every literal bound as a parameter", async () => {
    await fc.assert(
      fc.asyncProperty(node(4), async (ast) => {
        const parsed = parseFilter(serialize(ast));
        expect(parsed).toEqual(ast);
        const compiled = compileText(parsed);
        // No inline literals at all: the SQL text has no quotes and does not change with the values.
        expect(compiled.text).not.toContain("'");
        expect(compiled.text).toBe(compileText(blank(parsed)).text);
        const placeholders = new Set(compiled.text.match(/\$\d+/g) ?? []);
        expect(placeholders.size).toBe(compiled.parameters.length);
        // ...and PostgreSQL accepts it.
        await db
          .selectFrom("things as t")
          .select("t.name")
          .where(compileFilter(parsed, thing, "t"))
          .execute();
      }),
      { numRuns: 300 },
    );
  });
});

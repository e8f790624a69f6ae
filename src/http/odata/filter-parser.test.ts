// The $filter parser (API-1): the OData subset Graph clients send, its precedence, literals and
// the 400 messages that name what was not understood.
import { describe, expect, it } from "vitest";
import { AppError } from "../../lib/errors.ts";
import { type FilterNode, parseFilter } from "./filter-parser.ts";

const prop = (...path: string[]) => ({ kind: "property", path });
const str = (value: string) => ({ kind: "literal", value, type: "string" });
const num = (value: number) => ({ kind: "literal", value, type: "number" });
const cmp = (name: string, op: string, right: unknown) => ({ kind: "compare", op, left: prop(name), right });

function parseError(input: string): AppError {
  try {
    parseFilter(input);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(400);
    return err as AppError;
  }
  throw new Error(`expected '${input}' to be rejected`);
}

describe("parseFilter", () => {
  it.each(["eq", "ne", "gt", "ge", "lt", "le"])(
    "parses the comparison operator %s (any letter case)",
    (op) => {
      expect(parseFilter(`size ${op} 5`)).toEqual(cmp("size", op, num(5)));
      expect(parseFilter(`size ${op.toUpperCase()} 5`)).toEqual(cmp("size", op, num(5)));
    },
  );

  it("gives 'and' precedence over 'or', and 'not' over both; parentheses override", () => {
    const a = cmp("a", "eq", num(1));
    const b = cmp("b", "eq", num(2));
    const c = cmp("c", "eq", num(3));
    expect(parseFilter("a eq 1 or b eq 2 and c eq 3")).toEqual({
      kind: "or",
      left: a,
      right: { kind: "and", left: b, right: c },
    });
    expect(parseFilter("a eq 1 and b eq 2 or c eq 3")).toEqual({
      kind: "or",
      left: { kind: "and", left: a, right: b },
      right: c,
    });
    expect(parseFilter("(a eq 1 or b eq 2) and c eq 3")).toEqual({
      kind: "and",
      left: { kind: "or", left: a, right: b },
      right: c,
    });
    expect(parseFilter("not a eq 1 and b eq 2")).toEqual({
      kind: "and",
      left: { kind: "not", operand: a },
      right: b,
    });
    expect(parseFilter("not (a eq 1 and b eq 2)")).toEqual({
      kind: "not",
      operand: { kind: "and", left: a, right: b },
    });
    // left-associative chains
    expect(parseFilter("a eq 1 or b eq 2 or c eq 3")).toEqual({
      kind: "or",
      left: { kind: "or", left: a, right: b },
      right: c,
    });
  });

  it("parses string functions by any letter case, and `fn(...) eq true|false`", () => {
    const call = (fn: string, value: string) => ({
      kind: "call",
      fn,
      property: prop("displayName"),
      value: str(value),
    });
    expect(parseFilter("startswith(displayName,'a')")).toEqual(call("startswith", "a"));
    expect(parseFilter("startsWith(displayName, 'Ab')")).toEqual(call("startswith", "Ab"));
    expect(parseFilter("endswith(displayName,'z')")).toEqual(call("endswith", "z"));
    expect(parseFilter("contains(displayName,'mid')")).toEqual(call("contains", "mid"));
    expect(parseFilter("startswith(displayName,'a') eq true")).toEqual(call("startswith", "a"));
    expect(parseFilter("startswith(displayName,'a') eq false")).toEqual({
      kind: "not",
      operand: call("startswith", "a"),
    });
  });

  it("parses literals: quotes escaped by doubling, null, booleans, numbers, GUIDs and datetimes", () => {
    expect(parseFilter("displayName eq 'O''Brien'")).toEqual(cmp("displayName", "eq", str("O'Brien")));
    expect(parseFilter("displayName eq ''''")).toEqual(cmp("displayName", "eq", str("'")));
    expect(parseFilter("displayName eq ''")).toEqual(cmp("displayName", "eq", str("")));
    expect(parseFilter("displayName eq 'a and b or c)'")).toEqual(
      cmp("displayName", "eq", str("a and b or c)")),
    );
    expect(parseFilter("mail eq null")).toEqual(
      cmp("mail", "eq", { kind: "literal", value: null, type: "null" }),
    );
    expect(parseFilter("accountEnabled eq FALSE")).toEqual(
      cmp("accountEnabled", "eq", { kind: "literal", value: false, type: "boolean" }),
    );
    expect(parseFilter("size ge -12")).toEqual(cmp("size", "ge", num(-12)));
    expect(parseFilter("size lt 2.5")).toEqual(cmp("size", "lt", num(2.5)));
    expect(parseFilter("id eq 4A1C3D2E-0000-4000-8000-00000000ABCD")).toEqual(
      cmp("id", "eq", { kind: "literal", value: "4a1c3d2e-0000-4000-8000-00000000abcd", type: "guid" }),
    );
    expect(parseFilter("createdDateTime ge 2024-01-31T10:20:30Z")).toEqual(
      cmp("createdDateTime", "ge", { kind: "literal", value: "2024-01-31T10:20:30Z", type: "datetime" }),
    );
    expect(parseFilter("createdDateTime lt 2024-01-31T10:20:30.125+02:00")).toEqual(
      cmp("createdDateTime", "lt", {
        kind: "literal",
        value: "2024-01-31T10:20:30.125+02:00",
        type: "datetime",
      }),
    );
    expect(parseFilter("createdDateTime lt 2024-01-31")).toEqual(
      cmp("createdDateTime", "lt", { kind: "literal", value: "2024-01-31", type: "datetime" }),
    );
  });

  it("parses 'in' lists, property paths, cast segments and bare boolean properties", () => {
    expect(parseFilter("kind in ('a', 'b','c')")).toEqual({
      kind: "in",
      property: prop("kind"),
      values: [str("a"), str("b"), str("c")],
    });
    expect(parseFilter("microsoft.graph.user/displayName eq 'x'")).toEqual({
      kind: "compare",
      op: "eq",
      left: prop("microsoft.graph.user", "displayName"),
      right: str("x"),
    });
    expect(parseFilter("accountEnabled")).toEqual({ kind: "boolProperty", property: prop("accountEnabled") });
    expect(parseFilter("accountEnabled and not (kioskMode)")).toEqual({
      kind: "and",
      left: { kind: "boolProperty", property: prop("accountEnabled") },
      right: { kind: "not", operand: { kind: "boolProperty", property: prop("kioskMode") } },
    });
  });

  it("parses 'any' lambdas on collections, with and without a predicate", () => {
    expect(parseFilter("tags/any(t: t eq 'red')")).toEqual({
      kind: "any",
      collection: prop("tags"),
      variable: "t",
      predicate: cmp("t", "eq", str("red")),
    });
    expect(parseFilter("tags/any(x:startswith(x,'r') or x eq 'blue')")).toEqual({
      kind: "any",
      collection: prop("tags"),
      variable: "x",
      predicate: {
        kind: "or",
        left: { kind: "call", fn: "startswith", property: prop("x"), value: str("r") },
        right: cmp("x", "eq", str("blue")),
      },
    });
    expect(parseFilter("tags/any()")).toEqual({
      kind: "any",
      collection: prop("tags"),
      variable: "",
      predicate: null,
    });
  });

  it("parses isof with a quoted or bare type name", () => {
    expect(parseFilter("isof('microsoft.graph.user')")).toEqual({
      kind: "isof",
      typeName: "microsoft.graph.user",
    });
    expect(parseFilter("isof(microsoft.graph.group) or isof('#microsoft.graph.managedDevice')")).toEqual({
      kind: "or",
      left: { kind: "isof", typeName: "microsoft.graph.group" },
      right: { kind: "isof", typeName: "#microsoft.graph.managedDevice" },
    });
  });

  it("rejects what it does not understand with a 400 that names it", () => {
    expect(parseError("substringof('a', displayName)").message).toContain("'substringof'");
    expect(parseError("displayName like 'a%'").message).toContain("'like'");
    expect(parseError("displayName has 'a'").message).toContain("'has'");
    expect(parseError("displayName eq 'a' xor size eq 1").message).toContain("'xor'");
    expect(parseError("tags/all(t: t eq 'a')").message).toMatch(/'all'.*not supported/);
    expect(parseError("displayName eq 'unterminated").message).toMatch(/unterminated string/);
    expect(parseError("displayName eq unquoted").message).toMatch(/literal.*'unquoted'|'unquoted'.*literal/);
    expect(parseError("displayName eq").message).toMatch(/end of input/);
    expect(parseError("(displayName eq 'a'").message).toMatch(/expected '\)'/);
    expect(parseError("displayName eq 'a')").message).toMatch(/unexpected token/);
    expect(parseError("displayName eq 'a' ; drop table users").message).toMatch(/unexpected character ';'/);
    expect(parseError("startswith(displayName, 5)").message).toMatch(/startswith expects a string/);
    expect(parseError("startswith(displayName,'a') eq 'yes'").message).toMatch(/true or false/);
    expect(parseError("kind in ()").message).toMatch(/literal/);
    expect(parseError("   ").message).toMatch(/empty/);
    expect(parseError(`displayName eq '${"x".repeat(4001)}'`).message).toMatch(/4000/);
  });

  it("never turns a quoted literal into syntax", () => {
    const evil = "x') or 1 eq 1 or ('";
    const node = parseFilter(`displayName eq '${evil.replace(/'/g, "''")}'`) as Extract<
      FilterNode,
      { kind: "compare" }
    >;
    expect(node.kind).toBe("compare");
    expect(node.right.value).toBe(evil);
  });
});

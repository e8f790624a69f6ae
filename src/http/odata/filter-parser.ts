// A parser for the OData $filter subset Graph clients send. It produces a small AST; turning that
// into SQL is compile.ts's job. Every literal stays a value (never spliced into SQL text).
import { badRequest } from "../../lib/errors.ts";

export type Literal = { kind: "literal"; value: string | number | boolean | null; type: "string" | "number" | "boolean" | "null" | "guid" | "datetime" };
export type PropertyPath = { kind: "property"; path: string[] };
export type FilterNode =
  | { kind: "compare"; op: "eq" | "ne" | "gt" | "ge" | "lt" | "le"; left: PropertyPath; right: Literal }
  | { kind: "and" | "or"; left: FilterNode; right: FilterNode }
  | { kind: "not"; operand: FilterNode }
  | { kind: "call"; fn: "startswith" | "endswith" | "contains"; property: PropertyPath; value: Literal }
  | { kind: "in"; property: PropertyPath; values: Literal[] }
  | { kind: "any"; collection: PropertyPath; variable: string; predicate: FilterNode | null }
  | { kind: "isof"; typeName: string }
  | { kind: "boolProperty"; property: PropertyPath };

type Token =
  | { t: "ident"; v: string; pos: number }
  | { t: "string"; v: string; pos: number }
  | { t: "number"; v: number; pos: number }
  | { t: "guid"; v: string; pos: number }
  | { t: "datetime"; v: string; pos: number }
  | { t: "punct"; v: "(" | ")" | "," | "/" | ":"; pos: number }
  | { t: "end"; pos: number };

const guidRe = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const datetimeRe = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/;

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    if ("(),/:".includes(c)) {
      tokens.push({ t: "punct", v: c as "(", pos: i });
      i++;
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      let s = "";
      for (;;) {
        if (j >= input.length) throw badRequest(`Invalid filter clause: unterminated string literal at position ${i}.`);
        if (input[j] === "'") {
          if (input[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          break;
        }
        s += input[j++];
      }
      tokens.push({ t: "string", v: s, pos: i });
      i = j + 1;
      continue;
    }
    const rest = input.slice(i);
    const guid = guidRe.exec(rest);
    if (guid && !/[\w-]/.test(rest[guid[0].length] ?? "")) {
      tokens.push({ t: "guid", v: guid[0].toLowerCase(), pos: i });
      i += guid[0].length;
      continue;
    }
    const dt = datetimeRe.exec(rest);
    if (dt && !/[\w:.-]/.test(rest[dt[0].length] ?? "")) {
      tokens.push({ t: "datetime", v: dt[0], pos: i });
      i += dt[0].length;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(rest);
    if (num && !/[A-Za-z_]/.test(rest[num[0].length] ?? "")) {
      tokens.push({ t: "number", v: Number(num[0]), pos: i });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_@#][\w.@#]*/.exec(rest);
    if (ident) {
      tokens.push({ t: "ident", v: ident[0], pos: i });
      i += ident[0].length;
      continue;
    }
    throw badRequest(`Invalid filter clause: unexpected character '${c}' at position ${i}.`);
  }
  tokens.push({ t: "end", pos: input.length });
  return tokens;
}

const comparisonOps = new Set(["eq", "ne", "gt", "ge", "lt", "le"]);
const functions = new Set(["startswith", "endswith", "contains"]);

class Parser {
  private i = 0;
  private readonly tokens: Token[];
  private readonly lambdaVars: string[] = [];
  private readonly input: string;
  constructor(input: string) {
    this.input = input;
    this.tokens = tokenize(input);
  }

  parse(): FilterNode {
    const node = this.parseOr();
    const t = this.peek();
    if (t.t !== "end") throw this.error(t, "unexpected token");
    return node;
  }

  private peek(): Token {
    return this.tokens[this.i];
  }
  private next(): Token {
    return this.tokens[this.i++];
  }
  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.t === "ident" && t.v.toLowerCase() === word;
  }
  private expectPunct(v: string): void {
    const t = this.next();
    if (t.t !== "punct" || t.v !== v) throw this.error(t, `expected '${v}'`);
  }
  private error(t: Token, what: string) {
    const shown = t.t === "end" ? "end of input" : `'${"v" in t ? t.v : ""}'`;
    return badRequest(`Invalid filter clause: ${what} at position ${t.pos} (found ${shown}) in '${this.input}'.`);
  }

  private parseOr(): FilterNode {
    let left = this.parseAnd();
    while (this.isKeyword("or")) {
      this.next();
      left = { kind: "or", left, right: this.parseAnd() };
    }
    return left;
  }
  private parseAnd(): FilterNode {
    let left = this.parseUnary();
    while (this.isKeyword("and")) {
      this.next();
      left = { kind: "and", left, right: this.parseUnary() };
    }
    return left;
  }
  private parseUnary(): FilterNode {
    if (this.isKeyword("not")) {
      this.next();
      return { kind: "not", operand: this.parseUnary() };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): FilterNode {
    const t = this.peek();
    if (t.t === "punct" && t.v === "(") {
      this.next();
      const inner = this.parseOr();
      this.expectPunct(")");
      return inner;
    }
    if (t.t !== "ident") throw this.error(t, "expected a property name or function");
    const lower = t.v.toLowerCase();
    const after = this.tokens[this.i + 1];
    if (after?.t === "punct" && after.v === "(") {
      if (functions.has(lower)) return this.parseFunction(lower as "startswith");
      if (lower === "isof") {
        this.next();
        this.expectPunct("(");
        const arg = this.next();
        if (arg.t !== "string" && arg.t !== "ident") throw this.error(arg, "isof expects a type name");
        this.expectPunct(")");
        return { kind: "isof", typeName: arg.v as string };
      }
      throw badRequest(`Invalid filter clause: the function '${t.v}' is not supported.`);
    }
    const property = this.parsePath();
    // Lambda: collection/any(x: predicate)
    const last = property.path[property.path.length - 1]?.toLowerCase();
    if (last === "any" || last === "all") {
      if (last === "all") throw badRequest("Invalid filter clause: the 'all' lambda operator is not supported; use 'any'.");
      const collection: PropertyPath = { kind: "property", path: property.path.slice(0, -1) };
      this.expectPunct("(");
      if (this.peek().t === "punct" && (this.peek() as { v: string }).v === ")") {
        this.next();
        return { kind: "any", collection, variable: "", predicate: null };
      }
      const variable = this.next();
      if (variable.t !== "ident") throw this.error(variable, "expected a lambda variable name");
      this.expectPunct(":");
      this.lambdaVars.push(variable.v);
      const predicate = this.parseOr();
      this.lambdaVars.pop();
      this.expectPunct(")");
      return { kind: "any", collection, variable: variable.v, predicate };
    }
    const op = this.peek();
    if (op.t === "ident" && comparisonOps.has(op.v.toLowerCase())) {
      this.next();
      return { kind: "compare", op: op.v.toLowerCase() as "eq", left: property, right: this.parseLiteral() };
    }
    if (op.t === "ident" && op.v.toLowerCase() === "in") {
      this.next();
      this.expectPunct("(");
      const values: Literal[] = [this.parseLiteral()];
      while (this.peek().t === "punct" && (this.peek() as { v: string }).v === ",") {
        this.next();
        values.push(this.parseLiteral());
      }
      this.expectPunct(")");
      return { kind: "in", property, values };
    }
    if (op.t === "end" || (op.t === "ident" && ["and", "or"].includes(op.v.toLowerCase())) || (op.t === "punct" && op.v === ")"))
      return { kind: "boolProperty", property };
    if (op.t === "ident") throw badRequest(`Invalid filter clause: the operator '${op.v}' is not supported.`);
    throw this.error(op, "expected an operator");
  }

  private parseFunction(fn: "startswith" | "endswith" | "contains"): FilterNode {
    this.next();
    this.expectPunct("(");
    const property = this.parsePath();
    this.expectPunct(",");
    const value = this.parseLiteral();
    this.expectPunct(")");
    if (value.type !== "string") throw badRequest(`Invalid filter clause: ${fn} expects a string literal.`);
    // Graph also allows `startswith(...) eq true`.
    if (this.isKeyword("eq")) {
      this.next();
      const b = this.parseLiteral();
      if (b.type !== "boolean") throw badRequest(`Invalid filter clause: ${fn}(...) can only be compared with true or false.`);
      const call: FilterNode = { kind: "call", fn, property, value };
      return b.value ? call : { kind: "not", operand: call };
    }
    return { kind: "call", fn, property, value };
  }

  private parsePath(): PropertyPath {
    const first = this.next();
    if (first.t !== "ident") throw this.error(first, "expected a property name");
    const path = [first.v];
    while (this.peek().t === "punct" && (this.peek() as { v: string }).v === "/") {
      this.next();
      const seg = this.next();
      if (seg.t !== "ident") throw this.error(seg, "expected a property name after '/'");
      path.push(seg.v);
    }
    return { kind: "property", path };
  }

  private parseLiteral(): Literal {
    const t = this.next();
    switch (t.t) {
      case "string":
        return { kind: "literal", value: t.v, type: "string" };
      case "number":
        return { kind: "literal", value: t.v, type: "number" };
      case "guid":
        return { kind: "literal", value: t.v, type: "guid" };
      case "datetime":
        return { kind: "literal", value: t.v, type: "datetime" };
      case "ident": {
        const v = t.v.toLowerCase();
        if (v === "true" || v === "false") return { kind: "literal", value: v === "true", type: "boolean" };
        if (v === "null") return { kind: "literal", value: null, type: "null" };
        throw this.error(t, "expected a literal value (strings need single quotes)");
      }
      default:
        throw this.error(t, "expected a literal value");
    }
  }
}

export function parseFilter(input: string): FilterNode {
  if (!input.trim()) throw badRequest("Invalid filter clause: the $filter expression is empty.");
  if (input.length > 4000) throw badRequest("Invalid filter clause: the $filter expression is longer than 4000 characters.");
  if (input.includes("\u0000")) throw badRequest("Invalid filter clause: the NUL character (U+0000) is not allowed.");
  return new Parser(input).parse();
}

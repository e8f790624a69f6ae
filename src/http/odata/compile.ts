// $filter AST → a parameterised SQL boolean expression. Property names are looked up in the
// entity definition (never taken from the request as SQL); values are always bound parameters.
import { type RawBuilder, type SqlBool, sql } from "kysely";
import { badRequest } from "../../lib/errors.ts";
import { type EntityDef, findDerivedType, findProperty, type PropertyDef } from "./entity.ts";
import type { FilterNode, Literal, PropertyPath } from "./filter-parser.ts";

type Resolved = { name: string; def: PropertyDef; castType?: string };

function resolve(entity: EntityDef, path: PropertyPath): Resolved {
  let segments = path.path;
  let castType: string | undefined;
  if (segments.length > 1) {
    const derived = findDerivedType(entity, segments[0]);
    if (derived) {
      castType = derived;
      segments = segments.slice(1);
    }
  }
  if (segments.length > 1 && findProperty(entity, segments.join("/"))) segments = [segments.join("/")];
  if (segments.length !== 1)
    throw badRequest(`Invalid filter clause: the property path '${path.path.join("/")}' is not supported on ${entity.typeName}.`);
  const found = findProperty(entity, segments[0]);
  if (!found) throw badRequest(`Could not find a property named '${segments[0]}' on type '${castType ?? entity.typeName}'.`);
  const [name, def] = found;
  if (castType && def.ownerTypes && !def.ownerTypes.includes(castType))
    throw badRequest(`Could not find a property named '${name}' on type '${castType}'.`);
  if (def.filterable === false) throw badRequest(`The property '${name}' does not support filtering.`);
  return { name, def, castType };
}

function castGuard(entity: EntityDef, r: Resolved, alias: string): RawBuilder<SqlBool> | null {
  if (!r.castType || !entity.discriminator) return null;
  return sql<SqlBool>`${sql.ref(`${alias}.${entity.discriminator}`)} = ${r.castType}`;
}

function coerce(r: Resolved, lit: Literal): unknown {
  const { def, name } = r;
  if (lit.type === "null") return null;
  switch (def.type) {
    case "string":
    case "stringCollection":
      if (lit.type !== "string") throw badRequest(`A string literal is required to compare with '${name}'.`);
      return lit.value;
    case "enum":
      if (lit.type !== "string") throw badRequest(`A string literal is required to compare with '${name}'.`);
      if (def.enumValues && !def.enumValues.some((v) => v.toLowerCase() === String(lit.value).toLowerCase()))
        throw badRequest(`'${lit.value}' is not a valid value of '${name}'; expected one of: ${def.enumValues.join(", ")}.`);
      return def.enumValues?.find((v) => v.toLowerCase() === String(lit.value).toLowerCase()) ?? lit.value;
    case "boolean":
      if (lit.type !== "boolean") throw badRequest(`true or false is required to compare with '${name}'.`);
      return lit.value;
    case "integer":
      if (lit.type !== "number" || !Number.isInteger(lit.value)) throw badRequest(`An integer is required to compare with '${name}'.`);
      return lit.value;
    case "guid":
      // A quoted string is accepted too, but it must be a GUID (the column is a uuid).
      if ((lit.type !== "guid" && lit.type !== "string") || !guidText.test(String(lit.value)))
        throw badRequest(`A GUID such as 00000000-0000-0000-0000-000000000000 is required to compare with '${name}'.`);
      return String(lit.value).toLowerCase();
    case "datetime": {
      const text = String(lit.value);
      const d = new Date(text);
      if ((lit.type !== "datetime" && lit.type !== "string") || Number.isNaN(d.getTime()))
        throw badRequest(`A DateTimeOffset such as 2024-01-01T00:00:00Z is required to compare with '${name}'.`);
      return d;
    }
  }
}

const guidText = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const opSql = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" } as const;

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function columnRef(r: Resolved, alias: string, lowered: boolean) {
  const ref = sql.ref(`${alias}.${r.def.column}`);
  return lowered ? sql`lower(${ref})` : ref;
}

/**
 * A filter as read through a cast segment (`/members/microsoft.graph.user?$filter=...`): its
 * unqualified properties are those of the cast type, so one the type lacks is a 400 naming it.
 */
export function castFilter(node: FilterNode, castType: string): FilterNode {
  const q = (p: PropertyPath): PropertyPath => (p.path[0]?.includes(".") ? p : { kind: "property", path: [castType, ...p.path] });
  switch (node.kind) {
    case "and":
    case "or":
      return { ...node, left: castFilter(node.left, castType), right: castFilter(node.right, castType) };
    case "not":
      return { ...node, operand: castFilter(node.operand, castType) };
    case "compare":
      return { ...node, left: q(node.left) };
    case "call":
    case "in":
    case "boolProperty":
      return { ...node, property: q(node.property) };
    case "any":
      // the lambda body refers to the collection's elements, not to properties
      return { ...node, collection: q(node.collection) };
    case "isof":
      return node;
  }
}

export function compileFilter(node: FilterNode, entity: EntityDef, alias: string): RawBuilder<SqlBool> {
  const go = (n: FilterNode): RawBuilder<SqlBool> => {
    switch (n.kind) {
      case "and":
        return sql<SqlBool>`(${go(n.left)} and ${go(n.right)})`;
      case "or":
        return sql<SqlBool>`(${go(n.left)} or ${go(n.right)})`;
      case "not":
        return sql<SqlBool>`(not coalesce(${go(n.operand)}, false))`;
      case "isof": {
        const t = findDerivedType(entity, n.typeName) ?? (n.typeName.replace(/^#/, "") === entity.typeName ? entity.typeName : undefined);
        if (!t) throw badRequest(`Invalid filter clause: '${n.typeName}' is not a type of this collection.`);
        if (!entity.discriminator || t === entity.typeName) return sql<SqlBool>`true`;
        return sql<SqlBool>`${sql.ref(`${alias}.${entity.discriminator}`)} = ${t}`;
      }
      case "boolProperty": {
        const r = resolve(entity, n.property);
        if (r.def.type !== "boolean") throw badRequest(`Invalid filter clause: '${r.name}' is not a boolean property; compare it with a value.`);
        return withGuard(r, sql<SqlBool>`${columnRef(r, alias, false)} = true`);
      }
      case "compare": {
        const r = resolve(entity, n.left);
        if (r.def.type === "stringCollection") throw badRequest(`Use '${r.name}/any(x: x eq ...)' to filter on the collection '${r.name}'.`);
        const value = coerce(r, n.right);
        if (value === null) {
          if (n.op !== "eq" && n.op !== "ne") throw badRequest(`Invalid filter clause: null can only be compared with eq or ne.`);
          return withGuard(r, n.op === "eq" ? sql<SqlBool>`${columnRef(r, alias, false)} is null` : sql<SqlBool>`${columnRef(r, alias, false)} is not null`);
        }
        const ci = Boolean(r.def.caseInsensitive) && typeof value === "string";
        const rhs = ci ? sql`lower(${value})` : sql`${value}`;
        const cmp = sql<SqlBool>`${columnRef(r, alias, ci)} ${sql.raw(opSql[n.op])} ${rhs}`;
        // `ne` in Graph also matches rows where the property is null.
        return withGuard(r, n.op === "ne" ? sql<SqlBool>`(${cmp} or ${columnRef(r, alias, false)} is null)` : cmp);
      }
      case "in": {
        const r = resolve(entity, n.property);
        if (n.values.length > 200) throw badRequest("Invalid filter clause: 'in' accepts at most 200 values.");
        const values = n.values.map((v) => coerce(r, v));
        const ci = Boolean(r.def.caseInsensitive);
        const items = values.map((v) => (ci && typeof v === "string" ? sql`lower(${v})` : sql`${v}`));
        return withGuard(r, sql<SqlBool>`${columnRef(r, alias, ci)} in (${sql.join(items)})`);
      }
      case "call": {
        const r = resolve(entity, n.property);
        if (r.def.type !== "string" && r.def.type !== "enum") throw badRequest(`${n.fn} can only be used on string properties; '${r.name}' is not one.`);
        const text = escapeLike(String(n.value.value).toLowerCase());
        const pattern = n.fn === "startswith" ? `${text}%` : n.fn === "endswith" ? `%${text}` : `%${text}%`;
        return withGuard(r, sql<SqlBool>`lower(${sql.ref(`${alias}.${r.def.column}`)}) like ${pattern}`);
      }
      case "any": {
        const r = resolve(entity, n.collection);
        if (r.def.type !== "stringCollection") throw badRequest(`'${r.name}' is not a collection; 'any' cannot be used on it.`);
        const col = sql.ref(`${alias}.${r.def.column}`);
        if (!n.predicate) return withGuard(r, sql<SqlBool>`cardinality(${col}) > 0`);
        return withGuard(r, sql<SqlBool>`exists (select 1 from unnest(${col}) as lambda(v) where ${lambda(n.predicate, n.variable, r)})`);
      }
    }
  };
  const withGuard = (r: Resolved, expr: RawBuilder<SqlBool>) => {
    const guard = castGuard(entity, r, alias);
    return guard ? sql<SqlBool>`(${guard} and ${expr})` : expr;
  };
  const lambda = (p: FilterNode, variable: string, coll: Resolved): RawBuilder<SqlBool> => {
    const isVar = (path: PropertyPath) => path.path.length === 1 && path.path[0] === variable;
    const elem: Resolved = { name: coll.name, def: { ...coll.def, type: "string" } };
    switch (p.kind) {
      case "and":
      case "or":
        return sql<SqlBool>`(${lambda(p.left, variable, coll)} ${sql.raw(p.kind)} ${lambda(p.right, variable, coll)})`;
      case "not":
        return sql<SqlBool>`(not ${lambda(p.operand, variable, coll)})`;
      case "compare":
        if (isVar(p.left) && (p.op === "eq" || p.op === "ne")) {
          const v = coerce(elem, p.right);
          return coll.def.caseInsensitive
            ? sql<SqlBool>`lower(lambda.v) ${sql.raw(opSql[p.op])} lower(${v})`
            : sql<SqlBool>`lambda.v ${sql.raw(opSql[p.op])} ${v}`;
        }
        break;
      case "call":
        if (isVar(p.property)) {
          const text = escapeLike(String(p.value.value).toLowerCase());
          const pattern = p.fn === "startswith" ? `${text}%` : p.fn === "endswith" ? `%${text}` : `%${text}%`;
          return sql<SqlBool>`lower(lambda.v) like ${pattern}`;
        }
        break;
      default:
        break;
    }
    throw badRequest(`Invalid filter clause: unsupported expression inside '${coll.name}/any(${variable}: ...)'.`);
  };
  return go(node);
}

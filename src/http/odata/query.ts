// OData query options for collections: parse and validate ($filter, $select, $expand, $orderby,
// $top, $skip, $count, $skiptoken), apply them to a Kysely query, and shape the Graph response.
import { type SelectQueryBuilder, type SqlBool, type RawBuilder, sql } from "kysely";
import type { FastifyRequest } from "fastify";
import { badRequest } from "../../lib/errors.ts";
import { castFilter, compileFilter } from "./compile.ts";
import { type EntityDef, findProperty, type PropertyDef } from "./entity.ts";
import { type FilterNode, parseFilter } from "./filter-parser.ts";

export interface ListOptions {
  filter?: FilterNode;
  select?: string[];
  expand: string[];
  orderBy: { name: string; column: string; desc: boolean; lowered: boolean }[];
  top: number;
  skip: number;
  count: boolean;
  after?: number; // keyset position (sequence value) from $skiptoken
}

const knownOptions = new Set(["filter", "select", "expand", "orderby", "top", "skip", "count", "skiptoken", "search", "format"]);

/** A query option by name, with or without the `$`, in any letter case (as OData allows). */
export function readOption(query: Record<string, unknown>, name: string): string | undefined {
  const keys = Object.keys(query).filter((k) => k.toLowerCase() === `$${name}` || k.toLowerCase() === name);
  const v = keys.length > 1 ? keys.map((k) => query[k]) : keys.length === 1 ? query[keys[0]] : undefined;
  if (Array.isArray(v)) throw badRequest(`The query option '$${name}' was specified more than once.`);
  return v === undefined ? undefined : String(v);
}

/** Rejects `$options` this endpoint does not understand, naming them (API-1). */
export function rejectUnknownOptions(query: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(query)) {
    if (!key.startsWith("$")) continue;
    const name = key.slice(1).toLowerCase();
    if (!knownOptions.has(name)) throw badRequest(`Query option '${key}' is not supported.`);
    if (!allowed.includes(name)) throw badRequest(`Query option '${key}' is not allowed on this resource.`);
  }
}

/** A property of the entity, or of the cast type when the collection is read through a cast segment. */
function requireProperty(entity: EntityDef, name: string, castType?: string): [string, PropertyDef] {
  const found = findProperty(entity, name);
  if (!found || (castType && found[1].ownerTypes && !found[1].ownerTypes.includes(castType)))
    throw badRequest(`Could not find a property named '${name}' on type '${castType ?? entity.typeName}'.`);
  return found;
}

export function parseSelect(raw: string | undefined, entity: EntityDef, castType?: string): string[] | undefined {
  if (raw === undefined) return undefined;
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw badRequest("$select must name at least one property.");
  return names.map((n) => requireProperty(entity, n, castType)[0]);
}

/** $expand names, checked against the entity's navigation properties. */
export function parseExpand(raw: string | undefined, entity: EntityDef): string[] {
  const expand: string[] = [];
  if (raw === undefined) return expand;
  for (const e of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const name = e.replace(/\(.*\)$/, "");
    const known = entity.expandable?.find((x) => x.toLowerCase() === name.toLowerCase());
    if (!known) throw badRequest(`Could not find a navigation property named '${name}' on type '${entity.typeName}' that can be expanded.`);
    if (e !== name) throw badRequest(`Nested query options in $expand ('${e}') are not supported.`);
    expand.push(known);
  }
  return expand;
}

/** `castType`: the collection is read through a cast segment (properties are that type's). */
export function parseListOptions(
  query: Record<string, unknown>,
  entity: EntityDef,
  opts: { maxTop?: number; defaultTop?: number; castType?: string } = {},
): ListOptions {
  rejectUnknownOptions(query, ["filter", "select", "expand", "orderby", "top", "skip", "count", "skiptoken", "format"]);
  const maxTop = opts.maxTop ?? 999;
  const format = readOption(query, "format");
  if (format !== undefined && format.toLowerCase() !== "json") throw badRequest(`$format '${format}' is not supported; only json is.`);

  const topRaw = readOption(query, "top");
  let top = opts.defaultTop ?? 100;
  if (topRaw !== undefined) {
    if (!/^\d+$/.test(topRaw)) throw badRequest(`Invalid value '${topRaw}' for $top: expected a whole number.`);
    top = Number(topRaw);
    if (top < 1 || top > maxTop) throw badRequest(`Invalid value '${topRaw}' for $top: it must be between 1 and ${maxTop}.`);
  }
  const skipRaw = readOption(query, "skip");
  let skip = 0;
  if (skipRaw !== undefined) {
    if (!/^\d+$/.test(skipRaw) || !Number.isSafeInteger(Number(skipRaw))) throw badRequest(`Invalid value '${skipRaw}' for $skip: expected a whole number.`);
    skip = Number(skipRaw);
  }
  const countRaw = readOption(query, "count");
  if (countRaw !== undefined && !/^(true|false)$/i.test(countRaw)) throw badRequest(`Invalid value '${countRaw}' for $count: expected true or false.`);
  const count = countRaw?.toLowerCase() === "true";

  const filterRaw = readOption(query, "filter");
  const parsed = filterRaw !== undefined ? parseFilter(filterRaw) : undefined;
  const filter = parsed && opts.castType ? castFilter(parsed, opts.castType) : parsed;
  // Compile once here so unknown properties fail before any SQL runs.
  if (filter) compileFilter(filter, entity, "t");

  const orderBy: ListOptions["orderBy"] = [];
  const orderRaw = readOption(query, "orderby");
  if (orderRaw !== undefined) {
    for (const part of orderRaw.split(",").map((s) => s.trim()).filter(Boolean)) {
      const m = /^([\w.]+)(?:\s+(asc|desc))?$/i.exec(part);
      if (!m) throw badRequest(`Invalid $orderby clause '${part}'.`);
      const [name, def] = requireProperty(entity, m[1], opts.castType);
      if (def.sortable === false || def.type === "stringCollection") throw badRequest(`The property '${name}' does not support sorting.`);
      orderBy.push({ name, column: def.column, desc: m[2]?.toLowerCase() === "desc", lowered: def.type === "string" && Boolean(def.caseInsensitive) });
    }
  }

  const expand = parseExpand(readOption(query, "expand"), entity);

  let after: number | undefined;
  const token = readOption(query, "skiptoken");
  if (token !== undefined) {
    const decoded = decodeSkipToken(token);
    if (decoded.o !== undefined) skip = decoded.o;
    if (decoded.k !== undefined) after = decoded.k;
  }
  return { filter, select: parseSelect(readOption(query, "select"), entity, opts.castType), expand, orderBy, top, skip, count, after };
}

function decodeSkipToken(token: string): { k?: number; o?: number } {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    const position = (n: unknown) => n === undefined || (Number.isSafeInteger(n) && (n as number) >= 0);
    if (typeof v === "object" && v && (v.k !== undefined || v.o !== undefined) && position(v.k) && position(v.o)) return v;
  } catch {
    // fall through
  }
  throw badRequest("The $skiptoken is not valid; follow @odata.nextLink as returned.");
}

function encodeSkipToken(v: { k?: number; o?: number }): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

export interface ListResult<Row> {
  rows: Row[];
  count?: number;
  skiptoken?: string;
}

/**
 * Runs a collection query. `base` selects the rows (aliased as `alias`) already scoped to the
 * tenant and the parent resource; `extraWhere` adds conditions such as a cast segment.
 */
export async function runList<Row extends Record<string, any>>(
  base: SelectQueryBuilder<any, any, Row>,
  alias: string,
  entity: EntityDef,
  options: ListOptions,
  extraWhere?: RawBuilder<SqlBool>,
): Promise<ListResult<Row>> {
  let q = base;
  if (extraWhere) q = q.where(extraWhere);
  if (options.filter) q = q.where(compileFilter(options.filter, entity, alias));
  const counted = options.count
    ? q.clearSelect().select(sql<string>`count(*)`.as("n")).executeTakeFirst().then((r) => Number((r as { n: string } | undefined)?.n ?? 0))
    : undefined;
  const seq = sql.ref(`${alias}.${entity.sequenceColumn}`);
  const keyset = options.orderBy.length === 0 && options.skip === 0;
  let page = q;
  if (keyset) {
    if (options.after !== undefined) page = page.where(sql<SqlBool>`${seq} > ${options.after}`);
    page = page.orderBy(sql`${seq}`);
  } else {
    for (const o of options.orderBy) {
      const col = sql.ref(`${alias}.${o.column}`);
      page = page.orderBy(sql`${o.lowered ? sql`lower(${col})` : col} ${sql.raw(o.desc ? "desc nulls last" : "asc nulls first")}`);
    }
    page = page.orderBy(sql`${seq}`).offset(options.skip);
  }
  const fetched = (await page.limit(options.top + 1).execute()) as Row[];
  const more = fetched.length > options.top;
  const rows = more ? fetched.slice(0, options.top) : fetched;
  let skiptoken: string | undefined;
  if (more) {
    skiptoken = keyset
      ? encodeSkipToken({ k: Number(rows[rows.length - 1][entity.sequenceColumn]) })
      : encodeSkipToken({ o: options.skip + options.top });
  }
  return { rows, count: counted ? await counted : undefined, skiptoken };
}

/** scheme://host of the request itself, so nextLink stays on the host the client used. */
export function requestOrigin(req: FastifyRequest): string {
  const scheme = req.protocol === "https" ? "https" : "http";
  let origin: URL | undefined;
  try {
    origin = new URL(`${scheme}://${req.host}`);
  } catch {
    origin = undefined;
  }
  // A Host header that is not a bare host[:port] (a path, credentials, a bad port) is refused.
  if (!req.host || origin?.pathname !== "/" || origin.search || origin.hash || origin.username || origin.password)
    throw badRequest(`The Host header '${req.host}' is not a valid host name.`);
  return `${origin.protocol}//${origin.host}`;
}

export function apiVersion(req: FastifyRequest): "v1.0" | "beta" {
  return req.url.startsWith("/beta") ? "beta" : "v1.0";
}

export function contextUrl(req: FastifyRequest, fragment: string): string {
  return `${requestOrigin(req)}/${apiVersion(req)}/$metadata#${fragment}`;
}

export function nextLink(req: FastifyRequest, skiptoken: string): string {
  const url = new URL(req.url, requestOrigin(req));
  for (const k of [...url.searchParams.keys()]) if (/^\$?(skiptoken|skip)$/i.test(k)) url.searchParams.delete(k);
  url.searchParams.set("$skiptoken", skiptoken);
  // Graph writes option names with a literal '$'; URLSearchParams would escape it.
  return url.toString().replace(/([?&])%24/g, "$1$");
}

/** Keeps only the selected properties (and the type annotation) of a Graph object. */
export function project<T extends Record<string, unknown>>(item: T, select: string[] | undefined): Record<string, unknown> {
  if (!select) return item;
  const out: Record<string, unknown> = {};
  if (item["@odata.type"] !== undefined) out["@odata.type"] = item["@odata.type"];
  for (const s of select) if (s in item) out[s] = item[s];
  return out;
}

export function collectionBody(
  req: FastifyRequest,
  fragment: string,
  options: ListOptions,
  result: { items: Record<string, unknown>[]; count?: number; skiptoken?: string },
): Record<string, unknown> {
  const ctx = options.select ? `${fragment}(${options.select.join(",")})` : fragment;
  const body: Record<string, unknown> = { "@odata.context": contextUrl(req, ctx) };
  if (result.count !== undefined) body["@odata.count"] = result.count;
  body.value = result.items.map((i) => project(i, options.select ? [...options.select, ...options.expand] : undefined));
  if (result.skiptoken) body["@odata.nextLink"] = nextLink(req, result.skiptoken);
  return body;
}

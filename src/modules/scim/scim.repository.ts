// SQL of the SCIM module: provisioning tokens (hashed secrets only), and the Users/Groups lists with a
// SCIM filter translated to parameterised SQL. Writes to users and groups go through the directory.
import { type Kysely, type RawBuilder, type SqlBool, sql } from "kysely";
import type { Filter } from "scim2-parse-filter";
import type { DB } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";
import { isUuid } from "../directory/directory.repository.ts";
import { scimError } from "./scim.mapping.ts";
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./scim.schemas.ts";

type Cond = RawBuilder<SqlBool>;
type Kind = "ci" | "exact" | "boolean" | "uuid" | "datetime";
interface Column {
  column: string;
  kind: Kind;
}

const TRUE: Cond = sql<SqlBool>`true`;
const FALSE: Cond = sql<SqlBool>`false`;
const badFilter = (detail: string) => scimError("badRequest", "invalidFilter", detail);

const userColumns: Record<string, Column> = {
  id: { column: "id", kind: "uuid" },
  username: { column: "user_principal_name", kind: "ci" },
  displayname: { column: "display_name", kind: "ci" },
  externalid: { column: "external_id", kind: "exact" },
  active: { column: "account_enabled", kind: "boolean" },
  title: { column: "job_title", kind: "ci" },
  "name.givenname": { column: "given_name", kind: "ci" },
  "name.familyname": { column: "surname", kind: "ci" },
  emails: { column: "mail", kind: "ci" },
  "emails.value": { column: "mail", kind: "ci" },
  [`${ENTERPRISE_SCHEMA.toLowerCase()}:department`]: { column: "department", kind: "ci" },
  "meta.created": { column: "created_at", kind: "datetime" },
  "meta.lastmodified": { column: "updated_at", kind: "datetime" },
};
const groupColumns: Record<string, Column> = {
  id: { column: "id", kind: "uuid" },
  displayname: { column: "display_name", kind: "ci" },
  externalid: { column: "external_id", kind: "exact" },
  "meta.created": { column: "created_at", kind: "datetime" },
  "meta.lastmodified": { column: "updated_at", kind: "datetime" },
};

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function compare(c: Column, op: string, value: unknown, attr: string): Cond {
  const ref = sql.ref(`t.${c.column}`);
  if (op === "pr") return c.kind === "ci" || c.kind === "exact" ? sql<SqlBool>`(${ref} is not null and ${ref} <> '')` : sql<SqlBool>`${ref} is not null`;
  if (value === null) {
    if (op === "eq") return sql<SqlBool>`${ref} is null`;
    if (op === "ne") return sql<SqlBool>`${ref} is not null`;
    throw badFilter(`'${attr} ${op} null' is not a valid comparison.`);
  }
  switch (c.kind) {
    case "boolean": {
      const b = typeof value === "boolean" ? value : typeof value === "string" && /^(true|false)$/i.test(value) ? value.toLowerCase() === "true" : undefined;
      if (b === undefined) throw badFilter(`'${attr}' is a boolean; compare it with true or false.`);
      if (op === "eq") return sql<SqlBool>`${ref} = ${b}`;
      if (op === "ne") return sql<SqlBool>`${ref} <> ${b}`;
      throw badFilter(`The operator '${op}' does not apply to the boolean '${attr}'.`);
    }
    case "uuid": {
      if (typeof value !== "string") throw badFilter(`'${attr}' must be compared with a string.`);
      if (op !== "eq" && op !== "ne") throw badFilter(`The operator '${op}' does not apply to '${attr}'; use eq or ne.`);
      if (!isUuid(value)) return op === "eq" ? FALSE : TRUE;
      return op === "eq" ? sql<SqlBool>`${ref} = ${value.toLowerCase()}` : sql<SqlBool>`${ref} <> ${value.toLowerCase()}`;
    }
    case "datetime": {
      const d = typeof value === "string" ? new Date(value) : undefined;
      if (!d || Number.isNaN(d.getTime())) throw badFilter(`'${attr}' must be compared with a date-time such as "2026-01-31T00:00:00Z".`);
      const sqlOp = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" }[op];
      if (!sqlOp) throw badFilter(`The operator '${op}' does not apply to the date-time '${attr}'.`);
      return sql<SqlBool>`${ref} ${sql.raw(sqlOp)} ${d}`;
    }
    default: {
      if (typeof value !== "string") throw badFilter(`'${attr}' is a string; compare it with a quoted value.`);
      const ci = c.kind === "ci";
      const lhs = ci ? sql`lower(${ref})` : ref;
      const v = ci ? value.toLowerCase() : value;
      switch (op) {
        case "eq":
          return sql<SqlBool>`${lhs} = ${v}`;
        case "ne":
          return sql<SqlBool>`${lhs} is distinct from ${v}`;
        case "co":
          return sql<SqlBool>`${lhs} like ${`%${likeEscape(v)}%`}`;
        case "sw":
          return sql<SqlBool>`${lhs} like ${`${likeEscape(v)}%`}`;
        case "ew":
          return sql<SqlBool>`${lhs} like ${`%${likeEscape(v)}`}`;
        case "gt":
          return sql<SqlBool>`${lhs} > ${v}`;
        case "ge":
          return sql<SqlBool>`${lhs} >= ${v}`;
        case "lt":
          return sql<SqlBool>`${lhs} < ${v}`;
        case "le":
          return sql<SqlBool>`${lhs} <= ${v}`;
        default:
          throw badFilter(`Unknown operator '${op}'.`);
      }
    }
  }
}

function normalise(attrPath: string, coreUrn: string): string {
  const a = attrPath.toLowerCase();
  return a.startsWith(`${coreUrn.toLowerCase()}:`) ? a.slice(coreUrn.length + 1) : a;
}

type Resolver = (attr: string, op: string, value: unknown, raw: string) => Cond;
type ValuePathResolver = (attr: string, inner: Filter, raw: string) => Cond;

function translate(f: Filter, resolve: Resolver, valuePath: ValuePathResolver): Cond {
  switch (f.op) {
    case "and":
    case "or": {
      const parts = f.filters.map((x) => translate(x, resolve, valuePath));
      return sql<SqlBool>`(${sql.join(parts, sql.raw(f.op === "and" ? " and " : " or "))})`;
    }
    case "not":
      return sql<SqlBool>`not (${translate(f.filter, resolve, valuePath)})`;
    case "[]":
      return valuePath(f.attrPath, f.valFilter, f.attrPath);
    default:
      return resolve(f.attrPath, f.op, (f as { compValue?: unknown }).compValue, f.attrPath);
  }
}

function userCondition(f: Filter): Cond {
  const resolve: Resolver = (attrPath, op, value, raw) => {
    const a = normalise(attrPath, USER_SCHEMA);
    const c = userColumns[a];
    if (c) return compare(c, op, value, raw);
    if (a === "emails.type" || a === "emails.primary") return emailMeta(a.slice(7), op, value);
    throw badFilter(`Filtering on '${raw}' is not supported; use userName, externalId, displayName, id, active, emails, name.givenName, name.familyName, title or meta.lastModified.`);
  };
  const emailMeta = (sub: string, op: string, value: unknown): Cond => {
    // Allot keeps one address, the work/primary one: type eq "work" and primary eq true select it.
    const has = sql<SqlBool>`t.mail is not null`;
    if (op === "pr") return has;
    const matches = sub === "type" ? String(value).toLowerCase() === "work" : value === true || String(value).toLowerCase() === "true";
    if (op === "eq") return matches ? has : FALSE;
    if (op === "ne") return matches ? FALSE : has;
    throw badFilter(`The operator '${op}' does not apply to emails.${sub}.`);
  };
  const valuePath: ValuePathResolver = (attr, inner, raw) => {
    if (normalise(attr, USER_SCHEMA) !== "emails") throw badFilter(`Filtering inside '${raw}[...]' is not supported; only emails[...] is.`);
    return translate(inner, (sub, op, value, r) => resolve(`emails.${sub}`, op, value, `${raw}.${r}`), () => {
      throw badFilter("Nested value filters are not supported.");
    });
  };
  return translate(f, resolve, valuePath);
}

function groupCondition(f: Filter): Cond {
  const member = (op: string, value: unknown, raw: string): Cond => {
    if (op !== "eq" || typeof value !== "string") throw badFilter(`'${raw}' supports only eq with a member id.`);
    if (!isUuid(value)) return FALSE;
    return sql<SqlBool>`exists (select 1 from group_members gm where gm.tenant_id = t.tenant_id and gm.group_id = t.id and gm.member_id = ${value.toLowerCase()})`;
  };
  const resolve: Resolver = (attrPath, op, value, raw) => {
    const a = normalise(attrPath, GROUP_SCHEMA);
    const c = groupColumns[a];
    if (c) return compare(c, op, value, raw);
    if (a === "members" || a === "members.value") return member(op, value, raw);
    throw badFilter(`Filtering on '${raw}' is not supported; use displayName, externalId, id, members or meta.lastModified.`);
  };
  const valuePath: ValuePathResolver = (attr, inner, raw) => {
    if (normalise(attr, GROUP_SCHEMA) !== "members") throw badFilter(`Filtering inside '${raw}[...]' is not supported; only members[value eq "<id>"] is.`);
    return translate(
      inner,
      (sub, op, value, r) => {
        if (sub.toLowerCase() !== "value") throw badFilter(`Filtering on members.${r} is not supported; use members[value eq "<id>"].`);
        return member(op, value, `${raw}.${r}`);
      },
      () => {
        throw badFilter("Nested value filters are not supported.");
      },
    );
  };
  return translate(f, resolve, valuePath);
}

export interface ScimTokenInsert {
  tenant_id: string;
  id: string;
  display_name: string;
  token_hash: string;
}

export function createScimRepository(db: Kysely<DB>) {
  return {
    // ---- tokens
    insertToken: (ex: Executor, row: ScimTokenInsert) =>
      ex.insertInto("scim_tokens").values(row).returning(["tenant_id", "id", "display_name", "created_at", "last_used_at"]).executeTakeFirstOrThrow(),
    listTokens: (tenantId: string) =>
      db.selectFrom("scim_tokens").select(["id", "display_name", "created_at", "last_used_at"]).where("tenant_id", "=", tenantId).orderBy("created_at").orderBy("id").execute(),
    findTokenByHash: (hash: string) =>
      db.selectFrom("scim_tokens").select(["tenant_id", "id", "display_name", "last_used_at"]).where("token_hash", "=", hash).executeTakeFirst(),
    touchToken: (tenantId: string, id: string, at: Date) =>
      db.updateTable("scim_tokens").set({ last_used_at: at }).where("tenant_id", "=", tenantId).where("id", "=", id).execute(),
    deleteToken: (ex: Executor, tenantId: string, id: string) =>
      ex.deleteFrom("scim_tokens").where("tenant_id", "=", tenantId).where("id", "=", id).returning(["id", "display_name", "created_at", "last_used_at"]).executeTakeFirst(),

    // ---- lists (startIndex is 1-based, as SCIM counts)
    async listUsers(tenantId: string, filter: Filter | undefined, startIndex: number, count: number) {
      const where = filter ? userCondition(filter) : TRUE;
      const base = db.selectFrom("users as t").where("t.tenant_id", "=", tenantId).where(where);
      const total = Number((await base.select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow()).n);
      const rows = count > 0 ? await base.selectAll("t").orderBy("t.seq").offset(startIndex - 1).limit(count).execute() : [];
      return { total, rows };
    },
    async listGroups(tenantId: string, filter: Filter | undefined, startIndex: number, count: number) {
      const where = filter ? groupCondition(filter) : TRUE;
      const base = db.selectFrom("groups as t").where("t.tenant_id", "=", tenantId).where(where);
      const total = Number((await base.select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow()).n);
      const rows = count > 0 ? await base.selectAll("t").orderBy("t.seq").offset(startIndex - 1).limit(count).execute() : [];
      return { total, rows };
    },
    /** Direct members of a group (in an open transaction), for PUT and members replace. */
    memberIdsOf: async (ex: Executor, tenantId: string, groupId: string) =>
      (await ex.selectFrom("group_members").select("member_id").where("tenant_id", "=", tenantId).where("group_id", "=", groupId).execute()).map((r) => r.member_id),
  };
}
export type ScimRepository = ReturnType<typeof createScimRepository>;

// Pure SCIM ↔ Allot mapping: resource representations, request bodies to directory properties, and
// PATCH operations read the way Microsoft Entra ID sends them (capitalised ops, "True"/"False"
// strings, path-less operations carrying an object of attributes, emails[type eq "work"].value and
// enterprise-extension URN paths). Unmapped attributes are accepted and ignored.
import { type Filter, parse as parseFilter } from "scim2-parse-filter";
import { AppError, type ErrorCode } from "../../lib/errors.ts";
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "./scim.schemas.ts";

export type ScimType = "invalidFilter" | "tooMany" | "uniqueness" | "mutability" | "invalidSyntax" | "invalidPath" | "noTarget" | "invalidValue" | "sensitive";

/** An error that the SCIM error handler renders as a SCIM Error message with this scimType. */
export function scimError(code: ErrorCode, scimType: ScimType | undefined, detail: string): AppError {
  return new AppError(code, detail, { details: { scimType } });
}
const invalid = (scimType: ScimType, detail: string) => scimError("badRequest", scimType, detail);

type Row = Record<string, any>;
type Body = Record<string, unknown>;

const iso = (d: unknown) => (d ? new Date(d as string).toISOString() : undefined);
const defined = (o: Row) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));

// ---------------------------------------------------------------- representations
export function userToScim(r: Row, base: string): Row {
  const name = defined({ givenName: r.given_name, familyName: r.surname, formatted: [r.given_name, r.surname].filter(Boolean).join(" ") || undefined });
  return defined({
    schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA],
    id: r.id,
    externalId: r.external_id,
    userName: r.user_principal_name,
    displayName: r.display_name,
    name: Object.keys(name).length ? name : undefined,
    title: r.job_title,
    active: r.account_enabled,
    emails: r.mail ? [{ value: r.mail, type: "work", primary: true }] : undefined,
    [ENTERPRISE_SCHEMA]: r.department ? { department: r.department } : undefined,
    meta: { resourceType: "User", created: iso(r.created_at), lastModified: iso(r.updated_at ?? r.created_at), location: `${base}/Users/${r.id}` },
  });
}

export interface MemberRow {
  id: string;
  odata_type: string;
  display_name: string;
}
export function groupToScim(r: Row, base: string, members?: MemberRow[]): Row {
  return defined({
    schemas: [GROUP_SCHEMA],
    id: r.id,
    externalId: r.external_id,
    displayName: r.display_name,
    members: members?.map((m) => {
      const type = m.odata_type === "microsoft.graph.group" ? "Group" : "User";
      return { value: m.id, display: m.display_name, type, $ref: `${base}/${type}s/${m.id}` };
    }),
    meta: { resourceType: "Group", created: iso(r.created_at), lastModified: iso(r.updated_at ?? r.created_at), location: `${base}/Groups/${r.id}` },
  });
}

/** `attributes` / `excludedAttributes` (RFC 7644 §3.9) on top-level attributes; id, schemas and meta are always returned. */
export function projectAttributes(resource: Row, attributes?: string, excluded?: string): Row {
  const names = (s: string) =>
    s
      .split(",")
      .map((a) => a.trim().toLowerCase())
      .filter(Boolean)
      .map((a) => {
        for (const urn of [USER_SCHEMA, GROUP_SCHEMA]) if (a.startsWith(`${urn.toLowerCase()}:`)) return a.slice(urn.length + 1).split(".")[0];
        if (a.startsWith(ENTERPRISE_SCHEMA.toLowerCase())) return ENTERPRISE_SCHEMA.toLowerCase();
        return a.split(".")[0];
      });
  const always = new Set(["id", "schemas", "meta"]);
  if (attributes) {
    const keep = new Set(names(attributes));
    return Object.fromEntries(Object.entries(resource).filter(([k]) => always.has(k) || keep.has(k.toLowerCase())));
  }
  if (excluded) {
    const drop = new Set(names(excluded));
    return Object.fromEntries(Object.entries(resource).filter(([k]) => always.has(k) || !drop.has(k.toLowerCase())));
  }
  return resource;
}

/** Whether a request's `attributes`/`excludedAttributes` leave a group's members out (so they need not be read). */
export function wantsMembers(attributes?: string, excluded?: string): boolean {
  const has = (s: string | undefined) => Boolean(s?.split(",").some((a) => /^(urn:ietf:params:scim:schemas:core:2\.0:group:)?members(\.|$)/i.test(a.trim())));
  if (attributes) return has(attributes);
  return !has(excluded);
}

// ---------------------------------------------------------------- value coercion
/** SCIM booleans; Entra ID sends "True"/"False" strings. */
export function toBoolean(v: unknown, attribute: string): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === "true";
  throw invalid("invalidValue", `The attribute '${attribute}' must be a boolean (true or false), got ${JSON.stringify(v)}.`);
}

function unwrap(v: unknown): unknown {
  // Some clients wrap single values as [{"value": x}] or [x].
  if (Array.isArray(v) && v.length === 1) v = v[0];
  if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "value" in v) return (v as { value: unknown }).value;
  return v;
}

function toText(v: unknown, attribute: string, opts: { required?: boolean; max?: number } = {}): string | null {
  v = unwrap(v);
  if (v === null || v === undefined || v === "") {
    if (opts.required) throw scimError("badRequest", "invalidValue", `The attribute '${attribute}' is required and cannot be empty.`);
    return null;
  }
  if (typeof v === "number" || typeof v === "boolean") v = String(v);
  if (typeof v !== "string") throw invalid("invalidValue", `The attribute '${attribute}' must be a string.`);
  const s = v.trim();
  if (s.length > (opts.max ?? 1024)) throw invalid("invalidValue", `The attribute '${attribute}' is longer than ${opts.max ?? 1024} characters.`);
  if (!s && opts.required) throw invalid("invalidValue", `The attribute '${attribute}' is required and cannot be empty.`);
  return s || null;
}

/** The e-mail Allot keeps (mail): the primary one, else the work one, else the first. */
export function pickEmail(emails: unknown): string | null {
  if (emails === null || emails === undefined) return null;
  const list = (Array.isArray(emails) ? emails : [emails]).filter((e) => e !== null && e !== undefined);
  if (list.length === 0) return null;
  const isObj = (e: unknown): e is Row => typeof e === "object" && e !== null;
  const primary = list.find((e) => isObj(e) && (e.primary === true || String(e.primary).toLowerCase() === "true"));
  const work = list.find((e) => isObj(e) && String(e.type ?? "").toLowerCase() === "work");
  const chosen = primary ?? work ?? list[0];
  return toText(isObj(chosen) ? chosen.value : chosen, "emails.value");
}

// ---------------------------------------------------------------- users
/** Directory (Graph-named) properties of a user the SCIM service maps. */
export interface UserProps {
  userPrincipalName?: string;
  displayName?: string | null;
  accountEnabled?: boolean;
  mail?: string | null;
  givenName?: string | null;
  surname?: string | null;
  jobTitle?: string | null;
  department?: string | null;
  externalId?: string | null;
}

export function userPropsOfRow(r: Row): Required<UserProps> {
  return {
    userPrincipalName: r.user_principal_name,
    displayName: r.display_name,
    accountEnabled: r.account_enabled,
    mail: r.mail ?? null,
    givenName: r.given_name ?? null,
    surname: r.surname ?? null,
    jobTitle: r.job_title ?? null,
    department: r.department ?? null,
    externalId: r.external_id ?? null,
  };
}

function lookup(o: Body, key: string): unknown {
  const k = Object.keys(o).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : o[k];
}
const asObject = (v: unknown): Body => (v && typeof v === "object" && !Array.isArray(v) ? (v as Body) : {});

/** A full User resource (POST, PUT) as directory properties; absent optional attributes are null. */
export function userPropsFromResource(body: Body): UserProps {
  const userName = toText(lookup(body, "userName"), "userName", { required: true })!;
  const name = asObject(lookup(body, "name"));
  const givenName = toText(lookup(name, "givenName"), "name.givenName");
  const surname = toText(lookup(name, "familyName"), "name.familyName");
  const enterprise = asObject(lookup(body, ENTERPRISE_SCHEMA));
  const department = toText(lookup(enterprise, "department") ?? lookup(body, `${ENTERPRISE_SCHEMA}:department`), "department");
  const active = lookup(body, "active");
  const displayName =
    toText(lookup(body, "displayName"), "displayName", { max: 256 }) ??
    toText(lookup(name, "formatted"), "name.formatted", { max: 256 }) ??
    ([givenName, surname].filter(Boolean).join(" ") || userName);
  return {
    userPrincipalName: userName,
    displayName,
    ...(active === undefined || active === null ? {} : { accountEnabled: toBoolean(active, "active") }),
    mail: pickEmail(lookup(body, "emails")),
    givenName,
    surname,
    jobTitle: toText(lookup(body, "title"), "title"),
    department,
    externalId: toText(lookup(body, "externalId"), "externalId"),
  };
}

export interface PatchOperation {
  op: "add" | "replace" | "remove";
  path?: string;
  value?: unknown;
}

/** Reads a PatchOp message: "Operations" (any case), each op case-insensitive. */
export function readPatch(body: Body): PatchOperation[] {
  const ops = lookup(body, "Operations");
  if (!Array.isArray(ops) || ops.length === 0) throw invalid("invalidSyntax", "A PATCH request needs a non-empty 'Operations' array.");
  if (ops.length > 1000) throw scimError("payloadTooLarge", "tooMany", "A PATCH request may carry at most 1000 operations.");
  return ops.map((raw, i) => {
    const o = asObject(raw);
    const op = String(lookup(o, "op") ?? "").toLowerCase();
    if (op !== "add" && op !== "replace" && op !== "remove") throw invalid("invalidSyntax", `Operations[${i}].op must be add, replace or remove (got ${JSON.stringify(lookup(o, "op"))}).`);
    const path = lookup(o, "path");
    if (path !== undefined && path !== null && typeof path !== "string") throw invalid("invalidPath", `Operations[${i}].path must be a string.`);
    return { op, path: typeof path === "string" && path.trim() ? path.trim() : undefined, value: lookup(o, "value") };
  });
}

interface ParsedPath {
  /** Lower-cased attribute; enterprise-extension attributes as "enterprise:<name>". */
  attribute: string;
  filter?: Filter;
  sub?: string;
  raw: string;
}

export function parsePath(path: string, resource: "User" | "Group"): ParsedPath {
  let rest = path.trim();
  const core = resource === "User" ? USER_SCHEMA : GROUP_SCHEMA;
  if (rest.toLowerCase().startsWith(`${core.toLowerCase()}:`)) rest = rest.slice(core.length + 1);
  if (resource === "User" && rest.toLowerCase().startsWith(ENTERPRISE_SCHEMA.toLowerCase())) {
    const tail = rest.slice(ENTERPRISE_SCHEMA.length);
    if (tail === "") return { attribute: "enterprise", raw: path };
    if (!/^:[A-Za-z][\w$-]*(\.[A-Za-z][\w$-]*)?$/.test(tail)) throw invalid("invalidPath", `The path '${path}' is not a valid attribute path.`);
    const [attribute, sub] = tail.slice(1).split(".");
    return { attribute: `enterprise:${attribute.toLowerCase()}`, sub: sub?.toLowerCase(), raw: path };
  }
  const m = /^([A-Za-z][\w$-]*)(?:\[(.+)\])?(?:\.([A-Za-z$][\w$-]*))?$/.exec(rest);
  if (!m) throw invalid("invalidPath", `The path '${path}' is not a valid attribute path.`);
  let filter: Filter | undefined;
  if (m[2] !== undefined) {
    try {
      filter = parseFilter(m[2]);
    } catch (err) {
      throw invalid("invalidFilter", `The filter in the path '${path}' cannot be parsed: ${(err as Error).message}`);
    }
  }
  return { attribute: m[1].toLowerCase(), filter, sub: m[3]?.toLowerCase(), raw: path };
}

/** Does an emails[...] value filter select the address Allot keeps (the work or primary one)? */
function selectsKeptEmail(f: Filter): boolean {
  switch (f.op) {
    case "and":
      return f.filters.every(selectsKeptEmail);
    case "or":
      return f.filters.some(selectsKeptEmail);
    case "eq": {
      const a = f.attrPath.toLowerCase();
      if (a === "type") return String(f.compValue).toLowerCase() === "work";
      if (a === "primary") return f.compValue === true || String(f.compValue).toLowerCase() === "true";
      return a === "value";
    }
    default:
      return false;
  }
}

function applyUserPath(state: UserProps, p: ParsedPath, op: PatchOperation["op"], value: unknown): void {
  const remove = op === "remove";
  const text = (attribute: string, opts?: { required?: boolean; max?: number }) => (remove ? null : toText(value, attribute, opts));
  switch (p.attribute) {
    case "username":
      if (remove) throw invalid("mutability", "userName is required and cannot be removed.");
      state.userPrincipalName = toText(value, "userName", { required: true })!;
      return;
    case "displayname":
      state.displayName = text("displayName", { max: 256 });
      return;
    case "active":
      if (remove) throw invalid("mutability", "active cannot be removed; replace it with false to disable the user.");
      state.accountEnabled = toBoolean(unwrap(value), "active");
      return;
    case "externalid":
      state.externalId = text("externalId");
      return;
    case "title":
      state.jobTitle = text("title");
      return;
    case "name": {
      if (p.sub === "givenname") state.givenName = text("name.givenName");
      else if (p.sub === "familyname") state.surname = text("name.familyName");
      else if (p.sub === undefined) {
        if (remove) {
          state.givenName = null;
          state.surname = null;
        } else {
          const o = asObject(value);
          if (lookup(o, "givenName") !== undefined) state.givenName = toText(lookup(o, "givenName"), "name.givenName");
          if (lookup(o, "familyName") !== undefined) state.surname = toText(lookup(o, "familyName"), "name.familyName");
        }
      }
      return; // name.formatted and other name parts are derived or not kept
    }
    case "emails": {
      if (p.filter && !selectsKeptEmail(p.filter)) return; // home/other addresses are not kept
      if (p.sub !== undefined && p.sub !== "value") return; // type/primary/display of the kept address
      if (remove) state.mail = null;
      else if (p.sub === "value") state.mail = toText(value, "emails.value");
      else if (p.filter) state.mail = toText(asObject(Array.isArray(value) ? value[0] : value).value ?? value, "emails.value");
      else state.mail = pickEmail(value);
      return;
    }
    case "enterprise": {
      if (remove) state.department = null;
      else {
        const d = lookup(asObject(value), "department");
        if (d !== undefined) state.department = toText(d, "department");
      }
      return;
    }
    case "enterprise:department":
      state.department = text("department");
      return;
    default:
      return; // attributes Allot does not keep (phoneNumbers, addresses, preferredLanguage, manager, …)
  }
}

/** Applies PATCH operations to a user's current properties and returns only what changed. */
export function applyUserPatch(current: Required<UserProps>, ops: PatchOperation[]): UserProps {
  const state: UserProps = { ...current };
  for (const o of ops) {
    if (o.path) {
      applyUserPath(state, parsePath(o.path, "User"), o.op, o.value);
      continue;
    }
    if (o.op === "remove") throw invalid("noTarget", "A remove operation needs a path.");
    if (!o.value || typeof o.value !== "object" || Array.isArray(o.value)) throw invalid("invalidSyntax", `An ${o.op} operation without a path needs an object of attributes as its value.`);
    for (const [key, v] of Object.entries(o.value as Body)) {
      if (key === "schemas" || key === "id" || key === "meta") continue;
      applyUserPath(state, parsePath(key, "User"), o.op, v);
    }
  }
  if (state.displayName === null) state.displayName = [state.givenName, state.surname].filter(Boolean).join(" ") || state.userPrincipalName!;
  const changed: UserProps = {};
  for (const k of Object.keys(state) as (keyof UserProps)[]) if (state[k] !== current[k]) (changed as Body)[k] = state[k];
  return changed;
}

// ---------------------------------------------------------------- groups
export interface GroupProps {
  displayName?: string;
  externalId?: string | null;
}
export type MemberStep = { kind: "add"; ids: string[] } | { kind: "remove"; ids: string[] } | { kind: "removeAll" } | { kind: "set"; ids: string[] };

export function memberIds(value: unknown, where = "members"): string[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((m, i) => {
    const id = m && typeof m === "object" ? lookup(m as Body, "value") : m;
    if (typeof id !== "string" || !id.trim()) throw invalid("invalidValue", `${where}[${i}].value must be the id of a user or group.`);
    return id.trim().toLowerCase();
  });
}

export function groupPropsFromResource(body: Body): GroupProps & { members: string[] } {
  return {
    displayName: toText(lookup(body, "displayName"), "displayName", { required: true, max: 256 })!,
    externalId: toText(lookup(body, "externalId"), "externalId"),
    members: memberIds(lookup(body, "members")),
  };
}

/** members[value eq "id"] (or several joined with or) → the ids. */
function memberFilterIds(f: Filter, path: string): string[] {
  if (f.op === "or") return f.filters.flatMap((x) => memberFilterIds(x, path));
  if (f.op === "eq" && f.attrPath.toLowerCase() === "value" && typeof f.compValue === "string") return [f.compValue.toLowerCase()];
  throw invalid("invalidFilter", `The path '${path}' must select members by value (members[value eq "<id>"]).`);
}

/** Reads a group PATCH into a property patch and ordered member steps. */
export function planGroupPatch(ops: PatchOperation[]): { props: GroupProps; steps: MemberStep[] } {
  const props: GroupProps = {};
  const steps: MemberStep[] = [];
  const apply = (p: ParsedPath, op: PatchOperation["op"], value: unknown) => {
    switch (p.attribute) {
      case "displayname":
        if (op === "remove") throw invalid("mutability", "displayName is required and cannot be removed.");
        props.displayName = toText(value, "displayName", { required: true, max: 256 })!;
        return;
      case "externalid":
        props.externalId = op === "remove" ? null : toText(value, "externalId");
        return;
      case "members": {
        if (p.filter) {
          if (op !== "remove") throw invalid("invalidPath", `Use the path "members" with a value to ${op} members; '${p.raw}' is only valid for remove.`);
          steps.push({ kind: "remove", ids: memberFilterIds(p.filter, p.raw) });
          return;
        }
        if (op === "add") steps.push({ kind: "add", ids: memberIds(value) });
        else if (op === "replace") steps.push({ kind: "set", ids: memberIds(value) });
        else if (value === undefined || value === null) steps.push({ kind: "removeAll" });
        else steps.push({ kind: "remove", ids: memberIds(value) });
        return;
      }
      default:
        return; // attributes Allot does not keep
    }
  };
  for (const o of ops) {
    if (o.path) {
      apply(parsePath(o.path, "Group"), o.op, o.value);
      continue;
    }
    if (o.op === "remove") throw invalid("noTarget", "A remove operation needs a path.");
    if (!o.value || typeof o.value !== "object" || Array.isArray(o.value)) throw invalid("invalidSyntax", `An ${o.op} operation without a path needs an object of attributes as its value.`);
    for (const [key, v] of Object.entries(o.value as Body)) {
      if (key === "schemas" || key === "id" || key === "meta") continue;
      apply(parsePath(key, "Group"), o.op, v);
    }
  }
  return { props, steps };
}

// SCIM 2.0 provisioning (DIR-2) on top of the directory's rules: users and groups are created,
// changed and deleted through DirectoryService (memberships, joinedAt, entitlement-relevant changes,
// audit under the "Provisioning" component), and per-tenant bearer secrets authenticate the IdP.
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { type Filter, parse as parseFilter } from "scim2-parse-filter";
import type { DB } from "../../db/types.ts";
import type { Ctx, Principal } from "../../http/context.ts";
import { hashSecret, randomSecret } from "../../lib/crypto.ts";
import { AppError, notFound } from "../../lib/errors.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { AuditService } from "../audit/audit.service.ts";
import { type DirectoryRepository, isUuid } from "../directory/directory.repository.ts";
import type { DirectoryService } from "../directory/directory.service.ts";
import {
  applyUserPatch,
  groupPropsFromResource,
  type MemberRow,
  type MemberStep,
  planGroupPatch,
  readPatch,
  scimError,
  type UserProps,
  userPropsFromResource,
  userPropsOfRow,
} from "./scim.mapping.ts";
import type { ScimRepository } from "./scim.repository.ts";
import { DEFAULT_COUNT, MAX_RESULTS } from "./scim.schemas.ts";

type Body = Record<string, unknown>;

/** Prefix of every SCIM secret, so secret scanners and people can tell what leaked. */
export const SCIM_TOKEN_PREFIX = "allot_scim_";
const TOUCH_INTERVAL_MS = 60_000;

export interface ScimDeps {
  db: Kysely<DB>;
  scimRepository: ScimRepository;
  directoryRepository: DirectoryRepository;
  directoryService: DirectoryService;
  auditService: AuditService;
}

export interface ListQuery {
  filter?: string;
  startIndex?: string;
  count?: string;
}

const tokenToGraph = (t: { id: string; display_name: string; created_at: Date; last_used_at: Date | null }) => ({
  id: t.id,
  displayName: t.display_name,
  createdDateTime: new Date(t.created_at).toISOString(),
  lastUsedDateTime: t.last_used_at ? new Date(t.last_used_at).toISOString() : null,
});

function paging(q: ListQuery) {
  const startIndex = Math.max(1, Number.parseInt(q.startIndex ?? "1", 10) || 1);
  const requested = q.count === undefined ? DEFAULT_COUNT : Number.parseInt(q.count, 10);
  const count = Math.min(MAX_RESULTS, Math.max(0, Number.isNaN(requested) ? DEFAULT_COUNT : requested));
  return { startIndex, count };
}

function filterOf(q: ListQuery): Filter | undefined {
  if (q.filter === undefined || q.filter.trim() === "") return undefined;
  try {
    return parseFilter(q.filter);
  } catch (err) {
    throw scimError("badRequest", "invalidFilter", `The filter '${q.filter}' cannot be parsed: ${(err as Error).message}`);
  }
}

/** The directory reports a missing member as 404; in SCIM that is a bad value in the request, not a missing resource. */
function memberNotFound(err: unknown, ids: readonly string[]): never {
  if (err instanceof AppError && err.code === "notFound") {
    const id = ids.find((m) => err.message.includes(`'${m}'`));
    throw scimError("badRequest", "invalidValue", `The member '${id ?? "(unknown)"}' is not a user or group of this tenant.`);
  }
  throw err;
}

export function createScimService(deps: ScimDeps) {
  const { db, scimRepository: repo, directoryRepository: dir, directoryService: directory, auditService: audit } = deps;

  async function userRow(ctx: Ctx, id: string) {
    const row = isUuid(id) ? await dir.findUser(db, ctx.tenantId, id) : undefined;
    if (!row) throw scimError("notFound", undefined, `User '${id}' not found.`);
    return row;
  }
  async function groupRow(ex: Executor, ctx: Ctx, id: string) {
    const row = await dir.findGroup(ex, ctx.tenantId, id);
    if (!row) throw scimError("notFound", undefined, `Group '${id}' not found.`);
    return row;
  }
  async function getGroup(ctx: Ctx, id: string, withMembers: boolean) {
    const row = await groupRow(db, ctx, id);
    return { row, members: withMembers ? (await membersOf(ctx.tenantId, [row.id])).get(row.id) : undefined };
  }
  async function membersOf(tenantId: string, groupIds: string[]): Promise<Map<string, MemberRow[]>> {
    const rows = await dir.membersOfGroups(tenantId, groupIds, null);
    const out = new Map<string, MemberRow[]>(groupIds.map((g) => [g, []]));
    for (const r of rows) if (r.odata_type !== "microsoft.graph.managedDevice") out.get(String(r.group_id))?.push({ id: String(r.id), odata_type: String(r.odata_type), display_name: String(r.display_name) });
    return out;
  }
  /** SCIM members are users and groups; devices stay out of SCIM (and out of its replace semantics). */
  async function requireScimMember(ex: Executor, ctx: Ctx, id: string) {
    const o = await dir.findDirectoryObject(ex, ctx.tenantId, id);
    if (!o || o.odata_type === "microsoft.graph.managedDevice") throw scimError("badRequest", "invalidValue", `The member '${id}' is not a user or group of this tenant.`);
  }
  const conflictAsUniqueness = (err: unknown): never => {
    if (err instanceof AppError && err.code === "conflict") throw scimError("conflict", "uniqueness", err.message);
    throw err;
  };

  async function applyMemberSteps(trx: Executor, ctx: Ctx, group: { id: string; display_name: string; member_kind: string }, steps: MemberStep[]) {
    for (const step of steps) {
      if (step.kind === "add" || step.kind === "set") {
        const wanted = new Set(step.ids);
        // "set" reads the whole member list; "add" looks each id up, so big groups stay cheap to add to.
        const current = step.kind === "set" ? new Set(await repo.memberIdsOf(trx, ctx.tenantId, group.id)) : undefined;
        if (current) for (const id of current) if (!wanted.has(id)) await directory.removeMemberTx(trx, ctx, group, id);
        // Present members keep their joinedAt: an IdP re-sending its state is not a re-add.
        for (const id of wanted) {
          if (current ? current.has(id) : isUuid(id) && (await dir.findMembership(trx, ctx.tenantId, group.id, id))) continue;
          await requireScimMember(trx, ctx, id);
          await directory.addMemberTx(trx, ctx, group, id).catch((err) => memberNotFound(err, [id]));
        }
      } else if (step.kind === "remove") {
        for (const id of new Set(step.ids)) await directory.removeMemberTx(trx, ctx, group, id);
      } else {
        for (const id of await repo.memberIdsOf(trx, ctx.tenantId, group.id)) await directory.removeMemberTx(trx, ctx, group, id);
      }
    }
  }

  return {
    // ---------------------------------------------------------------- authentication
    /** Resolves a SCIM bearer secret to its tenant; records its use at most once a minute. */
    async authenticate(secret: string): Promise<Principal | undefined> {
      if (!secret.startsWith(SCIM_TOKEN_PREFIX) || secret.length > 256) return undefined;
      const t = await repo.findTokenByHash(hashSecret(secret));
      if (!t) return undefined;
      const now = new Date();
      if (!t.last_used_at || now.getTime() - new Date(t.last_used_at).getTime() >= TOUCH_INTERVAL_MS) await repo.touchToken(t.tenant_id, t.id, now);
      return { tenantId: t.tenant_id, kind: "scim", id: t.id, name: t.display_name, roles: [] };
    },

    // ---------------------------------------------------------------- tokens (admin API, CLI)
    async listTokens(ctx: Ctx) {
      return (await repo.listTokens(ctx.tenantId)).map(tokenToGraph);
    },
    /** Creates a SCIM secret for the tenant; the secret is returned here once and stored only as a hash. */
    async createToken(ctx: Ctx, displayName: string) {
      const name = displayName.trim();
      if (!name) throw scimError("badRequest", undefined, "displayName must not be empty.");
      const token = `${SCIM_TOKEN_PREFIX}${randomSecret(32)}`;
      const row = await db.transaction().execute(async (trx) => {
        const r = await repo.insertToken(trx, { tenant_id: ctx.tenantId, id: randomUUID(), display_name: name, token_hash: hashSecret(token) });
        await audit.record(trx, ctx, { activity: "Create SCIM token", component: "Provisioning", operation: "Create", changes: [{ type: "scimToken", id: r.id, displayName: r.display_name, after: tokenToGraph(r) }] });
        return r;
      });
      const { lastUsedDateTime: _unused, ...shown } = tokenToGraph(row);
      return { ...shown, token };
    },
    async deleteToken(ctx: Ctx, id: string) {
      await db.transaction().execute(async (trx) => {
        const before = await repo.deleteToken(trx, ctx.tenantId, id);
        if (!before) throw notFound("scimToken", id);
        await audit.record(trx, ctx, { activity: "Delete SCIM token", component: "Provisioning", operation: "Delete", changes: [{ type: "scimToken", id, displayName: before.display_name, before: tokenToGraph(before) }] });
      });
    },

    // ---------------------------------------------------------------- users
    listUsers: (ctx: Ctx, q: ListQuery) => {
      const { startIndex, count } = paging(q);
      return repo.listUsers(ctx.tenantId, filterOf(q), startIndex, count).then((r) => ({ ...r, startIndex }));
    },
    getUser: (ctx: Ctx, id: string) => userRow(ctx, id),
    async createUser(ctx: Ctx, body: Body) {
      const props = userPropsFromResource(body);
      const created = await directory.createUser(ctx, { accountEnabled: true, ...props }).catch(conflictAsUniqueness);
      return userRow(ctx, created.id);
    },
    async replaceUser(ctx: Ctx, id: string, body: Body) {
      const before = await userRow(ctx, id);
      const props = userPropsFromResource(body);
      await directory.updateUser(ctx, before.id, props as Body).catch(conflictAsUniqueness);
      return userRow(ctx, id);
    },
    async patchUser(ctx: Ctx, id: string, body: Body) {
      const ops = readPatch(body);
      const before = await userRow(ctx, id);
      const changed: UserProps = applyUserPatch(userPropsOfRow(before), ops);
      if (Object.keys(changed).length === 0) return before;
      await directory.updateUser(ctx, before.id, changed as Body).catch(conflictAsUniqueness);
      return userRow(ctx, id);
    },
    async deleteUser(ctx: Ctx, id: string) {
      const row = await userRow(ctx, id);
      await directory.deleteUser(ctx, row.id);
    },

    // ---------------------------------------------------------------- groups
    async listGroups(ctx: Ctx, q: ListQuery, withMembers: boolean) {
      const { startIndex, count } = paging(q);
      const r = await repo.listGroups(ctx.tenantId, filterOf(q), startIndex, count);
      const members = withMembers ? await membersOf(ctx.tenantId, r.rows.map((g) => g.id)) : undefined;
      return { ...r, startIndex, members };
    },
    getGroup,
    async createGroup(ctx: Ctx, body: Body) {
      const { members, ...props } = groupPropsFromResource(body);
      for (const m of members) await requireScimMember(db, ctx, m);
      const created = await directory.createGroup(ctx, { ...props, "members@odata.bind": [...new Set(members)] }).catch((err) => memberNotFound(err, members));
      return getGroup(ctx, created.id, true);
    },
    async replaceGroup(ctx: Ctx, id: string, body: Body) {
      const { members, ...props } = groupPropsFromResource(body);
      await db.transaction().execute(async (trx) => {
        const group = await groupRow(trx, ctx, id);
        const updated = { ...group, display_name: props.displayName ?? group.display_name };
        await directory.updateGroupTx(trx, ctx, group.id, props as Body);
        await applyMemberSteps(trx, ctx, updated, [{ kind: "set", ids: members }]);
      });
      return getGroup(ctx, id, true);
    },
    async patchGroup(ctx: Ctx, id: string, body: Body) {
      const { props, steps } = planGroupPatch(readPatch(body));
      await db.transaction().execute(async (trx) => {
        let group = await groupRow(trx, ctx, id);
        if (Object.keys(props).length > 0) {
          await directory.updateGroupTx(trx, ctx, group.id, props as Body);
          group = { ...group, display_name: props.displayName ?? group.display_name };
        }
        await applyMemberSteps(trx, ctx, group, steps);
      });
    },
    async deleteGroup(ctx: Ctx, id: string) {
      const row = await groupRow(db, ctx, id);
      await directory.deleteGroup(ctx, row.id);
    },
  };
}
export type ScimService = ReturnType<typeof createScimService>;

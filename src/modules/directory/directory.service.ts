// Directory rules (DIR-1, DIR-3): users, groups (user/device/mixed, nested), managed devices and
// memberships. Each change is one short transaction with its audit entry and, where licensing
// cares, an entitlement-relevant change record.
import { randomUUID } from "node:crypto";
import type { Kysely, RawBuilder, SqlBool } from "kysely";
import { sql } from "kysely";
import type { DB, MemberType } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import type { EntityDef } from "../../http/odata/entity.ts";
import { type ListOptions, runList } from "../../http/odata/query.ts";
import { AppError, badRequest, conflict, notFound } from "../../lib/errors.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { AuditService } from "../audit/audit.service.ts";
import {
  DEVICE,
  GROUP,
  USER,
  deviceEntity,
  deviceToGraph,
  directoryObjectEntity,
  directoryObjectToGraph,
  groupEntity,
  groupToGraph,
  userEntity,
  userToGraph,
} from "./directory.entities.ts";
import { type ChangeRecord, type DirectoryRepository, isUuid } from "./directory.repository.ts";

type Body = Record<string, unknown>;
export interface Page {
  items: Record<string, unknown>[];
  count?: number;
  skiptoken?: string;
}

const userColumns: Record<string, string> = {
  displayName: "display_name",
  userPrincipalName: "user_principal_name",
  accountEnabled: "account_enabled",
  mail: "mail",
  appleIdEmail: "apple_id_email",
  usageLocation: "usage_location",
  givenName: "given_name",
  surname: "surname",
  jobTitle: "job_title",
  department: "department",
  externalId: "external_id",
};
const groupColumns: Record<string, string> = {
  displayName: "display_name",
  description: "description",
  mailNickname: "mail_nickname",
  mailEnabled: "mail_enabled",
  securityEnabled: "security_enabled",
  memberKind: "member_kind",
  externalId: "external_id",
};
const deviceColumns: Record<string, string> = {
  deviceName: "device_name",
  serialNumber: "serial_number",
  operatingSystem: "operating_system",
  osVersion: "os_version",
  managedDeviceOwnerType: "managed_device_owner_type",
  isSupervised: "is_supervised",
  userId: "user_id",
  joinType: "join_type",
  kioskMode: "kiosk_mode",
  iTunesStoreBlocked: "itunes_store_blocked",
  storeAppBlocked: "store_app_blocked",
};

function toColumns(body: Body, map: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, col] of Object.entries(map)) if (body[k] !== undefined) out[col] = body[k];
  if (typeof out.usage_location === "string") out.usage_location = (out.usage_location as string).toUpperCase();
  return out;
}

/** The id at the end of an @odata.id reference; any host is accepted, as Graph does. */
export function idFromReference(ref: string): string {
  const m = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'?\)?\/?$/i.exec(ref.trim());
  if (!m) throw badRequest(`The @odata.id '${ref}' does not reference a directory object; use https://graph.microsoft.com/v1.0/directoryObjects/{id}.`);
  return m[1].toLowerCase();
}

/** Changes made by the SCIM provisioning service are audited under its own component. */
const componentOf = (ctx: Ctx) => (ctx.actor.type === "scim" ? "Provisioning" : "Directory");

const memberTypeOf = (odataType: string): MemberType => (odataType === USER ? "user" : odataType === GROUP ? "group" : "device");

export function createDirectoryService(deps: { db: Kysely<DB>; directoryRepository: DirectoryRepository; auditService: AuditService }) {
  const { db, directoryRepository: repo, auditService: audit } = deps;

  async function page(
    query: Parameters<typeof runList>[0],
    entity: EntityDef,
    options: ListOptions,
    map: (r: Record<string, any>) => Record<string, unknown>,
    extraWhere?: RawBuilder<SqlBool>,
  ): Promise<Page & { rows: Record<string, any>[] }> {
    const r = await runList(query, "t", entity, options, extraWhere);
    return { rows: r.rows, items: r.rows.map(map), count: r.count, skiptoken: r.skiptoken };
  }

  const uniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";

  async function requireUser(ex: Executor, tenantId: string, idOrUpn: string) {
    const u = await repo.findUser(ex, tenantId, idOrUpn);
    if (!u) throw notFound("user", idOrUpn);
    return u;
  }
  async function requireGroup(ex: Executor, tenantId: string, id: string) {
    const g = await repo.findGroup(ex, tenantId, id);
    if (!g) throw notFound("group", id);
    return g;
  }
  async function requireDevice(ex: Executor, tenantId: string, id: string) {
    const d = await repo.findDevice(ex, tenantId, id);
    if (!d) throw notFound("managedDevice", id);
    return d;
  }
  async function requireObject(ex: Executor, tenantId: string, id: string) {
    const o = await repo.findDirectoryObject(ex, tenantId, id);
    if (!o) throw notFound("directoryObject", id);
    return o;
  }

  /** Adds one member in an open transaction: checks kind and cycles, records audit and change. */
  async function addMemberTx(trx: Executor, ctx: Ctx, group: { id: string; display_name: string; member_kind: string }, memberId: string, joinedAt = new Date()) {
    const member = await requireObject(trx, ctx.tenantId, memberId);
    const type = memberTypeOf(String(member.odata_type));
    if (type === "user" && group.member_kind === "device")
      throw badRequest(`The group '${group.display_name}' is a device group; the user '${member.display_name}' cannot be a member.`);
    if (type === "device" && group.member_kind === "user")
      throw badRequest(`The group '${group.display_name}' is a user group; the device '${member.display_name}' cannot be a member.`);
    if (type === "group" && (memberId === group.id || (await repo.isDescendant(trx, ctx.tenantId, memberId, group.id))))
      throw badRequest(`Adding the group '${member.display_name}' to '${group.display_name}' would create a membership cycle.`);
    const existing = await repo.findMembership(trx, ctx.tenantId, group.id, memberId);
    await repo.upsertMembers(trx, [{ tenant_id: ctx.tenantId, group_id: group.id, member_id: memberId, member_type: type, joined_at: joinedAt }]);
    await repo.recordChanges(trx, [{ tenant_id: ctx.tenantId, change_type: "memberAdded", object_type: type, object_id: memberId, group_id: group.id, occurred_at: joinedAt }]);
    await audit.record(trx, ctx, {
      activity: existing ? "Re-add member to group" : "Add member to group",
      component: componentOf(ctx),
      operation: "Action",
      changes: [
        { type: GROUP, id: group.id, displayName: group.display_name, before: existing ? { joinedAt: existing.joined_at.toISOString() } : null, after: { memberId, memberType: type, joinedAt: joinedAt.toISOString() } },
      ],
    });
  }

  /** Updates a group's properties in an open transaction, with its audit entry. */
  async function updateGroupTx(trx: Executor, ctx: Ctx, id: string, body: Body) {
    const values = toColumns(body, groupColumns);
    const before = await requireGroup(trx, ctx.tenantId, id);
    if (values.member_kind && values.member_kind !== before.member_kind && values.member_kind !== "mixed") {
      const wrong = values.member_kind === "user" ? "device" : "user";
      const clash = await trx.selectFrom("group_members").select("member_id").where("tenant_id", "=", ctx.tenantId).where("group_id", "=", id).where("member_type", "=", wrong).executeTakeFirst();
      if (clash) throw badRequest(`The group has ${wrong} members; remove them before making it a ${values.member_kind} group.`);
    }
    const row = await repo.updateGroup(trx, ctx.tenantId, id, values);
    if (!row) throw notFound("group", id);
    const after = groupToGraph(row);
    await audit.record(trx, ctx, { activity: "Update group", component: componentOf(ctx), operation: "Patch", changes: [{ type: GROUP, id, displayName: row.display_name, before: groupToGraph(before), after }] });
    return after;
  }

  /** Removes one member in an open transaction, records audit and change; false when it was not a member. */
  async function removeMemberTx(trx: Executor, ctx: Ctx, group: { id: string; display_name: string }, memberId: string): Promise<boolean> {
    const existing = isUuid(memberId) ? await repo.findMembership(trx, ctx.tenantId, group.id, memberId) : undefined;
    if (!existing) return false;
    await repo.removeMember(trx, ctx.tenantId, group.id, memberId);
    await repo.recordChanges(trx, [{ tenant_id: ctx.tenantId, change_type: "memberRemoved", object_type: existing.member_type, object_id: memberId, group_id: group.id }]);
    await audit.record(trx, ctx, {
      activity: "Remove member from group",
      component: componentOf(ctx),
      operation: "Action",
      changes: [{ type: GROUP, id: group.id, displayName: group.display_name, before: { memberId, memberType: existing.member_type, joinedAt: existing.joined_at.toISOString() }, after: null }],
    });
    return true;
  }

  return {
    // ---------------- users
    async listUsers(ctx: Ctx, options: ListOptions): Promise<Page> {
      const p = await page(repo.usersQuery(ctx.tenantId), userEntity, options, userToGraph);
      if (options.expand.includes("memberOf")) {
        const groups = await repo.groupsOfMembers(ctx.tenantId, p.rows.map((r) => r.id));
        for (const item of p.items) item.memberOf = groups.filter((g) => g.member_id === item.id).map((g) => ({ "@odata.type": `#${GROUP}`, ...groupToGraph(g) }));
      }
      if (options.expand.includes("managedDevices")) {
        const devices = await repo.devicesOfUser(ctx.tenantId, p.rows.map((r) => r.id));
        for (const item of p.items) item.managedDevices = devices.filter((d) => d.user_id === item.id).map(deviceToGraph);
      }
      return p;
    },
    async getUser(ctx: Ctx, idOrUpn: string) {
      return userToGraph(await requireUser(db, ctx.tenantId, idOrUpn));
    },
    async createUser(ctx: Ctx, body: Body) {
      const values = toColumns(body, userColumns);
      try {
        return await db.transaction().execute(async (trx) => {
          const row = await repo.insertUser(trx, { tenant_id: ctx.tenantId, id: randomUUID(), ...(values as { display_name: string; user_principal_name: string; account_enabled: boolean }) });
          const after = userToGraph(row);
          await repo.recordChanges(trx, [{ tenant_id: ctx.tenantId, change_type: "userCreated", object_type: "user", object_id: row.id }]);
          await audit.record(trx, ctx, { activity: "Create user", component: componentOf(ctx), operation: "Create", changes: [{ type: USER, id: row.id, displayName: row.user_principal_name, after }] });
          return after;
        });
      } catch (err) {
        if (uniqueViolation(err)) throw conflict(`Another object with the same value for property userPrincipalName already exists ('${body.userPrincipalName}').`);
        throw err;
      }
    },
    async updateUser(ctx: Ctx, idOrUpn: string, body: Body) {
      const values = toColumns(body, userColumns);
      try {
        return await db.transaction().execute(async (trx) => {
          const before = await requireUser(trx, ctx.tenantId, idOrUpn);
          const row = await repo.updateUser(trx, ctx.tenantId, before.id, values);
          if (!row) throw notFound("user", idOrUpn);
          const changes: ChangeRecord[] = [];
          if (before.account_enabled !== row.account_enabled)
            changes.push({ tenant_id: ctx.tenantId, change_type: row.account_enabled ? "userEnabled" : "userDisabled", object_type: "user", object_id: row.id });
          await repo.recordChanges(trx, changes);
          const after = userToGraph(row);
          await audit.record(trx, ctx, { activity: "Update user", component: componentOf(ctx), operation: "Patch", changes: [{ type: USER, id: row.id, displayName: row.user_principal_name, before: userToGraph(before), after }] });
          return after;
        });
      } catch (err) {
        if (uniqueViolation(err)) throw conflict(`Another object with the same value for property userPrincipalName already exists ('${body.userPrincipalName}').`);
        throw err;
      }
    },
    async deleteUser(ctx: Ctx, idOrUpn: string) {
      await db.transaction().execute(async (trx) => {
        const before = await requireUser(trx, ctx.tenantId, idOrUpn);
        const left = await repo.removeAllMembershipsOf(trx, ctx.tenantId, before.id);
        await repo.deleteUser(trx, ctx.tenantId, before.id);
        const now = new Date();
        await repo.recordChanges(trx, [
          ...left.map((g): ChangeRecord => ({ tenant_id: ctx.tenantId, change_type: "memberRemoved", object_type: "user", object_id: before.id, group_id: g, occurred_at: now })),
          { tenant_id: ctx.tenantId, change_type: "userDeleted", object_type: "user", object_id: before.id, occurred_at: now },
        ]);
        await audit.record(trx, ctx, { activity: "Delete user", component: componentOf(ctx), operation: "Delete", changes: [{ type: USER, id: before.id, displayName: before.user_principal_name, before: userToGraph(before) }] });
      });
    },

    // ---------------- groups
    async listGroups(ctx: Ctx, options: ListOptions): Promise<Page> {
      const p = await page(repo.groupsQuery(ctx.tenantId), groupEntity, options, groupToGraph);
      if (options.expand.includes("members")) {
        const members = await repo.membersOfGroups(ctx.tenantId, p.rows.map((r) => r.id));
        for (const item of p.items) item.members = members.filter((m) => m.group_id === item.id).map(directoryObjectToGraph);
      }
      return p;
    },
    async getGroup(ctx: Ctx, id: string, expand: string[] = []) {
      const g = groupToGraph(await requireGroup(db, ctx.tenantId, id));
      if (expand.includes("members")) (g as Body).members = (await repo.membersOfGroups(ctx.tenantId, [g.id])).map(directoryObjectToGraph);
      return g;
    },
    async createGroup(ctx: Ctx, body: Body) {
      const values = toColumns(body, groupColumns);
      const binds = (body["members@odata.bind"] as string[] | undefined)?.map(idFromReference) ?? [];
      try {
        return await db.transaction().execute(async (trx) => {
          const row = await repo.insertGroup(trx, { tenant_id: ctx.tenantId, id: randomUUID(), ...(values as { display_name: string }) });
          const after = groupToGraph(row);
          await audit.record(trx, ctx, { activity: "Create group", component: componentOf(ctx), operation: "Create", changes: [{ type: GROUP, id: row.id, displayName: row.display_name, after }] });
          for (const memberId of binds) await addMemberTx(trx, ctx, row, memberId);
          return after;
        });
      } catch (err) {
        if (uniqueViolation(err)) throw conflict(`Another group with the same mailNickname already exists ('${body.mailNickname}').`);
        throw err;
      }
    },
    async updateGroup(ctx: Ctx, id: string, body: Body) {
      try {
        return await db.transaction().execute((trx) => updateGroupTx(trx, ctx, id, body));
      } catch (err) {
        if (uniqueViolation(err)) throw conflict(`Another group with the same mailNickname already exists ('${body.mailNickname}').`);
        throw err;
      }
    },
    async deleteGroup(ctx: Ctx, id: string) {
      await db.transaction().execute(async (trx) => {
        const before = await requireGroup(trx, ctx.tenantId, id);
        const asMember = await repo.removeAllMembershipsOf(trx, ctx.tenantId, id);
        await repo.deleteGroup(trx, ctx.tenantId, id);
        const now = new Date();
        await repo.recordChanges(trx, [
          ...asMember.map((g): ChangeRecord => ({ tenant_id: ctx.tenantId, change_type: "memberRemoved", object_type: "group", object_id: id, group_id: g, occurred_at: now })),
          { tenant_id: ctx.tenantId, change_type: "groupDeleted", object_type: "group", object_id: id, occurred_at: now },
        ]);
        await audit.record(trx, ctx, { activity: "Delete group", component: componentOf(ctx), operation: "Delete", changes: [{ type: GROUP, id, displayName: before.display_name, before: groupToGraph(before) }] });
      });
    },
    async addMember(ctx: Ctx, groupId: string, reference: string) {
      const memberId = idFromReference(reference);
      await db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, ctx.tenantId, groupId);
        await addMemberTx(trx, ctx, group, memberId);
      });
    },
    async removeMember(ctx: Ctx, groupId: string, memberId: string) {
      await db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, ctx.tenantId, groupId);
        if (!(await removeMemberTx(trx, ctx, group, memberId))) throw notFound("group member", memberId);
      });
    },
    async listMembers(ctx: Ctx, groupId: string, options: ListOptions, transitive: boolean, castType?: string): Promise<Page> {
      await requireGroup(db, ctx.tenantId, groupId);
      const cast = castType ? sql<SqlBool>`t.odata_type = ${castType}` : undefined;
      if (!transitive) return page(repo.directMembersQuery(ctx.tenantId, groupId) as never, directoryObjectEntity, options, directoryObjectToGraph, cast);
      const groupIds = await repo.descendantGroupIds(db, ctx.tenantId, groupId);
      // Without a filter or cast, count the member ids alone instead of joining every object.
      const countAlone = options.count && !options.filter && !cast;
      const [p, count] = await Promise.all([
        page(repo.transitiveMembersQuery(ctx.tenantId, groupIds) as never, directoryObjectEntity, countAlone ? { ...options, count: false } : options, directoryObjectToGraph, cast),
        countAlone ? repo.countMembersOfGroups(ctx.tenantId, groupIds) : undefined,
      ]);
      if (countAlone) p.count = count;
      return p;
    },
    async listMemberOf(ctx: Ctx, kind: "user" | "group" | "device", idOrUpn: string, options: ListOptions, transitive: boolean): Promise<Page> {
      const id = kind === "user" ? (await requireUser(db, ctx.tenantId, idOrUpn)).id : kind === "group" ? (await requireGroup(db, ctx.tenantId, idOrUpn)).id : (await requireDevice(db, ctx.tenantId, idOrUpn)).id;
      const q = transitive ? repo.transitiveMemberOfQuery(ctx.tenantId, id) : repo.memberOfQuery(ctx.tenantId, id);
      return page(q as never, directoryObjectEntity, options, directoryObjectToGraph);
    },
    async getDirectoryObject(ctx: Ctx, id: string) {
      return directoryObjectToGraph(await requireObject(db, ctx.tenantId, id));
    },

    // ---------------- managed devices
    async listDevices(ctx: Ctx, options: ListOptions): Promise<Page> {
      const p = await page(repo.devicesQuery(ctx.tenantId) as never, deviceEntity, options, deviceToGraph);
      if (options.expand.includes("users")) {
        for (const item of p.items) {
          const r = p.rows.find((row) => row.id === item.id);
          item.users = r?.user_id ? [userToGraph(await requireUser(db, ctx.tenantId, r.user_id))] : [];
        }
      }
      return p;
    },
    async getDevice(ctx: Ctx, id: string) {
      return deviceToGraph(await requireDevice(db, ctx.tenantId, id));
    },
    async createDevice(ctx: Ctx, body: Body) {
      const values = toColumns(body, deviceColumns);
      try {
        return await db.transaction().execute(async (trx) => {
          if (values.user_id) await requireUser(trx, ctx.tenantId, String(values.user_id));
          const row = await repo.insertDevice(trx, { tenant_id: ctx.tenantId, id: randomUUID(), ...(values as { device_name: string; operating_system: string }) });
          const full = await requireDevice(trx, ctx.tenantId, row.id);
          const after = deviceToGraph(full);
          await repo.recordChanges(trx, [{ tenant_id: ctx.tenantId, change_type: "deviceCreated", object_type: "device", object_id: row.id }]);
          await audit.record(trx, ctx, { activity: "Create managed device", component: componentOf(ctx), operation: "Create", changes: [{ type: DEVICE, id: row.id, displayName: row.device_name, after }] });
          return after;
        });
      } catch (err) {
        if (uniqueViolation(err)) throw conflict(`Another managed device with the serial number '${body.serialNumber}' already exists.`);
        throw err;
      }
    },
    async updateDevice(ctx: Ctx, id: string, body: Body) {
      const values = toColumns(body, deviceColumns);
      try {
        return await db.transaction().execute(async (trx) => {
          const before = await requireDevice(trx, ctx.tenantId, id);
          if (values.user_id) await requireUser(trx, ctx.tenantId, String(values.user_id));
          await repo.updateDevice(trx, ctx.tenantId, id, values);
          const row = await requireDevice(trx, ctx.tenantId, id);
          const relevant = ["user_id", "itunes_store_blocked", "store_app_blocked", "kiosk_mode", "operating_system", "os_version", "serial_number", "is_supervised", "managed_device_owner_type"] as const;
          if (relevant.some((k) => (before as Record<string, unknown>)[k] !== (row as Record<string, unknown>)[k]))
            await repo.recordChanges(trx, [{ tenant_id: ctx.tenantId, change_type: "deviceUserChanged", object_type: "device", object_id: id }]);
          const after = deviceToGraph(row);
          await audit.record(trx, ctx, { activity: "Update managed device", component: componentOf(ctx), operation: "Patch", changes: [{ type: DEVICE, id, displayName: row.device_name, before: deviceToGraph(before), after }] });
          return after;
        });
      } catch (err) {
        if (uniqueViolation(err)) throw conflict(`Another managed device with the serial number '${body.serialNumber}' already exists.`);
        throw err;
      }
    },
    async deleteDevice(ctx: Ctx, id: string) {
      await db.transaction().execute(async (trx) => {
        const before = await requireDevice(trx, ctx.tenantId, id);
        const left = await repo.removeAllMembershipsOf(trx, ctx.tenantId, id);
        await repo.deleteDevice(trx, ctx.tenantId, id);
        const now = new Date();
        await repo.recordChanges(trx, [
          ...left.map((g): ChangeRecord => ({ tenant_id: ctx.tenantId, change_type: "memberRemoved", object_type: "device", object_id: id, group_id: g, occurred_at: now })),
          { tenant_id: ctx.tenantId, change_type: "deviceDeleted", object_type: "device", object_id: id, occurred_at: now },
        ]);
        await audit.record(trx, ctx, { activity: "Delete managed device", component: componentOf(ctx), operation: "Delete", changes: [{ type: DEVICE, id, displayName: before.device_name, before: deviceToGraph(before) }] });
      });
    },
    changesSince: (tenantId: string, afterSeq: number, limit?: number) => repo.changesSince(tenantId, afterSeq, limit),
    /** Exposed for SCIM and imports, which change groups inside their own transactions. */
    addMemberTx,
    removeMemberTx,
    updateGroupTx,
  };
}
export type DirectoryService = ReturnType<typeof createDirectoryService>;
export { AppError };

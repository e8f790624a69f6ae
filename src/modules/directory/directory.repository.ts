// SQL for users, groups, managed devices and memberships. Every query is scoped by tenant_id.
import { type Kysely, type SqlBool, sql } from "kysely";
import type { DB, DevicesTable, GroupsTable, MemberType, UsersTable } from "../../db/types.ts";
import type { Executor } from "../audit/audit.repository.ts";

type Insertable<T> = { [K in keyof T as K extends "seq" | "created_at" | "updated_at" ? never : K]?: unknown } & { tenant_id: string; id: string };
export type UserInsert = Insertable<UsersTable> & { display_name: string; user_principal_name: string; account_enabled: boolean };
export type GroupInsert = Insertable<GroupsTable> & { display_name: string };
export type DeviceInsert = Insertable<DevicesTable> & { device_name: string; operating_system: string };

export interface ChangeRecord {
  tenant_id: string;
  change_type: "memberAdded" | "memberRemoved" | "userCreated" | "userDisabled" | "userEnabled" | "userDeleted" | "deviceCreated" | "deviceDeleted" | "deviceUserChanged" | "groupDeleted";
  object_type: MemberType;
  object_id: string;
  group_id?: string | null;
  occurred_at?: Date;
}

export function createDirectoryRepository(db: Kysely<DB>) {
  const descendantGroups = (ex: Executor, tenantId: string, groupId: string) =>
    ex
      .withRecursive("sub(group_id)", (qb) =>
        qb
          .selectNoFrom(sql<string>`${groupId}::uuid`.as("group_id"))
          .union(
            qb
              .selectFrom("group_members as gm")
              .innerJoin("sub", "sub.group_id", "gm.group_id")
              .select("gm.member_id as group_id")
              .where("gm.tenant_id", "=", tenantId)
              .where("gm.member_type", "=", "group"),
          ),
      );

  return {
    // ---- users
    usersQuery: (tenantId: string) => db.selectFrom("users as t").selectAll("t").where("t.tenant_id", "=", tenantId),
    findUser: (ex: Executor, tenantId: string, idOrUpn: string) =>
      ex
        .selectFrom("users")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where((eb) => (isUuid(idOrUpn) ? eb("id", "=", idOrUpn) : eb(sql`lower(user_principal_name)`, "=", idOrUpn.toLowerCase())))
        .executeTakeFirst(),
    findUserByUpn: (ex: Executor, tenantId: string, upn: string) =>
      ex.selectFrom("users").selectAll().where("tenant_id", "=", tenantId).where(sql`lower(user_principal_name)`, "=", upn.toLowerCase()).executeTakeFirst(),
    findUserByExternalId: (tenantId: string, externalId: string) =>
      db.selectFrom("users").selectAll().where("tenant_id", "=", tenantId).where("external_id", "=", externalId).executeTakeFirst(),
    insertUser: (ex: Executor, row: UserInsert) => ex.insertInto("users").values(row as never).returningAll().executeTakeFirstOrThrow(),
    updateUser: (ex: Executor, tenantId: string, id: string, patch: Record<string, unknown>) =>
      ex.updateTable("users").set({ ...patch, updated_at: new Date() } as never).where("tenant_id", "=", tenantId).where("id", "=", id).returningAll().executeTakeFirst(),
    deleteUser: (ex: Executor, tenantId: string, id: string) => ex.deleteFrom("users").where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst(),

    // ---- groups
    groupsQuery: (tenantId: string) => db.selectFrom("groups as t").selectAll("t").where("t.tenant_id", "=", tenantId),
    findGroup: (ex: Executor, tenantId: string, id: string) =>
      isUuid(id) ? ex.selectFrom("groups").selectAll().where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst() : Promise.resolve(undefined),
    findGroupByNickname: (ex: Executor, tenantId: string, nickname: string) =>
      ex.selectFrom("groups").selectAll().where("tenant_id", "=", tenantId).where(sql`lower(mail_nickname)`, "=", nickname.toLowerCase()).executeTakeFirst(),
    insertGroup: (ex: Executor, row: GroupInsert) => ex.insertInto("groups").values(row as never).returningAll().executeTakeFirstOrThrow(),
    updateGroup: (ex: Executor, tenantId: string, id: string, patch: Record<string, unknown>) =>
      ex.updateTable("groups").set({ ...patch, updated_at: new Date() } as never).where("tenant_id", "=", tenantId).where("id", "=", id).returningAll().executeTakeFirst(),
    deleteGroup: (ex: Executor, tenantId: string, id: string) => ex.deleteFrom("groups").where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst(),

    // ---- devices (with the primary user's UPN, as Graph's managedDevice shows it)
    devicesQuery: (tenantId: string) =>
      db
        .selectFrom((eb) =>
          eb
            .selectFrom("devices as d")
            .leftJoin("users as u", (j) => j.onRef("u.tenant_id", "=", "d.tenant_id").onRef("u.id", "=", "d.user_id"))
            .selectAll("d")
            .select("u.user_principal_name")
            .where("d.tenant_id", "=", tenantId)
            .as("t"),
        )
        .selectAll("t"),
    findDevice: async (ex: Executor, tenantId: string, id: string) =>
      isUuid(id)
        ? ex
            .selectFrom("devices as d")
            .leftJoin("users as u", (j) => j.onRef("u.tenant_id", "=", "d.tenant_id").onRef("u.id", "=", "d.user_id"))
            .selectAll("d")
            .select("u.user_principal_name")
            .where("d.tenant_id", "=", tenantId)
            .where("d.id", "=", id)
            .executeTakeFirst()
        : undefined,
    findDeviceBySerial: (ex: Executor, tenantId: string, serial: string) =>
      ex.selectFrom("devices").selectAll().where("tenant_id", "=", tenantId).where(sql`upper(serial_number)`, "=", serial.toUpperCase()).executeTakeFirst(),
    insertDevice: (ex: Executor, row: DeviceInsert) => ex.insertInto("devices").values(row as never).returningAll().executeTakeFirstOrThrow(),
    updateDevice: (ex: Executor, tenantId: string, id: string, patch: Record<string, unknown>) =>
      ex.updateTable("devices").set({ ...patch, updated_at: new Date() } as never).where("tenant_id", "=", tenantId).where("id", "=", id).returningAll().executeTakeFirst(),
    deleteDevice: (ex: Executor, tenantId: string, id: string) => ex.deleteFrom("devices").where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst(),
    devicesOfUser: (tenantId: string, userIds: string[]) =>
      userIds.length === 0
        ? Promise.resolve([])
        : db.selectFrom("devices").selectAll().where("tenant_id", "=", tenantId).where("user_id", "in", userIds).orderBy("seq").execute(),

    // ---- directory objects and memberships
    findDirectoryObject: (ex: Executor, tenantId: string, id: string) =>
      isUuid(id) ? ex.selectFrom("directory_objects").selectAll().where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirst() : Promise.resolve(undefined),
    directMembersQuery: (tenantId: string, groupId: string) =>
      db
        .selectFrom("directory_objects as t")
        .selectAll("t")
        .where("t.tenant_id", "=", tenantId)
        .where("t.id", "in", db.selectFrom("group_members").select("member_id").where("tenant_id", "=", tenantId).where("group_id", "=", groupId)),
    /** The group and every group nested in it, at any depth. */
    descendantGroupIds: async (ex: Executor, tenantId: string, groupId: string) =>
      (await descendantGroups(ex, tenantId, groupId).selectFrom("sub").select("sub.group_id").execute()).map((r) => r.group_id),
    /**
     * Members of any of `groupIds` (the descendants resolved first, so the planner sees how many
     * groups there are: a 100k-member tree pages through the sort_key indexes in milliseconds).
     */
    transitiveMembersQuery: (tenantId: string, groupIds: string[]) =>
      db
        .selectFrom("directory_objects as t")
        .selectAll("t")
        .where("t.tenant_id", "=", tenantId)
        .where("t.id", "in", (eb) =>
          eb.selectFrom("group_members as m").select("m.member_id").where("m.tenant_id", "=", tenantId).where(sql<SqlBool>`m.group_id = any(${groupIds}::uuid[])`),
        ),
    /** How many distinct objects are members of any of `groupIds` (memberships always name existing objects). */
    countMembersOfGroups: async (tenantId: string, groupIds: string[]) => {
      const r = await sql<{ n: number }>`
        select count(*)::int as n from (select distinct member_id from group_members where tenant_id = ${tenantId} and group_id = any(${groupIds}::uuid[])) m`.execute(db);
      return Number(r.rows[0]?.n ?? 0);
    },
    memberOfQuery: (tenantId: string, memberId: string) =>
      db
        .selectFrom("directory_objects as t")
        .selectAll("t")
        .where("t.tenant_id", "=", tenantId)
        .where("t.id", "in", db.selectFrom("group_members").select("group_id").where("tenant_id", "=", tenantId).where("member_id", "=", memberId)),
    transitiveMemberOfQuery: (tenantId: string, memberId: string) =>
      db
        .withRecursive("up(group_id)", (qb) =>
          qb
            .selectFrom("group_members")
            .select("group_id")
            .where("tenant_id", "=", tenantId)
            .where("member_id", "=", memberId)
            .union(qb.selectFrom("group_members as gm").innerJoin("up", "up.group_id", "gm.member_id").select("gm.group_id").where("gm.tenant_id", "=", tenantId)),
        )
        .selectFrom("directory_objects as t")
        .selectAll("t")
        .where("t.tenant_id", "=", tenantId)
        .where("t.id", "in", (eb) => eb.selectFrom("up").select("up.group_id")),
    /** Groups of each member (for $expand=memberOf), capped per member. */
    groupsOfMembers: (tenantId: string, memberIds: string[]) =>
      memberIds.length === 0
        ? Promise.resolve([])
        : db
            .selectFrom("group_members as gm")
            .innerJoin("groups as g", (j) => j.onRef("g.tenant_id", "=", "gm.tenant_id").onRef("g.id", "=", "gm.group_id"))
            .selectAll("g")
            .select("gm.member_id")
            .where("gm.tenant_id", "=", tenantId)
            .where("gm.member_id", "in", memberIds)
            .orderBy("g.seq")
            .execute(),
    /** Up to `perGroup` members of each group (null: all), without reading whole large groups for $expand. */
    membersOfGroups: async (tenantId: string, groupIds: string[], perGroup: number | null = 100) => {
      if (groupIds.length === 0) return [];
      const r = await sql<Record<string, any>>`
        select o.*, g.gid as group_id
        from unnest(${groupIds}::uuid[]) as g(gid)
        cross join lateral (
          select o.* from directory_objects o
          where o.tenant_id = ${tenantId} and o.id in (
            select gm.member_id from group_members gm where gm.tenant_id = ${tenantId} and gm.group_id = g.gid)
          order by o.sort_key
          limit ${perGroup}
        ) o
        order by g.gid, o.sort_key`.execute(db);
      return r.rows;
    },
    /** Would adding `childGroupId` under `parentGroupId` close a cycle? */
    isDescendant: async (ex: Executor, tenantId: string, ancestorId: string, candidateId: string) => {
      const r = await descendantGroups(ex, tenantId, ancestorId)
        .selectFrom("sub")
        .select("group_id")
        .where("group_id", "=", candidateId)
        .executeTakeFirst();
      return Boolean(r);
    },
    findMembership: (ex: Executor, tenantId: string, groupId: string, memberId: string) =>
      ex.selectFrom("group_members").selectAll().where("tenant_id", "=", tenantId).where("group_id", "=", groupId).where("member_id", "=", memberId).executeTakeFirst(),
    /** Adds or re-adds members; re-adding resets joinedAt (DIR-3). */
    upsertMembers: (ex: Executor, rows: { tenant_id: string; group_id: string; member_id: string; member_type: MemberType; joined_at: Date }[]) =>
      rows.length === 0
        ? Promise.resolve()
        : ex
            .insertInto("group_members")
            .values(rows)
            .onConflict((oc) => oc.columns(["tenant_id", "group_id", "member_id"]).doUpdateSet({ joined_at: (eb) => eb.ref("excluded.joined_at") }))
            .execute()
            .then(() => undefined),
    removeMember: (ex: Executor, tenantId: string, groupId: string, memberId: string) =>
      ex.deleteFrom("group_members").where("tenant_id", "=", tenantId).where("group_id", "=", groupId).where("member_id", "=", memberId).executeTakeFirst(),
    /** Removes every membership of a member (when it is deleted); returns the groups it left. */
    removeAllMembershipsOf: async (ex: Executor, tenantId: string, memberId: string) =>
      (await ex.deleteFrom("group_members").where("tenant_id", "=", tenantId).where("member_id", "=", memberId).returning("group_id").execute()).map((r) => r.group_id),
    recordChanges: (ex: Executor, rows: ChangeRecord[]) =>
      rows.length === 0 ? Promise.resolve() : ex.insertInto("directory_changes").values(rows).execute().then(() => undefined),
    changesSince: (tenantId: string, afterSeq: number, limit = 1000) =>
      db.selectFrom("directory_changes").selectAll().where("tenant_id", "=", tenantId).where("seq", ">", afterSeq).orderBy("seq").limit(limit).execute(),
  };
}
export type DirectoryRepository = ReturnType<typeof createDirectoryRepository>;

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(v: string): boolean {
  return uuidRe.test(v);
}

// ASG-1..4: who an app or book is assigned to, with which intent and licensing, as Graph's
// mobileAppAssignment / managedEBookAssignment. `assign` replaces an app's whole set (targets the
// set keeps keep their id and creation order, which the licensing engine uses as a tie-break);
// single assignments can be created, changed and deleted too. Every change is checked as a whole
// set, audited with before and after, and reported after commit to `onAssignmentsChanged` (the
// licensing engine reconciles the app).
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import { badRequest, notFound } from "../../lib/errors.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { AuditService } from "../audit/audit.service.ts";
import { IOS_VPP_APP, IOS_VPP_EBOOK, MACOS_VPP_APP } from "../catalog/catalog.entities.ts";
import {
  type AssignmentInput,
  type AssignmentRow,
  type AssignmentSet,
  betaOnlySettings,
  isGuid,
  managedEBookAssignmentToGraph,
  mobileAppAssignmentToGraph,
  parseManagedEBookAssignment,
  parseMobileAppAssignment,
  targetKey,
  targetTypes,
  type Version,
} from "./assignments.entities.ts";
import type { AppOfAssignment, AssignmentsRepository, NewAssignment } from "./assignments.repository.ts";

export type AssignmentsChangedListener = (tenantId: string, appId: string) => unknown;

/** The most assignments one app or book may have (Graph's assign body is one request). */
export const MAX_ASSIGNMENTS_PER_APP = 1000;

const typesOf = (set: AssignmentSet, version: Version) =>
  set === "managedEBooks"
    ? [IOS_VPP_EBOOK]
    : version === "beta"
      ? [IOS_VPP_APP, MACOS_VPP_APP]
      : [IOS_VPP_APP];
const vppTypes = [IOS_VPP_APP, MACOS_VPP_APP, IOS_VPP_EBOOK];
const nounOf = (set: AssignmentSet) => (set === "managedEBooks" ? "managedEBook" : "mobileApp");
/** Settings compared member by member (jsonb does not keep the order of keys). */
const canonical = (o: object | null | undefined) =>
  JSON.stringify(
    Object.entries(o ?? {})
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
const appName = (app: AppOfAssignment) => `'${app.display_name ?? app.adam_id ?? app.id}'`;

export function createAssignmentsService(deps: {
  db: Kysely<DB>;
  assignmentsRepository: AssignmentsRepository;
  auditService: AuditService;
  onAssignmentsChanged?: AssignmentsChangedListener;
  /** Where a failing listener is reported (the change itself has committed). */
  reportError?: (err: unknown, tenantId: string, appId: string) => void;
}) {
  const { db, assignmentsRepository: repo, auditService } = deps;
  const listeners: AssignmentsChangedListener[] = deps.onAssignmentsChanged
    ? [deps.onAssignmentsChanged]
    : [];
  let reportError = deps.reportError ?? (() => {});

  const toGraph = (set: AssignmentSet, version: Version, app: { odata_type: string }, r: AssignmentRow) =>
    set === "managedEBooks"
      ? managedEBookAssignmentToGraph(r, version)
      : mobileAppAssignmentToGraph(r, version, app.odata_type);

  async function notify(tenantId: string, appId: string) {
    for (const l of listeners) {
      try {
        await l(tenantId, appId);
      } catch (err) {
        reportError(err, tenantId, appId);
      }
    }
  }

  /** The app or book behind a URL: 404 when the set does not show it in this version; for writes, 400 when it is in the other set or no store app. */
  async function appFor(
    ex: Executor,
    ctx: Ctx,
    set: AssignmentSet,
    version: Version,
    id: string,
    write: boolean,
    inputs: readonly AssignmentInput[] = [],
  ) {
    const app = isGuid(id) ? await repo.findApp(ex, ctx.tenantId, id) : undefined;
    if (!app) throw notFound(nounOf(set), id);
    if (typesOf(set, version).includes(app.odata_type)) return app;
    if (write && !vppTypes.includes(app.odata_type))
      throw badRequest(
        `${appName(app)} is not a volume-purchased store app (${app.odata_type}); Allot assigns only store apps and books that come from a VPP token.`,
      );
    if (write && set === "mobileApps" && app.odata_type === IOS_VPP_EBOOK)
      throw badRequest(
        `${appName(app)} is a book (iosVppEBook)${inputs.some((i) => i.settings.useDeviceLicensing) ? " and books cannot use device licensing (Apple assigns books to users only)" : ""}; assign it through /deviceAppManagement/managedEBooks/${app.id}/assign with 'installIntent'.`,
      );
    if (
      write &&
      set === "managedEBooks" &&
      app.odata_type !== IOS_VPP_EBOOK &&
      typesOf("mobileApps", version).includes(app.odata_type)
    )
      throw badRequest(
        `${appName(app)} is an app, not a book; assign it through /deviceAppManagement/mobileApps/${app.id}/assign.`,
      );
    throw notFound(nounOf(set), id);
  }

  /** The rules of ASG-1..3, each violation named: no target twice in the whole set; the other rules for
   * the rows the change adds or alters (an untouched assignment whose group was deleted since, or whose
   * app stopped being device-assignable, does not block changing the others). */
  async function validate(
    ex: Executor,
    ctx: Ctx,
    set: AssignmentSet,
    app: AppOfAssignment,
    rows: readonly NewAssignment[],
    touched: readonly NewAssignment[],
  ) {
    if (rows.length > MAX_ASSIGNMENTS_PER_APP)
      throw badRequest(
        `An app or book can have at most ${MAX_ASSIGNMENTS_PER_APP} assignments (got ${rows.length}).`,
      );
    const seen = new Map<string, NewAssignment>();
    for (const r of rows) {
      const key = targetKey({ targetKind: r.target_kind, groupId: r.group_id });
      const other = seen.get(key);
      if (other)
        throw badRequest(
          r.group_id
            ? `Group '${r.group_id}' is targeted twice (${targetTypes[other.target_kind].replace("microsoft.graph.", "")} and ${targetTypes[r.target_kind].replace("microsoft.graph.", "")}); an app may target each group once — with one intent, or as an exclusion.`
            : `Duplicate target: ${targetTypes[r.target_kind].replace("microsoft.graph.", "")} appears twice; an app may have it once.`,
        );
      seen.set(key, r);
    }
    const groupIds = [...new Set(touched.flatMap((r) => (r.group_id ? [r.group_id] : [])))];
    const groups = new Map((await repo.groups(ex, ctx.tenantId, groupIds)).map((g) => [g.id, g]));
    for (const id of groupIds)
      if (!groups.has(id))
        throw badRequest(
          `Group '${id}' does not exist in this tenant; assignments can target only existing groups.`,
        );

    for (const r of touched) {
      const group = r.group_id ? groups.get(r.group_id) : undefined;
      const groupName = group ? `group '${group.display_name}' (${group.id})` : "";
      const deviceTarget =
        r.target_kind === "allDevices" || (group?.member_kind === "device" && r.target_kind === "group");
      if (set === "managedEBooks") {
        if (r.target_kind === "exclusionGroup") continue;
        if (deviceTarget)
          throw badRequest(
            `Books are assigned to users only (Apple licenses books to Apple Accounts, never to devices): ${r.target_kind === "allDevices" ? "allDevicesAssignmentTarget" : `${groupName} is a device group`} cannot be a book's target.`,
          );
        continue;
      }
      if (r.target_kind === "exclusionGroup") continue;
      if (r.intent === "available" && deviceTarget)
        throw badRequest(
          `Intent 'available' is for users only (they install the app themselves from the company portal): it cannot target ${r.target_kind === "allDevices" ? "all devices (allDevicesAssignmentTarget)" : `${groupName}, a device group`}. Use 'required' or a user group.`,
        );
      if (r.settings.useDeviceLicensing && !app.device_assignable)
        throw badRequest(
          `${appName(app)} cannot be device-licensed: Apple does not allow assigning it to devices (it is not device-assignable). Set 'useDeviceLicensing' to false to license it to users.`,
        );
    }
  }

  async function auditChange(
    trx: Executor,
    ctx: Ctx,
    set: AssignmentSet,
    app: AppOfAssignment,
    activity: string,
    operation: "Create" | "Patch" | "Delete" | "Action",
    before: AssignmentRow[],
    after: AssignmentRow[],
  ) {
    const shape = (rows: AssignmentRow[]) => rows.map((r) => toGraph(set, "beta", app, r));
    await auditService.record(trx, ctx, {
      activity,
      component: "Apps",
      operation,
      changes: [
        {
          type: app.odata_type,
          id: app.id,
          displayName: app.display_name ?? app.adam_id,
          before: { assignments: shape(before) },
          after: { assignments: shape(after) },
        },
      ],
    });
  }

  /** Applies `next` (the app's complete new set) in one transaction: rows whose id survives are updated in place. */
  async function apply(
    ctx: Ctx,
    set: AssignmentSet,
    version: Version,
    appId: string,
    inputsForLookup: readonly AssignmentInput[],
    compute: (current: AssignmentRow[], app: AppOfAssignment) => NewAssignment[],
    activity: string,
    operation: "Create" | "Patch" | "Delete" | "Action",
  ) {
    const result = await db.transaction().execute(async (trx) => {
      const app = await appFor(trx, ctx, set, version, appId, true, inputsForLookup);
      await repo.lockApp(trx, ctx.tenantId, app.id);
      const current = await repo.listForApp(trx, ctx.tenantId, app.id);
      const next = compute(current, app);
      const byId = new Map(current.map((r) => [r.id, r]));
      const nextIds = new Set(next.map((r) => r.id));
      const removed = current.filter((r) => !nextIds.has(r.id)).map((r) => r.id);
      const same = (a: AssignmentRow, b: NewAssignment) =>
        a.target_kind === b.target_kind &&
        a.group_id === b.group_id &&
        a.intent === b.intent &&
        canonical(a.settings) === canonical(b.settings);
      const updated = next.filter((r) => byId.has(r.id) && !same(byId.get(r.id)!, r));
      const inserted = next.filter((r) => !byId.has(r.id));
      await validate(trx, ctx, set, app, next, [...updated, ...inserted]);
      const changed = removed.length + updated.length + inserted.length > 0;
      if (changed) {
        await repo.remove(trx, ctx.tenantId, removed);
        for (const r of updated) await repo.update(trx, ctx.tenantId, r);
        await repo.insert(trx, ctx.tenantId, app.id, inserted);
        const after = await repo.listForApp(trx, ctx.tenantId, app.id);
        await auditChange(trx, ctx, set, app, activity, operation, current, after);
        return { app, after, changed };
      }
      return { app, after: current, changed };
    });
    if (result.changed) await notify(ctx.tenantId, result.app.id);
    return result;
  }

  const parse = (set: AssignmentSet, version: Version, appType: string, body: unknown, where?: string) =>
    set === "managedEBooks"
      ? parseManagedEBookAssignment(body, version, where)
      : parseMobileAppAssignment(body, version, appType, where);

  /** The settings to store: what the request named; on v1.0, beta-only members it cannot see are kept from `previous`. */
  function settingsOf(input: AssignmentInput, version: Version, previous?: AssignmentRow) {
    const out = { ...input.settings };
    if (previous && version === "v1.0")
      for (const k of betaOnlySettings)
        if (previous.settings?.[k] !== undefined && !input.namedSettings.includes(k))
          out[k] = previous.settings[k];
    return out;
  }

  /** The type the body is parsed against (settings differ between iOS and macOS apps); needs the app first. */
  async function appTypeOf(ctx: Ctx, set: AssignmentSet, version: Version, appId: string) {
    // An app the caller cannot see is a 404 before anything about the body is judged.
    const app = isGuid(appId) ? await repo.findApp(db, ctx.tenantId, appId) : undefined;
    if (!app) throw notFound(nounOf(set), appId);
    if (set === "managedEBooks") return IOS_VPP_EBOOK;
    return typesOf(set, version).includes(app.odata_type) ? app.odata_type : IOS_VPP_APP;
  }

  return {
    /** Registers a listener called after every committed change of an app's assignments. */
    onAssignmentsChanged(listener: AssignmentsChangedListener) {
      listeners.push(listener);
    },
    reportErrorsTo(report: (err: unknown, tenantId: string, appId: string) => void) {
      reportError = report;
    },

    /** POST …/{id}/assign: the body's list becomes the app's whole set (ASG-1). */
    async assign(ctx: Ctx, set: AssignmentSet, version: Version, appId: string, body: unknown) {
      const listName = set === "managedEBooks" ? "managedEBookAssignments" : "mobileAppAssignments";
      const appType = await appTypeOf(ctx, set, version, appId);
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw badRequest(`The body must be an object with '${listName}'.`);
      const b = body as Record<string, unknown>;
      for (const k of Object.keys(b))
        if (k !== listName)
          throw badRequest(`Unknown parameter '${k}' of the assign action; it takes only '${listName}'.`);
      const list = b[listName] ?? [];
      if (!Array.isArray(list))
        throw badRequest(`'${listName}' must be an array (an empty array removes every assignment).`);
      const inputs = list.map((x, i) => parse(set, version, appType, x, `${listName}[${i}]`));
      await apply(
        ctx,
        set,
        version,
        appId,
        inputs,
        (current) => {
          const byKey = new Map(
            current.map((r) => [targetKey({ targetKind: r.target_kind, groupId: r.group_id }), r]),
          );
          const byId = new Map(current.map((r) => [r.id, r]));
          const used = new Set<string>();
          return inputs.map((input) => {
            // Keep an existing assignment (id, creation order) when the body names it or the same target.
            const candidate = (input.id ? byId.get(input.id) : undefined) ?? byKey.get(targetKey(input));
            const previous = candidate && !used.has(candidate.id) ? candidate : undefined;
            if (previous) used.add(previous.id);
            return {
              id: previous?.id ?? randomUUID(),
              target_kind: input.targetKind,
              group_id: input.groupId,
              intent: input.intent,
              settings: settingsOf(input, version, previous),
            };
          });
        },
        set === "managedEBooks" ? "Assign book" : "Assign app",
        "Action",
      );
    },

    async list(ctx: Ctx, set: AssignmentSet, version: Version, appId: string) {
      const app = await appFor(db, ctx, set, version, appId, false);
      return (await repo.listForApp(db, ctx.tenantId, app.id)).map((r) => toGraph(set, version, app, r));
    },

    async get(ctx: Ctx, set: AssignmentSet, version: Version, appId: string, assignmentId: string) {
      const app = await appFor(db, ctx, set, version, appId, false);
      const row = (await repo.listForApp(db, ctx.tenantId, app.id)).find(
        (r) => r.id === assignmentId.toLowerCase(),
      );
      if (!row)
        throw notFound(
          set === "managedEBooks" ? "managedEBookAssignment" : "mobileAppAssignment",
          assignmentId,
        );
      return toGraph(set, version, app, row);
    },

    async create(ctx: Ctx, set: AssignmentSet, version: Version, appId: string, body: unknown) {
      const input = parse(set, version, await appTypeOf(ctx, set, version, appId), body);
      const id = randomUUID();
      const { app, after } = await apply(
        ctx,
        set,
        version,
        appId,
        [input],
        (current) => [
          ...current,
          {
            id,
            target_kind: input.targetKind,
            group_id: input.groupId,
            intent: input.intent,
            settings: input.settings,
          },
        ],
        set === "managedEBooks" ? "Create book assignment" : "Create app assignment",
        "Create",
      );
      return toGraph(set, version, app, after.find((r) => r.id === id)!);
    },

    async update(
      ctx: Ctx,
      set: AssignmentSet,
      version: Version,
      appId: string,
      assignmentId: string,
      body: unknown,
    ) {
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw badRequest("The body must be an object.");
      const appType = await appTypeOf(ctx, set, version, appId);
      const patch = body as Record<string, unknown>;
      const wanted = assignmentId.toLowerCase();
      if (patch.id !== undefined && String(patch.id).toLowerCase() !== wanted)
        throw badRequest("'id' cannot be changed.");
      const { app, after } = await apply(
        ctx,
        set,
        version,
        appId,
        [],
        (current, app) => {
          const row = current.find((r) => r.id === wanted);
          if (!row)
            throw notFound(
              set === "managedEBooks" ? "managedEBookAssignment" : "mobileAppAssignment",
              assignmentId,
            );
          // PATCH merges onto the current assignment as Graph shows it; settings merge member by member.
          const shown = toGraph(set, version, app, row) as Record<string, unknown>;
          const merged: Record<string, unknown> = { ...shown, ...patch };
          if (set === "mobileApps" && patch.settings && typeof patch.settings === "object")
            merged.settings = { ...(shown.settings as object), ...(patch.settings as object) };
          if (version === "beta" && !("source" in patch)) delete merged.source;
          if (version === "beta" && !("sourceId" in patch)) delete merged.sourceId;
          const input = parse(set, version, appType, merged);
          return current.map((r) =>
            r.id === wanted
              ? {
                  id: r.id,
                  target_kind: input.targetKind,
                  group_id: input.groupId,
                  intent: input.intent,
                  settings: settingsOf(input, version, r),
                }
              : r,
          );
        },
        set === "managedEBooks" ? "Update book assignment" : "Update app assignment",
        "Patch",
      );
      return toGraph(set, version, app, after.find((r) => r.id === wanted)!);
    },

    async remove(ctx: Ctx, set: AssignmentSet, version: Version, appId: string, assignmentId: string) {
      const wanted = assignmentId.toLowerCase();
      await apply(
        ctx,
        set,
        version,
        appId,
        [],
        (current) => {
          if (!current.some((r) => r.id === wanted))
            throw notFound(
              set === "managedEBooks" ? "managedEBookAssignment" : "mobileAppAssignment",
              assignmentId,
            );
          return current.filter((r) => r.id !== wanted);
        },
        set === "managedEBooks" ? "Delete book assignment" : "Delete app assignment",
        "Delete",
      );
    },

    /** $expand=assignments: each item (a Graph-shaped app or book) gets its assignments. */
    async expand<T extends Record<string, unknown>>(
      ctx: Ctx,
      set: AssignmentSet,
      version: Version,
      items: T[],
    ): Promise<T[]> {
      const ids = items.map((i) => String(i.id));
      const rows = await repo.listForApps(ctx.tenantId, ids);
      const byApp = new Map<string, AssignmentRow[]>();
      for (const r of rows) byApp.set(r.app_id, [...(byApp.get(r.app_id) ?? []), r]);
      return items.map((i) => ({
        ...i,
        assignments: (byApp.get(String(i.id)) ?? []).map((r) =>
          toGraph(set, version, { odata_type: String(i["@odata.type"] ?? "").replace(/^#/, "") }, r),
        ),
      }));
    },

    /** The app's assignments as stored (the licensing engine's input), in creation order. */
    rowsOf: (ex: Executor, tenantId: string, appId: string) => repo.listForApp(ex, tenantId, appId),
  };
}
export type AssignmentsService = ReturnType<typeof createAssignmentsService>;

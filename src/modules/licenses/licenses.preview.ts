// Dry runs (ENG-7) and the end-user prompt matrix (EUX-1). The same engine and the same inputs as a
// reconcile of the app (licenses.repository.ts loaders, revoked holders parked the same way), with the
// change applied in memory only: nothing is written, nothing is sent to Apple.
import { engineAppOf } from "./licenses.mapping.ts";
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import {
  type AppInput,
  type EngineAssignment,
  type MembershipEdge,
  type PlanChange,
  type Preview,
  previewChange,
  promptMatrix,
} from "../../engine/index.ts";
import type { DeviceOs } from "../../engine/types.ts";
import type { Ctx } from "../../http/context.ts";
import { badRequest, notFound } from "../../lib/errors.ts";
import { parseMobileAppAssignment, targetKey } from "../assignments/assignments.entities.ts";
import type { LedgerAppRow, LicensesRepository } from "./licenses.repository.ts";
import { parkRevokedHoldings } from "./licenses.revoke.ts";

const isGuid = (s: unknown): s is string => typeof s === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);


export interface PreviewDeps {
  db: Kysely<DB>;
  licensesRepository: LicensesRepository;
  now?: () => number;
}

/** The Graph-shaped answer: holders by id, counts and cost as the engine gives them. */
export function previewToGraph(p: Preview) {
  return {
    licensed: p.licensed.map((h) => ({ id: h.id, type: h.type })),
    waiting: p.waiting.map((h) => ({ id: h.id, type: h.type, reason: h.reason })),
    released: p.released.map((h) => ({ id: h.id, type: h.type })),
    counts: p.counts,
    countsBefore: p.countsBefore,
    cost: p.cost,
  };
}

export function createPreviewService(deps: PreviewDeps) {
  const { db, licensesRepository: repo } = deps;
  const now = () => deps.now?.() ?? Date.now();

  async function appRow(tenantId: string, appId: string): Promise<LedgerAppRow> {
    const [app] = isGuid(appId) ? await repo.loadApps(db, tenantId, [appId.toLowerCase()]) : [];
    if (!app) throw notFound("mobileApp", appId);
    return app;
  }

  async function inputsOf(tenantId: string, app: LedgerAppRow) {
    const directory = await repo.loadDirectory(tenantId);
    const holdings = await parkRevokedHoldings(db, tenantId, app.id, await repo.loadHoldings(db, tenantId, app.id));
    const { requests, installs } = await repo.loadInstalls(tenantId, app.id);
    const engineApp = engineAppOf(app, await repo.externallyConsumed(tenantId, app));
    const input: AppInput = { app: engineApp, assignments: await repo.loadAssignments(tenantId, app.id), holdings, installRequests: requests, installs };
    return { directory, input };
  }

  async function run(tenantId: string, app: LedgerAppRow, change: (input: AppInput) => PlanChange | Promise<PlanChange>) {
    const { directory, input } = await inputsOf(tenantId, app);
    const c = await change(input);
    return previewToGraph(previewChange({ directory, app: input }, c, { now: now() }));
  }

  function objectBody(body: unknown): Record<string, unknown> {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("The body must be a JSON object.");
    return body as Record<string, unknown>;
  }

  return {
    /** previewAssign: the body of `assign` (the new assignment set). */
    async previewAssign(ctx: Ctx, appId: string, body: unknown) {
      const b = objectBody(body);
      for (const k of Object.keys(b)) if (k !== "mobileAppAssignments") throw badRequest(`Unknown parameter '${k}'; previewAssign takes only 'mobileAppAssignments', like assign.`);
      const list = b.mobileAppAssignments ?? [];
      if (!Array.isArray(list)) throw badRequest("'mobileAppAssignments' must be an array.");
      const app = await appRow(ctx.tenantId, appId);
      const meta = await db.selectFrom("apps").select("odata_type").where("tenant_id", "=", ctx.tenantId).where("id", "=", app.id).executeTakeFirstOrThrow();
      const parsed = list.map((x, i) => parseMobileAppAssignment(x, "beta", meta.odata_type, `mobileAppAssignments[${i}]`));
      const keys = new Set<string>();
      for (const p of parsed) {
        const k = targetKey({ targetKind: p.targetKind, groupId: p.groupId });
        if (keys.has(k)) throw badRequest(`The target '${k}' appears twice; an app has at most one assignment per target.`);
        keys.add(k);
      }
      return run(ctx.tenantId, app, (input) => {
        // Assignments kept from the current set keep their order (seq) and creation time, like assign does.
        const current = new Map(input.assignments.map((a) => [targetKey({ targetKind: a.target.kind, groupId: a.target.groupId ?? null }), a]));
        let seq = input.assignments.reduce((m, a) => Math.max(m, a.seq), 0);
        const at = now();
        const assignments: EngineAssignment[] = parsed.map((p) => {
          const old = current.get(targetKey({ targetKind: p.targetKind, groupId: p.groupId }));
          const settings = { ...(p.settings as object), useDeviceLicensing: Boolean((p.settings as { useDeviceLicensing?: boolean }).useDeviceLicensing) };
          return {
            id: old?.id ?? p.id ?? randomUUID(),
            seq: old?.seq ?? ++seq,
            createdAt: old?.createdAt ?? at,
            target: { kind: p.targetKind, groupId: p.groupId },
            intent: p.intent,
            settings,
          };
        });
        return { kind: "assignments", assignments };
      });
    },

    /** previewMembershipChange {groupId, add:[ids], remove:[ids]}: members join now. */
    async previewMembershipChange(ctx: Ctx, appId: string, body: unknown) {
      const b = objectBody(body);
      for (const k of Object.keys(b)) if (!["groupId", "add", "remove"].includes(k)) throw badRequest(`Unknown parameter '${k}'; previewMembershipChange takes groupId, add and remove.`);
      if (!isGuid(b.groupId)) throw badRequest("'groupId' must be the id of a group.");
      const groupId = b.groupId.toLowerCase();
      const ids = (name: string) => {
        const v = b[name] ?? [];
        if (!Array.isArray(v) || !v.every(isGuid)) throw badRequest(`'${name}' must be an array of directory object ids.`);
        return (v as string[]).map((x) => x.toLowerCase());
      };
      const add = ids("add");
      const remove = ids("remove");
      // The app in the path first: one the caller cannot see is a 404 whatever the body says.
      const app = await appRow(ctx.tenantId, appId);
      const group = await db.selectFrom("groups").select("id").where("tenant_id", "=", ctx.tenantId).where("id", "=", groupId).executeTakeFirst();
      if (!group) throw notFound("group", groupId);
      const kinds = new Map<string, MembershipEdge["memberType"]>();
      if (add.length > 0) {
        for (const [table, kind] of [["users", "user"], ["devices", "device"], ["groups", "group"]] as const) {
          const found = await db.selectFrom(table).select("id").where("tenant_id", "=", ctx.tenantId).where("id", "in", add).execute();
          for (const f of found) kinds.set(f.id, kind);
        }
        const missing = add.find((id) => !kinds.has(id));
        if (missing) throw notFound("directoryObject", missing);
      }
      const at = now();
      return run(ctx.tenantId, app, () => ({
        kind: "membership",
        add: add.map((memberId) => ({ groupId, memberId, memberType: kinds.get(memberId) as MembershipEdge["memberType"], joinedAt: at })),
        remove: remove.map((memberId) => ({ groupId, memberId })),
      }));
    },

    /** previewPurchase {totalLicenseCount}: the store's total after a purchase (or refund). */
    async previewPurchase(ctx: Ctx, appId: string, body: unknown) {
      const b = objectBody(body);
      for (const k of Object.keys(b)) if (k !== "totalLicenseCount") throw badRequest(`Unknown parameter '${k}'; previewPurchase takes only totalLicenseCount.`);
      const n = b.totalLicenseCount;
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw badRequest("'totalLicenseCount' must be a non-negative integer.");
      const app = await appRow(ctx.tenantId, appId);
      return run(ctx.tenantId, app, () => ({ kind: "purchaseCount", totalCount: n }));
    },

    /** promptMatrix(managedDeviceId='…',useDeviceLicensing=…) for a device and an app (seed 000's table). */
    async promptMatrix(ctx: Ctx, appId: string, deviceId: string, useDeviceLicensing: boolean) {
      await appRow(ctx.tenantId, appId);
      const d = isGuid(deviceId)
        ? await db
            .selectFrom("devices")
            .select(["id", "managed_device_owner_type", "is_supervised", "kiosk_mode", "operating_system", "itunes_store_blocked"])
            .where("tenant_id", "=", ctx.tenantId)
            .where("id", "=", deviceId.toLowerCase())
            .executeTakeFirst()
        : undefined;
      if (!d) throw notFound("managedDevice", deviceId);
      const r = promptMatrix({
        ownership: d.managed_device_owner_type,
        supervised: d.is_supervised,
        kiosk: d.kiosk_mode,
        useDeviceLicensing,
        platform: d.operating_system as DeviceOs,
        itunesStoreBlocked: d.itunes_store_blocked,
      });
      return {
        managedDeviceId: d.id,
        mobileAppId: appId.toLowerCase(),
        useDeviceLicensing,
        scenario: r.scenario,
        vppInvitation: r.vppInvitation,
        installPrompt: r.installPrompt,
        appleIdPrompt: r.appleIdPrompt,
        warning: r.warning ?? null,
      };
    },
  };
}
export type PreviewService = ReturnType<typeof createPreviewService>;

/** Parses `promptMatrix(managedDeviceId='…',useDeviceLicensing=true|false)` (a Graph function call in a path segment). */
export function parsePromptMatrixCall(segment: string): { managedDeviceId: string; useDeviceLicensing: boolean } {
  const m = /^promptMatrix\((.*)\)$/.exec(decodeURIComponent(segment));
  if (!m) throw notFound("segment", segment);
  const args = new Map<string, string>();
  for (const part of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
    const kv = /^(\w+)=(.*)$/.exec(part);
    if (!kv) throw badRequest(`Cannot read the argument '${part}' of promptMatrix.`);
    args.set(kv[1], kv[2]);
  }
  for (const k of args.keys()) if (k !== "managedDeviceId" && k !== "useDeviceLicensing") throw badRequest(`Unknown argument '${k}' of promptMatrix.`);
  const id = /^'([^']*)'$/.exec(args.get("managedDeviceId") ?? "")?.[1];
  if (!id) throw badRequest("promptMatrix needs managedDeviceId='<device id>'.");
  const u = args.get("useDeviceLicensing");
  if (u !== "true" && u !== "false") throw badRequest("promptMatrix needs useDeviceLicensing=true or useDeviceLicensing=false.");
  return { managedDeviceId: id, useDeviceLicensing: u === "true" };
}

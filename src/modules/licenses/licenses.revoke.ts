// Revocation (REV-1, REV-2): an administrator takes licenses back. Every revoke goes through the
// ledger and the store-operations outbox (never to Apple from the request): the holding turns
// `pendingRelease` with reason `revoked`, the outbox worker tells Apple, and the settlement records
// `released` / `revoked` with its history row. Revoking never uninstalls.
//
// Which Apple call: per-app revokes (one app's licenses of a user, a device, or all of them; a whole
// token) disassociate that app only. The device-wide revoke uses Apple's /assets/revoke, which takes
// back EVERY revocable asset of the listed serial numbers. Books and irrevocable apps: 400, nothing sent.
//
// A revoked holder that is still targeted is NOT licensed again by the next reconcile: the ledger row
// stays `released` / `revoked` (shown to the engine as a parked `failed` row, so it takes no license and
// its license goes to the next holder in the queue) until an assignment of that app is created,
// changed or removed after the revoke — re-assigning is how an administrator gives it back. Intune
// re-licenses on the next sync; that would hand the license straight back and break REV-2.
import { type Kysely, sql, type Transaction } from "kysely";
import type { DB } from "../../db/types.ts";
import type { LedgerHolding } from "../../engine/index.ts";
import type { Ctx } from "../../http/context.ts";
import { badRequest, notFound } from "../../lib/errors.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type { LicensesRepository, OperationInsert } from "./licenses.repository.ts";

export const REVOKED_REASON = "revoked";
const isGuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export interface RevocationDeps {
  db: Kysely<DB>;
  licensesRepository: LicensesRepository;
  auditService: AuditService;
  /** Called after a revoke committed: start the outbox worker for the tenant. */
  kickOutbox(tenantId: string): Promise<unknown>;
  /** The notifications outbox (EUX-3), written in the revoke's transaction; absent → nothing is stored. */
  enqueueNotification?: (
    ex: Transaction<DB>,
    tenantId: string,
    n: { audience: "user"; kind: string; userId: string; subject: string; body: string; data: Record<string, unknown> },
  ) => Promise<unknown>;
}

type HoldingRow = { app_id: string; holder_type: string; holder_id: string; state: string; store_key: string | null; license_type: string; token_id: string | null };

export function createRevocationService(deps: RevocationDeps) {
  const { db, licensesRepository: repo, auditService } = deps;

  async function appOf(tenantId: string, appId: string) {
    const app = isGuid(appId)
      ? await db.selectFrom("apps").selectAll().where("tenant_id", "=", tenantId).where("id", "=", appId).executeTakeFirst()
      : undefined;
    if (!app) throw notFound("mobileApp", appId);
    if (app.source !== "appleVpp" || !app.token_id) throw badRequest(`'${app.display_name ?? app.id}' is not a volume-purchased app; only VPP licenses can be revoked.`);
    if (app.product_type === "Book") throw badRequest(`'${app.display_name ?? app.id}' is a book: Apple does not allow book licenses to be revoked.`);
    if (!app.revocable) throw badRequest(`Apple does not allow the licenses of '${app.display_name ?? app.id}' to be revoked.`);
    return app;
  }

  /** Consuming holdings matching the filter, with the app's token. */
  async function holdingsOf(ex: Kysely<DB> | Transaction<DB>, tenantId: string, f: { appIds?: string[]; holderType?: string; holderId?: string }) {
    let q = ex
      .selectFrom("license_holdings as h")
      .innerJoin("apps as a", (j) => j.onRef("a.tenant_id", "=", "h.tenant_id").onRef("a.id", "=", "h.app_id"))
      .select(["h.app_id", "h.holder_type", "h.holder_id", "h.state", "h.store_key", "h.license_type", "a.token_id"])
      .where("h.tenant_id", "=", tenantId)
      .where("h.state", "in", ["assigned", "pendingAssign"])
      .where("a.revocable", "=", true)
      .where("a.product_type", "is distinct from", "Book");
    if (f.appIds) q = q.where("h.app_id", "in", f.appIds.length ? f.appIds : ["00000000-0000-0000-0000-000000000000"]);
    if (f.holderType) q = q.where("h.holder_type", "=", f.holderType as never);
    if (f.holderId) q = q.where("h.holder_id", "=", f.holderId);
    return (await q.execute()) as HoldingRow[];
  }

  /**
   * Marks the holdings `pendingRelease`/`revoked` and queues their operations. A `pendingAssign` row
   * whose association has not been sent yet is simply cancelled (released at once); one already on its
   * way to Apple is left alone (the next revoke takes it).
   */
  async function revokeRows(trx: Transaction<DB>, tenantId: string, rows: HoldingRow[], kind: "disassociate" | "revoke") {
    const at = new Date();
    const ops: OperationInsert[] = [];
    const perApp = new Map<string, number>();
    let revoked = 0;
    for (const h of rows) {
      const base = { appId: h.app_id, holderType: h.holder_type, holderId: h.holder_id, from: h.state, storeKey: h.store_key, eventId: null };
      if (h.state === "pendingAssign") {
        const pending = await trx
          .selectFrom("store_operations")
          .select(["id", "state"])
          .where("tenant_id", "=", tenantId)
          .where("app_id", "=", h.app_id)
          .where("holder_id", "=", h.holder_id)
          .where("kind", "=", "associate")
          .where("state", "in", ["pending", "sending", "sent"])
          .execute();
        if (pending.some((p) => p.state !== "pending")) continue;
        await repo.markOperations(trx, tenantId, pending.map((p) => p.id), { state: "done", error: "cancelled: the license was revoked before it was sent" }, at);
        await repo.setHoldingState(trx, tenantId, { ...base, to: "released", reason: REVOKED_REASON }, at);
        revoked++;
        perApp.set(h.app_id, (perApp.get(h.app_id) ?? 0) + 1);
        continue;
      }
      await repo.setHoldingState(trx, tenantId, { ...base, to: "pendingRelease", reason: REVOKED_REASON }, at);
      revoked++;
      perApp.set(h.app_id, (perApp.get(h.app_id) ?? 0) + 1);
      if (!h.token_id || !h.store_key) continue;
      ops.push({ tokenId: h.token_id, appId: h.app_id, kind, holderType: h.holder_type, holderId: h.holder_id, storeKey: h.store_key, payload: { licenseType: h.license_type, reason: REVOKED_REASON } });
    }
    await repo.insertOperations(trx, tenantId, ops, at);
    for (const [appId, n] of perApp)
      await trx.updateTable("apps").set({ revoked_count: sql`revoked_count + ${n}` }).where("tenant_id", "=", tenantId).where("id", "=", appId).execute();
    return revoked;
  }

  async function finish(ctx: Ctx) {
    await deps.kickOutbox(ctx.tenantId);
  }

  /** notifyManagedDevices: tells each affected user (device holders: the primary user) that the app is no longer assigned. */
  async function notifyUsers(trx: Transaction<DB>, tenantId: string, rows: HoldingRow[]) {
    if (!deps.enqueueNotification || rows.length === 0) return;
    const perUser = new Map<string, Set<string>>();
    const add = (u: string, app: string) => perUser.set(u, (perUser.get(u) ?? new Set()).add(app));
    for (const r of rows) if (r.holder_type === "user") add(r.holder_id, r.app_id);
    const devs = rows.filter((r) => r.holder_type === "device");
    if (devs.length > 0) {
      const owners = await trx.selectFrom("devices").select(["id", "user_id"]).where("tenant_id", "=", tenantId).where("id", "in", devs.map((d) => d.holder_id)).execute();
      const owner = new Map(owners.map((o) => [o.id, o.user_id]));
      for (const d of devs) {
        const u = owner.get(d.holder_id);
        if (u) add(u, d.app_id);
      }
    }
    if (perUser.size === 0) return;
    const apps = await trx.selectFrom("apps").select(["id", "display_name"]).where("tenant_id", "=", tenantId).where("id", "in", [...new Set(rows.map((r) => r.app_id))]).execute();
    const name = new Map(apps.map((a) => [a.id, a.display_name ?? a.id]));
    for (const [userId, appIds] of perUser) {
      const names = [...appIds].map((a) => name.get(a) as string);
      await deps.enqueueNotification(trx, tenantId, {
        audience: "user",
        kind: "appUnassigned",
        userId,
        subject: names.length === 1 ? `${names[0]} is no longer assigned to you` : "Apps are no longer assigned to you",
        body: `Your organization took back the license of ${names.join(", ")}. The app stays installed but may stop working or updating.`,
        data: { appIds: [...appIds], reason: REVOKED_REASON },
      });
    }
  }

  async function audited(ctx: Ctx, activity: string, target: { type: string; id: string; displayName?: string | null }, rows: HoldingRow[], kind: "disassociate" | "revoke", extra: Record<string, unknown>) {
    const n = await db.transaction().execute(async (trx) => {
      const count = await revokeRows(trx, ctx.tenantId, rows, kind);
      if (extra.notifyManagedDevices === true) await notifyUsers(trx, ctx.tenantId, rows);
      await auditService.record(trx, ctx, {
        activity,
        component: "Apps",
        operation: "Action",
        changes: [{ ...target, after: { revokedLicenseCount: count, holders: rows.map((r) => `${r.holder_type}:${r.holder_id}`).join(","), ...extra } }],
      });
      return count;
    });
    return n;
  }

  function boolArg(body: unknown, name: string, required = false): boolean {
    const v = (body as Record<string, unknown> | null | undefined)?.[name];
    if (v === undefined || v === null) {
      if (required) throw badRequest(`'${name}' is required.`);
      return false;
    }
    if (typeof v !== "boolean") throw badRequest(`'${name}' must be a boolean.`);
    return v;
  }
  function idArg(body: unknown, name: string): string {
    const v = (body as Record<string, unknown> | null | undefined)?.[name];
    if (typeof v !== "string" || !isGuid(v)) throw badRequest(`'${name}' must be the id of a ${name === "userId" ? "user" : "managed device"}.`);
    return v.toLowerCase();
  }

  return {
    /** iosVppApp/assignedLicenses: the consuming holdings in Graph's iosVppAppAssignedLicense shapes. */
    async assignedLicenses(tenantId: string, appId: string) {
      const r = await sql<{ id: string; holder_type: string; holder_id: string; user_id: string | null; upn: string | null; name: string | null; mail: string | null; device_name: string | null }>`
        select h.holder_type, h.holder_id, h.holder_type || ':' || h.holder_id as id,
          coalesce(u.id, du.id) as user_id, coalesce(u.user_principal_name, du.user_principal_name) as upn,
          coalesce(u.display_name, du.display_name) as name, coalesce(u.mail, du.mail) as mail, d.device_name
        from license_holdings h
        left join users u on h.holder_type = 'user' and u.tenant_id = h.tenant_id and u.id = h.holder_id
        left join devices d on h.holder_type = 'device' and d.tenant_id = h.tenant_id and d.id = h.holder_id
        left join users du on du.tenant_id = d.tenant_id and du.id = d.user_id
        where h.tenant_id = ${tenantId} and h.app_id = ${appId} and h.state in ('pendingAssign', 'assigned', 'pendingRelease')
        order by h.holder_type desc, h.holder_seq, h.holder_id`.execute(db);
      return r.rows.map((x) => ({
        "@odata.type": x.holder_type === "user" ? "#microsoft.graph.iosVppAppAssignedUserLicense" : "#microsoft.graph.iosVppAppAssignedDeviceLicense",
        id: x.holder_id,
        userEmailAddress: x.mail,
        userId: x.user_id,
        userName: x.name,
        userPrincipalName: x.upn,
        ...(x.holder_type === "device" ? { managedDeviceId: x.holder_id, deviceName: x.device_name } : {}),
      }));
    },
    /** mobileApps/{id}/revokeAllLicenses */
    async revokeAll(ctx: Ctx, appId: string, body: unknown) {
      const notify = boolArg(body, "notifyManagedDevices");
      const app = await appOf(ctx.tenantId, appId);
      const rows = await holdingsOf(db, ctx.tenantId, { appIds: [app.id] });
      await audited(ctx, "Revoke all licenses of an app", { type: "mobileApp", id: app.id, displayName: app.display_name }, rows, "disassociate", { notifyManagedDevices: notify });
      await finish(ctx);
    },
    /** mobileApps/{id}/revokeUserLicense and revokeDeviceLicense: disassociate that app only. */
    async revokeHolder(ctx: Ctx, appId: string, holderType: "user" | "device", body: unknown) {
      const notify = boolArg(body, "notifyManagedDevices");
      const holderId = idArg(body, holderType === "user" ? "userId" : "managedDeviceId");
      const app = await appOf(ctx.tenantId, appId);
      const table = holderType === "user" ? "users" : "devices";
      const exists = await db.selectFrom(table).select("id").where("tenant_id", "=", ctx.tenantId).where("id", "=", holderId).executeTakeFirst();
      if (!exists) throw notFound(holderType === "user" ? "user" : "managedDevice", holderId);
      const rows = await holdingsOf(db, ctx.tenantId, { appIds: [app.id], holderType, holderId });
      await audited(ctx, holderType === "user" ? "Revoke a user's app license" : "Revoke a device's app license", { type: "mobileApp", id: app.id, displayName: app.display_name }, rows, "disassociate", { notifyManagedDevices: notify, [holderType === "user" ? "userId" : "managedDeviceId"]: holderId });
      await finish(ctx);
    },
    /** vppTokens/{id}/revokeLicenses: every app of the token (disassociate per app), optionally the untracked ones too. */
    async revokeToken(ctx: Ctx, tokenId: string, body: unknown) {
      const notify = boolArg(body, "notifyManagedDevices");
      const untracked = boolArg(body, "revokeUntrackedLicenses");
      const token = isGuid(tokenId)
        ? await db.selectFrom("vpp_tokens").select(["id", "display_name"]).where("tenant_id", "=", ctx.tenantId).where("id", "=", tokenId).executeTakeFirst()
        : undefined;
      if (!token) throw notFound("vppToken", tokenId);
      const apps = await db.selectFrom("apps").select("id").where("tenant_id", "=", ctx.tenantId).where("token_id", "=", token.id).execute();
      const rows = await holdingsOf(db, ctx.tenantId, { appIds: apps.map((a) => a.id) });
      const extra: OperationInsert[] = [];
      if (untracked) {
        // Store assignments no ledger row accounts for (SYNC-4), of revocable apps of this token.
        const r = await sql<{ app_id: string; serial_number: string | null; client_user_id: string | null }>`
          select a.id as app_id, s.serial_number, s.client_user_id from store_assignments s
          join apps a on a.tenant_id = s.tenant_id and a.token_id = s.token_id and a.adam_id = s.adam_id and a.pricing_param = s.pricing_param
          where s.tenant_id = ${ctx.tenantId} and s.token_id = ${token.id} and not s.tracked and a.revocable and a.product_type is distinct from 'Book'
            and not exists (select 1 from license_holdings h where h.tenant_id = s.tenant_id and h.app_id = a.id
              and h.state in ('pendingAssign', 'assigned', 'pendingRelease')
              and h.store_key = case when h.license_type = 'device' then s.serial_number else s.client_user_id end)`.execute(db);
        for (const u of r.rows)
          extra.push({ tokenId: token.id, appId: u.app_id, kind: "disassociate", holderType: null, holderId: null, storeKey: u.serial_number ?? u.client_user_id, payload: { licenseType: u.serial_number ? "device" : "user", reason: REVOKED_REASON, untracked: true } });
      }
      await db.transaction().execute(async (trx) => {
        const count = await revokeRows(trx, ctx.tenantId, rows, "disassociate");
        await repo.insertOperations(trx, ctx.tenantId, extra, new Date());
        if (notify) await notifyUsers(trx, ctx.tenantId, rows);
        await auditService.record(trx, ctx, {
          activity: "Revoke the licenses of a VPP token",
          component: "Tokens",
          operation: "Action",
          changes: [{ type: "vppToken", id: token.id, displayName: token.display_name, after: { revokedLicenseCount: count, untrackedRevoked: extra.length, notifyManagedDevices: notify, revokeUntrackedLicenses: untracked } }],
        });
      });
      await finish(ctx);
    },
    /** managedDevices/{id}/revokeAppleVppLicenses: Apple's /assets/revoke for the device's serial number (every token it has licenses of). */
    async revokeDevice(ctx: Ctx, deviceId: string) {
      const device = isGuid(deviceId)
        ? await db.selectFrom("devices").select(["id", "device_name", "serial_number"]).where("tenant_id", "=", ctx.tenantId).where("id", "=", deviceId).executeTakeFirst()
        : undefined;
      if (!device) throw notFound("managedDevice", deviceId);
      const rows = await holdingsOf(db, ctx.tenantId, { holderType: "device", holderId: device.id });
      // Tokens where the store holds this serial without a ledger row: one revoke for them too.
      const extra: OperationInsert[] = [];
      if (device.serial_number) {
        const tokens = await db
          .selectFrom("store_assignments")
          .select("token_id")
          .distinct()
          .where("tenant_id", "=", ctx.tenantId)
          .where("serial_number", "=", device.serial_number)
          .execute();
        const covered = new Set(rows.map((r) => r.token_id));
        for (const t of tokens)
          if (!covered.has(t.token_id))
            extra.push({ tokenId: t.token_id, appId: null, kind: "revoke", holderType: "device", holderId: device.id, storeKey: device.serial_number, payload: { licenseType: "device", reason: REVOKED_REASON } });
      }
      await db.transaction().execute(async (trx) => {
        const count = await revokeRows(trx, ctx.tenantId, rows, "revoke");
        await repo.insertOperations(trx, ctx.tenantId, extra, new Date());
        await auditService.record(trx, ctx, {
          activity: "Revoke a device's VPP licenses",
          component: "Apps",
          operation: "Action",
          changes: [{ type: "managedDevice", id: device.id, displayName: device.device_name, after: { revokedLicenseCount: count, apps: [...new Set(rows.map((r) => r.app_id))].join(",") } }],
        });
      });
      await finish(ctx);
    },
  };
}
export type RevocationService = ReturnType<typeof createRevocationService>;

/**
 * The ledger rows as the engine must see them: a holder released by a revoke, whose app's assignments
 * have not changed since, is shown as a parked `failed` row (wanted holders keep it and take no license).
 */
export async function parkRevokedHoldings(db: Kysely<DB>, tenantId: string, appId: string, holdings: LedgerHolding[]): Promise<LedgerHolding[]> {
  if (!holdings.some((h) => h.state === "released" && h.reason === REVOKED_REASON)) return holdings;
  const r = await sql<{ t: Date | null }>`
    select max(greatest(created_at, updated_at)) as t from mobile_app_assignments where tenant_id = ${tenantId} and app_id = ${appId}`.execute(db);
  const changedAt = r.rows[0]?.t ? new Date(r.rows[0].t).getTime() : 0;
  return holdings.map((h) => (h.state === "released" && h.reason === REVOKED_REASON && h.since >= changedAt ? { ...h, state: "failed" } : h));
}

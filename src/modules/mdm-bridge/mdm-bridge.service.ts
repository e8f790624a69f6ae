// The MDM bridge (MDM-1, ENG-9): turns the ledger into device commands and the MDM's reports back
// into install states. Commands (Apple InstallApplication for a VPP app — iTunesStoreID, PurchaseMethod
// 1, ManagementFlags — and RemoveApplication by bundle id) are planned by the engine once a holding
// is `assigned` (or for Uninstall), written to the device_commands outbox together with the device's
// installPending/removePending state, and POSTed to the MDM webhook (ALLOT_MDM_WEBHOOK_URL or the
// tenant's own), signed like notification webhooks and retried with backoff.

import { randomUUID } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { DB } from "../../db/types.ts";
import {
  type DeviceCommandOp,
  type DirectoryIndex,
  type EngineAssignment,
  planApp,
  planAppUpdate,
} from "../../engine/index.ts";
import type { Ctx } from "../../http/context.ts";
import { notFound } from "../../lib/errors.ts";
import type { AlertInput } from "../alerts/alerts.service.ts";
import type { AuditService } from "../audit/audit.service.ts";
import { engineAppOf } from "../licenses/licenses.mapping.ts";
import type { DirectoryIndexes } from "../licenses/licenses.directory.ts";
import type { LedgerAppRow, LicensesRepository } from "../licenses/licenses.repository.ts";
import { backoffMs, postSigned } from "../notifications/webhook-post.ts";
import type { CommandInsert, MdmBridgeRepository } from "./mdm-bridge.repository.ts";

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const DEVICE_TYPE = "microsoft.graph.managedDevice";
/** (app, holder) pairs of one bridge run beyond which it plans whole apps (after a long pause). */
const SLICED_PAIRS_MAX = 100_000;

export type ReportedState = "installed" | "notInstalled" | "removed" | "failed" | "installPending";
const installStateOf: Record<ReportedState, string> = {
  installed: "installed",
  notInstalled: "removed",
  removed: "removed",
  failed: "failed",
  installPending: "installPending",
};

export interface MdmBridgeDeps {
  db: Kysely<DB>;
  mdmBridgeRepository: MdmBridgeRepository;
  licensesRepository: LicensesRepository;
  /** The directory index, shared with the licenses service's full reconciles. */
  directoryIndexes: DirectoryIndexes;
  licensesService: {
    reconcileApps(tenantId: string, appIds: readonly string[]): Promise<unknown>;
    planSlice(
      tenantId: string,
      appIds: readonly string[],
      changed: { users: string[]; devices: string[] },
      onPlan: (app: LedgerAppRow, plan: { operations: readonly { kind: string }[] }, assignments: EngineAssignment[]) => Promise<void>,
    ): Promise<{ full: string[] }>;
  };
  auditService: AuditService;
  /** Sends the store-operations outbox job after a reconcile (never from inside a transaction). */
  kickLicensesOutbox(tenantId: string): Promise<unknown>;
  /** The tenant's own MDM webhook, if any; otherwise the instance's. */
  tenantWebhook(tenantId: string): Promise<{ url: string; secret: string | null } | null>;
  defaultWebhook: { url: string; secret: string | null } | null;
  /** Writes a message to a user in the caller's transaction (notifications outbox). */
  notifyUser(
    ex: Transaction<DB>,
    tenantId: string,
    userId: string,
    kind: string,
    subject: string,
    body: string,
    data: Record<string, unknown>,
  ): Promise<unknown>;
  /** Raises an administrator alert in the caller's transaction (alerts module; also notifies administrators). */
  raiseAlert(ex: Transaction<DB>, tenantId: string, alert: AlertInput): Promise<unknown>;
  retryBaseMs: number;
  maxAttempts: number;
  now?: () => number;
  /**
   * Settled holders of one app up to which a bridge run plans only them (their directory slice; apps
   * are planned together while their holders add up to no more); an app with more is planned whole,
   * from the whole-directory index. An initial push settles ~20,000 holdings per outbox round, ~1,000
   * per app. ALLOT_MDM_SLICE_MAX_HOLDERS; by default 2,000 on PostgreSQL and 200 on PGlite, whose one
   * session makes large slices slow (main.ts).
   */
  sliceMaxHolders: number;
  /** ENG-6: how long an Uninstall waits for the MDM to report the app removed (the ledger then releases anyway). */
  uninstallTimeoutMs?: number;
  /** Plans the app's ledger again once `delayMs` has passed (a RemoveApplication's timeout runs out then). */
  reconcileLater?(tenantId: string, appId: string, delayMs: number): Promise<unknown>;
  /** Where the bridge says how long planning commands took (the job logger). */
  logger?: () => { info(obj: Record<string, unknown>, msg: string): void };
}

export interface Holders {
  users: string[];
  devices: string[];
}

/**
 * The bridge's work for holders whose holdings settled: apps (in the order given) grouped into
 * slices whose holders add up to at most `max` (each slice planned from its holders' part of the
 * directory), and the apps with more than `max` holders, planned whole.
 */
export function settledSlices(
  apps: readonly string[],
  byApp: ReadonlyMap<string, Holders>,
  max: number,
): { slices: { apps: string[]; holders: Holders }[]; whole: string[] } {
  const slices: { apps: string[]; holders: Holders }[] = [];
  const whole: string[] = [];
  let open: { apps: string[]; users: Set<string>; devices: Set<string> } | undefined;
  const close = () => {
    if (open) slices.push({ apps: open.apps, holders: { users: [...open.users], devices: [...open.devices] } });
    open = undefined;
  };
  for (const app of apps) {
    const h = byApp.get(app) ?? { users: [], devices: [] };
    const size = h.users.length + h.devices.length;
    if (size > max) {
      whole.push(app);
      continue;
    }
    if (open && open.users.size + open.devices.size + size > max) close();
    open ??= { apps: [], users: new Set(), devices: new Set() };
    open.apps.push(app);
    for (const u of h.users) open.users.add(u);
    for (const d of h.devices) open.devices.add(d);
  }
  close();
  return { slices, whole };
}

/** Apple MDM command dictionaries. */
export function installApplicationCommand(
  adamId: string,
  settings: Record<string, unknown>,
  flags: DeviceCommandOp["flags"],
) {
  const managementFlags =
    (settings.uninstallOnDeviceRemoval ? 1 : 0) | (flags?.preventManagedAppBackup ? 4 : 0);
  return {
    RequestType: "InstallApplication",
    iTunesStoreID: Number(adamId),
    Options: { PurchaseMethod: 1 },
    ManagementFlags: managementFlags,
    Attributes: { Removable: flags?.isRemovable ?? true },
  };
}

export function removeApplicationCommand(bundleId: string) {
  return { RequestType: "RemoveApplication", Identifier: bundleId };
}

export function createMdmBridgeService(deps: MdmBridgeDeps) {
  const { db, mdmBridgeRepository: repo, licensesRepository: ledger } = deps;
  const now = () => new Date(deps.now?.() ?? Date.now());

  /** The app's current plan, from the ledger and install states (what reconcile would compute). */
  async function planOf(tenantId: string, app: LedgerAppRow, ix: DirectoryIndex) {
    const assignments = await ledger.loadAssignments(tenantId, app.id);
    const { requests, installs } = await ledger.loadInstalls(tenantId, app.id);
    const input = {
      app: engineAppOf(app, await ledger.externallyConsumed(tenantId, app)),
      assignments,
      holdings: await ledger.loadHoldings(db, tenantId, app.id),
      installRequests: requests,
      installs,
    };
    const timeout =
      deps.uninstallTimeoutMs !== undefined ? { uninstallTimeoutMs: deps.uninstallTimeoutMs } : {};
    return { assignments, input, plan: planApp(ix, input, { now: now().getTime(), ...timeout }) };
  }

  /** The device commands among a plan's operations (InstallApplication / RemoveApplication payloads). */
  function commandsOf(
    app: LedgerAppRow,
    meta: { adam_id: string | null; bundle_id: string | null } | undefined,
    assignments: readonly { id: string; settings: unknown }[],
    operations: readonly { kind: string }[],
  ): CommandInsert[] {
    const settingsOf = new Map(assignments.map((a) => [a.id, a.settings as Record<string, unknown>]));
    const cmds: CommandInsert[] = [];
    for (const o of operations) {
      if (o.kind !== "installCommand" && o.kind !== "removeCommand") continue;
      const op = o as DeviceCommandOp;
      if (op.kind === "installCommand" && meta?.adam_id) {
        cmds.push({
          id: randomUUID(),
          appId: app.id,
          deviceId: op.deviceId,
          kind: "install",
          payload: installApplicationCommand(meta.adam_id, settingsOf.get(op.assignmentId ?? "") ?? {}, op.flags),
        });
      } else if (op.kind === "removeCommand" && meta?.bundle_id) {
        cmds.push({
          id: randomUUID(),
          appId: app.id,
          deviceId: op.deviceId,
          kind: "remove",
          payload: removeApplicationCommand(meta.bundle_id),
        });
      }
    }
    return cmds;
  }

  /** Writes an app's commands to the outbox; a RemoveApplication also schedules the app's timeout plan. */
  async function writeCommands(tenantId: string, appId: string, cmds: readonly CommandInsert[]) {
    for (let i = 0; i < cmds.length; i += 2000) {
      const part = cmds.slice(i, i + 2000);
      await db.transaction().execute((trx) => repo.insertCommands(trx, tenantId, part, now()));
    }
    // Nothing else may happen to the app when the MDM never answers: plan it again when the
    // RemoveApplication times out, so the license is released then (ENG-6).
    if (cmds.some((c) => c.kind === "remove") && deps.reconcileLater && deps.uninstallTimeoutMs !== undefined)
      await deps.reconcileLater(tenantId, appId, deps.uninstallTimeoutMs + 1000);
    return cmds.length;
  }

  /** Tenants without an MDM webhook, and until when the bridge does not look for one again. */
  const noWebhookUntil = new Map<string, number>();

  /** Plans the device commands of these apps from the ledger and writes them to the outbox. Returns commands written. */
  async function planCommands(tenantId: string, appIds: readonly string[]): Promise<number> {
    const started = performance.now();
    const apps = (await ledger.loadApps(db, tenantId, appIds)).filter((a) => a.product_type !== "Book");
    if (apps.length === 0) return 0;
    const ix = await deps.directoryIndexes.recent(tenantId);
    const indexed = performance.now();
    const info = new Map((await repo.appInfo(db, tenantId, apps.map((a) => a.id))).map((a) => [a.id, a]));
    let written = 0;
    for (const app of apps) {
      const { assignments, plan } = await planOf(tenantId, app, ix);
      written += await writeCommands(tenantId, app.id, commandsOf(app, info.get(app.id), assignments, plan.operations));
    }
    deps.logger?.().info(
      {
        tenantId,
        apps: apps.length,
        commands: written,
        ms: Math.round(performance.now() - started),
        directoryMs: Math.round(indexed - started),
      },
      "device commands planned",
    );
    return written;
  }

  /**
   * The commands of a few holders whose holdings settled: the licenses service plans the apps for
   * those holders only (the directory slice, not the whole directory); apps whose queue needs a full
   * plan are planned whole.
   */
  async function planCommandsOf(
    tenantId: string,
    appIds: readonly string[],
    holders: { users: string[]; devices: string[] },
  ): Promise<number> {
    const started = performance.now();
    const info = new Map((await repo.appInfo(db, tenantId, appIds)).map((a) => [a.id, a]));
    let written = 0;
    const { full } = await deps.licensesService.planSlice(tenantId, appIds, holders, async (app, plan, assignments) => {
      if (app.product_type === "Book") return;
      written += await writeCommands(tenantId, app.id, commandsOf(app, info.get(app.id), assignments, plan.operations));
    });
    if (full.length > 0) written += await planCommands(tenantId, full);
    deps.logger?.().info(
      {
        tenantId,
        apps: appIds.length,
        holders: holders.users.length + holders.devices.length,
        commands: written,
        ms: Math.round(performance.now() - started),
      },
      "device commands planned for settled holders",
    );
    return written;
  }

  /** Reads new license events (holdings settled) and plans commands for the apps concerned. */
  async function processLedgerEvents(tenantId: string): Promise<number> {
    const after = await repo.cursor(tenantId);
    const lastSeq = await repo.lastEventSeq(tenantId, after);
    if (lastSeq === after) return 0;
    let n = 0;
    // The apps come with their holders; only a run too far behind to list them reads the apps alone.
    const byApp = await repo.holdersWithEvents(tenantId, after, lastSeq, SLICED_PAIRS_MAX);
    const { slices, whole } = byApp
      ? settledSlices([...byApp.keys()], byApp, deps.sliceMaxHolders)
      : { slices: [], whole: await repo.appsWithEvents(tenantId, after, lastSeq) };
    for (const s of slices) n += await planCommandsOf(tenantId, s.apps, s.holders);
    if (whole.length > 0) n += await planCommands(tenantId, whole);
    // Tell users an app they had is no longer assigned to them (EUX-3).
    const released = await repo.releasedUsers(tenantId, after, lastSeq);
    if (released.length > 0)
      await db.transaction().execute(async (trx) => {
        for (const r of released) {
          const name = r.display_name ?? "An app";
          await deps.notifyUser(
            trx,
            tenantId,
            r.user_id,
            "appUnassigned",
            `${name} is no longer assigned to you`,
            `${name} is no longer assigned to you or your device and its license was released.`,
            {
              mobileAppId: r.app_id,
              reason: r.reason,
            },
          );
        }
      });
    await repo.setCursor(tenantId, lastSeq);
    return n;
  }

  /**
   * UPD-1, after a sync recorded store versions: for each app of the token whose version moved since
   * the bridge last looked, Required installs get an update command (when the token updates apps
   * automatically, unless the assignment sets preventAutoAppUpdate — the engine's planAppUpdate),
   * Available installs read updateAvailable and administrators are told. The first version an app
   * ever gets is only recorded. Commands, states, the alert and the seen version commit together, so
   * a crash before the commit is redone by the next sync and nothing is sent twice.
   */
  async function processNewVersions(tenantId: string, tokenId: string) {
    const moved = await repo.appsWithNewVersion(tenantId, tokenId);
    const result = { apps: 0, commands: 0, updateAvailable: 0 };
    if (moved.length === 0) return result;
    const first = moved.filter((m) => m.update_seen_version === null);
    for (const m of first) await repo.markVersionSeen(db, tenantId, m.id, m.version);
    const updated = moved.filter((m) => m.update_seen_version !== null);
    if (updated.length === 0) return result;
    const apps = new Map(
      (
        await ledger.loadApps(
          db,
          tenantId,
          updated.map((m) => m.id),
        )
      ).map((a) => [a.id, a]),
    );
    const ix = await deps.directoryIndexes.recent(tenantId);
    for (const m of updated) {
      const app = apps.get(m.id);
      if (!app) continue;
      const { assignments, input, plan } = await planOf(tenantId, app, ix);
      const up = planAppUpdate(ix, input, plan);
      const settingsOf = new Map(
        assignments.map((a) => [a.id, a.settings as unknown as Record<string, unknown>]),
      );
      const cmds: CommandInsert[] =
        m.automatically_update_apps && m.adam_id
          ? up.updateCommands.map((c) => {
              const settings = settingsOf.get(c.assignmentId ?? "") ?? {};
              return {
                id: randomUUID(),
                appId: m.id,
                deviceId: c.deviceId,
                kind: "update" as const,
                payload: installApplicationCommand(m.adam_id as string, settings, {
                  isRemovable: (settings.isRemovable as boolean | undefined) ?? true,
                  preventManagedAppBackup: (settings.preventManagedAppBackup as boolean | undefined) ?? false,
                  preventAutoAppUpdate: false,
                }),
              };
            })
          : [];
      const name = m.display_name ?? "An app";
      const at = now();
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < cmds.length; i += 2000)
          await repo.insertCommands(trx, tenantId, cmds.slice(i, i + 2000), at);
        const devices = [...new Set(up.updateAvailable.map((u) => u.deviceId))];
        result.updateAvailable += await repo.markUpdateAvailable(trx, tenantId, m.id, devices, at);
        if (up.notifyAdministrators)
          await deps.raiseAlert(trx, tenantId, {
            kind: "appNewVersion",
            severity: "info",
            title: `${name} ${m.version} is available`,
            message:
              `A new version of ${name} (${m.update_seen_version} → ${m.version}) is in the store. ` +
              `It is assigned as Available: users install it themselves from the company portal, ` +
              `which shows it as not up to date on ${devices.length} device(s) until they do.`,
            resourceType: "microsoft.graph.iosVppApp",
            resourceId: m.id,
          });
        await repo.markVersionSeen(trx, tenantId, m.id, m.version);
      });
      result.apps++;
      result.commands += cmds.length;
    }
    return result;
  }

  /** POSTs due commands to the MDM webhook. Returns commands attempted. */
  async function deliverDue(tenantId: string): Promise<number> {
    if ((noWebhookUntil.get(tenantId) ?? 0) > now().getTime()) return 0;
    const hook = (await deps.tenantWebhook(tenantId)) ?? deps.defaultWebhook;
    if (!hook) {
      // Commands wait, untouched, until a webhook is configured (looked for again after the first retry
      // delay): postponing them row by row rewrote every pending command once a minute.
      noWebhookUntil.set(tenantId, now().getTime() + deps.retryBaseMs);
      return 0;
    }
    noWebhookUntil.delete(tenantId);
    const due = await repo.dueCommands(tenantId, now(), 500);
    if (due.length === 0) return 0;
    for (const c of due) {
      const body = JSON.stringify({
        id: c.id,
        tenantId,
        type: c.kind === "remove" ? "removeApplication" : "installApplication",
        // UPD-1: an InstallApplication for an app already on the device updates it.
        ...(c.kind === "update" ? { update: true } : {}),
        deviceId: c.device_id,
        serialNumber: c.serial_number,
        operatingSystem: c.operating_system,
        mobileAppId: c.app_id,
        command: typeof c.payload === "string" ? JSON.parse(c.payload) : c.payload,
        createdDateTime: iso(c.created_at),
      });
      const r = await postSigned(hook.url, body, {
        secret: hook.secret,
        headers: { "x-allot-event": "deviceCommand", "x-allot-delivery": c.id },
      });
      const attempt = c.attempts + 1;
      const retry = !r.ok && attempt < deps.maxAttempts;
      await repo.settleCommand(
        tenantId,
        {
          id: c.id,
          appId: c.app_id,
          deviceId: c.device_id,
          attempt,
          ok: r.ok,
          error: r.error,
          retryAt: retry ? new Date(now().getTime() + backoffMs(deps.retryBaseMs, attempt)) : null,
        },
        now(),
      );
    }
    return due.length;
  }

  async function requireDevice(tenantId: string, id: string) {
    const d = uuidRe.test(id) ? await repo.findDevice(db, tenantId, id) : undefined;
    if (!d) throw notFound("managedDevice", id);
    return d;
  }

  /** After a change the engine must see: reconcile the apps, then send the outboxes. */
  async function afterChange(tenantId: string, appIds: string[]) {
    if (appIds.length === 0) return;
    await deps.licensesService.reconcileApps(tenantId, appIds);
    await planCommands(tenantId, appIds);
    await deps.kickLicensesOutbox(tenantId);
  }

  return {
    planCommands,
    processNewVersions,
    processLedgerEvents,
    deliverDue,
    /** Tenants with new license events, or with commands due and somewhere to deliver them. */
    async tenantsWithWork() {
      const at = now();
      const [events, due] = await Promise.all([repo.tenantsWithEvents(), repo.tenantsWithDueCommands(at)]);
      const parked = due.filter((t) => (noWebhookUntil.get(t) ?? 0) > at.getTime());
      return [...new Set([...events, ...due.filter((t) => !parked.includes(t))])];
    },

    /** The MDM's inventory of the device: install states (removals confirm Uninstall; the ledger releases those holdings). */
    async reportInstalledApps(
      ctx: Ctx,
      deviceId: string,
      apps: { bundleId?: string; adamId?: string; version?: string; state: ReportedState }[],
    ) {
      const device = await requireDevice(ctx.tenantId, deviceId);
      const bundleIds = apps.map((a) => a.bundleId).filter((x): x is string => !!x);
      const adamIds = apps.map((a) => a.adamId).filter((x): x is string => !!x);
      const known = await repo.appsByStoreIds(db, ctx.tenantId, bundleIds, adamIds);
      const resolved: {
        appId: string;
        state: string;
        version: string | null;
        bundleId: string | null;
        adamId: string | null;
      }[] = [];
      for (const a of apps) {
        const m = known.find(
          (k) => (a.bundleId && k.bundle_id === a.bundleId) || (a.adamId && k.adam_id === a.adamId),
        );
        if (m)
          resolved.push({
            appId: m.id,
            state: installStateOf[a.state],
            version: a.version ?? null,
            bundleId: a.bundleId ?? null,
            adamId: a.adamId ?? null,
          });
      }
      // ENG-6: an inventory without an app the MDM was told to remove confirms the removal.
      const listed = new Set(resolved.map((r) => r.appId));
      for (const appId of await repo.removePendingApps(db, ctx.tenantId, deviceId))
        if (!listed.has(appId)) resolved.push({ appId, state: "removed", version: null, bundleId: null, adamId: null });
      const changed: string[] = [];
      await db.transaction().execute(async (trx) => {
        const before = new Map(
          (
            await repo.installStatesOf(
              trx,
              ctx.tenantId,
              deviceId,
              resolved.map((r) => r.appId),
            )
          ).map((s) => [s.app_id, s.state]),
        );
        for (const r of resolved) {
          // UPD-1: an inventory that still shows an older version than the store's keeps updateAvailable.
          if (
            r.state === "installed" &&
            before.get(r.appId) === "updateAvailable" &&
            r.version !== null &&
            r.version !== (await repo.appVersion(trx, ctx.tenantId, r.appId))
          )
            r.state = "updateAvailable";
          await repo.setInstallState(trx, ctx.tenantId, r.appId, deviceId, r.state, now());
          if (before.get(r.appId) !== r.state) changed.push(r.appId);
        }
        if (changed.length > 0)
          await deps.auditService.record(trx, ctx, {
            activity: "Report installed apps",
            component: "Apps",
            operation: "Action",
            changes: [
              {
                type: DEVICE_TYPE,
                id: deviceId,
                displayName: device.device_name,
                before: Object.fromEntries(changed.map((id) => [id, before.get(id) ?? null])),
                after: Object.fromEntries(
                  resolved.filter((r) => changed.includes(r.appId)).map((r) => [r.appId, r.state]),
                ),
              },
            ],
          });
      });
      await afterChange(ctx.tenantId, [...new Set(changed)]);
      return {
        value: apps.map((a) => {
          const r = resolved.find(
            (x) => (a.bundleId && x.bundleId === a.bundleId) || (a.adamId && x.adamId === a.adamId),
          );
          return {
            bundleId: a.bundleId ?? null,
            adamId: a.adamId ?? null,
            mobileAppId: r?.appId ?? null,
            installState: r?.state ?? null,
          };
        }),
      };
    },

    /** An install request for an Available app (ENG-9): the license is taken only now. */
    async requestAppInstall(ctx: Ctx, deviceId: string, mobileAppId: string) {
      const device = await requireDevice(ctx.tenantId, deviceId);
      const app = uuidRe.test(mobileAppId) ? await repo.findApp(db, ctx.tenantId, mobileAppId) : undefined;
      if (!app) throw notFound("mobileApp", mobileAppId);
      const at = now();
      await db.transaction().execute(async (trx) => {
        const created = await repo.insertInstallRequest(
          trx,
          ctx.tenantId,
          app.id,
          deviceId,
          device.user_id,
          at,
        );
        if (created)
          await deps.auditService.record(trx, ctx, {
            activity: "Request app install",
            component: "Apps",
            operation: "Action",
            changes: [
              {
                type: DEVICE_TYPE,
                id: deviceId,
                displayName: device.device_name,
                after: { installRequestedMobileAppId: app.id },
              },
            ],
          });
      });
      await afterChange(ctx.tenantId, [app.id]);
      return { deviceId, mobileAppId: app.id, requestedDateTime: at.toISOString() };
    },

    /** mobileApp deviceStatuses: the app's install state per device (installState may read updateAvailable, UPD-1). */
    async deviceStatuses(ctx: Ctx, appId: string) {
      const app = uuidRe.test(appId) ? await repo.findApp(db, ctx.tenantId, appId) : undefined;
      if (!app) throw notFound("mobileApp", appId);
      return (await repo.deviceStatuses(ctx.tenantId, app.id)).map((r) => ({
        id: `${app.id}_${r.device_id}`,
        deviceId: r.device_id,
        deviceName: r.device_name,
        osVersion: r.os_version,
        osDescription: r.operating_system,
        userName: r.user_display_name,
        userPrincipalName: r.user_principal_name,
        installState: r.state,
        lastSyncDateTime: iso(r.since),
      }));
    },

    async deviceCommands(ctx: Ctx, deviceId: string) {
      await requireDevice(ctx.tenantId, deviceId);
      return (await repo.commandsOfDevice(ctx.tenantId, deviceId)).map((c) => ({
        id: c.id,
        mobileAppId: c.app_id,
        kind: c.kind,
        status: c.state,
        attemptCount: c.attempts,
        command: typeof c.payload === "string" ? JSON.parse(c.payload) : c.payload,
        createdDateTime: iso(c.created_at),
        sentDateTime: iso(c.sent_at),
        lastError: c.last_error,
      }));
    },
  };
}
export type MdmBridgeService = ReturnType<typeof createMdmBridgeService>;

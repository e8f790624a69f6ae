// Condition alerts about licenses (EUX-3): "licenses running out" (what is left of an app's licenses
// falls to a per-tenant share of its total) and "waitlist growing" (more members wait for a license
// than at the last alert, at most once per a per-tenant interval). Checked after every reconcile of
// the apps concerned; each condition is raised once (alert_conditions), not on every reconcile, and
// raised alerts reach administrators by e-mail/webhook through the alerts module's listeners.
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type { AlertsRepository } from "./alerts.repository.ts";
import type { AlertsService } from "./alerts.service.ts";

export const RUNNING_OUT = "licensesRunningOut";
export const WAITLIST_GROWING = "waitlistGrowing";
/** Defaults when a tenant set nothing (also the column defaults of alert_settings). */
export const DEFAULT_RUNNING_OUT_PERCENT = 10;
export const DEFAULT_WAITLIST_ALERT_MINUTES = 60;
const SETTINGS_TYPE = "microsoft.graph.allotAlertSettings";

export interface AlertSettingsPatch {
  licensesRunningOutPercent?: number;
  waitlistAlertMinutes?: number;
}

export function createLicenseAlertsService(deps: {
  db: Kysely<DB>;
  alertsRepository: AlertsRepository;
  alertsService: Pick<AlertsService, "raise">;
  auditService: AuditService;
  now?: () => number;
}) {
  const { db, alertsRepository: repo } = deps;
  const now = () => new Date(deps.now?.() ?? Date.now());

  async function settingsOf(tenantId: string) {
    const s = await repo.settings(db, tenantId);
    return {
      licensesRunningOutPercent: s?.licenses_running_out_percent ?? DEFAULT_RUNNING_OUT_PERCENT,
      waitlistAlertMinutes: s?.waitlist_alert_minutes ?? DEFAULT_WAITLIST_ALERT_MINUTES,
    };
  }

  /** Raises or clears the conditions of these apps from the ledger's current counts. Returns alerts raised. */
  async function check(tenantId: string, appIds: readonly string[]): Promise<number> {
    if (appIds.length === 0) return 0;
    const s = await settingsOf(tenantId);
    let raised = 0;
    const stats = await repo.licenseStats(db, tenantId, appIds);
    const known = new Map(
      (
        await repo.conditionsOf(
          db,
          tenantId,
          stats.map((a) => a.id),
        )
      ).map((c) => [`${c.kind}|${c.resource_id}`, c]),
    );
    const debounceMs = s.waitlistAlertMinutes * 60_000;
    // One app per transaction: a condition row and its alert (and admin messages) commit together.
    for (const a of stats) {
      const available = Math.max(0, a.total - a.consumed - a.untracked);
      const name = a.display_name ?? "An app";
      const runningOut =
        (a.total > 0 || a.waiting > 0) && available * 100 <= a.total * s.licensesRunningOutPercent;
      const at = now();
      const low = known.get(`${RUNNING_OUT}|${a.id}`);
      const queue = known.get(`${WAITLIST_GROWING}|${a.id}`);
      // Most reconciles change no condition: skip the transaction (the conditional writes below still decide).
      const lowMoves = runningOut ? !low?.active : !!low && (low.active || low.value !== 0);
      const queueMoves =
        a.waiting === 0
          ? !!queue && (queue.active || queue.value !== 0)
          : !queue ||
            (a.waiting > queue.value &&
              (queue.raised_at === null || at.getTime() - new Date(queue.raised_at).getTime() >= debounceMs));
      if (!lowMoves && !queueMoves) continue;
      await db.transaction().execute(async (trx) => {
        if (!runningOut) await repo.clearCondition(trx, tenantId, RUNNING_OUT, a.id, at);
        else if (await repo.activateCondition(trx, tenantId, RUNNING_OUT, a.id, available, at)) {
          raised++;
          await deps.alertsService.raise(trx, tenantId, {
            kind: RUNNING_OUT,
            severity: available === 0 ? "critical" : "warning",
            title: `${name}: ${available} of ${a.total} licenses left`,
            message:
              `${name} has ${available} of its ${a.total} licenses left ` +
              `(alert at ${s.licensesRunningOutPercent}% or less). Buy more licenses or release unused ones.`,
            resourceType: a.odata_type,
            resourceId: a.id,
          });
        }
        if (a.waiting === 0) await repo.clearCondition(trx, tenantId, WAITLIST_GROWING, a.id, at);
        else if (await repo.growCondition(trx, tenantId, WAITLIST_GROWING, a.id, a.waiting, debounceMs, at)) {
          raised++;
          await deps.alertsService.raise(trx, tenantId, {
            kind: WAITLIST_GROWING,
            severity: "warning",
            title: `${name}: ${a.waiting} waiting for a license`,
            message:
              `${a.waiting} users or devices are waiting for a license of ${name} (insufficientLicenses). ` +
              "They are served automatically, in order, when licenses are bought or released.",
            resourceType: a.odata_type,
            resourceId: a.id,
          });
        }
      });
    }
    return raised;
  }

  return {
    check,

    async getSettings(ctx: Ctx) {
      return settingsOf(ctx.tenantId);
    },

    async updateSettings(ctx: Ctx, patch: AlertSettingsPatch) {
      const before = await settingsOf(ctx.tenantId);
      await db.transaction().execute(async (trx) => {
        await repo.upsertSettings(
          trx,
          ctx.tenantId,
          {
            ...(patch.licensesRunningOutPercent !== undefined
              ? { licenses_running_out_percent: patch.licensesRunningOutPercent }
              : {}),
            ...(patch.waitlistAlertMinutes !== undefined
              ? { waitlist_alert_minutes: patch.waitlistAlertMinutes }
              : {}),
          },
          now(),
        );
        await deps.auditService.record(trx, ctx, {
          activity: "Update alert settings",
          component: "Alerts",
          operation: "Patch",
          changes: [{ type: SETTINGS_TYPE, id: ctx.tenantId, before, after: { ...before, ...patch } }],
        });
      });
      return settingsOf(ctx.tenantId);
    },
  };
}
export type LicenseAlertsService = ReturnType<typeof createLicenseAlertsService>;

// Alerts for administrators (admin_notifications): any module raises one inside its own transaction
// (a token expiring, revoked or taken over by another MDM, …); administrators list and acknowledge
// them at /beta/admin/notifications. EUX-3 delivers them further (mail, webhooks) later.
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import type { EntityDef } from "../../http/odata/entity.ts";
import { type ListOptions, runList } from "../../http/odata/query.ts";
import { notFound } from "../../lib/errors.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type { AlertRow, AlertsRepository } from "./alerts.repository.ts";

export type AlertSeverity = "info" | "warning" | "critical";

export interface AlertInput {
  /** Stable machine-readable kind, e.g. "vppTokenExpiring", "vppTokenExternalMdm". */
  kind: string;
  severity: AlertSeverity;
  title: string;
  message: string;
  /** Graph-style type of the resource concerned, e.g. "microsoft.graph.vppToken". */
  resourceType?: string | null;
  resourceId?: string | null;
}

export const ALERT_TYPE = "microsoft.graph.allotAdminNotification";
const severities = ["info", "warning", "critical"] as const;

export const alertEntity: EntityDef = {
  typeName: ALERT_TYPE,
  sequenceColumn: "seq",
  properties: {
    id: { column: "id", type: "guid" },
    kind: { column: "kind", type: "string" },
    severity: { column: "severity", type: "enum", enumValues: severities },
    title: { column: "title", type: "string", caseInsensitive: true },
    message: { column: "message", type: "string", caseInsensitive: true },
    resourceType: { column: "resource_type", type: "string" },
    resourceId: { column: "resource_id", type: "string" },
    createdDateTime: { column: "created_at", type: "datetime" },
    acknowledgedDateTime: { column: "acknowledged_at", type: "datetime" },
  },
};

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export function alertToGraph(r: AlertRow) {
  return {
    id: r.id,
    kind: r.kind,
    severity: r.severity,
    title: r.title,
    message: r.message,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    createdDateTime: iso(r.created_at),
    acknowledgedDateTime: iso(r.acknowledged_at),
  };
}

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAlertsService(deps: {
  db: Kysely<DB>;
  alertsRepository: AlertsRepository;
  auditService: AuditService;
}) {
  const { db, alertsRepository: repo } = deps;
  // Called in the same transaction as the alert (notifications write their outbox there).
  const raisedListeners: ((ex: Executor, tenantId: string, alert: ReturnType<typeof alertToGraph>) => Promise<unknown>)[] = [];
  return {
    /** Runs `listener` for every alert raised, with the raiser's executor (never send jobs from it). */
    onRaised(listener: (ex: Executor, tenantId: string, alert: ReturnType<typeof alertToGraph>) => Promise<unknown>) {
      raisedListeners.push(listener);
    },
    /** Records an alert with the caller's executor (a transaction when the alert belongs to a change). */
    async raise(ex: Executor, tenantId: string, alert: AlertInput) {
      const row = await repo.insert(ex, {
        tenant_id: tenantId,
        id: randomUUID(),
        kind: alert.kind,
        severity: alert.severity,
        title: alert.title,
        message: alert.message,
        resource_type: alert.resourceType ?? null,
        resource_id: alert.resourceId ?? null,
      });
      const shown = alertToGraph(row);
      for (const l of raisedListeners) await l(ex, tenantId, shown);
      return shown;
    },

    async list(ctx: Ctx, options: ListOptions) {
      const r = await runList(repo.listQuery(ctx.tenantId), "t", alertEntity, options);
      return { items: r.rows.map(alertToGraph), count: r.count, skiptoken: r.skiptoken };
    },

    async get(ctx: Ctx, id: string) {
      const row = uuidRe.test(id) ? await repo.find(db, ctx.tenantId, id) : undefined;
      if (!row) throw notFound("notification", id);
      return alertToGraph(row);
    },

    /** Marks the alert seen; acknowledging it again changes nothing. */
    async acknowledge(ctx: Ctx, id: string): Promise<void> {
      if (!uuidRe.test(id)) throw notFound("notification", id);
      await db.transaction().execute(async (trx) => {
        const before = await repo.find(trx, ctx.tenantId, id);
        if (!before) throw notFound("notification", id);
        const after = await repo.acknowledge(trx, ctx.tenantId, id, new Date());
        if (!after) return;
        await deps.auditService.record(trx, ctx, {
          activity: "Acknowledge notification",
          component: "Alerts",
          operation: "Action",
          changes: [
            {
              type: ALERT_TYPE,
              id,
              displayName: after.title,
              before: { acknowledgedDateTime: null },
              after: { acknowledgedDateTime: iso(after.acknowledged_at) },
            },
          ],
        });
      });
    },
  };
}
export type AlertsService = ReturnType<typeof createAlertsService>;

// TEN-5: the audit log at Graph's /deviceManagement/auditEvents, with OData queries and CSV export.
import { stringify } from "csv-stringify/sync";
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import type { EntityDef, PropertyDef } from "../../http/odata/entity.ts";
import { collectionBody, contextUrl, parseListOptions, runList } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { notFound } from "../../lib/errors.ts";
import type { AuditRepository } from "./audit.repository.ts";

const str = (column: string): PropertyDef => ({ column, type: "string", caseInsensitive: true });
export const auditEventEntity: EntityDef = {
  typeName: "microsoft.graph.auditEvent",
  sequenceColumn: "seq",
  properties: {
    id: { column: "id", type: "guid" },
    displayName: str("display_name"),
    componentName: str("component_name"),
    category: str("category"),
    activity: str("activity"),
    activityDateTime: { column: "activity_date_time", type: "datetime" },
    activityType: str("activity_type"),
    activityOperationType: str("activity_operation_type"),
    activityResult: str("activity_result"),
    correlationId: str("correlation_id"),
    "actor/userPrincipalName": str("actor_upn"),
    "actor/applicationDisplayName": str("actor_app"),
    "actor/type": str("actor_type"),
    actor: { column: "actor", type: "string", filterable: false, sortable: false },
    resources: { column: "resources", type: "string", filterable: false, sortable: false },
    "resources/resourceId": { column: "resource_id", type: "string" },
  },
};

type Row = Record<string, any>;
/** Names come from users (a group called "=HYPERLINK(…)"); a leading quote keeps spreadsheets from running them as formulas. */
const inertCell = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function auditEventToGraph(r: Row) {
  const actor = typeof r.actor === "string" ? JSON.parse(r.actor) : r.actor;
  const resources = typeof r.resources === "string" ? JSON.parse(r.resources) : r.resources;
  return {
    id: r.id,
    displayName: r.display_name,
    componentName: r.component_name,
    category: r.category,
    activity: r.activity,
    activityDateTime: new Date(r.activity_date_time).toISOString(),
    activityType: r.activity_type,
    activityOperationType: r.activity_operation_type,
    activityResult: r.activity_result,
    correlationId: r.correlation_id,
    actor: { "@odata.type": "microsoft.graph.auditActor", auditActorType: actor.type, ...actor },
    resources: (resources as Row[]).map((x) => ({ "@odata.type": "microsoft.graph.auditResource", auditResourceType: x.type, ...x })),
  };
}

export function registerAuditRoutes(app: App, deps: { auditRepository: AuditRepository }) {
  const config = { access: "audit.read" as const };
  const tags = ["audit"];
  app.get("/deviceManagement/auditEvents", { config, schema: { tags, summary: "List audit events" } }, async (req) => {
    const ctx = ctxOf(req);
    const options = parseListOptions(req.query as Record<string, unknown>, auditEventEntity);
    const r = await runList(deps.auditRepository.listView(ctx.tenantId), "t", auditEventEntity, options);
    return collectionBody(req, "deviceManagement/auditEvents", options, { items: r.rows.map(auditEventToGraph), count: r.count, skiptoken: r.skiptoken });
  });
  app.get("/deviceManagement/auditEvents/export", { config, schema: { tags, summary: "Export audit events as CSV (accepts $filter and $orderby)" } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const q = { ...(req.query as Record<string, unknown>), $top: "999" };
    const options = parseListOptions(q, auditEventEntity);
    reply.header("content-type", "text/csv; charset=utf-8").header("content-disposition", 'attachment; filename="audit-events.csv"');
    const header = ["activityDateTime", "activity", "componentName", "activityOperationType", "activityResult", "actorType", "actor", "resourceType", "resourceId", "resourceName", "modifiedProperties", "correlationId"];
    let out = stringify([header]);
    let after: number | undefined;
    let skip = options.skip;
    for (;;) {
      const r = await runList(deps.auditRepository.listView(ctx.tenantId), "t", auditEventEntity, { ...options, after, skip });
      for (const row of r.rows) {
        const e = auditEventToGraph(row);
        const res: Row = e.resources[0] ?? {};
        const cells = [e.activityDateTime, e.activity, e.componentName, e.activityOperationType, e.activityResult, e.actor.auditActorType, e.actor.userPrincipalName ?? e.actor.applicationDisplayName ?? "", res.auditResourceType ?? "", res.resourceId ?? "", res.displayName ?? "", JSON.stringify(res.modifiedProperties ?? []), e.correlationId ?? ""];
        out += stringify([cells.map(inertCell)]);
      }
      if (!r.skiptoken) break;
      if (options.orderBy.length === 0 && options.skip === 0) after = Number(r.rows[r.rows.length - 1].seq);
      else skip += options.top;
    }
    return out;
  });
  app.get("/deviceManagement/auditEvents/:id", { config, schema: { tags, summary: "Get an audit event", params: Type.Object({ id: Type.String() }) } }, async (req) => {
    // ids are GUIDs; anything else cannot match (and must not reach the uuid column as a malformed value)
    const row = uuidRe.test(req.params.id) ? await deps.auditRepository.get(ctxOf(req).tenantId, req.params.id) : undefined;
    if (!row) throw notFound("auditEvent", req.params.id);
    return { "@odata.context": contextUrl(req, "deviceManagement/auditEvents/$entity"), ...auditEventToGraph(row) };
  });
}

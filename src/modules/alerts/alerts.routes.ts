// /beta/admin/notifications: alerts for administrators, as an OData collection, and acknowledging one.
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import { collectionBody, contextUrl, parseListOptions } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import type { LicenseAlertsService } from "./alerts.licenses.ts";
import { type AlertsService, alertEntity } from "./alerts.service.ts";

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const tags = ["alerts"];
const SettingsPatch = Type.Object(
  {
    licensesRunningOutPercent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    waitlistAlertMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 10080 })),
  },
  { additionalProperties: false },
);

export function registerAlertRoutes(
  app: App,
  deps: { alertsService: AlertsService; licenseAlertsService: LicenseAlertsService },
) {
  const svc = deps.alertsService;
  app.get(
    "/admin/alertSettings",
    {
      config: { access: "alerts.read" },
      schema: {
        tags,
        summary:
          "Thresholds of the licensing alerts: licensesRunningOutPercent (licenses left, % of the total; default 10) and waitlistAlertMinutes (at most one waitlist-growing alert per app in this many minutes; default 60)",
      },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, "admin/alertSettings/$entity"),
      ...(await deps.licenseAlertsService.getSettings(ctxOf(req))),
    }),
  );
  app.patch(
    "/admin/alertSettings",
    {
      config: { access: "notifications.manage" },
      schema: { tags, summary: "Update the thresholds of the licensing alerts", body: SettingsPatch },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, "admin/alertSettings/$entity"),
      ...(await deps.licenseAlertsService.updateSettings(ctxOf(req), req.body)),
    }),
  );
  app.get(
    "/admin/notifications",
    {
      config: { access: "alerts.read" },
      schema: {
        tags,
        summary:
          "List alerts for administrators (token expiring, revoked, taken over by another MDM, …); OData $filter, $orderby, $top, $count",
      },
    },
    async (req) => {
      const options = parseListOptions(req.query as Record<string, unknown>, alertEntity);
      return collectionBody(req, "admin/notifications", options, await svc.list(ctxOf(req), options));
    },
  );
  app.get(
    "/admin/notifications/:id",
    { config: { access: "alerts.read" }, schema: { tags, summary: "Get one alert", params: IdParam } },
    async (req) => ({
      "@odata.context": contextUrl(req, "admin/notifications/$entity"),
      ...(await svc.get(ctxOf(req), req.params.id)),
    }),
  );
  app.post(
    "/admin/notifications/:id/acknowledge",
    {
      config: { access: "alerts.acknowledge" },
      schema: {
        tags,
        summary: "Acknowledge an alert (sets acknowledgedDateTime; again is a no-op)",
        params: IdParam,
      },
    },
    async (req, reply) => {
      await svc.acknowledge(ctxOf(req), req.params.id);
      return reply.status(204).send();
    },
  );
}

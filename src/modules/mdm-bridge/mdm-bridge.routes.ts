// MDM bridge endpoints on managed devices (MDM-1, ENG-9): the MDM reports what is installed, a user
// asks for an Available app, and administrators see the commands sent for a device.
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import { contextUrl } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { badRequest } from "../../lib/errors.ts";
import type { MdmBridgeService } from "./mdm-bridge.service.ts";

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const tags = ["mdm"];

const ReportBody = Type.Object(
  {
    apps: Type.Array(
      Type.Object(
        {
          bundleId: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
          adamId: Type.Optional(Type.String({ pattern: "^[0-9]{1,20}$" })),
          version: Type.Optional(Type.String({ maxLength: 100 })),
          state: Type.Union(
            ["installed", "notInstalled", "removed", "failed", "installPending"].map((s) => Type.Literal(s)),
          ),
        },
        { additionalProperties: false },
      ),
      { maxItems: 5000 },
    ),
  },
  { additionalProperties: false },
);

const RequestBody = Type.Object(
  { mobileAppId: Type.String({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
);

export function registerMdmBridgeRoutes(app: App, deps: { mdmBridgeService: MdmBridgeService }) {
  const svc = deps.mdmBridgeService;
  app.post(
    "/deviceManagement/managedDevices/:id/reportInstalledApps",
    {
      config: { access: "devices.reportInstalls" },
      schema: {
        tags,
        summary:
          "The MDM reports the device's app inventory (by bundleId or adamId); removals confirm Uninstall assignments",
        params: IdParam,
        body: ReportBody,
      },
    },
    async (req) => {
      const body = req.body as {
        apps: { bundleId?: string; adamId?: string; version?: string; state: "installed" }[];
      };
      for (const a of body.apps)
        if (!a.bundleId && !a.adamId) throw badRequest("each app needs a bundleId or an adamId");
      return svc.reportInstalledApps(ctxOf(req), req.params.id, body.apps);
    },
  );
  app.post(
    "/deviceManagement/managedDevices/:id/requestAppInstall",
    {
      config: { access: "devices.installRequest" },
      schema: {
        tags,
        summary: "Request the install of an Available app on the device (a license is taken only now)",
        params: IdParam,
        body: RequestBody,
      },
    },
    async (req, reply) =>
      reply.status(202).send(await svc.requestAppInstall(ctxOf(req), req.params.id, req.body.mobileAppId)),
  );
  app.get(
    "/deviceAppManagement/mobileApps/:id/deviceStatuses",
    {
      config: { access: "tokens.read" },
      schema: {
        tags,
        summary:
          "Install state of the app per device, as the MDM reported it (installState: installed, installPending, removePending, removed, failed, updateAvailable)",
        params: IdParam,
      },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, `deviceAppManagement/mobileApps('${req.params.id}')/deviceStatuses`),
      value: await svc.deviceStatuses(ctxOf(req), req.params.id),
    }),
  );
  app.get(
    "/deviceManagement/managedDevices/:id/appCommands",
    {
      config: { access: "directory.read" },
      schema: { tags, summary: "Install and remove commands sent to the device's MDM", params: IdParam },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, `deviceManagement/managedDevices('${req.params.id}')/appCommands`),
      value: await svc.deviceCommands(ctxOf(req), req.params.id),
    }),
  );
}

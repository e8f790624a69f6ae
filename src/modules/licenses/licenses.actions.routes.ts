// Beta routes of revocation (REV-1, REV-2), dry runs (ENG-7) and the prompt matrix (EUX-1):
//   POST mobileApps/{id}[/microsoft.graph.iosVppApp]/revokeAllLicenses | revokeUserLicense | revokeDeviceLicense
//   POST vppTokens/{id}/revokeLicenses, POST deviceManagement/managedDevices/{id}/revokeAppleVppLicenses
//   GET  mobileApps/{id}/microsoft.graph.iosVppApp/assignedLicenses
//   POST mobileApps/{id}/previewAssign | previewMembershipChange | previewPurchase
//   GET  mobileApps/{id}/promptMatrix(managedDeviceId='…',useDeviceLicensing=true|false)
// The promptMatrix function call is a path segment with parentheses, which Fastify's router cannot
// name as a parameter: the route is `…/:id/promptMatrix*` and the rest of the segment is parsed here.
import { Type } from "typebox";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import { ctxOf } from "../../http/context.ts";
import { contextUrl, rejectUnknownOptions } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { notFound } from "../../lib/errors.ts";
import { type PreviewService, parsePromptMatrixCall } from "./licenses.preview.ts";
import type { RevocationService } from "./licenses.revoke.ts";

const tags = ["licenses"];
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) });
const AnyBody = Type.Object({}, { additionalProperties: true });
const isGuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export function registerLicenseActionRoutes(app: App, deps: { db: Kysely<DB>; revocationService: RevocationService; previewService: PreviewService }) {
  const rev = deps.revocationService;
  const pre = deps.previewService;
  const revoke = { access: "licenses.revoke" as const };
  const read = { access: "tokens.read" as const };
  const apps = "/deviceAppManagement/mobileApps/:id";

  for (const cast of ["", "/microsoft.graph.iosVppApp"]) {
    const actions = [
      ["revokeAllLicenses", "Revoke every license of the app at Apple (disassociate; does not uninstall); body {notifyManagedDevices}; 204", (req: any) => rev.revokeAll(ctxOf(req), req.params.id, req.body)],
      ["revokeUserLicense", "Revoke the app's license of one user (disassociate; does not uninstall); body {userId, notifyManagedDevices}; 204", (req: any) => rev.revokeHolder(ctxOf(req), req.params.id, "user", req.body)],
      ["revokeDeviceLicense", "Revoke the app's license of one device (disassociate; does not uninstall); body {managedDeviceId, notifyManagedDevices}; 204", (req: any) => rev.revokeHolder(ctxOf(req), req.params.id, "device", req.body)],
    ] as const;
    for (const [name, summary, run] of actions)
      app.post(`${apps}${cast}/${name}`, { config: revoke, schema: { tags, summary, params: IdParam, body: AnyBody } }, async (req, reply) => {
        await run(req);
        return reply.status(204).send();
      });
  }

  app.post(
    "/deviceAppManagement/vppTokens/:id/revokeLicenses",
    { config: revoke, schema: { tags, summary: "Revoke every license of every app of the token (disassociate per app), with revokeUntrackedLicenses also those assigned outside Allot; body {notifyManagedDevices, revokeUntrackedLicenses}; 204", params: IdParam, body: AnyBody } },
    async (req, reply) => {
      await rev.revokeToken(ctxOf(req), req.params.id, req.body);
      return reply.status(204).send();
    },
  );

  app.post(
    "/deviceManagement/managedDevices/:id/revokeAppleVppLicenses",
    { config: revoke, schema: { tags, summary: "Revoke every VPP license of the device (Apple's /assets/revoke for its serial number; does not uninstall); 204", params: IdParam } },
    async (req, reply) => {
      await rev.revokeDevice(ctxOf(req), req.params.id);
      return reply.status(204).send();
    },
  );

  app.get(
    `${apps}/microsoft.graph.iosVppApp/assignedLicenses`,
    { config: read, schema: { tags, summary: "Licenses of the app held now (iosVppAppAssignedUserLicense / iosVppAppAssignedDeviceLicense)", params: IdParam } },
    async (req) => {
      rejectUnknownOptions(req.query as Record<string, unknown>, []);
      const ctx = ctxOf(req);
      const id = req.params.id.toLowerCase();
      const appRow = isGuid(id)
        ? await deps.db.selectFrom("apps").select("id").where("tenant_id", "=", ctx.tenantId).where("id", "=", id).where("source", "=", "appleVpp").executeTakeFirst()
        : undefined;
      if (!appRow) throw notFound("mobileApp", req.params.id);
      return {
        "@odata.context": contextUrl(req, `deviceAppManagement/mobileApps('${id}')/microsoft.graph.iosVppApp/assignedLicenses`),
        value: await rev.assignedLicenses(ctx.tenantId, id),
      };
    },
  );

  const previews = [
    ["previewAssign", "Dry run of assign (same body): who would be licensed, who would wait and why, what would be released, counts and cost; nothing changes", (req: any) => pre.previewAssign(ctxOf(req), req.params.id, req.body)],
    ["previewMembershipChange", "Dry run of a membership change: body {groupId, add:[ids], remove:[ids]}; nothing changes", (req: any) => pre.previewMembershipChange(ctxOf(req), req.params.id, req.body)],
    ["previewPurchase", "Dry run of a purchase-count change: body {totalLicenseCount} (the store's total after it); nothing changes", (req: any) => pre.previewPurchase(ctxOf(req), req.params.id, req.body)],
  ] as const;
  for (const [name, summary, run] of previews)
    app.post(`${apps}/${name}`, { config: read, schema: { tags, summary, params: IdParam, body: AnyBody } }, async (req) => run(req));

  app.get(
    `${apps}/promptMatrix*`,
    {
      config: read,
      schema: {
        tags,
        summary: "promptMatrix(managedDeviceId='…',useDeviceLicensing=true|false): what the device's user is asked when the app is installed (seed 000's table; kiosk + user licensing warning)",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }), "*": Type.String({ maxLength: 400 }) }),
      },
    },
    async (req) => {
      const { managedDeviceId, useDeviceLicensing } = parsePromptMatrixCall(`promptMatrix${(req.params as { "*": string })["*"]}`);
      const r = await pre.promptMatrix(ctxOf(req), req.params.id, managedDeviceId, useDeviceLicensing);
      return { "@odata.context": contextUrl(req, "microsoft.graph.promptMatrixResult"), ...r };
    },
  );
}

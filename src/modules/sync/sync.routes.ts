// SYNC-1: `syncLicenses` on a VPP token (Graph action, v1.0 and beta), and SYNC-3: the endpoint
// Apple posts notifications to (public; the per-token bearer secret is the credential).
import { Type } from "typebox";
import { bearerOf } from "../../http/auth.ts";
import { ctxOf } from "../../http/context.ts";
import { apiVersion, contextUrl, rejectUnknownOptions } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import type { SyncService } from "./sync.service.ts";

const tags = ["tokens"];
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export function registerSyncLicensesRoutes(app: App, deps: { syncService: SyncService }) {
  // OData also accepts the action name qualified with its namespace.
  for (const action of ["syncLicenses", "microsoft.graph.syncLicenses"]) {
    app.post(
      `/deviceAppManagement/vppTokens/:id/${action}`,
      {
        config: { access: "tokens.write" },
        schema: {
          tags,
          summary:
            "Sync licenses, apps and metadata of a VPP token with Apple now (lastSyncStatus inProgress until it finishes); returns the token",
          params: IdParam,
        },
      },
      async (req) => {
        rejectUnknownOptions(req.query as Record<string, unknown>, []);
        const token = await deps.syncService.requestSync(ctxOf(req), req.params.id, apiVersion(req));
        return { "@odata.context": contextUrl(req, "deviceAppManagement/vppTokens/$entity"), ...token };
      },
    );
  }
}

export function registerNotificationRoutes(app: App, deps: { syncService: SyncService }) {
  app.post(
    "/notifications/apple/:tokenId",
    {
      config: { access: "public" },
      schema: {
        tags: ["notifications"],
        summary:
          "Apple Apps and Books notifications for one VPP token (Authorization: Bearer <the token's notification secret>)",
        params: Type.Object({ tokenId: Type.String({ minLength: 1, maxLength: 200 }) }),
      },
    },
    async (req, reply) => {
      await deps.syncService.handleNotification(req.params.tokenId, bearerOf(req), req.body);
      return reply.status(200).send();
    },
  );
}

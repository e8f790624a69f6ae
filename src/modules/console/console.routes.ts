// GET /beta/console/summary: the dashboard's waitlist and recent license events in one read.
import type { Kysely } from "kysely";
import { Type } from "typebox";
import type { DB } from "../../db/types.ts";
import { ctxOf } from "../../http/context.ts";
import type { App } from "../../http/types.ts";
import { createConsoleRepository } from "./console.repository.ts";

export function registerConsoleSummaryRoutes(app: App, deps: { db: Kysely<DB> }) {
  const repo = createConsoleRepository(deps.db);
  app.get(
    "/console/summary",
    {
      // Every role reads the dashboard (like alerts): counts and license states, no secrets.
      config: { access: "alerts.read" },
      schema: {
        tags: ["console"],
        summary:
          "Dashboard figures: waitlist size (total and the apps with most waiting) and the latest license events",
        querystring: Type.Object(
          // Query strings are not coerced (server.ts): a digit string, range-checked below.
          { events: Type.Optional(Type.String({ pattern: "^(100|[1-9][0-9]?)$", description: "how many recent license events (1–100, default 15)" })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { tenantId } = ctxOf(req);
      const [waitingCount, waitingByApp, events] = await Promise.all([
        repo.waitingTotal(tenantId),
        repo.waitingByApp(tenantId, 10),
        repo.recentEvents(tenantId, req.query.events === undefined ? 15 : Number(req.query.events)),
      ]);
      return {
        waitingCount,
        waitingByApp: waitingByApp.map((w) => ({
          appId: w.appId,
          displayName: w.displayName,
          waitingCount: Number(w.waiting),
        })),
        recentLicenseEvents: events.map((e) => ({
          appId: e.app_id,
          appDisplayName: e.display_name,
          holderType: e.holder_type,
          holderId: e.holder_id,
          fromState: e.from_state,
          toState: e.to_state,
          reason: e.reason,
          occurredDateTime: new Date(e.occurred_at as unknown as string).toISOString(),
        })),
      };
    },
  );
}

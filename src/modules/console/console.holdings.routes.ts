// GET /beta/deviceAppManagement/mobileApps/{id}/licenseHoldings: every user and device the ledger
// holds for the app — licensed, pending, waiting or failed — with the reason, so the console's app
// detail can say why anyone waits or failed (assignedLicenses lists only consuming licenses).
import { type Kysely, sql } from "kysely";
import { Type } from "typebox";
import type { DB } from "../../db/types.ts";
import { ctxOf } from "../../http/context.ts";
import { contextUrl, rejectUnknownOptions } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { notFound } from "../../lib/errors.ts";

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) });
const isGuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

interface HoldingRow {
  holder_type: "user" | "device";
  holder_id: string;
  state: string;
  reason: string | null;
  license_type: string;
  since: Date | string;
  waiting_since: Date | string | null;
  name: string | null;
  upn: string | null;
  device_name: string | null;
  serial: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export function createHoldingsRepository(db: Kysely<DB>) {
  return {
    async appExists(tenantId: string, appId: string): Promise<boolean> {
      if (!isGuid(appId)) return false;
      const r = await db
        .selectFrom("apps")
        .select("id")
        .where("tenant_id", "=", tenantId)
        .where("id", "=", appId.toLowerCase())
        .executeTakeFirst();
      return !!r;
    },
    /** Holdings of an app (released ones too, they show what was freed), queue order within each state. */
    async holdings(tenantId: string, appId: string): Promise<HoldingRow[]> {
      const r = await sql<HoldingRow>`
        select h.holder_type, h.holder_id, h.state, h.reason, h.license_type, h.since, h.waiting_since,
          coalesce(u.display_name, du.display_name) as name, coalesce(u.user_principal_name, du.user_principal_name) as upn,
          d.device_name, d.serial_number as serial
        from license_holdings h
        left join users u on h.holder_type = 'user' and u.tenant_id = h.tenant_id and u.id = h.holder_id
        left join devices d on h.holder_type = 'device' and d.tenant_id = h.tenant_id and d.id = h.holder_id
        left join users du on du.tenant_id = d.tenant_id and du.id = d.user_id
        where h.tenant_id = ${tenantId} and h.app_id = ${appId.toLowerCase()}
        order by h.holder_type desc, h.holder_seq nulls last, h.holder_id
        limit 20000`.execute(db);
      return r.rows;
    },
  };
}

export function registerHoldingsRoutes(app: App, deps: { db: Kysely<DB> }) {
  const repo = createHoldingsRepository(deps.db);
  app.get(
    "/deviceAppManagement/mobileApps/:id/licenseHoldings",
    {
      config: { access: "tokens.read" },
      schema: {
        tags: ["licenses"],
        summary:
          "Every user and device the license ledger holds for the app (assigned, pendingAssign, pendingRelease, waiting, failed, released) with the reason (e.g. insufficientLicenses)",
        params: IdParam,
      },
    },
    async (req) => {
      rejectUnknownOptions(req.query as Record<string, unknown>, []);
      const { tenantId } = ctxOf(req);
      if (!(await repo.appExists(tenantId, req.params.id))) throw notFound("mobileApp", req.params.id);
      const rows = await repo.holdings(tenantId, req.params.id);
      return {
        "@odata.context": contextUrl(
          req,
          `deviceAppManagement/mobileApps('${req.params.id.toLowerCase()}')/licenseHoldings`,
        ),
        value: rows.map((h) => ({
          holderType: h.holder_type,
          holderId: h.holder_id,
          displayName: h.holder_type === "device" ? (h.device_name ?? h.serial) : h.name,
          userPrincipalName: h.upn,
          serialNumber: h.serial,
          state: h.state,
          reason: h.reason,
          licenseType: h.license_type,
          sinceDateTime: iso(h.since),
          waitingSinceDateTime: iso(h.waiting_since),
        })),
      };
    },
  );
}

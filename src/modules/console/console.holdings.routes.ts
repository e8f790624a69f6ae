// License-ledger read routes of the console (SQL in console.holdings.repository.ts):
// - GET /beta/deviceAppManagement/mobileApps/{id}/licenseHoldings: every user and device the ledger
//   holds for the app — licensed, pending, waiting, failed or released — with the reason, so the app
//   detail can say why anyone waits or failed (assignedLicenses lists only consuming licenses).
// - GET /beta/users/{id|upn}/licenseHoldings and /beta/deviceManagement/managedDevices/{id}/licenseHoldings:
//   the holder's holdings across apps in one read. Released holdings are left out unless asked for
//   with $filter=state eq 'released' (any state may be asked for that way; `in` takes several).
// - GET /beta/deviceAppManagement/mobileApps/{id}/licenseHistory: the app's license events, newest
//   first, keyset-paged ($top ≤ 1000, @odata.nextLink), optionally for some holders ($filter on
//   holderId / holderType): who held the license when.
import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import { Type } from "typebox";
import type { DB } from "../../db/types.ts";
import { ctxOf } from "../../http/context.ts";
import { type FilterNode, type Literal, parseFilter } from "../../http/odata/filter-parser.ts";
import { contextUrl, nextLink, readOption, rejectUnknownOptions } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { badRequest, notFound } from "../../lib/errors.ts";
import {
  createHoldingsRepository,
  type HistoryCursor,
  type HistoryQuery,
  type HoldingState,
  holdingStates,
  isGuid,
} from "./console.holdings.repository.ts";

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 1024 }) });
const tags = ["licenses"];
const access = { access: "tokens.read" as const };
type Q = Record<string, unknown>;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const propertyName = (p: { path: string[] }) => p.path.join("/").toLowerCase();
const literalText = (l: Literal) => (l.type === "string" || l.type === "guid" ? String(l.value) : undefined);

const HOLDER_FILTER_HELP =
  "$filter on licenseHoldings supports only state eq '<state>' or state in ('<state>', …) (states: " +
  `${holdingStates.join(", ")}).`;

/** States asked for by `$filter` (default: every state but released). */
export function holderStates(raw: string | undefined): HoldingState[] {
  if (raw === undefined) return holdingStates.filter((s) => s !== "released");
  const node = parseFilter(raw);
  const state = (l: Literal): HoldingState => {
    const v = literalText(l);
    const found = holdingStates.find((s) => s.toLowerCase() === v?.toLowerCase());
    if (!found) throw badRequest(`Unknown license holding state '${String(l.value)}'. ${HOLDER_FILTER_HELP}`);
    return found;
  };
  if (node.kind === "compare" && node.op === "eq" && propertyName(node.left) === "state")
    return [state(node.right)];
  if (node.kind === "in" && propertyName(node.property) === "state")
    return [...new Set(node.values.map(state))];
  throw badRequest(`Unsupported $filter '${raw}'. ${HOLDER_FILTER_HELP}`);
}

const HISTORY_FILTER_HELP =
  "$filter on licenseHistory supports only holderId eq '<id>', holderId in ('<id>', …) and holderType eq 'user'|'device', joined with 'and'.";
const MAX_HOLDER_IDS = 200;

/** `$filter` of licenseHistory → holder conditions (anything else is a 400 that says what is supported). */
export function historyFilter(raw: string | undefined): Pick<HistoryQuery, "holderIds" | "holderType"> {
  const out: Pick<HistoryQuery, "holderIds" | "holderType"> = { holderIds: [] };
  if (raw === undefined) return out;
  const unsupported = () => badRequest(`Unsupported $filter '${raw}'. ${HISTORY_FILTER_HELP}`);
  const holderId = (l: Literal) => {
    const v = literalText(l);
    if (v === undefined || !isGuid(v)) throw badRequest(`holderId must be a GUID, not '${String(l.value)}'.`);
    return v.toLowerCase();
  };
  const walk = (n: FilterNode): void => {
    if (n.kind === "and") {
      walk(n.left);
      walk(n.right);
    } else if (n.kind === "compare" && n.op === "eq" && propertyName(n.left) === "holderid") {
      out.holderIds.push([holderId(n.right)]);
    } else if (n.kind === "in" && propertyName(n.property) === "holderid") {
      if (n.values.length === 0 || n.values.length > MAX_HOLDER_IDS)
        throw badRequest(`holderId in (…) takes 1 to ${MAX_HOLDER_IDS} ids.`);
      out.holderIds.push(n.values.map(holderId));
    } else if (n.kind === "compare" && n.op === "eq" && propertyName(n.left) === "holdertype") {
      const v = literalText(n.right);
      if (v !== "user" && v !== "device")
        throw badRequest(`holderType must be 'user' or 'device', not '${String(n.right.value)}'.`);
      if (out.holderType && out.holderType !== v) throw unsupported();
      out.holderType = v;
    } else throw unsupported();
  };
  walk(parseFilter(raw));
  return out;
}

function historyTop(raw: string | undefined): number {
  if (raw === undefined) return 100;
  const top = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(top >= 1 && top <= 1000))
    throw badRequest(`Invalid value '${raw}' for $top: it must be between 1 and 1000.`);
  return top;
}

const encodeCursor = (c: HistoryCursor) =>
  Buffer.from(JSON.stringify({ t: c.at, s: c.seq })).toString("base64url");
function decodeCursor(token: string | undefined): HistoryCursor | undefined {
  if (token === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      typeof v?.t === "string" &&
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/.test(v.t) &&
      typeof v.s === "string" &&
      /^\d{1,18}$/.test(v.s)
    )
      return { at: v.t, seq: v.s };
  } catch {
    // fall through
  }
  throw badRequest("The $skiptoken is not valid; follow @odata.nextLink as returned.");
}

export function registerHoldingsRoutes(app: App, deps: { db: Kysely<DB> }) {
  const repo = createHoldingsRepository(deps.db);

  app.get(
    "/deviceAppManagement/mobileApps/:id/licenseHoldings",
    {
      config: access,
      schema: {
        tags,
        summary:
          "Every user and device the license ledger holds for the app (assigned, pendingAssign, pendingRelease, waiting, failed, released) with the reason (e.g. insufficientLicenses)",
        params: IdParam,
      },
    },
    async (req) => {
      rejectUnknownOptions(req.query as Q, []);
      const { tenantId } = ctxOf(req);
      if (!(await repo.appExists(tenantId, req.params.id))) throw notFound("mobileApp", req.params.id);
      const rows = await repo.appHoldings(tenantId, req.params.id);
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

  const holderRoute = async (
    req: FastifyRequest<{ Params: { id: string } }>,
    holderType: "user" | "device",
  ) => {
    rejectUnknownOptions(req.query as Q, ["filter"]);
    const states = holderStates(readOption(req.query as Q, "filter"));
    const { tenantId } = ctxOf(req);
    const id =
      holderType === "user"
        ? await repo.userId(tenantId, req.params.id)
        : await repo.deviceId(tenantId, req.params.id);
    if (!id) throw notFound(holderType === "user" ? "user" : "managedDevice", req.params.id);
    const rows = await repo.holderHoldings(tenantId, holderType, id, states);
    const fragment = holderType === "user" ? `users('${id}')` : `deviceManagement/managedDevices('${id}')`;
    return {
      "@odata.context": contextUrl(req, `${fragment}/licenseHoldings`),
      value: rows.map((h) => ({
        appId: h.app_id,
        appDisplayName: h.app_name,
        appType: h.odata_type.replace(/^#?microsoft\.graph\./, ""),
        holderType,
        holderId: id,
        licenseType: h.license_type,
        state: h.state,
        reason: h.reason,
        sinceDateTime: iso(h.since),
        waitingSinceDateTime: iso(h.waiting_since),
      })),
    };
  };
  const holderSummary = (who: string) =>
    `Every license the ledger holds for the ${who} across apps (assigned, pendingAssign, pendingRelease, waiting, failed) with the reason; released ones only with $filter=state eq 'released'`;
  app.get(
    "/users/:id/licenseHoldings",
    {
      config: access,
      schema: { tags, summary: holderSummary("user (by id or userPrincipalName)"), params: IdParam },
    },
    (req) => holderRoute(req, "user"),
  );
  app.get(
    "/deviceManagement/managedDevices/:id/licenseHoldings",
    { config: access, schema: { tags, summary: holderSummary("managed device"), params: IdParam } },
    (req) => holderRoute(req, "device"),
  );

  app.get(
    "/deviceAppManagement/mobileApps/:id/licenseHistory",
    {
      config: access,
      schema: {
        tags,
        summary:
          "The app's license events (who held the license when), newest first; $top (≤ 1000, default 100) with @odata.nextLink; $filter on holderId (eq, in) and holderType (eq)",
        params: IdParam,
      },
    },
    async (req) => {
      const q = req.query as Q;
      rejectUnknownOptions(q, ["top", "filter", "skiptoken"]);
      const top = historyTop(readOption(q, "top"));
      const filter = historyFilter(readOption(q, "filter"));
      const after = decodeCursor(readOption(q, "skiptoken"));
      const { tenantId } = ctxOf(req);
      if (!(await repo.appExists(tenantId, req.params.id))) throw notFound("mobileApp", req.params.id);
      const fetched = await repo.history(tenantId, req.params.id, { ...filter, top, after });
      const rows = fetched.slice(0, top);
      const last = rows[rows.length - 1];
      const body: Record<string, unknown> = {
        "@odata.context": contextUrl(
          req,
          `deviceAppManagement/mobileApps('${req.params.id.toLowerCase()}')/licenseHistory`,
        ),
        value: rows.map((e) => ({
          id: String(e.seq),
          holderType: e.holder_type,
          holderId: e.holder_id,
          holderDisplayName: e.holder_type === "device" ? (e.device_name ?? e.serial) : e.user_name,
          holderUserPrincipalName: e.holder_type === "user" ? e.upn : null,
          fromState: e.from_state,
          toState: e.to_state,
          reason: e.reason,
          occurredDateTime: iso(e.occurred_at),
        })),
      };
      if (fetched.length > top && last)
        body["@odata.nextLink"] = nextLink(
          req,
          encodeCursor({ at: last.occurred_key, seq: String(last.seq) }),
        );
      return body;
    },
  );
}

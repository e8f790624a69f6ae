// Apple's App and Book Management API v2 under /mdm/v2 (reference §3–§8), and the two legacy v1
// calls Apple's examples show (VPPClientConfigSrv, getAssignments) under /mdm.
//
// Pipeline of every request: latency → route (404) → method (405/9726) → injected failNext →
// token (9722/9622/9625/9621) → rate limit (429/9646) → Content-Type on POST (415/9727) → JSON
// body (9602) → synchronous validation → work. A request rejected at any step changes nothing.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorCore } from "./core.ts";
import { AppleApiError, defaultHttpStatus, errorMessage, serviceConfigFixture } from "./errors.ts";
import { type AssetRef, type EventType, type RequestUser, responseUser } from "./events.ts";
import { takeFailNext } from "./faults.ts";
import { BodyTooLargeError, isJsonContentType, readBody, sendJson, sleep } from "./http.ts";
import { notificationUrlAllowed } from "./notifier.ts";
import {
  type AssetRec,
  type AssignmentRec,
  type Location,
  Segments,
  type TokenRec,
  type UserRec,
} from "./state.ts";

interface ApiRequest {
  tok: TokenRec;
  query: URLSearchParams;
  body: unknown;
}

type Handler = (
  core: EmulatorCore,
  r: ApiRequest,
) => Promise<Record<string, unknown>> | Record<string, unknown>;

interface Route {
  auth: boolean;
  GET?: Handler;
  POST?: Handler;
}

const ALL_NOTIFICATION_TYPES = [
  "TEST_NOTIFICATION",
  "ASSET_MANAGEMENT",
  "USER_MANAGEMENT",
  "USER_ASSOCIATED",
  "ASSET_COUNT",
  "SUBSCRIPTION_MANAGEMENT",
  "SUBSCRIPTION_COUNT",
  "UNLIMITED_ASSET",
];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}

// ----- query parameters -----

function boolParam(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new AppleApiError(9602);
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) throw new AppleApiError(9602);
  return Number(v);
}

function enumParam(q: URLSearchParams, name: string, allowed: string[]): string | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  if (!allowed.includes(v)) throw new AppleApiError(9602);
  return v;
}

interface Page<T> {
  items: T[];
  paging: Record<string, unknown>;
}

function paginate<T>(
  core: EmulatorCore,
  list: { length: number; slice(a: number, b: number): T[] },
  q: URLSearchParams,
): Page<T> {
  const pageIndex = intParam(q, "pageIndex") ?? 0;
  const size = Math.max(1, core.options.pageSize);
  const totalPages = Math.ceil(list.length / size);
  if (pageIndex < 0 || (pageIndex > 0 && pageIndex >= totalPages)) throw new AppleApiError(9650);
  const items = list.slice(pageIndex * size, Math.min(list.length, (pageIndex + 1) * size));
  const paging: Record<string, unknown> = { currentPageIndex: pageIndex, size: items.length, totalPages };
  if (pageIndex + 1 < totalPages) paging.nextPageIndex = pageIndex + 1;
  return { items, paging };
}

// ----- serialisation -----

export function assetJson(loc: Location, a: AssetRec): Record<string, unknown> {
  return {
    adamId: a.adamId,
    assignedCount: a.assigned,
    availableCount: loc.available(a),
    deviceAssignable: a.deviceAssignable,
    pricingParam: a.pricingParam,
    productType: a.productType,
    retiredCount: a.retired,
    revocable: a.revocable,
    supportedPlatforms: [...a.supportedPlatforms],
    totalCount: a.total,
  };
}

function unlimitedAssetJson(a: AssetRec): Record<string, unknown> {
  return {
    adamId: a.adamId,
    assignedCount: a.assigned,
    deviceAssignable: a.deviceAssignable,
    pricingParam: a.pricingParam,
    productType: a.productType,
    revocable: a.revocable,
    supportedPlatforms: [...a.supportedPlatforms],
  };
}

export function assignmentJson(rec: AssignmentRec, includeUserState = false): Record<string, unknown> {
  const o: Record<string, unknown> = { adamId: rec.asset.adamId };
  if (rec.user) o.clientUserId = rec.user.clientUserId;
  o.pricingParam = rec.asset.pricingParam;
  if (rec.serial !== null) o.serialNumber = rec.serial;
  if (includeUserState && rec.user) {
    if (rec.user.idHash !== undefined) o.idHash = rec.user.idHash;
    o.userStatus = rec.user.status;
  }
  if (rec.removed) o.removed = true;
  return o;
}

// ----- handlers -----

function serviceConfig(core: EmulatorCore): Record<string, unknown> {
  const base = core.publicUrl;
  const urls: Record<string, string> = {};
  for (const [key, value] of Object.entries(serviceConfigFixture.urls)) {
    urls[key] = value
      .replace("https://vpp.itunes.apple.com", base)
      .replace("https://uclient-api.itunes.apple.com", base)
      .replace("https://buy.itunes.apple.com", base);
  }
  return {
    errorCodes: serviceConfigFixture.errorCodes.map((e) => ({ ...e })),
    limits: { ...core.limits },
    notificationTypes: [...serviceConfigFixture.notificationTypes],
    urls,
  };
}

function clientConfigBody(loc: Location): Record<string, unknown> {
  const out: Record<string, unknown> = {
    countryISO2ACode: loc.countryISO2ACode,
    defaultPlatform: loc.defaultPlatform,
    locationName: loc.locationName,
  };
  if (loc.notificationAuthToken !== undefined) out.notificationAuthToken = loc.notificationAuthToken;
  if (loc.notificationUrl !== undefined) out.notificationUrl = loc.notificationUrl;
  out.subscribedNotificationTypes = [...loc.subscribedTypes];
  out.websiteURL = loc.websiteURL;
  return out;
}

async function postClientConfig(core: EmulatorCore, r: ApiRequest): Promise<Record<string, unknown>> {
  const loc = r.tok.location;
  const b = r.body;
  if (!isObject(b)) throw new AppleApiError(9602);
  const limits = core.limits;
  let mdmInfo: Location["mdmInfo"] | undefined;
  if (b.mdmInfo !== undefined && b.mdmInfo !== null) {
    const m = b.mdmInfo;
    if (!isObject(m)) throw new AppleApiError(9723);
    const { id, name, metadata } = m;
    if (
      typeof id !== "string" ||
      typeof name !== "string" ||
      typeof metadata !== "string" ||
      !id ||
      !name ||
      !metadata
    )
      throw new AppleApiError(9723);
    if (id.length > (limits.maxMdmIdLength ?? 100)) throw new AppleApiError(9724);
    if (name.length > (limits.maxMdmNameLength ?? 100)) throw new AppleApiError(9725);
    if (metadata.length > (limits.maxMdmMetadataLength ?? 255)) throw new AppleApiError(9713);
    mdmInfo = { id, name, metadata };
  }
  const url = b.notificationUrl;
  const token = b.notificationAuthToken;
  const hasUrl = url !== undefined && url !== null;
  const hasToken = token !== undefined && token !== null;
  if (hasUrl !== hasToken) throw new AppleApiError(9710);
  if (hasUrl && (typeof url !== "string" || typeof token !== "string")) throw new AppleApiError(9602);
  const clearing = hasUrl && url === "" && token === "";
  if (hasUrl && !clearing) {
    if (url === "" || token === "") throw new AppleApiError(9710);
    const maxLen = limits.maxNotificationLength ?? 512;
    if ((url as string).length > maxLen || (token as string).length > maxLen) throw new AppleApiError(9711);
    if (!notificationUrlAllowed(url as string, core.options.strictHttps)) throw new AppleApiError(9712);
  }
  let types: string[] | undefined;
  if (b.notificationTypes !== undefined && b.notificationTypes !== null) {
    if (
      !Array.isArray(b.notificationTypes) ||
      !b.notificationTypes.every((t) => ALL_NOTIFICATION_TYPES.includes(t as string))
    )
      throw new AppleApiError(9602);
    types = [...new Set(b.notificationTypes as string[])];
  }
  if (hasUrl && !clearing) {
    const delivered = await core.notifier.sendTest(loc.uId, url as string, token as string);
    if (!delivered) throw new AppleApiError(9728);
  }
  if (mdmInfo) loc.mdmInfo = mdmInfo;
  if (hasUrl) {
    loc.notificationUrl = clearing ? undefined : (url as string);
    loc.notificationAuthToken = clearing ? undefined : (token as string);
  }
  if (types) loc.subscribedTypes = types;
  return clientConfigBody(loc);
}

function getAssets(core: EmulatorCore, r: ApiRequest): Record<string, unknown> {
  const loc = r.tok.location;
  const q = r.query;
  const productType = enumParam(q, "productType", ["App", "Book"]);
  const pricingParam = enumParam(q, "pricingParam", ["STDQ", "PLUS"]);
  const revocable = boolParam(q, "revocable");
  const deviceAssignable = boolParam(q, "deviceAssignable");
  const unlimited = boolParam(q, "unlimited");
  const minAvailable = intParam(q, "minAvailableCount");
  const maxAvailable = intParam(q, "maxAvailableCount");
  const minAssigned = intParam(q, "minAssignedCount");
  const maxAssigned = intParam(q, "maxAssignedCount");
  const adamId = q.get("adamId") || undefined;
  const list = loc.assets.filter((a) => {
    if (adamId !== undefined && a.adamId !== adamId) return false;
    if (productType !== undefined && a.productType !== productType) return false;
    if (pricingParam !== undefined && a.pricingParam !== pricingParam) return false;
    if (revocable !== undefined && a.revocable !== revocable) return false;
    if (deviceAssignable !== undefined && a.deviceAssignable !== deviceAssignable) return false;
    if (unlimited === false && a.unlimited) return false;
    const available = loc.available(a);
    if (minAvailable !== undefined && available < minAvailable) return false;
    if (maxAvailable !== undefined && available > maxAvailable) return false;
    if (minAssigned !== undefined && a.assigned < minAssigned) return false;
    if (maxAssigned !== undefined && a.assigned > maxAssigned) return false;
    return true;
  });
  const page = paginate(core, list, q);
  const out: Record<string, unknown> = {
    ...page.paging,
    assets: page.items.filter((a) => !(unlimited === true && a.unlimited)).map((a) => assetJson(loc, a)),
    versionId: loc.versionIds.assets,
  };
  if (unlimited === true) out.unlimitedAssets = page.items.filter((a) => a.unlimited).map(unlimitedAssetJson);
  return out;
}

interface AssignmentFilters {
  adamId?: string;
  pricingParam?: string;
  clientUserId?: string;
  serialNumber?: string;
  excludeInactiveUsers: boolean;
}

function matchesAssignment(rec: AssignmentRec, f: AssignmentFilters): boolean {
  if (f.adamId !== undefined && rec.asset.adamId !== f.adamId) return false;
  if (f.pricingParam !== undefined && rec.asset.pricingParam !== f.pricingParam) return false;
  if (f.clientUserId !== undefined && rec.user?.clientUserId !== f.clientUserId) return false;
  if (f.serialNumber !== undefined && rec.serial !== f.serialNumber) return false;
  if (f.excludeInactiveUsers && rec.user && (rec.user.status === "Retired" || rec.user.status === "Deleted"))
    return false;
  return true;
}

function getAssignments(core: EmulatorCore, r: ApiRequest): Record<string, unknown> {
  const loc = r.tok.location;
  const q = r.query;
  const f: AssignmentFilters = {
    adamId: q.get("adamId") || undefined,
    pricingParam: enumParam(q, "pricingParam", ["STDQ", "PLUS"]),
    clientUserId: q.get("clientUserId") || undefined,
    serialNumber: q.get("serialNumber") || undefined,
    excludeInactiveUsers: boolParam(q, "excludeInactiveUsers") ?? false,
  };
  const includeUserState = boolParam(q, "includeUserState") ?? false;
  const since = q.get("sinceVersionId") || undefined;
  const key = JSON.stringify(f);
  let list: { length: number; slice(a: number, b: number): AssignmentRec[] };
  if (since !== undefined) {
    const seq = loc.versionSeq("assignments", since);
    if (seq === undefined) throw new AppleApiError(9721);
    list = loc.cached(`since:${since}:${key}`, () =>
      loc.assignmentsChangedSince(seq).filter((a) => matchesAssignment(a, f)),
    );
  } else if (f.clientUserId !== undefined) {
    const rows = loc.usersById.get(f.clientUserId) ?? [];
    list = rows.flatMap((u) => u.assignments).filter((a) => matchesAssignment(a, f));
  } else if (f.serialNumber !== undefined) {
    list = loc.assignmentsOfSerial(f.serialNumber).filter((a) => matchesAssignment(a, f));
  } else {
    const assets = loc.assets.filter(
      (a) =>
        (f.adamId === undefined || a.adamId === f.adamId) &&
        (f.pricingParam === undefined || a.pricingParam === f.pricingParam),
    );
    if (f.excludeInactiveUsers && loc.retiredAssignmentCount > 0) {
      list = loc.cached(`all:${key}`, () =>
        assets.flatMap((a) => a.assignments.filter((x) => matchesAssignment(x, f))),
      );
    } else {
      list = new Segments(assets.map((a) => a.assignments));
    }
  }
  const page = paginate(core, list, q);
  return {
    ...page.paging,
    assignments: page.items.map((a) => assignmentJson(a, includeUserState)),
    versionId: loc.versionIds.assignments,
  };
}

function getUsers(core: EmulatorCore, r: ApiRequest): Record<string, unknown> {
  const loc = r.tok.location;
  const q = r.query;
  const activeOnly = boolParam(q, "activeOnly") ?? false;
  const retiredOnly = boolParam(q, "retiredOnly") ?? false;
  const clientUserId = q.get("clientUserId") || undefined;
  const since = q.get("sinceVersionId") || undefined;
  const match = (u: UserRec) =>
    (!activeOnly || u.status === "Registered" || u.status === "Associated") &&
    (!retiredOnly || u.status === "Retired") &&
    (clientUserId === undefined || u.clientUserId === clientUserId);
  let list: { length: number; slice(a: number, b: number): UserRec[] };
  const key = `${activeOnly}:${retiredOnly}:${clientUserId ?? ""}`;
  if (since !== undefined) {
    const seq = loc.versionSeq("users", since);
    if (seq === undefined) throw new AppleApiError(9721);
    list = loc.cached(`users-since:${since}:${key}`, () => loc.usersChangedSince(seq).filter(match));
  } else if (clientUserId !== undefined) {
    list = (loc.usersById.get(clientUserId) ?? []).filter(match);
  } else if (activeOnly || retiredOnly) {
    list = loc.cached(`users:${key}`, () => loc.users.filter(match));
  } else {
    list = loc.users;
  }
  const page = paginate(core, list, q);
  return { ...page.paging, users: page.items.map((u) => responseUser(u)), versionId: loc.versionIds.users };
}

function stringArray(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && s.length > 0))
    throw new AppleApiError(9602);
  return v as string[];
}

function hasDuplicates(values: string[]): boolean {
  return new Set(values).size !== values.length;
}

function manageAssets(eventType: EventType): Handler {
  return (core, r) => {
    const loc = r.tok.location;
    const b = r.body;
    if (!isObject(b)) throw new AppleApiError(9602);
    if (b.assets !== undefined && b.assets !== null && !Array.isArray(b.assets))
      throw new AppleApiError(9602);
    const rawAssets = (b.assets ?? []) as unknown[];
    if (rawAssets.length === 0) throw new AppleApiError(9718);
    const assets: AssetRef[] = rawAssets.map((a) => {
      if (!isObject(a) || typeof a.adamId !== "string" || a.adamId === "") throw new AppleApiError(9602);
      if (
        a.pricingParam !== undefined &&
        a.pricingParam !== null &&
        a.pricingParam !== "STDQ" &&
        a.pricingParam !== "PLUS"
      )
        throw new AppleApiError(9602);
      return a.pricingParam
        ? { adamId: a.adamId, pricingParam: a.pricingParam as string }
        : { adamId: a.adamId };
    });
    const clientUserIds = stringArray(b.clientUserIds) ?? [];
    const serialNumbers = stringArray(b.serialNumbers) ?? [];
    if (clientUserIds.length === 0 && serialNumbers.length === 0) throw new AppleApiError(9719);
    const limits = core.limits;
    const assetKeys = assets.map((a) => `${a.adamId}/${a.pricingParam ?? ""}`);
    if (new Set(assetKeys).size > (limits.maxAssets ?? 25)) throw new AppleApiError(9700);
    if (new Set(clientUserIds).size > (limits.maxClientUserIds ?? 1000)) throw new AppleApiError(9701);
    if (new Set(serialNumbers).size > (limits.maxSerialNumbers ?? 1000)) throw new AppleApiError(9702);
    if (hasDuplicates(assetKeys)) throw new AppleApiError(9703);
    if (hasDuplicates(clientUserIds)) throw new AppleApiError(9704);
    if (hasDuplicates(serialNumbers)) throw new AppleApiError(9705);
    const resolved = assets.map((a) => ({ ref: a, asset: loc.findAsset(a.adamId, a.pricingParam) }));
    if (serialNumbers.length > 0) {
      const bad = resolved.filter((x) => x.asset && !x.asset.deviceAssignable);
      if (bad.length > 0)
        throw new AppleApiError(9707, {
          errorInfo: {
            assets: bad.map((x) => ({ adamId: x.asset!.adamId, pricingParam: x.asset!.pricingParam })),
          },
        });
    }
    if (eventType === "DISASSOCIATE") {
      const bad = resolved.filter((x) => x.asset && !x.asset.revocable);
      if (bad.length > 0)
        throw new AppleApiError(9706, {
          errorInfo: {
            assets: bad.map((x) => ({ adamId: x.asset!.adamId, pricingParam: x.asset!.pricingParam })),
          },
        });
    }
    if (core.options.unknownUserSync) {
      const unknown = clientUserIds.filter((id) => !loc.activeUsers.has(id));
      if (unknown.length > 0) throw new AppleApiError(9609, { errorInfo: { clientUserIds: unknown } });
    }
    const ev = core.events.submit(loc, eventType, { kind: "assets", assets, clientUserIds, serialNumbers });
    return { eventId: ev.eventId };
  };
}

function revokeAssets(core: EmulatorCore, r: ApiRequest): Record<string, unknown> {
  const loc = r.tok.location;
  const b = r.body;
  if (!isObject(b)) throw new AppleApiError(9602);
  const clientUserIds = stringArray(b.clientUserIds) ?? [];
  const serialNumbers = stringArray(b.serialNumbers) ?? [];
  if (clientUserIds.length === 0 && serialNumbers.length === 0) throw new AppleApiError(9719);
  if (new Set(clientUserIds).size > (core.limits.maxRevokeClientUserIds ?? 100))
    throw new AppleApiError(9701);
  if (new Set(serialNumbers).size > (core.limits.maxRevokeSerialNumbers ?? 100))
    throw new AppleApiError(9702);
  if (hasDuplicates(clientUserIds)) throw new AppleApiError(9704);
  if (hasDuplicates(serialNumbers)) throw new AppleApiError(9705);
  if (core.options.unknownUserSync) {
    const unknown = clientUserIds.filter((id) => !loc.activeUsers.has(id));
    if (unknown.length > 0) throw new AppleApiError(9609, { errorInfo: { clientUserIds: unknown } });
  }
  const assignments: AssignmentRec[] = [];
  for (const id of clientUserIds) {
    const user = loc.activeUsers.get(id);
    if (user) for (const rec of user.assignments) if (rec.asset.revocable) assignments.push(rec);
  }
  for (const s of serialNumbers)
    for (const rec of loc.assignmentsOfSerial(s)) if (rec.asset.revocable) assignments.push(rec);
  const ev = core.events.submit(loc, "REVOKE", { kind: "revoke", assignments });
  return { eventId: ev.eventId };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function manageUsers(eventType: EventType): Handler {
  return (core, r) => {
    const loc = r.tok.location;
    const b = r.body;
    if (!isObject(b)) throw new AppleApiError(9602);
    if (b.users === undefined || b.users === null) throw new AppleApiError(9720);
    if (!Array.isArray(b.users)) throw new AppleApiError(9602);
    if (b.users.length === 0) throw new AppleApiError(9720);
    if (b.users.length > (core.limits.maxUsers ?? 100)) throw new AppleApiError(9714);
    const users: RequestUser[] = b.users.map((u) => {
      if (!isObject(u) || typeof u.clientUserId !== "string" || u.clientUserId === "")
        throw new AppleApiError(9602);
      for (const k of ["email", "managedAppleId"] as const)
        if (u[k] !== undefined && u[k] !== null && typeof u[k] !== "string") throw new AppleApiError(9602);
      const out: RequestUser = { clientUserId: u.clientUserId };
      if (typeof u.email === "string") out.email = u.email;
      if (typeof u.managedAppleId === "string" && eventType !== "RETIRE")
        out.managedAppleId = u.managedAppleId;
      return out;
    });
    if (hasDuplicates(users.map((u) => u.clientUserId))) throw new AppleApiError(9715);
    const badEmail = users.filter((u) => u.email !== undefined && !EMAIL.test(u.email));
    if (badEmail.length > 0)
      throw new AppleApiError(9717, { errorInfo: { clientUserIds: badEmail.map((u) => u.clientUserId) } });
    const ev = core.events.submit(loc, eventType, { kind: "users", users });
    return { eventId: ev.eventId };
  };
}

function eventStatus(core: EmulatorCore, r: ApiRequest): Record<string, unknown> {
  const id = r.query.get("eventId");
  if (!id) throw new AppleApiError(9708);
  const ev = core.events.get(r.tok.location, id);
  if (!ev) throw new AppleApiError(9708);
  return core.events.statusBody(ev);
}

const v2Routes: Record<string, Route> = {
  "/service/config": { auth: false, GET: (core) => serviceConfig(core) },
  "/client/config": {
    auth: true,
    GET: (_core, r) => clientConfigBody(r.tok.location),
    POST: postClientConfig,
  },
  "/assets": { auth: true, GET: getAssets },
  "/assignments": { auth: true, GET: getAssignments },
  "/assets/associate": { auth: true, POST: manageAssets("ASSOCIATE") },
  "/assets/disassociate": { auth: true, POST: manageAssets("DISASSOCIATE") },
  "/assets/revoke": { auth: true, POST: revokeAssets },
  "/users": { auth: true, GET: getUsers },
  "/users/create": { auth: true, POST: manageUsers("CREATE") },
  "/users/update": { auth: true, POST: manageUsers("UPDATE") },
  "/users/retire": { auth: true, POST: manageUsers("RETIRE") },
  "/status": { auth: true, GET: eventStatus },
};

// ----- legacy v1 (POST with sToken in the body; errors as {status:-1, errorNumber, errorMessage}) -----

function legacyClientConfig(
  core: EmulatorCore,
  tok: TokenRec,
  b: Record<string, unknown>,
): Record<string, unknown> {
  const loc = tok.location;
  if (typeof b.clientContext === "string" && !loc.mdmInfo) loc.legacyClientContext = b.clientContext;
  const ids = core.legacyIds(loc);
  const out: Record<string, unknown> = { appleId: loc.appleId };
  const context = loc.mdmInfo ? "token being used in v2" : loc.legacyClientContext;
  if (context !== undefined) out.clientContext = context;
  Object.assign(out, {
    countryCode: loc.countryISO2ACode,
    defaultPlatform: loc.defaultPlatform,
    email: loc.appleId,
    expirationMillis: tok.expDate,
    location: { locationId: ids.locationId, locationName: loc.locationName },
    organizationId: ids.organizationId,
    organizationIdHash: ids.organizationIdHash,
    status: 0,
    uId: loc.uId,
  });
  return out;
}

function legacyGetAssignments(
  core: EmulatorCore,
  tok: TokenRec,
  b: Record<string, unknown>,
): Record<string, unknown> {
  const loc = tok.location;
  const adamId = typeof b.adamIdStr === "string" ? b.adamIdStr : undefined;
  const clientUserId = typeof b.clientUserIdStr === "string" ? b.clientUserIdStr : undefined;
  const serial = typeof b.serialNumber === "string" ? b.serialNumber : undefined;
  let all: AssignmentRec[];
  if (clientUserId !== undefined) all = loc.activeUsers.get(clientUserId)?.assignments ?? [];
  else if (serial !== undefined) all = loc.assignmentsOfSerial(serial);
  else all = loc.assets.flatMap((a) => a.assignments);
  const rows = all.filter((a) => adamId === undefined || a.asset.adamId === adamId);
  const size = Math.max(1, core.options.pageSize);
  const pageIndex = typeof b.pageIndex === "number" ? b.pageIndex : 0;
  const totalPages = Math.max(1, Math.ceil(rows.length / size));
  if (!Number.isInteger(pageIndex) || pageIndex < 0 || pageIndex >= totalPages) throw new AppleApiError(9650);
  const page = rows.slice(pageIndex * size, (pageIndex + 1) * size);
  const ids = core.legacyIds(loc);
  return {
    assignments: page.map((a) => {
      const o: Record<string, unknown> = { adamIdStr: a.asset.adamId };
      if (a.user) o.clientUserIdStr = a.user.clientUserId;
      else o.serialNumber = a.serial;
      o.pricingParam = a.asset.pricingParam;
      return o;
    }),
    assignmentsInCurrentPage: page.length,
    currentPageIndex: pageIndex,
    expirationMillis: tok.expDate,
    location: { locationId: ids.locationId, locationName: loc.locationName },
    status: 0,
    totalAssignments: rows.length,
    totalPages,
    uId: loc.uId,
  };
}

const v1Routes: Record<
  string,
  (core: EmulatorCore, tok: TokenRec, b: Record<string, unknown>) => Record<string, unknown>
> = {
  "/VPPClientConfigSrv": legacyClientConfig,
  "/getAssignments": legacyGetAssignments,
};

// ----- dispatch -----

/**
 * Sliding one-second window per location, on arrival times (before any added latency, as a limiter
 * at Apple's edge would see them): at most `rps` accepted requests in any second. Refused requests
 * do not count. Returns the Retry-After seconds when refused.
 */
function rateLimited(core: EmulatorCore, loc: Location, arrivedAt: number): number | undefined {
  const rps = core.effectiveRps();
  if (!rps) return undefined;
  const times = loc.requestTimes;
  let w = 0;
  let oldest = Number.POSITIVE_INFINITY;
  for (const t of times) {
    if (t > arrivedAt - 1000) {
      times[w++] = t;
      if (t < oldest) oldest = t;
    }
  }
  times.length = w;
  if (times.length >= rps) return Math.max(1, Math.ceil((oldest + 1000 - arrivedAt) / 1000));
  times.push(arrivedAt);
  return undefined;
}

function sendError(core: EmulatorCore, res: ServerResponse, err: AppleApiError): void {
  const status = core.httpStatusFor(err.errorNumber, err.httpStatus ?? defaultHttpStatus(err.errorNumber));
  sendJson(res, status, err.body(), err.headers);
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  if (!isJsonContentType(req.headers["content-type"])) throw new AppleApiError(9727);
  let raw: Buffer;
  try {
    raw = await readBody(req, 32 * 1024 * 1024);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new AppleApiError(9602, { httpStatus: 413 });
    throw err;
  }
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    throw new AppleApiError(9602);
  }
}

/** Handles a request under /mdm (v2 under /mdm/v2, legacy v1 directly under /mdm). */
export async function handleApple(
  core: EmulatorCore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const arrivedAt = core.now();
  const latency = core.effectiveLatency();
  if (latency > 0) await sleep(latency);
  const method = req.method ?? "GET";
  try {
    if (url.pathname.startsWith("/mdm/v2/")) {
      const path = url.pathname.slice("/mdm/v2".length).replace(/\/+$/, "");
      const route = Object.hasOwn(v2Routes, path) ? v2Routes[path] : undefined;
      if (!route) {
        sendJson(res, 404, { errorNumber: 9602, errorMessage: errorMessage(9602) });
        return;
      }
      const handler = method === "GET" || method === "POST" ? route[method] : undefined;
      if (!handler) throw new AppleApiError(9726);
      const injected = takeFailNext(core.faults, path, method);
      if (injected) {
        const headers: Record<string, string> = {};
        if (injected.retryAfter !== undefined) headers["Retry-After"] = String(injected.retryAfter);
        sendJson(
          res,
          injected.status,
          { errorNumber: injected.errorNumber, errorMessage: errorMessage(injected.errorNumber) },
          headers,
        );
        return;
      }
      let tok: TokenRec | undefined;
      if (route.auth) {
        const header = req.headers.authorization;
        const m = typeof header === "string" ? /^Bearer +(\S+) *$/.exec(header) : null;
        if (!m) throw new AppleApiError(9722);
        tok = core.resolveSToken(m[1]);
        const wait = rateLimited(core, tok.location, arrivedAt);
        if (wait !== undefined) throw new AppleApiError(9646, { headers: { "Retry-After": String(wait) } });
      }
      const body = method === "POST" ? await jsonBody(req) : undefined;
      const result = await handler(core, { tok: tok!, query: url.searchParams, body });
      sendJson(res, 200, sortKeys(tok ? { ...result, ...core.envelope(tok) } : result));
      return;
    }
    const v1 = Object.hasOwn(v1Routes, url.pathname.slice(4)) ? v1Routes[url.pathname.slice(4)] : undefined;
    if (!v1) {
      sendJson(res, 404, { errorNumber: 9602, errorMessage: errorMessage(9602) });
      return;
    }
    if (method !== "POST") throw new AppleApiError(9726);
    const body = await jsonBody(req);
    if (!isObject(body)) throw new AppleApiError(9602);
    try {
      if (typeof body.sToken !== "string") throw new AppleApiError(9600);
      const tok = core.resolveSToken(body.sToken.replace(/\s+/g, ""));
      const wait = rateLimited(core, tok.location, arrivedAt);
      if (wait !== undefined) throw new AppleApiError(9646, { headers: { "Retry-After": String(wait) } });
      sendJson(res, 200, v1(core, tok, body));
    } catch (err) {
      if (!(err instanceof AppleApiError)) throw err;
      sendJson(
        res,
        err.errorNumber === 9646 ? 429 : 200,
        { errorMessage: err.message, errorNumber: err.errorNumber, status: -1 },
        err.headers,
      );
    }
  } catch (err) {
    if (err instanceof AppleApiError) {
      sendError(core, res, err);
      return;
    }
    throw err;
  }
}

// Reading Apple's bodies into the typed shapes of types.ts. Required members are checked (a missing
// one is an AppleProtocolError), unknown members are tolerated and dropped, numbers that Apple
// sometimes writes as strings (adamId) are read either way, and every date becomes ISO-8601 UTC.
import { AppleProtocolError, AppleTokenFormatError } from "./errors.ts";
import type {
  AppleAsset,
  AppleAssetRef,
  AppleAssetsPage,
  AppleAssignment,
  AppleAssignmentsPage,
  AppleClientConfig,
  AppleEnvelope,
  AppleErrorBody,
  AppleErrorInfo,
  AppleEventResponse,
  AppleEventStatus,
  AppleLimits,
  ApplePaging,
  AppleServiceConfig,
  AppleSubscription,
  AppleSubscriptionAssignment,
  AppleSubscriptionAssignmentsPage,
  AppleSubscriptionManagementState,
  AppleSubscriptionsPage,
  AppleUnlimitedAsset,
  AppleUser,
  AppleUsersPage,
  MdmInfo,
} from "./types.ts";

/**
 * Apple writes offsets without a colon ("2030-11-08T22:33:22+0000", "-0700"); ECMAScript only
 * promises to parse the colon form. Returns ISO-8601 UTC, or undefined when the value is not a date.
 */
export function normalizeAppleDate(value: string): string | undefined {
  const text = value.trim().replace(/([+-]\d{2})(\d{2})$/, "$1:$2");
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

type Obj = Record<string, unknown>;

export function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A small reader that names the endpoint and member in every complaint. */
class Reader {
  readonly endpoint: string;

  constructor(endpoint: string) {
    this.endpoint = endpoint;
  }

  fail(problem: string): never {
    throw new AppleProtocolError(this.endpoint, problem);
  }

  obj(value: unknown, where: string): Obj {
    if (!isObject(value)) this.fail(`${where} is not an object`);
    return value;
  }

  str(o: Obj, key: string, where: string): string {
    const v = o[key];
    if (typeof v === "string") return v;
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    return this.fail(`${where}.${key} is missing or not a string`);
  }

  optStr(o: Obj, key: string, where: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    return this.str(o, key, where);
  }

  int(o: Obj, key: string, where: string): number {
    const v = o[key];
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
    return this.fail(`${where}.${key} is missing or not a number`);
  }

  optInt(o: Obj, key: string, where: string): number | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    return this.int(o, key, where);
  }

  bool(o: Obj, key: string, where: string): boolean {
    const v = o[key];
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    return this.fail(`${where}.${key} is missing or not a boolean`);
  }

  optBool(o: Obj, key: string, where: string): boolean | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    return this.bool(o, key, where);
  }

  arr(o: Obj, key: string, where: string): unknown[] {
    const v = o[key];
    if (Array.isArray(v)) return v;
    return this.fail(`${where}.${key} is missing or not an array`);
  }

  optArr(o: Obj, key: string, where: string): unknown[] | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    return this.arr(o, key, where);
  }

  strings(o: Obj, key: string, where: string): string[] | undefined {
    const list = this.optArr(o, key, where);
    return list?.map((v, i) => {
      if (typeof v === "string") return v;
      if (typeof v === "number") return String(v);
      return this.fail(`${where}.${key}[${i}] is not a string`);
    });
  }

  date(o: Obj, key: string, where: string): string | undefined {
    const v = this.optStr(o, key, where);
    if (v === undefined) return undefined;
    const iso = normalizeAppleDate(v);
    if (iso === undefined) this.fail(`${where}.${key} is not a date`);
    return iso;
  }
}

function mdmInfoOf(r: Reader, o: Obj): MdmInfo | undefined {
  const v = o.mdmInfo;
  if (v === undefined || v === null) return undefined;
  const m = r.obj(v, "mdmInfo");
  return {
    id: r.str(m, "id", "mdmInfo"),
    name: r.optStr(m, "name", "mdmInfo") ?? "",
    metadata: r.optStr(m, "metadata", "mdmInfo") ?? "",
  };
}

function envelopeOf(r: Reader, o: Obj): AppleEnvelope {
  const env: AppleEnvelope = {};
  const exp = r.date(o, "tokenExpirationDate", "body");
  if (exp !== undefined) env.tokenExpirationDate = exp;
  const uId = r.optStr(o, "uId", "body");
  if (uId !== undefined) env.uId = uId;
  const mdmInfo = mdmInfoOf(r, o);
  if (mdmInfo) env.mdmInfo = mdmInfo;
  return env;
}

/** mdmInfo from any body, without judging the rest of it (used to watch for another MDM). */
export function readMdmInfo(body: unknown): MdmInfo | undefined {
  if (!isObject(body) || !isObject(body.mdmInfo) || typeof body.mdmInfo.id !== "string") return undefined;
  const m = body.mdmInfo;
  return {
    id: m.id as string,
    name: typeof m.name === "string" ? m.name : "",
    metadata: typeof m.metadata === "string" ? m.metadata : "",
  };
}

function pagingOf(r: Reader, o: Obj): ApplePaging {
  const paging: ApplePaging = {
    currentPageIndex: r.int(o, "currentPageIndex", "body"),
    size: r.int(o, "size", "body"),
    totalPages: r.int(o, "totalPages", "body"),
    versionId: r.str(o, "versionId", "body"),
  };
  const next = r.optInt(o, "nextPageIndex", "body");
  if (next !== undefined) paging.nextPageIndex = next;
  return paging;
}

function withoutUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

function assetRefOf(r: Reader, v: unknown, where: string): AppleAssetRef {
  const o = r.obj(v, where);
  return withoutUndefined({
    adamId: r.str(o, "adamId", where),
    pricingParam: r.optStr(o, "pricingParam", where),
  });
}

function errorInfoOf(r: Reader, v: unknown, where: string): AppleErrorInfo | undefined {
  if (v === undefined || v === null) return undefined;
  const o = r.obj(v, where);
  return withoutUndefined({
    assets: r.optArr(o, "assets", where)?.map((a, i) => assetRefOf(r, a, `${where}.assets[${i}]`)),
    clientUserIds: r.strings(o, "clientUserIds", where),
    serialNumbers: r.strings(o, "serialNumbers", where),
  });
}

/** `{errorNumber, errorMessage, errorInfo?}` when the body is an Apple error, else undefined. */
export function readErrorBody(body: unknown): AppleErrorBody | undefined {
  if (!isObject(body)) return undefined;
  const n = body.errorNumber;
  const errorNumber =
    typeof n === "number" ? n : typeof n === "string" && /^\d+$/.test(n) ? Number(n) : undefined;
  if (errorNumber === undefined) return undefined;
  const r = new Reader("error body");
  let errorInfo: AppleErrorInfo | undefined;
  try {
    errorInfo = errorInfoOf(r, body.errorInfo, "errorInfo");
  } catch {
    errorInfo = undefined;
  }
  return withoutUndefined({
    errorNumber,
    errorMessage: typeof body.errorMessage === "string" ? body.errorMessage : "",
    errorInfo,
  });
}

export function parseErrorResponse(body: unknown): AppleErrorBody {
  const parsed = readErrorBody(body);
  if (!parsed) throw new AppleProtocolError("error body", "errorNumber is missing");
  return parsed;
}

function assetOf(r: Reader, v: unknown, where: string): AppleAsset {
  const o = r.obj(v, where);
  return {
    adamId: r.str(o, "adamId", where),
    pricingParam: r.str(o, "pricingParam", where),
    productType: r.str(o, "productType", where),
    assignedCount: r.int(o, "assignedCount", where),
    availableCount: r.int(o, "availableCount", where),
    retiredCount: r.optInt(o, "retiredCount", where) ?? 0,
    totalCount: r.int(o, "totalCount", where),
    deviceAssignable: r.bool(o, "deviceAssignable", where),
    revocable: r.bool(o, "revocable", where),
    supportedPlatforms: r.strings(o, "supportedPlatforms", where) ?? [],
  };
}

function unlimitedAssetOf(r: Reader, v: unknown, where: string): AppleUnlimitedAsset {
  const o = r.obj(v, where);
  return {
    adamId: r.str(o, "adamId", where),
    pricingParam: r.str(o, "pricingParam", where),
    productType: r.str(o, "productType", where),
    assignedCount: r.optInt(o, "assignedCount", where) ?? 0,
    deviceAssignable: r.bool(o, "deviceAssignable", where),
    revocable: r.bool(o, "revocable", where),
    supportedPlatforms: r.strings(o, "supportedPlatforms", where) ?? [],
  };
}

export function parseAssetsPage(body: unknown, endpoint = "GET /assets"): AppleAssetsPage {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  const page: AppleAssetsPage = {
    ...envelopeOf(r, o),
    ...pagingOf(r, o),
    assets: r.arr(o, "assets", "body").map((a, i) => assetOf(r, a, `assets[${i}]`)),
  };
  const unlimited = r.optArr(o, "unlimitedAssets", "body");
  if (unlimited)
    page.unlimitedAssets = unlimited.map((a, i) => unlimitedAssetOf(r, a, `unlimitedAssets[${i}]`));
  return page;
}

/** The hot path of a full sync (a million rows): plain checks, no per-row allocations beyond the row. */
function assignmentOf(r: Reader, v: unknown, i: number): AppleAssignment {
  if (!isObject(v)) return r.fail(`assignments[${i}] is not an object`);
  const where = () => `assignments[${i}]`;
  const a: AppleAssignment = {
    adamId: typeof v.adamId === "string" ? v.adamId : r.str(v, "adamId", where()),
    pricingParam: typeof v.pricingParam === "string" ? v.pricingParam : r.str(v, "pricingParam", where()),
  };
  if (v.clientUserId !== undefined && v.clientUserId !== null)
    a.clientUserId = typeof v.clientUserId === "string" ? v.clientUserId : r.str(v, "clientUserId", where());
  if (v.serialNumber !== undefined && v.serialNumber !== null)
    a.serialNumber = typeof v.serialNumber === "string" ? v.serialNumber : r.str(v, "serialNumber", where());
  if (v.userStatus !== undefined && v.userStatus !== null) a.userStatus = r.str(v, "userStatus", where());
  if (v.idHash !== undefined && v.idHash !== null) a.idHash = r.str(v, "idHash", where());
  if (v.removed === true) a.removed = true;
  if (a.clientUserId === undefined && a.serialNumber === undefined)
    r.fail(`${where()} has neither clientUserId nor serialNumber`);
  return a;
}

export function parseAssignmentsPage(body: unknown, endpoint = "GET /assignments"): AppleAssignmentsPage {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  return {
    ...envelopeOf(r, o),
    ...pagingOf(r, o),
    assignments: r.arr(o, "assignments", "body").map((a, i) => assignmentOf(r, a, i)),
  };
}

function userOf(r: Reader, v: unknown, where: string): AppleUser {
  const o = r.obj(v, where);
  return withoutUndefined<AppleUser>({
    clientUserId: r.str(o, "clientUserId", where),
    email: r.optStr(o, "email", where),
    idHash: r.optStr(o, "idHash", where),
    inviteCode: r.optStr(o, "inviteCode", where),
    status: r.str(o, "status", where),
  });
}

export function parseUsersPage(body: unknown, endpoint = "GET /users"): AppleUsersPage {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  return {
    ...envelopeOf(r, o),
    ...pagingOf(r, o),
    users: r.arr(o, "users", "body").map((u, i) => userOf(r, u, `users[${i}]`)),
  };
}

export function parseEventResponse(body: unknown, endpoint = "POST"): AppleEventResponse {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  return { ...envelopeOf(r, o), eventId: r.str(o, "eventId", "body") };
}

export function parseEventStatus(body: unknown, endpoint = "GET /status"): AppleEventStatus {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  const failures = (r.optArr(o, "failures", "body") ?? []).map((f, i) => {
    const fo = r.obj(f, `failures[${i}]`);
    return withoutUndefined<AppleErrorBody>({
      errorNumber: r.int(fo, "errorNumber", `failures[${i}]`),
      errorMessage: r.optStr(fo, "errorMessage", `failures[${i}]`) ?? "",
      errorInfo: errorInfoOf(r, fo.errorInfo, `failures[${i}].errorInfo`),
    });
  });
  return {
    ...envelopeOf(r, o),
    eventStatus: r.str(o, "eventStatus", "body"),
    eventType: r.str(o, "eventType", "body"),
    numRequested: r.int(o, "numRequested", "body"),
    numCompleted: r.int(o, "numCompleted", "body"),
    failures,
  };
}

export function parseClientConfig(body: unknown, endpoint = "GET /client/config"): AppleClientConfig {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  return withoutUndefined<AppleClientConfig>({
    ...envelopeOf(r, o),
    countryISO2ACode: r.optStr(o, "countryISO2ACode", "body"),
    defaultPlatform: r.optStr(o, "defaultPlatform", "body"),
    locationName: r.optStr(o, "locationName", "body"),
    notificationAuthToken: r.optStr(o, "notificationAuthToken", "body"),
    notificationUrl: r.optStr(o, "notificationUrl", "body"),
    subscribedNotificationTypes: r.strings(o, "subscribedNotificationTypes", "body"),
    websiteURL: r.optStr(o, "websiteURL", "body"),
  });
}

/** Values Apple published (service-config fixture); used only for keys a live config leaves out. */
export const fallbackLimits: AppleLimits = {
  maxAssets: 25,
  maxUsers: 100,
  maxNotificationLength: 512,
  maxRevokeClientUserIds: 100,
  maxClientUserIds: 1000,
  maxSerialNumbers: 1000,
  maxRevokeSerialNumbers: 100,
  maxRequestPerSecond: 15,
  maxSubscriptions: 25,
  maxSubscriptionClientUserIds: 1000,
  maxMdmNameLength: 100,
  maxMdmMetadataLength: 255,
  maxMdmIdLength: 100,
};

export function parseServiceConfig(body: unknown, endpoint = "GET /service/config"): AppleServiceConfig {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  const rawLimits = r.obj(o.limits ?? {}, "limits");
  const limits: AppleLimits = { ...fallbackLimits };
  for (const [key, value] of Object.entries(rawLimits)) {
    const n =
      typeof value === "number"
        ? value
        : typeof value === "string" && /^\d+$/.test(value)
          ? Number(value)
          : Number.NaN;
    // A zero or negative limit would stall every write; keep the published value instead.
    if (Number.isFinite(n) && n > 0) limits[key] = n;
  }
  const rawUrls = r.obj(o.urls ?? {}, "urls");
  const urls: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawUrls)) if (typeof value === "string") urls[key] = value;
  const errorCodes = (r.optArr(o, "errorCodes", "body") ?? []).map((e, i) => {
    const eo = r.obj(e, `errorCodes[${i}]`);
    return {
      errorNumber: r.int(eo, "errorNumber", `errorCodes[${i}]`),
      errorMessage: r.optStr(eo, "errorMessage", `errorCodes[${i}]`) ?? "",
    };
  });
  return { limits, urls, notificationTypes: r.strings(o, "notificationTypes", "body") ?? [], errorCodes };
}

// --- subscriptions ----------------------------------------------------------------------------------

function cursorPageOf(r: Reader, o: Obj): { nextCursor?: string; versionId?: string } {
  return withoutUndefined({
    nextCursor: r.optStr(o, "nextCursor", "body"),
    versionId: r.optStr(o, "versionId", "body"),
  });
}

function pairOf(r: Reader, o: Obj, key: string, where: string): { renewing: number; expiring: number } {
  const p = r.obj(o[key] ?? {}, `${where}.${key}`);
  return {
    renewing: r.optInt(p, "renewing", `${where}.${key}`) ?? 0,
    expiring: r.optInt(p, "expiring", `${where}.${key}`) ?? 0,
  };
}

export function parseSubscriptionsPage(
  body: unknown,
  endpoint = "GET /subscriptions",
): AppleSubscriptionsPage {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  const subscriptions = r.arr(o, "subscriptions", "body").map((s, i): AppleSubscription => {
    const where = `subscriptions[${i}]`;
    const so = r.obj(s, where);
    const counts = r.obj(so.counts ?? {}, `${where}.counts`);
    return {
      parentAdamId: r.int(so, "parentAdamId", where),
      adamId: r.int(so, "adamId", where),
      status: r.str(so, "status", where),
      periodEndDate: r.optStr(so, "periodEndDate", where) ?? "",
      counts: {
        assigned: pairOf(r, counts, "assigned", where),
        available: pairOf(r, counts, "available", where),
        total: pairOf(r, counts, "total", where),
      },
    };
  });
  return { ...envelopeOf(r, o), ...cursorPageOf(r, o), subscriptions };
}

export function parseSubscriptionAssignmentsPage(
  body: unknown,
  endpoint = "GET /subscriptions/assignments",
): AppleSubscriptionAssignmentsPage {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  const assignments = r.arr(o, "assignments", "body").map((a, i): AppleSubscriptionAssignment => {
    const ao = r.obj(a, `assignments[${i}]`);
    return {
      adamId: r.int(ao, "adamId", `assignments[${i}]`),
      clientUserId: r.str(ao, "clientUserId", `assignments[${i}]`),
      renewing: r.bool(ao, "renewing", `assignments[${i}]`),
    };
  });
  return { ...envelopeOf(r, o), ...cursorPageOf(r, o), assignments };
}

export function parseSubscriptionManagementState(
  body: unknown,
  endpoint = "POST /subscriptions/enable",
): AppleSubscriptionManagementState {
  const r = new Reader(endpoint);
  const o = r.obj(body, "body");
  return { ...envelopeOf(r, o), subscriptionManagement: r.bool(o, "subscriptionManagement", "body") };
}

// --- the content token file ---------------------------------------------------------------------------

export interface DecodedSToken {
  /** The outer string exactly as it is sent in `Authorization: Bearer` (trimmed). */
  sToken: string;
  /** The inner identifier of the organizational unit. Secret too. */
  token: string;
  /** ISO-8601 UTC. */
  expDate: string;
  orgName: string;
}

/** Reads a `.vpptoken` file's content: Base64 of `{token, expDate, orgName}` (§1.1). */
export function decodeSToken(fileContent: string): DecodedSToken {
  const sToken = fileContent.trim();
  if (sToken === "" || !/^[A-Za-z0-9+/=\s_-]+$/.test(sToken))
    throw new AppleTokenFormatError("the content is not Base64");
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(sToken, "base64").toString("utf8"));
  } catch {
    throw new AppleTokenFormatError("the decoded content is not JSON");
  }
  if (!isObject(json)) throw new AppleTokenFormatError("the decoded content is not a JSON object");
  const { token, expDate, orgName } = json;
  if (typeof token !== "string" || token === "") throw new AppleTokenFormatError("'token' is missing");
  if (typeof expDate !== "string") throw new AppleTokenFormatError("'expDate' is missing");
  const iso = normalizeAppleDate(expDate);
  if (iso === undefined) throw new AppleTokenFormatError("'expDate' is not a date");
  if (typeof orgName !== "string") throw new AppleTokenFormatError("'orgName' is missing");
  return { sToken, token, expDate: iso, orgName };
}

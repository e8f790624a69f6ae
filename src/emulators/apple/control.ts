// The control API under /_emulator: what tests, benchmarks, the demo and external checks use to
// set the world up and to read the truth. Public and stable; documented in README.md.
// Errors are {"error":{"code","message"}} with 400 / 404 / 409.
import type { IncomingMessage, ServerResponse } from "node:http";
import { assetJson } from "./api.ts";
import { type AssetSeed, type EmulatorCore, InputError, parseAssetSeed } from "./core.ts";
import { responseUser } from "./events.ts";
import { applyFaults, emptyFaults, FaultInputError } from "./faults.ts";
import { BodyTooLargeError, readBody, sendJson, sendJsonArray } from "./http.ts";
import { acceptInvitation, handleArtwork } from "./lookup.ts";
import {
  type AssetRec,
  type AssignmentRec,
  INT32_MAX,
  type Location,
  type MdmInfo,
  parseAppleDate,
  type UserRec,
} from "./state.ts";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

type Params = string[];
type ControlHandler = (
  core: EmulatorCore,
  p: Params,
  body: unknown,
  res: ServerResponse,
) => Promise<unknown> | unknown;

interface ControlRoute {
  method: string;
  pattern: RegExp;
  handler: ControlHandler;
}

const seg = "([^/]+)";

function assetTruth(loc: Location, a: AssetRec, core: EmulatorCore): Record<string, unknown> {
  const e = core.catalog.get(a.adamId);
  return {
    ...assetJson(loc, a),
    unlimited: a.unlimited,
    name: e?.name,
    bundleId: e?.bundleId,
    version: e?.version,
  };
}

function truthRow(rec: AssignmentRec): Record<string, unknown> {
  const o: Record<string, unknown> = { adamId: rec.asset.adamId, pricingParam: rec.asset.pricingParam };
  if (rec.serial !== null) o.serialNumber = rec.serial;
  if (rec.user) {
    o.clientUserId = rec.user.clientUserId;
    if (rec.user.status === "Retired") o.userStatus = "Retired";
  }
  return o;
}

function parseMdmInfo(v: unknown): MdmInfo {
  if (
    !isObject(v) ||
    typeof v.id !== "string" ||
    typeof v.name !== "string" ||
    typeof v.metadata !== "string"
  )
    throw new InputError("mdmInfo must be {id, name, metadata}");
  return { id: v.id, name: v.name, metadata: v.metadata };
}

function intField(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw new InputError(`${name} must be an integer`);
  return v;
}

function purchase(core: EmulatorCore, p: Params, body: unknown): unknown {
  const loc = core.location(p[0]);
  if (!isObject(body)) throw new InputError("body must be an object");
  const adamId = typeof body.adamId === "number" ? String(body.adamId) : body.adamId;
  if (typeof adamId !== "string" || !adamId) throw new InputError("adamId is required");
  const pricingParam = (body.pricingParam as string | undefined) ?? "STDQ";
  if (pricingParam !== "STDQ" && pricingParam !== "PLUS")
    throw new InputError("pricingParam must be STDQ or PLUS");
  const count = intField(body.count, "count");
  let asset = loc.findAsset(adamId, pricingParam);
  if (!asset) {
    if (count <= 0) throw new InputError(`asset ${adamId}/${pricingParam} not found`, 404);
    const seed: AssetSeed = parseAssetSeed({ ...body, adamId, pricingParam, totalCount: 0 }, 0);
    loc.write(() => {
      asset = core.addAsset(loc, seed);
    });
  }
  const a = asset!;
  if (a.unlimited) throw new InputError("unlimited assets have no count to change", 409);
  if (count < 0 && -count > loc.available(a))
    throw new InputError(`only ${loc.available(a)} licenses are available to refund`, 409);
  if (a.total + count >= INT32_MAX) throw new InputError("count too large");
  if (count !== 0) {
    loc.write(() => loc.changeTotal(a, count));
    core.notifier.notify(loc, "ASSET_COUNT", {
      adamId: a.adamId,
      countDelta: count,
      pricingParam: a.pricingParam,
    });
  }
  return assetTruth(loc, a, core);
}

function renew(core: EmulatorCore, p: Params, body: unknown): unknown {
  const loc = core.location(p[0]);
  let expDate: number | undefined;
  if (isObject(body) && typeof body.expDate === "string") {
    expDate = parseAppleDate(body.expDate);
    if (Number.isNaN(expDate)) throw new InputError("expDate must be an ISO-8601 date");
  }
  const tok = core.issueToken(loc, expDate);
  return { sToken: tok.sToken };
}

function claim(core: EmulatorCore, p: Params, body: unknown): unknown {
  const loc = core.location(p[0]);
  if (!isObject(body)) throw new InputError("body must be an object");
  const mdmInfo = parseMdmInfo(body.mdmInfo);
  loc.mdmInfo = mdmInfo;
  // The other MDM brings its own notification endpoint (or none): ours stops receiving.
  loc.notificationUrl = typeof body.notificationUrl === "string" ? body.notificationUrl : undefined;
  loc.notificationAuthToken =
    typeof body.notificationAuthToken === "string" ? body.notificationAuthToken : undefined;
  loc.subscribedTypes = Array.isArray(body.notificationTypes) ? (body.notificationTypes as string[]) : [];
  return { mdmInfo };
}

interface SeedTarget {
  asset: AssetRec;
  serial?: string;
  user?: UserRec;
}

function seedAssignments(core: EmulatorCore, p: Params, body: unknown): unknown {
  const loc = core.location(p[0]);
  if (!isObject(body)) throw new InputError("body must be an object");
  const resolveAsset = (a: unknown, where: string): AssetRec => {
    if (!isObject(a)) throw new InputError(`${where} must be an object`);
    const adamId = typeof a.adamId === "number" ? String(a.adamId) : a.adamId;
    if (typeof adamId !== "string") throw new InputError(`${where}.adamId is required`);
    const asset = loc.findAsset(adamId, a.pricingParam as string | undefined);
    if (!asset)
      throw new InputError(
        `${where}: asset ${adamId}/${a.pricingParam ?? "STDQ"} not found in this location`,
        404,
      );
    return asset;
  };
  const resolveUser = (id: unknown, where: string): UserRec => {
    if (typeof id !== "string") throw new InputError(`${where} must be a string`);
    const user = loc.activeUsers.get(id);
    if (!user) throw new InputError(`${where}: no active user ${id} (seed users first)`, 409);
    return user;
  };
  // Lazily produced list of targets (the generate form never materialises a million objects).
  let count: number;
  let unique = false;
  let targetAt: (i: number) => SeedTarget;
  if (Array.isArray(body.assignments)) {
    const rows = body.assignments.map((r, i): SeedTarget => {
      const asset = resolveAsset(r, `assignments[${i}]`);
      const row = r as Record<string, unknown>;
      if ((row.serialNumber === undefined) === (row.clientUserId === undefined))
        throw new InputError(`assignments[${i}] needs exactly one of serialNumber, clientUserId`);
      if (row.serialNumber !== undefined) {
        if (typeof row.serialNumber !== "string" || !row.serialNumber)
          throw new InputError(`assignments[${i}].serialNumber must be a string`);
        return { asset, serial: row.serialNumber };
      }
      return { asset, user: resolveUser(row.clientUserId, `assignments[${i}].clientUserId`) };
    });
    count = rows.length;
    targetAt = (i) => rows[i];
  } else if (Array.isArray(body.assets)) {
    const assets = body.assets.map((a, i) => resolveAsset(a, `assets[${i}]`));
    const users = (Array.isArray(body.clientUserIds) ? body.clientUserIds : []).map((id, i) =>
      resolveUser(id, `clientUserIds[${i}]`),
    );
    const serials = Array.isArray(body.serialNumbers) ? body.serialNumbers : [];
    if (!serials.every((s) => typeof s === "string" && s))
      throw new InputError("serialNumbers must be strings");
    const per = users.length + serials.length;
    count = assets.length * per;
    targetAt = (i) => {
      const asset = assets[Math.floor(i / per)];
      const j = i % per;
      return j < users.length
        ? { asset, user: users[j] }
        : { asset, serial: serials[j - users.length] as string };
    };
  } else if (isObject(body.generate)) {
    const g = body.generate;
    count = intField(g.count, "generate.count");
    if (count < 0) throw new InputError("generate.count must be ≥ 0");
    const assets = Array.isArray(g.assets)
      ? g.assets.map((a, i) => resolveAsset(a, `generate.assets[${i}]`))
      : loc.assets.filter((a) => a.deviceAssignable);
    if (assets.length === 0 && count > 0)
      throw new InputError("no device-assignable assets to generate assignments for");
    const devices = g.devices === undefined ? count : intField(g.devices, "generate.devices");
    const start = g.start === undefined ? 0 : intField(g.start, "generate.start");
    const prefix = typeof g.serialPrefix === "string" ? g.serialPrefix : "SN";
    if (count > assets.length * devices)
      throw new InputError("generate.count exceeds assets × devices (pairs would repeat)");
    unique = true;
    const width = Math.max(8, String(start + devices).length);
    // Device i mod D; for a fixed device the asset index advances with each pass over the devices,
    // so no (asset, device) pair repeats while count ≤ assets × devices.
    targetAt = (i) => ({
      asset: assets[(Math.floor(i / devices) + (i % devices)) % assets.length],
      serial: prefix + String(start + (i % devices)).padStart(width, "0"),
    });
  } else {
    throw new InputError(
      "give assignments[], or assets[] with serialNumbers[]/clientUserIds[], or generate{}",
    );
  }
  // Validate everything before changing anything.
  const need = new Map<AssetRec, number>();
  const batch = new Set<string>();
  let skipped = 0;
  const fresh: boolean[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const t = targetAt(i);
    if (t.serial !== undefined && !t.asset.deviceAssignable)
      throw new InputError(`asset ${t.asset.adamId} is not device-assignable`);
    // Generated pairs never repeat; listed ones may.
    const key = unique
      ? ""
      : `${t.asset.adamId}/${t.asset.pricingParam}|${t.serial ?? `\u0000${t.user!.clientUserId}`}`;
    const exists =
      (!unique && batch.has(key)) ||
      loc.findAssignment(t.asset, t.serial !== undefined ? { serial: t.serial } : { user: t.user! });
    if (exists) {
      skipped++;
      fresh[i] = false;
      continue;
    }
    if (!unique) batch.add(key);
    fresh[i] = true;
    need.set(t.asset, (need.get(t.asset) ?? 0) + 1);
  }
  batch.clear();
  for (const [asset, n] of need)
    if (!asset.unlimited && n > loc.available(asset))
      throw new InputError(
        `asset ${asset.adamId}/${asset.pricingParam}: ${n} new assignments but only ${loc.available(asset)} licenses available`,
        409,
      );
  let added = 0;
  loc.write(() => {
    for (let i = 0; i < count; i++) {
      if (!fresh[i]) continue;
      const t = targetAt(i);
      loc.addAssignment(t.asset, t.serial !== undefined ? { serial: t.serial } : { user: t.user! });
      added++;
    }
  });
  return { added, skipped, assignmentCount: loc.assignmentCount };
}

function seedUsers(core: EmulatorCore, p: Params, body: unknown): unknown {
  const loc = core.location(p[0]);
  if (!isObject(body)) throw new InputError("body must be an object");
  type Row = {
    clientUserId: string;
    email?: string;
    managedAppleId?: string;
    status: "Registered" | "Associated" | "Retired";
  };
  let rows: Row[];
  if (Array.isArray(body.users)) {
    rows = body.users.map((u, i) => {
      if (!isObject(u) || typeof u.clientUserId !== "string" || !u.clientUserId)
        throw new InputError(`users[${i}].clientUserId is required`);
      const status =
        (u.status as string | undefined) ??
        (typeof u.managedAppleId === "string" ? "Associated" : "Registered");
      if (status !== "Registered" && status !== "Associated" && status !== "Retired")
        throw new InputError(`users[${i}].status must be Registered, Associated or Retired`);
      return {
        clientUserId: u.clientUserId,
        email: typeof u.email === "string" ? u.email : undefined,
        managedAppleId: typeof u.managedAppleId === "string" ? u.managedAppleId : undefined,
        status,
      };
    });
  } else if (isObject(body.generate)) {
    const g = body.generate;
    const n = intField(g.count, "generate.count");
    const prefix = typeof g.prefix === "string" ? g.prefix : "user-";
    const start = g.start === undefined ? 0 : intField(g.start, "generate.start");
    const status = (g.status as string | undefined) ?? "Associated";
    if (status !== "Registered" && status !== "Associated")
      throw new InputError("generate.status must be Registered or Associated");
    rows = Array.from({ length: n }, (_, i) => {
      const id = `${prefix}${start + i}`;
      return { clientUserId: id, email: `${id}@example.com`, status };
    });
  } else {
    throw new InputError("give users[] or generate{}");
  }
  let added = 0;
  let skipped = 0;
  loc.write(() => {
    for (const r of rows) {
      if (r.status !== "Retired" && loc.activeUsers.has(r.clientUserId)) {
        skipped++;
        continue;
      }
      const associated = r.status === "Associated";
      loc.addUser({
        clientUserId: r.clientUserId,
        email: r.email,
        managedAppleId: r.managedAppleId,
        status: r.status,
        idHash: associated ? core.events.idHash() : undefined,
        inviteCode: r.status === "Registered" ? core.events.newInviteCode() : undefined,
      });
      added++;
    }
  });
  return { added, skipped };
}

function accept(core: EmulatorCore, p: Params): unknown {
  const loc = core.location(p[0]);
  const id = p[1];
  const user = loc.activeUsers.get(id);
  if (!user) throw new InputError(`no active user ${id}`, 404);
  if (user.status !== "Registered") throw new InputError(`user ${id} is already ${user.status}`, 409);
  return { user: acceptInvitation(core, loc, id) };
}

function newVersion(core: EmulatorCore, p: Params, body: unknown): unknown {
  const e = core.catalog.get(p[0]);
  if (!e) throw new InputError(`asset ${p[0]} is not in the catalogue`, 404);
  if (!isObject(body) || typeof body.version !== "string" || !body.version)
    throw new InputError("version is required");
  core.setVersion(e, body.version);
  return { adamId: e.adamId, version: e.version };
}

function locationSummary(loc: Location): Record<string, unknown> {
  return {
    uId: loc.uId,
    orgName: loc.orgName,
    locationName: loc.locationName,
    countryISO2ACode: loc.countryISO2ACode,
    accountType: loc.accountType,
    tokenExpirationDate: loc.token.expDateText,
    mdmInfo: loc.mdmInfo ?? null,
    notificationUrl: loc.notificationUrl ?? null,
    subscribedNotificationTypes: loc.subscribedTypes,
    assetCount: loc.assets.length,
    assignmentCount: loc.assignmentCount,
    userCount: loc.users.length,
    versionIds: { ...loc.versionIds },
    sToken: loc.token.sToken,
  };
}

const runtimeKeys = [
  "pageSize",
  "settleMs",
  "eventSteps",
  "latencyMs",
  "rateLimitRps",
  "strictHttps",
  "lenientReassociation",
  "unknownUserSync",
  "tokenExpirationDate",
  "notificationAttempts",
  "notificationRetryMs",
  "notificationTimeoutMs",
  "notificationMaxItems",
  "reorderWindowMs",
  "errorStatusOverrides",
] as const;

function configView(core: EmulatorCore): Record<string, unknown> {
  const o = core.options;
  return {
    seed: o.seed,
    pageSize: o.pageSize,
    settleMs: core.events.settleMs,
    eventSteps: core.events.eventSteps,
    latencyMs: o.latencyMs,
    rateLimitRps: o.rateLimitRps ?? null,
    strictHttps: o.strictHttps,
    lenientReassociation: o.lenientReassociation,
    sinceVersionRemovals: o.sinceVersionRemovals,
    unknownUserSync: o.unknownUserSync,
    tokenExpirationDate: o.tokenExpirationDate,
    notificationAttempts: o.notificationAttempts,
    notificationRetryMs: o.notificationRetryMs,
    notificationTimeoutMs: o.notificationTimeoutMs,
    notificationMaxItems: o.notificationMaxItems,
    reorderWindowMs: o.reorderWindowMs,
    errorStatusOverrides: o.errorStatusOverrides,
    limits: core.limits,
  };
}

function patchConfig(core: EmulatorCore, body: unknown): unknown {
  if (!isObject(body)) throw new InputError("body must be an object");
  const o = core.options as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(body)) {
    if (k === "limits") {
      patchLimits(core, v);
      continue;
    }
    if (!(runtimeKeys as readonly string[]).includes(k))
      throw new InputError(`${k} cannot be changed at runtime`);
    if (k === "errorStatusOverrides") {
      if (!isObject(v) || !Object.values(v).every((s) => typeof s === "number"))
        throw new InputError("errorStatusOverrides maps errorNumber → HTTP status");
      core.options.errorStatusOverrides = {
        ...core.options.errorStatusOverrides,
        ...(v as Record<string, number>),
      };
      continue;
    }
    if (k === "tokenExpirationDate") {
      if (v !== "always" && v !== "within15Days")
        throw new InputError("tokenExpirationDate must be always or within15Days");
      core.options.tokenExpirationDate = v;
      continue;
    }
    const expectBool = k === "strictHttps" || k === "lenientReassociation" || k === "unknownUserSync";
    if (expectBool ? typeof v !== "boolean" : typeof v !== "number" || v < 0)
      throw new InputError(`${k} has the wrong type`);
    if (k === "settleMs") core.events.settleMs = v as number;
    else if (k === "eventSteps") core.events.eventSteps = Math.max(1, v as number);
    else o[k] = v;
  }
  return configView(core);
}

function patchLimits(core: EmulatorCore, body: unknown): unknown {
  if (!isObject(body)) throw new InputError("limits must be an object");
  for (const [k, v] of Object.entries(body)) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
      throw new InputError(`limits.${k} must be a non-negative integer`);
    core.limits[k] = v;
  }
  return { limits: core.limits };
}

const routes: ControlRoute[] = [
  {
    method: "GET",
    pattern: /^$/,
    handler: (core) => ({ locations: core.locations.size, config: configView(core) }),
  },
  { method: "POST", pattern: /^\/locations$/, handler: (core, _p, body) => core.createLocation(body) },
  {
    method: "GET",
    pattern: /^\/locations$/,
    handler: (core) => ({ locations: [...core.locations.values()].map((l) => locationSummary(l)) }),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/locations/${seg}$`),
    handler: (core, p) => locationSummary(core.location(p[0])),
  },
  { method: "POST", pattern: new RegExp(`^/locations/${seg}/purchase$`), handler: purchase },
  { method: "POST", pattern: new RegExp(`^/locations/${seg}/renew$`), handler: renew },
  { method: "POST", pattern: new RegExp(`^/locations/${seg}/claim$`), handler: claim },
  {
    method: "GET",
    pattern: new RegExp(`^/locations/${seg}/assignments$`),
    handler: async (core, p, _b, res) => {
      const loc = core.location(p[0]);
      function* all() {
        for (const a of loc.assets) yield* a.assignments;
      }
      await sendJsonArray(res, "assignments", all(), truthRow);
      return undefined;
    },
  },
  { method: "POST", pattern: new RegExp(`^/locations/${seg}/assignments$`), handler: seedAssignments },
  {
    method: "GET",
    pattern: new RegExp(`^/locations/${seg}/assets$`),
    handler: (core, p) => {
      const loc = core.location(p[0]);
      return { assets: loc.assets.map((a) => assetTruth(loc, a, core)) };
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/locations/${seg}/events$`),
    handler: (core, p) => {
      const loc = core.location(p[0]);
      return {
        events: core.events.eventsOf(loc.uId).map((ev) => ({
          eventId: ev.eventId,
          kind: ev.eventType,
          eventType: ev.eventType,
          eventStatus: ev.status,
          numRequested: ev.numRequested,
          numCompleted: ev.numCompleted,
          numFailed: ev.numFailed,
          createdAt: ev.createdAt,
          completedAt: ev.completedAt ?? null,
        })),
      };
    },
  },
  { method: "POST", pattern: new RegExp(`^/locations/${seg}/users$`), handler: seedUsers },
  {
    method: "GET",
    pattern: new RegExp(`^/locations/${seg}/users$`),
    handler: (core, p) => {
      const loc = core.location(p[0]);
      return {
        users: loc.users.map((u) => ({ ...responseUser(u, true), managedAppleId: u.managedAppleId ?? null })),
      };
    },
  },
  {
    method: "POST",
    pattern: new RegExp(`^/locations/${seg}/users/${seg}/accept$`),
    handler: (core, p) => accept(core, p),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/locations/${seg}/notifications$`),
    handler: (core, p) => ({ deliveries: core.notifier.deliveries(core.location(p[0]).uId) }),
  },
  { method: "POST", pattern: new RegExp(`^/assets/${seg}/version$`), handler: newVersion },
  { method: "GET", pattern: /^\/faults$/, handler: (core) => core.faults },
  {
    method: "POST",
    pattern: /^\/faults$/,
    handler: (core, _p, body) => {
      core.faults = applyFaults(core.faults, body);
      return core.faults;
    },
  },
  {
    method: "DELETE",
    pattern: /^\/faults$/,
    handler: (core) => {
      core.faults = emptyFaults();
      return core.faults;
    },
  },
  { method: "GET", pattern: /^\/config$/, handler: (core) => configView(core) },
  { method: "PATCH", pattern: /^\/config$/, handler: (core, _p, body) => patchConfig(core, body) },
  { method: "GET", pattern: /^\/limits$/, handler: (core) => ({ limits: core.limits }) },
  { method: "PATCH", pattern: /^\/limits$/, handler: (core, _p, body) => patchLimits(core, body) },
  {
    method: "POST",
    pattern: /^\/flush$/,
    handler: async (core, _p, body) => {
      core.events.flush();
      if (!isObject(body) || body.notifications !== false) await core.notifier.idle();
      return { flushed: true };
    },
  },
];

export async function handleControl(
  core: EmulatorCore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const path = url.pathname.slice("/_emulator".length).replace(/\/+$/, "");
  if (path.startsWith("/artwork/")) {
    handleArtwork(res, url);
    return;
  }
  const method = req.method ?? "GET";
  let matched = false;
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    matched = true;
    if (route.method !== method) continue;
    try {
      let body: unknown;
      if (method === "POST" || method === "PATCH") {
        const raw = await readBody(req, 1024 * 1024 * 1024);
        const text = raw.toString("utf8").trim();
        try {
          body = text ? JSON.parse(text) : {};
        } catch {
          throw new InputError("body is not valid JSON");
        }
      }
      const result = await route.handler(core, m.slice(1).map(decodeURIComponent), body, res);
      if (!res.headersSent) sendJson(res, 200, result);
    } catch (err) {
      if (err instanceof InputError || err instanceof FaultInputError) {
        const status = err instanceof InputError ? err.status : 400;
        const code = status === 404 ? "notFound" : status === 409 ? "conflict" : "badRequest";
        sendJson(res, status, { error: { code, message: err.message } });
      } else if (err instanceof BodyTooLargeError) {
        sendJson(res, 413, { error: { code: "payloadTooLarge", message: err.message } });
      } else throw err;
    }
    return;
  }
  sendJson(res, matched ? 405 : 404, {
    error: {
      code: matched ? "methodNotAllowed" : "notFound",
      message: `${method} ${url.pathname} is not part of the control API`,
    },
  });
}

// The plan for one app (ENG-1..9, ASG-4): resolve every principal the assignments reach, map
// principals to license holders, decide each holder's desired ledger state, allocate the app's
// licenses (current holders keep theirs; the rest in queue order), and list the operations.
// Pure and deterministic: the result depends on the inputs' content, never on their order.
import {
  type DirectoryIndex,
  type Expansion,
  expandGroup,
  PLATFORM_IOS,
  PLATFORM_MACOS,
  PLATFORM_NONE,
} from "./directory.ts";
import {
  ADVICE,
  APPLE_ID_DEVICE_LIMIT,
  type AppInput,
  type AppleUserOp,
  type AppleUserRecord,
  type AppPlan,
  type AssociateOp,
  CONSUMING_STATES,
  DEFAULT_UNINSTALL_TIMEOUT_MS,
  type DeviceCommandOp,
  type DeviceInstall,
  type DeviceTarget,
  type EngineAssignment,
  type HolderType,
  type HoldingDecision,
  type HoldingState,
  type Intent,
  type LedgerHolding,
  LICENSED_STATES,
  type LicenseType,
  OPERATION_ORDER,
  type Operation,
  type PlanCost,
  type PlanCounts,
  type PlanOptions,
  type PrincipalIssue,
  type Reason,
  type Rule,
  WAITING_REASONS,
} from "./types.ts";

const R_UNINSTALL = 3;
const R_REQUIRED = 2;
const R_AVAILABLE = 1; // Available with an install request
const R_ELIGIBLE = 0; // Available, no request yet

const INF = Number.POSITIVE_INFINITY;

export class EngineInputError extends Error {}

// ---------------------------------------------------------------------------------------------
// Per-index scratch for the principal stage (separate from the expansion scratch).

interface PlanScratch {
  stamp: number;
  seen: Int32Array;
  excl: Int32Array;
  rank: Int8Array;
  assign: Int32Array;
  tReq: Float64Array;
  tAv: Float64Array;
}
const scratches = new WeakMap<DirectoryIndex, PlanScratch>();
function scratchOf(ix: DirectoryIndex): PlanScratch {
  let s = scratches.get(ix);
  if (!s) {
    const n = ix.nUsers + ix.nDevices;
    s = {
      stamp: 0,
      seen: new Int32Array(n),
      excl: new Int32Array(n),
      rank: new Int8Array(n),
      assign: new Int32Array(n),
      tReq: new Float64Array(n),
      tAv: new Float64Array(n),
    };
    scratches.set(ix, s);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Resolution

interface HolderAcc {
  key: number;
  rank: number;
  assign: number;
  via: number;
  time: number;
  /** Reached only through a principal that an exclusion group removed. */
  excludedVia: boolean;
  removalRelease: boolean;
  install: number[] | null;
  remove: number[] | null;
  requiredNoDevice: boolean;
}

interface Ctx {
  ix: DirectoryIndex;
  input: AppInput;
  now: number;
  timeoutMs: number;
  failedRetryMs: number | null;
  includes: EngineAssignment[];
  exclusions: EngineAssignment[];
  tokenUsable: boolean;
  revocable: boolean;
  supportsIOS: boolean;
  supportsMacOS: boolean;
  apple: ReadonlyMap<number, AppleUserRecord> | undefined;
  /** user → device → earliest request time */
  requests: Map<number, Map<number, number>>;
  installs: Map<number, DeviceInstall>;
  holders: Map<number, HolderAcc>;
  issues: Map<number, PrincipalIssue>;
  stamp: number;
  sc: PlanScratch;
}

function sortAssignments(list: readonly EngineAssignment[]): EngineAssignment[] {
  return [...list].sort((a, b) => a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function makeCtx(ix: DirectoryIndex, input: AppInput, options: PlanOptions): Ctx {
  const app = input.app;
  const sorted = sortAssignments(input.assignments);
  const platforms = app.supportedPlatforms;
  const requests = new Map<number, Map<number, number>>();
  for (const r of input.installRequests ?? []) {
    const d = ix.deviceById.get(r.deviceId);
    if (d === undefined) continue;
    // A device's requests count for its primary user (the company portal runs as that user).
    const u = ix.deviceUser[d];
    if (u < 0 || (r.userId != null && r.userId !== ix.userIds[u])) continue;
    let m = requests.get(u);
    if (!m) {
      m = new Map();
      requests.set(u, m);
    }
    const prev = m.get(d);
    if (prev === undefined || r.requestedAt < prev) m.set(d, r.requestedAt);
  }
  const installs = new Map<number, DeviceInstall>();
  for (const i of input.installs ?? []) {
    const d = ix.deviceById.get(i.deviceId);
    if (d !== undefined) installs.set(d, i);
  }
  const sc = scratchOf(ix);
  return {
    ix,
    input,
    now: options.now,
    timeoutMs: options.uninstallTimeoutMs ?? DEFAULT_UNINSTALL_TIMEOUT_MS,
    failedRetryMs: options.failedRetryMs ?? null,
    includes: sorted.filter((a) => a.target.kind !== "exclusionGroup"),
    exclusions: sorted.filter((a) => a.target.kind === "exclusionGroup"),
    tokenUsable: app.token === "usable",
    revocable: app.revocable,
    supportsIOS: platforms.length === 0 || platforms.includes("iOS"),
    supportsMacOS: platforms.length === 0 || platforms.includes("macOS"),
    apple: ix.appleUsers.get(app.tokenId),
    requests,
    installs,
    holders: new Map(),
    issues: new Map(),
    stamp: ++sc.stamp,
    sc,
  };
}

function forEachTarget(ix: DirectoryIndex, a: EngineAssignment, fn: (p: number, t: number) => void): void {
  const kind = a.target.kind;
  if (kind === "allLicensedUsers") {
    const list = ix.activeUsers;
    for (let k = 0; k < list.length; k++) fn(list[k], ix.userCreated[list[k]]);
  } else if (kind === "allDevices") {
    for (let d = 0; d < ix.nDevices; d++) fn(ix.nUsers + d, ix.deviceCreated[d]);
  } else if (a.target.groupId) {
    const e: Expansion = expandGroup(ix, a.target.groupId);
    for (let k = 0; k < e.principals.length; k++) fn(e.principals[k], e.times[k]);
  }
}

function rankOf(intent: Intent): number {
  return intent === "uninstall" ? R_UNINSTALL : intent === "required" ? R_REQUIRED : R_AVAILABLE;
}

/** Principal stage: best assignment per principal, earliest times per intent, exclusions. */
function resolvePrincipals(c: Ctx): number[] {
  const { ix, sc, stamp } = c;
  for (const a of c.exclusions) {
    forEachTarget(ix, a, (p) => {
      sc.excl[p] = stamp;
    });
  }
  const touched: number[] = [];
  for (let i = 0; i < c.includes.length; i++) {
    const a = c.includes[i];
    const rank = rankOf(a.intent);
    const isAvailable = a.intent === "available";
    const isRequired = a.intent === "required";
    forEachTarget(ix, a, (p, t) => {
      if (p < ix.nUsers) {
        if (!ix.userActive[p]) return;
      } else if (isAvailable) return; // Available is for users (ASG-2); device members are ignored
      if (sc.seen[p] !== stamp) {
        sc.seen[p] = stamp;
        sc.rank[p] = rank;
        sc.assign[p] = i;
        sc.tReq[p] = INF;
        sc.tAv[p] = INF;
        touched.push(p);
      } else if (rank > sc.rank[p]) {
        // equal rank: the earlier assignment (lower seq, processed first) keeps deciding
        sc.rank[p] = rank;
        sc.assign[p] = i;
      }
      if (isRequired) {
        if (t < sc.tReq[p]) sc.tReq[p] = t;
      } else if (isAvailable && t < sc.tAv[p]) sc.tAv[p] = t;
    });
  }
  return touched;
}

function acc(c: Ctx, h: number): HolderAcc {
  let a = c.holders.get(h);
  if (!a) {
    a = {
      key: h,
      rank: -1,
      assign: -1,
      via: -1,
      time: INF,
      excludedVia: false,
      removalRelease: false,
      install: null,
      remove: null,
      requiredNoDevice: false,
    };
    c.holders.set(h, a);
  }
  return a;
}

function contribute(c: Ctx, h: number, rank: number, i: number, via: number, time: number): HolderAcc {
  const a = acc(c, h);
  const vo = via === h ? -1 : via;
  const ao = a.via === h ? -1 : a.via;
  if (rank > a.rank || (rank === a.rank && (i < a.assign || (i === a.assign && vo < ao)))) {
    a.rank = rank;
    a.assign = i;
    a.via = via;
  }
  if (rank === R_REQUIRED || rank === R_AVAILABLE) {
    if (time < a.time) a.time = time;
    if (c.includes[i].settings.uninstallOnDeviceRemoval) a.removalRelease = true;
  }
  return a;
}

function pushTo(list: number[] | null, d: number): number[] {
  if (list) {
    list.push(d);
    return list;
  }
  return [d];
}

function addIssue(c: Ctx, p: number, i: number, reason: Reason) {
  if (c.issues.has(p)) return;
  const ix = c.ix;
  const isUser = p < ix.nUsers;
  c.issues.set(p, {
    principalType: isUser ? "user" : "device",
    principalId: isUser ? ix.userIds[p] : ix.deviceIds[p - ix.nUsers],
    assignmentId: c.includes[i].id,
    reason,
  });
}

/** Holder stage: each principal's deciding assignment sends a contribution to the license holder(s). */
function resolveHolders(c: Ctx, touched: number[]): void {
  const { ix, sc, stamp } = c;
  const nU = ix.nUsers;
  for (const p of touched) {
    const i = sc.assign[p];
    const a = c.includes[i];
    const excluded = sc.excl[p] === stamp;
    const deviceLicensing = a.settings.useDeviceLicensing;
    let rank = sc.rank[p];
    if (p < nU) {
      const u = p;
      const reqs = c.requests.get(u);
      let firstReq = INF;
      if (reqs) for (const t of reqs.values()) if (t < firstReq) firstReq = t;
      const tAvActive = sc.tAv[p] < INF && reqs ? Math.max(sc.tAv[p], firstReq) : INF;
      if (rank === R_AVAILABLE && !reqs) rank = R_ELIGIBLE;
      const start = ix.userDevStart[u];
      const end = ix.userDevStart[u + 1];
      if (!deviceLicensing) {
        if (excluded) {
          acc(c, u).excludedVia = true;
          continue;
        }
        const time = rank === R_REQUIRED ? Math.min(sc.tReq[p], tAvActive) : tAvActive;
        const h = contribute(c, u, rank, i, p, time);
        if (rank === R_REQUIRED || rank === R_UNINSTALL) {
          let managed = 0;
          for (let k = start; k < end; k++) {
            const d = ix.userDevList[k];
            if (!ix.deviceManaged[d]) continue;
            managed++;
            if (rank === R_REQUIRED) h.install = pushTo(h.install, d);
            else h.remove = pushTo(h.remove, d);
          }
          if (rank === R_REQUIRED && managed === 0) h.requiredNoDevice = true;
        }
        if (rank === R_AVAILABLE || rank === R_REQUIRED) {
          if (reqs && sc.tAv[p] < INF)
            for (const d of reqs.keys()) if (ix.deviceManaged[d]) h.install = pushTo(h.install, d);
        }
      } else {
        // Device licensing through a user: one license per device of the user.
        for (let k = start; k < end; k++) {
          const d = ix.userDevList[k];
          const h = nU + d;
          if (excluded) {
            acc(c, h).excludedVia = true;
            continue;
          }
          const created = ix.deviceCreated[d];
          const reqT = reqs?.get(d);
          const devAv = sc.tAv[p] < INF && reqT !== undefined ? Math.max(sc.tAv[p], reqT, created) : INF;
          let r = sc.rank[p];
          let time: number;
          if (r === R_REQUIRED) time = Math.min(Math.max(sc.tReq[p], created), devAv);
          else if (r === R_AVAILABLE) {
            time = devAv;
            if (reqT === undefined) r = R_ELIGIBLE;
          } else time = INF;
          contribute(c, h, r, i, p, time);
        }
      }
    } else {
      const d = p - nU;
      if (deviceLicensing) {
        if (excluded) {
          acc(c, p).excludedVia = true;
          continue;
        }
        contribute(c, p, rank, i, p, sc.tReq[p]);
      } else {
        // User licensing through a device: the license goes to the device's primary user.
        if (!ix.deviceManaged[d]) continue; // removed from management: no device to license for
        const u = ix.deviceUser[d];
        if (u < 0 || !ix.userActive[u]) {
          if (!excluded && rank !== R_UNINSTALL) addIssue(c, p, i, u < 0 ? "noPrimaryUser" : "userNotActive");
          continue;
        }
        if (excluded) {
          acc(c, u).excludedVia = true;
          continue;
        }
        if (rank === R_UNINSTALL) {
          const h = contribute(c, u, rank, i, p, INF);
          if (ix.deviceManaged[d]) h.remove = pushTo(h.remove, d);
        } else {
          const h = contribute(c, u, rank, i, p, Math.max(sc.tReq[p], ix.deviceCreated[d]));
          if (ix.deviceManaged[d]) h.install = pushTo(h.install, d);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Holder decisions

interface Work {
  key: number;
  type: HolderType;
  id: string;
  seq: number;
  lic: LicenseType;
  inScope: boolean;
  intent: Intent | "excluded" | null;
  rule: Rule;
  assign: number;
  via: number;
  time: number;
  /** wants a license and could hold one now */
  want: boolean;
  reason: Reason | null;
  storeKeyNow: string | null;
  retain: boolean;
  devices: DeviceTarget[] | undefined;
  installDevs: number[] | null;
  removeDevs: number[] | null;
  /** eligible for Apple user registration/invitation */
  appleEligible: boolean;
  cur: LedgerHolding | undefined;
  // outcome
  state: HoldingState | null;
  outReason: string | null;
  op: "associate" | "disassociate" | null;
  opReason: string | null;
}

function uniqueSorted(list: number[] | null): number[] {
  if (!list || list.length === 0) return [];
  list.sort((a, b) => a - b); // device indexes are in (seq, id) order
  const out = [list[0]];
  for (let k = 1; k < list.length; k++) if (list[k] !== list[k - 1]) out.push(list[k]);
  return out;
}

const TARGET_REASON_PRIORITY: Reason[] = [
  "itunesStoreDisabled",
  "deviceLimitReached",
  "platformNotSupported",
];

function platformOk(c: Ctx, d: number): boolean {
  const p = c.ix.devicePlatform[d];
  return (p === PLATFORM_IOS && c.supportsIOS) || (p === PLATFORM_MACOS && c.supportsMacOS);
}

function appleLimit(c: Ctx, u: number): number {
  return APPLE_ID_DEVICE_LIMIT - (c.apple?.get(u)?.externalDeviceCount ?? 0);
}

/** Whether a device can install a user-licensed app of this token for its user. */
function userTargetReason(c: Ctx, d: number, u: number): Reason | null {
  const ix = c.ix;
  if (ix.devicePlatform[d] === PLATFORM_NONE || !platformOk(c, d)) return "platformNotSupported";
  if (ix.deviceItunesBlocked[d]) return "itunesStoreDisabled";
  if (ix.deviceUser[d] === u) {
    const slot = ix.deviceSlot[d];
    if (slot < 0 || slot >= appleLimit(c, u)) return "deviceLimitReached";
  }
  return null;
}

function newWork(c: Ctx, key: number, cur: LedgerHolding | undefined): Work {
  const ix = c.ix;
  const isUser = key < ix.nUsers;
  return {
    key,
    type: isUser ? "user" : "device",
    id: isUser ? ix.userIds[key] : ix.deviceIds[key - ix.nUsers],
    seq: isUser ? ix.userSeq[key] : ix.deviceSeq[key - ix.nUsers],
    lic: isUser ? "user" : "device",
    inScope: false,
    intent: null,
    rule: "notTargeted",
    assign: -1,
    via: -1,
    time: INF,
    want: false,
    reason: null,
    storeKeyNow: null,
    retain: false,
    devices: undefined,
    installDevs: null,
    removeDevs: null,
    appleEligible: false,
    cur,
    state: null,
    outReason: null,
    op: null,
    opReason: null,
  };
}

function decideKnown(c: Ctx, key: number, a: HolderAcc | undefined, cur: LedgerHolding | undefined): Work {
  const ix = c.ix;
  const w = newWork(c, key, cur);
  const nU = ix.nUsers;
  const isUser = key < nU;
  if (isUser) {
    const rec = c.apple?.get(key);
    w.storeKeyNow = rec && rec.state === "associated" ? rec.clientUserId : null;
  } else w.storeKeyNow = ix.deviceSerial[key - nU];

  if (!a) {
    // not reached by any include target
    w.reason = isUser
      ? ix.userActive[key]
        ? "notTargeted"
        : "userNotActive"
      : ix.deviceManaged[key - nU]
        ? "notTargeted"
        : "deviceRemoved";
    return w;
  }
  w.inScope = true;
  const selfExcluded = c.sc.excl[key] === c.stamp;
  if (selfExcluded || a.rank < 0) {
    w.intent = "excluded";
    w.rule = "exclusion";
    w.reason = "excluded";
    return w;
  }
  w.assign = a.assign;
  w.via = a.via;
  w.time = a.time;
  if (a.rank === R_UNINSTALL) {
    w.intent = "uninstall";
    w.rule = "uninstall";
    w.reason = "uninstallIntent";
  } else {
    w.intent = a.rank === R_REQUIRED ? "required" : "available";
    w.rule = w.intent;
  }

  if (isUser) {
    const u = key;
    w.appleEligible = a.rank !== R_UNINSTALL;
    const install = uniqueSorted(a.install);
    const devices: DeviceTarget[] = [];
    if (a.rank === R_UNINSTALL) {
      const remove = uniqueSorted(install.concat(a.remove ?? []));
      const rd: number[] = [];
      for (const d of remove) {
        if (ix.devicePlatform[d] === PLATFORM_NONE) continue;
        rd.push(d);
        devices.push({ deviceId: ix.deviceIds[d], action: "remove", reason: null });
      }
      w.removeDevs = rd;
      w.devices = devices;
      return w;
    }
    const ok: number[] = [];
    let worst: Reason | null = null;
    for (const d of install) {
      const r = userTargetReason(c, d, u);
      devices.push({ deviceId: ix.deviceIds[d], action: r ? "none" : "install", reason: r });
      if (r === null) ok.push(d);
      else if (worst === null || TARGET_REASON_PRIORITY.indexOf(r) < TARGET_REASON_PRIORITY.indexOf(worst))
        worst = r;
    }
    w.devices = devices;
    w.installDevs = ok;
    if (a.rank === R_ELIGIBLE) {
      w.reason = "notRequested";
      return w;
    }
    if (ok.length === 0 && !a.requiredNoDevice) {
      w.reason = worst ?? "notRequested";
      return w;
    }
    if (w.storeKeyNow === null) {
      w.reason = "awaitingInvitation";
      return w;
    }
    w.want = true;
    return w;
  }

  // device holder
  const d = key - nU;
  if (a.rank === R_UNINSTALL) {
    w.removeDevs = ix.deviceManaged[d] && ix.devicePlatform[d] !== PLATFORM_NONE ? [d] : [];
    return w;
  }
  if (a.rank === R_ELIGIBLE) {
    w.reason = "notRequested";
    return w;
  }
  if (!ix.deviceManaged[d]) {
    // ENG-6: a device removed from management keeps its license unless uninstallOnDeviceRemoval is set.
    w.reason = "deviceRemoved";
    w.retain = !a.removalRelease;
    return w;
  }
  const app = c.input.app;
  if (app.productType === "Book" || !app.deviceAssignable) w.reason = "notDeviceAssignable";
  else if (!platformOk(c, d)) w.reason = "platformNotSupported";
  else if (!w.storeKeyNow) w.reason = "noSerialNumber";
  else {
    w.want = true;
    w.installDevs = [d];
  }
  return w;
}

function decideUnknown(type: HolderType, cur: LedgerHolding): Work {
  return {
    key: -1,
    type,
    id: cur.holderId,
    seq: cur.holderSeq ?? Number.MAX_SAFE_INTEGER,
    lic: cur.licenseType,
    inScope: false,
    intent: null,
    rule: "notTargeted",
    assign: -1,
    via: -1,
    time: INF,
    want: false,
    reason: type === "user" ? "userNotActive" : "deviceRemoved",
    storeKeyNow: null,
    retain: false,
    devices: undefined,
    installDevs: null,
    removeDevs: null,
    appleEligible: false,
    cur,
    state: null,
    outReason: null,
    op: null,
    opReason: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Allocation

function typeRank(t: HolderType): number {
  return t === "user" ? 0 : 1;
}

/** Queue order (ENG-2): entitlement time, then creation order (seq), then holder type, then id. */
export function queueCompare(
  a: { time: number; seq: number; type: HolderType; id: string },
  b: { time: number; seq: number; type: HolderType; id: string },
): number {
  return (
    a.time - b.time ||
    a.seq - b.seq ||
    typeRank(a.type) - typeRank(b.type) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
function workCompare(a: Work, b: Work): number {
  // INF - INF is NaN; entitled holders always have finite times, the rest sort last.
  const ta = Number.isFinite(a.time) ? a.time : Number.MAX_VALUE;
  const tb = Number.isFinite(b.time) ? b.time : Number.MAX_VALUE;
  return (
    ta - tb ||
    a.seq - b.seq ||
    typeRank(a.type) - typeRank(b.type) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

function removalDone(c: Ctx, w: Work): boolean {
  for (const d of w.removeDevs ?? []) {
    const s = c.installs.get(d);
    if (!s) return false;
    if (s.state === "removed") continue;
    if (s.state === "removePending" && c.now - s.since >= c.timeoutMs) continue;
    return false;
  }
  return true;
}

interface Classified {
  kept: Work[];
  /** every work left in a licensed state (kept, retained, uninstall pending) */
  licensedWorks: Work[];
  candidates: Work[];
  /** licensed (pendingAssign/assigned) after decisions, before allocation */
  licensed: number;
  /** consuming after decisions, before allocation */
  consuming: number;
}

/** Decide every holder except the allocation of free licenses. */
function classify(c: Ctx, works: Work[]): Classified {
  const kept: Work[] = [];
  const licensedWorks: Work[] = [];
  const candidates: Work[] = [];
  let licensed = 0;
  let consuming = 0;
  for (const w of works) {
    const cur = w.cur;
    const curState = cur?.state ?? null;
    const release = (reason: string) => {
      if (!c.revocable) {
        // The store cannot take this license back (books, irrevocable apps): it stays where it is.
        w.state = curState;
        w.outReason = "notRevocable";
        return;
      }
      w.state = "pendingRelease";
      w.outReason = reason;
      w.op = c.tokenUsable ? "disassociate" : null;
      w.opReason = reason;
    };
    if (curState === "pendingRelease") {
      w.state = "pendingRelease";
      w.outReason = cur!.reason ?? null;
    } else if (curState === "pendingAssign" || curState === "assigned") {
      if (!c.tokenUsable) {
        w.state = curState;
        w.outReason = cur!.reason ?? null;
        if (w.want || w.retain) kept.push(w);
      } else if (w.want && cur!.storeKey && w.storeKeyNow && cur!.storeKey !== w.storeKeyNow)
        release("storeKeyChanged");
      else if (w.want || w.retain) {
        w.state = curState;
        w.outReason = null;
        kept.push(w);
      } else if (w.intent === "uninstall") {
        if (removalDone(c, w)) release("uninstallIntent");
        else {
          w.state = curState;
          w.outReason = "uninstallIntent";
        }
      } else release(w.reason ?? "notTargeted");
    } else if (
      curState === "failed" &&
      w.want &&
      (c.failedRetryMs === null || c.now - cur!.since < c.failedRetryMs)
    ) {
      w.state = "failed";
      w.outReason = cur!.reason ?? null;
    } else if (w.want) {
      if (c.tokenUsable) candidates.push(w);
      else {
        w.state = "waiting";
        w.outReason = "tokenNotUsable";
      }
    } else if (
      w.reason &&
      WAITING_REASONS.has(w.reason) &&
      (w.intent === "required" || w.intent === "available")
    ) {
      w.state = "waiting";
      w.outReason = w.reason;
    } else if (curState !== null) {
      w.state = "released";
      w.outReason = curState === "released" ? (cur!.reason ?? null) : w.reason;
    }
    if (w.state && LICENSED_STATES.has(w.state)) {
      licensed++;
      licensedWorks.push(w);
    }
    if (w.state && CONSUMING_STATES.has(w.state)) consuming++;
  }
  return { kept, licensedWorks, candidates, licensed, consuming };
}

/** ENG-1 when the store's count fell below the ledger: release holders being uninstalled first, then
 * the latest entitled. */
function trimOverCapacity(c: Ctx, cl: Classified, capacity: number): number {
  const excess = cl.licensed - capacity;
  if (excess <= 0 || !c.tokenUsable || !c.revocable) return 0;
  const keptSorted = [...cl.licensedWorks].sort(
    (a, b) => (a.intent === "uninstall" ? 1 : 0) - (b.intent === "uninstall" ? 1 : 0) || workCompare(a, b),
  );
  let released = 0;
  for (let k = keptSorted.length - 1; k >= 0 && released < excess; k--) {
    const w = keptSorted[k];
    w.state = "pendingRelease";
    w.outReason = "insufficientLicenses";
    w.op = "disassociate";
    w.opReason = "insufficientLicenses";
    released++;
  }
  return released;
}

// ---------------------------------------------------------------------------------------------
// Output

function decisionOf(c: Ctx, w: Work): HoldingDecision {
  const ix = c.ix;
  const cur = w.cur;
  const state = w.state;
  const reason = state === null ? w.reason : w.outReason;
  const entitledAt = Number.isFinite(w.time) ? w.time : null;
  let storeKey: string | null;
  if (state === "pendingAssign" && (!cur || !LICENSED_STATES.has(cur.state))) storeKey = w.storeKeyNow;
  else if (state && CONSUMING_STATES.has(state)) storeKey = cur?.storeKey ?? w.storeKeyNow;
  else if (state === "waiting") storeKey = w.storeKeyNow;
  else storeKey = cur?.storeKey ?? null;
  const prevState = cur?.state ?? null;
  const prevReason = cur?.reason ?? null;
  const changed =
    state === null
      ? false
      : !cur ||
        state !== prevState ||
        reason !== prevReason ||
        storeKey !== (cur.storeKey ?? null) ||
        entitledAt !== (cur.entitledAt ?? null);
  const stateChanged = !cur || state !== prevState;
  const d: HoldingDecision = {
    holderType: w.type,
    holderId: w.id,
    holderSeq: w.seq,
    licenseType: w.lic,
    intent: w.intent,
    rule: w.rule,
    assignmentId: w.assign >= 0 ? c.includes[w.assign].id : null,
    via:
      w.via >= 0 && w.via !== w.key
        ? w.via < ix.nUsers
          ? { type: "user", id: ix.userIds[w.via] }
          : { type: "device", id: ix.deviceIds[w.via - ix.nUsers] }
        : null,
    entitledAt,
    state,
    reason,
    previousState: prevState,
    previousReason: prevReason,
    changed,
    since: state === null ? null : stateChanged ? c.now : cur!.since,
    waitingSince:
      state === "waiting" ? (prevState === "waiting" ? (cur!.waitingSince ?? cur!.since) : c.now) : null,
    storeKey,
  };
  const advice =
    reason && state !== "released" && state !== "pendingRelease" ? ADVICE[reason as Reason] : undefined;
  if (advice) d.advice = advice;
  if (w.devices) d.devices = w.devices;
  return d;
}

interface SortableOp {
  op: Operation;
  k1: number;
  k2: number;
  k3: number;
}

function flagsOf(a: EngineAssignment) {
  return {
    isRemovable: a.settings.isRemovable ?? true,
    preventManagedAppBackup: a.settings.preventManagedAppBackup ?? false,
    preventAutoAppUpdate: a.settings.preventAutoAppUpdate ?? false,
  };
}

interface DeviceCommands {
  /** devices some holder wants the app removed from (Uninstall wins over install per device) */
  removeWanted: Set<number>;
  removes: Map<number, SortableOp>;
  installs: Map<number, SortableOp>;
}

function newCommands(): DeviceCommands {
  return { removeWanted: new Set(), removes: new Map(), installs: new Map() };
}

/** Store, Apple-user and device operations for one holder (k1: the holder's output position). */
function holderOps(c: Ctx, w: Work, k1: number, out: SortableOp[], cmds: DeviceCommands): void {
  if (!c.tokenUsable) return;
  const ix = c.ix;
  const appId = c.input.app.id;
  const rankOfKind = (k: Operation["kind"]) => OPERATION_ORDER.indexOf(k);
  if (w.intent === "uninstall") {
    for (const d of w.removeDevs ?? []) {
      cmds.removeWanted.add(d);
      const s = c.installs.get(d)?.state;
      if (s === "removePending" || s === "removed" || cmds.removes.has(d)) continue;
      const op: DeviceCommandOp = {
        kind: "removeCommand",
        appId,
        deviceId: ix.deviceIds[d],
        holderType: w.type,
        holderId: w.id,
        licenseType: w.lic,
        assignmentId: w.assign >= 0 ? c.includes[w.assign].id : null,
      };
      cmds.removes.set(d, { op, k1: rankOfKind("removeCommand"), k2: k1, k3: d });
    }
  }
  if (w.state === "assigned" && w.want && w.installDevs) {
    const asg = c.includes[w.assign];
    for (const d of w.installDevs) {
      const s = c.installs.get(d)?.state;
      if (s === "installPending" || s === "installed" || cmds.installs.has(d)) continue;
      const op: DeviceCommandOp = {
        kind: "installCommand",
        appId,
        deviceId: ix.deviceIds[d],
        holderType: w.type,
        holderId: w.id,
        licenseType: w.lic,
        assignmentId: asg.id,
        flags: flagsOf(asg),
      };
      cmds.installs.set(d, { op, k1: rankOfKind("installCommand"), k2: k1, k3: d });
    }
  }
  if (w.type === "user" && w.appleEligible && w.intent !== "excluded") {
    const rec = c.apple?.get(w.key);
    const st = rec?.state ?? "none";
    if (st === "none" || st === "retired" || st === "registered") {
      const kind = st === "registered" ? "inviteAppleUser" : "registerAppleUser";
      const op: AppleUserOp = {
        kind,
        tokenId: c.input.app.tokenId,
        userId: w.id,
        clientUserId: rec?.clientUserId ?? null,
      };
      out.push({ op, k1: rankOfKind(kind), k2: k1, k3: 0 });
    }
  }
  if (w.op === "disassociate") {
    const key = w.cur?.storeKey ?? w.storeKeyNow;
    if (key == null)
      throw new EngineInputError(`engine: consuming holding of ${w.type} ${w.id} has no store key`);
    const op: AssociateOp = {
      kind: "disassociate",
      appId,
      holderType: w.type,
      holderId: w.id,
      licenseType: w.cur?.licenseType ?? w.lic,
      storeKey: key,
      reason: w.opReason ?? undefined,
    };
    out.push({ op, k1: rankOfKind("disassociate"), k2: k1, k3: 0 });
  }
}

function flushCommands(cmds: DeviceCommands, out: SortableOp[]): void {
  for (const op of cmds.removes.values()) out.push(op);
  for (const [d, op] of cmds.installs) if (!cmds.removeWanted.has(d)) out.push(op);
}

function sortOps(ops: SortableOp[]): Operation[] {
  ops.sort((a, b) => a.k1 - b.k1 || a.k2 - b.k2 || a.k3 - b.k3);
  return ops.map((o) => o.op);
}

function roundMoney(x: number): number {
  return Math.round(x * 100) / 100;
}

export function costOf(
  unitPrice: number | null | undefined,
  licensed: number,
  newly: number,
  shortfall: number,
): PlanCost {
  const p = unitPrice ?? null;
  return {
    unitPrice: p,
    licensedValue: p === null ? null : roundMoney(p * licensed),
    newlyAssignedValue: p === null ? null : roundMoney(p * newly),
    shortfallValue: p === null ? null : roundMoney(p * shortfall),
  };
}

function countsOf(
  c: Ctx,
  decisions: HoldingDecision[],
  capacity: number,
  newlyAssigned: number,
  newlyReleased: number,
): PlanCounts {
  const counts: PlanCounts = {
    total: c.input.app.totalCount,
    externallyConsumed: c.input.app.externallyConsumed ?? 0,
    capacity,
    consuming: 0,
    licensed: 0,
    assigned: 0,
    pendingAssign: 0,
    pendingRelease: 0,
    waiting: 0,
    failed: 0,
    released: 0,
    available: 0,
    newlyAssigned,
    newlyReleased,
    shortfall: 0,
    waitingByReason: {},
  };
  for (const d of decisions) {
    if (d.state === null) continue;
    counts[d.state]++;
    if (d.state === "waiting" && d.reason) {
      counts.waitingByReason[d.reason] = (counts.waitingByReason[d.reason] ?? 0) + 1;
      if (d.reason === "insufficientLicenses") counts.shortfall++;
    }
  }
  counts.licensed = counts.assigned + counts.pendingAssign;
  counts.consuming = counts.licensed + counts.pendingRelease;
  counts.available = Math.max(0, capacity - counts.consuming);
  return counts;
}

export function capacityOf(app: AppInput["app"]): number {
  return Math.max(0, app.totalCount - (app.externallyConsumed ?? 0));
}

function ledgerMaps(c: Ctx, holdings: readonly LedgerHolding[]) {
  const ix = c.ix;
  const known = new Map<number, LedgerHolding>();
  const unknown: LedgerHolding[] = [];
  const seenUnknown = new Set<string>();
  for (const h of holdings) {
    const idx = h.holderType === "user" ? ix.userById.get(h.holderId) : ix.deviceById.get(h.holderId);
    if (idx === undefined) {
      const k = `${h.holderType}:${h.holderId}`;
      if (seenUnknown.has(k)) throw new EngineInputError(`engine: duplicate ledger row for ${k}`);
      seenUnknown.add(k);
      unknown.push(h);
      continue;
    }
    const key = h.holderType === "user" ? idx : ix.nUsers + idx;
    if (known.has(key))
      throw new EngineInputError(`engine: duplicate ledger row for ${h.holderType}:${h.holderId}`);
    known.set(key, h);
  }
  unknown.sort((a, b) =>
    workCompare(
      { time: 0, seq: a.holderSeq ?? Number.MAX_SAFE_INTEGER, type: a.holderType, id: a.holderId } as Work,
      { time: 0, seq: b.holderSeq ?? Number.MAX_SAFE_INTEGER, type: b.holderType, id: b.holderId } as Work,
    ),
  );
  return { known, unknown };
}

function holderOrder(a: Work, b: Work): number {
  return typeRank(a.type) - typeRank(b.type) || a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Output order of decisions: holder type (users first), holder seq, holder id. */
export function decisionOrder(a: HoldingDecision, b: HoldingDecision): number {
  return (
    typeRank(a.holderType) - typeRank(b.holderType) ||
    a.holderSeq - b.holderSeq ||
    (a.holderId < b.holderId ? -1 : a.holderId > b.holderId ? 1 : 0)
  );
}

/** Works in output order: (type, seq, id). Known holder keys are already in that order. */
function orderedWorks(
  c: Ctx,
  keys: number[],
  known: Map<number, LedgerHolding>,
  unknown: LedgerHolding[],
): Work[] {
  const sortedKeys = Int32Array.from(keys).sort();
  const knownWorks: Work[] = new Array(sortedKeys.length);
  for (let k = 0; k < sortedKeys.length; k++) {
    const key = sortedKeys[k];
    knownWorks[k] = decideKnown(c, key, c.holders.get(key), known.get(key));
  }
  if (unknown.length === 0) return knownWorks;
  const unknownWorks = unknown.map((h) => decideUnknown(h.holderType, h));
  const merged: Work[] = [];
  let i = 0;
  let j = 0;
  while (i < knownWorks.length || j < unknownWorks.length) {
    if (
      j >= unknownWorks.length ||
      (i < knownWorks.length && holderOrder(knownWorks[i], unknownWorks[j]) <= 0)
    )
      merged.push(knownWorks[i++]);
    else merged.push(unknownWorks[j++]);
  }
  return merged;
}

function issuesOf(c: Ctx): PrincipalIssue[] {
  return [...c.issues.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

// ---------------------------------------------------------------------------------------------
// Public: full plan

/** The full plan of one app. `ix` is built once per directory snapshot (buildDirectoryIndex). */
export function planApp(ix: DirectoryIndex, input: AppInput, options: PlanOptions): AppPlan {
  const c = makeCtx(ix, input, options);
  const touched = resolvePrincipals(c);
  resolveHolders(c, touched);
  const { known, unknown } = ledgerMaps(c, input.holdings);
  const keys: number[] = [...c.holders.keys()];
  for (const k of known.keys()) if (!c.holders.has(k)) keys.push(k);
  const works = orderedWorks(c, keys, known, unknown);

  const capacity = capacityOf(input.app);
  const cl = classify(c, works);
  trimOverCapacity(c, cl, capacity);
  const candidates = cl.candidates.sort(workCompare);
  const free = Math.max(0, capacity - cl.consuming);
  const ops: SortableOp[] = [];
  const assocRank = OPERATION_ORDER.indexOf("associate");
  for (let q = 0; q < candidates.length; q++) {
    const w = candidates[q];
    if (q < free) {
      w.state = "pendingAssign";
      w.outReason = null;
      w.op = "associate";
      ops.push({
        op: {
          kind: "associate",
          appId: input.app.id,
          holderType: w.type,
          holderId: w.id,
          licenseType: w.lic,
          storeKey: w.storeKeyNow!,
        },
        k1: assocRank,
        k2: q,
        k3: 0,
      });
    } else {
      w.state = "waiting";
      w.outReason = "insufficientLicenses";
    }
  }
  const decisions: HoldingDecision[] = [];
  let newlyReleased = 0;
  const cmds = newCommands();
  for (let k = 0; k < works.length; k++) {
    const w = works[k];
    if (w.op === "disassociate") newlyReleased++;
    holderOps(c, w, k, ops, cmds);
    if (w.state !== null || w.inScope) decisions.push(decisionOf(c, w));
  }
  flushCommands(cmds, ops);
  const newlyAssigned = Math.min(free, candidates.length);
  const counts = countsOf(c, decisions, capacity, newlyAssigned, newlyReleased);
  return {
    appId: input.app.id,
    tokenId: input.app.tokenId,
    holdings: decisions,
    operations: sortOps(ops),
    issues: issuesOf(c),
    counts,
    cost: costOf(input.app.unitPrice, counts.licensed, newlyAssigned, counts.shortfall),
  };
}

/** Plans for many apps over one directory snapshot, one at a time (bounded memory). */
export function* planApps(
  ix: DirectoryIndex,
  inputs: Iterable<AppInput>,
  options: PlanOptions,
): Generator<AppPlan> {
  for (const input of inputs) yield planApp(ix, input, options);
}

/** Apple-user operations of many plans, one per (kind, token, user), in a stable order. */
export function dedupeAppleUserOps(plans: Iterable<{ operations: readonly Operation[] }>): AppleUserOp[] {
  const seen = new Map<string, AppleUserOp>();
  for (const p of plans)
    for (const op of p.operations)
      if (op.kind === "registerAppleUser" || op.kind === "inviteAppleUser") {
        const k = `${op.kind}\u0000${op.tokenId}\u0000${op.userId}`;
        if (!seen.has(k)) seen.set(k, op);
      }
  return [...seen.values()].sort(
    (a, b) =>
      OPERATION_ORDER.indexOf(a.kind) - OPERATION_ORDER.indexOf(b.kind) ||
      (a.tokenId < b.tokenId ? -1 : a.tokenId > b.tokenId ? 1 : 0) ||
      (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
  );
}

// ---------------------------------------------------------------------------------------------
// Public: incremental plan

export interface IncrementalInput extends AppInput {
  /** Principals whose memberships, attributes, primary-user link, Apple user record, install requests,
   * install states or ledger rows changed (include both the old and the new primary user of a device). */
  changed: { users?: readonly string[]; devices?: readonly string[] };
  /** The app's whole ledger now (including the rows in `holdings`). */
  ledgerCounts: { consuming: number; licensed: number };
  /** Head of the stored queue: rows in state waiting with reason insufficientLicenses, in queue order
   * (entitledAt, holderSeq, holderType user<device, holderId). At least queueHeadSize(...) rows. */
  queue: readonly LedgerHolding[];
  /** true when `queue` holds every such row. */
  queueComplete: boolean;
}

export interface IncrementalPlan {
  appId: string;
  tokenId: string;
  /** Decisions of the affected holders (and of queue rows served); apply the `changed` ones. */
  holdings: HoldingDecision[];
  operations: Operation[];
  issues: PrincipalIssue[];
  counts: Pick<
    PlanCounts,
    "capacity" | "consuming" | "licensed" | "available" | "newlyAssigned" | "newlyReleased"
  >;
}

/** The holders an incremental plan decides, from the changed principals (see README). */
export function affectedHolders(
  ix: DirectoryIndex,
  changed: IncrementalInput["changed"],
): { users: Set<string>; devices: Set<string> } {
  const users = new Set<string>(changed.users ?? []);
  const devices = new Set<string>(changed.devices ?? []);
  for (const id of changed.devices ?? []) {
    const d = ix.deviceById.get(id);
    if (d === undefined) continue;
    const u = ix.deviceUser[d];
    if (u >= 0) users.add(ix.userIds[u]);
  }
  for (const id of users) {
    const u = ix.userById.get(id);
    if (u === undefined) continue;
    for (let k = ix.userDevStart[u]; k < ix.userDevStart[u + 1]; k++)
      devices.add(ix.deviceIds[ix.userDevList[k]]);
  }
  return { users, devices };
}

/** How many queue rows an incremental plan may need (at least this many, or all of them). */
export function queueHeadSize(capacity: number, consuming: number, affectedHolderCount: number): number {
  return Math.max(0, capacity - consuming) + affectedHolderCount;
}

/**
 * Re-plans only the holders affected by `changed`, over a directory slice that contains every principal
 * those holders depend on (sliceForIncremental shows exactly what). Equal to the full plan for those
 * holders, its operations equal to the full plan's, provided the rest of the ledger is what the last
 * plan decided and `now` has not crossed a timeout for unaffected holders. Assignment, count and
 * token changes need a full plan.
 */
export function planAppIncremental(
  ix: DirectoryIndex,
  input: IncrementalInput,
  options: PlanOptions,
): IncrementalPlan {
  const c = makeCtx(ix, input, options);
  const touched = resolvePrincipals(c);
  resolveHolders(c, touched);
  const affected = affectedHolders(ix, input.changed);
  const inH = (h: LedgerHolding) =>
    h.holderType === "user" ? affected.users.has(h.holderId) : affected.devices.has(h.holderId);
  const { known, unknown } = ledgerMaps(c, input.holdings.filter(inH));
  const keys: number[] = [];
  for (const id of affected.users) {
    const u = ix.userById.get(id);
    if (u !== undefined) keys.push(u);
  }
  for (const id of affected.devices) {
    const d = ix.deviceById.get(id);
    if (d !== undefined) keys.push(ix.nUsers + d);
  }
  const works = orderedWorks(c, keys, known, unknown);
  const capacity = capacityOf(input.app);

  let licensedBefore = 0;
  let consumingBefore = 0;
  for (const w of works) {
    if (w.cur && LICENSED_STATES.has(w.cur.state)) licensedBefore++;
    if (w.cur && CONSUMING_STATES.has(w.cur.state)) consumingBefore++;
  }
  const cl = classify(c, works);
  const licensedAfter = input.ledgerCounts.licensed - licensedBefore + cl.licensed;
  if (c.tokenUsable && c.revocable && licensedAfter > capacity)
    throw new EngineInputError("engine: the ledger holds more licenses than the app has; run a full plan");
  const consumingAfter = input.ledgerCounts.consuming - consumingBefore + cl.consuming;
  const free = c.tokenUsable ? Math.max(0, capacity - consumingAfter) : 0;

  interface Cand {
    time: number;
    seq: number;
    type: HolderType;
    id: string;
    work: Work | null;
    row: LedgerHolding | null;
  }
  const cands: Cand[] = cl.candidates.map((w) => ({
    time: w.time,
    seq: w.seq,
    type: w.type,
    id: w.id,
    work: w,
    row: null,
  }));
  let lastQueued: Cand | null = null;
  for (const row of input.queue) {
    const q: Cand = {
      time: row.entitledAt ?? Number.MAX_VALUE,
      seq: row.holderSeq ?? Number.MAX_SAFE_INTEGER,
      type: row.holderType,
      id: row.holderId,
      work: null,
      row,
    };
    lastQueued = q;
    if (inH(row)) continue;
    if (row.state !== "waiting" || row.reason !== "insufficientLicenses")
      throw new EngineInputError(
        `engine: queue row ${row.holderType}:${row.holderId} is not waiting for licenses`,
      );
    cands.push(q);
  }
  cands.sort(queueCompare);
  const served = cands.slice(0, free);
  if (!input.queueComplete && free > 0) {
    const last = served.at(-1);
    if (served.length < free || (last && (lastQueued === null || queueCompare(last, lastQueued) > 0)))
      throw new EngineInputError("engine: the queue head given is too short for this plan; load more rows");
  }
  const ops: SortableOp[] = [];
  const assocRank = OPERATION_ORDER.indexOf("associate");
  const decisions: HoldingDecision[] = [];
  for (let q = 0; q < cands.length; q++) {
    const cand = cands[q];
    const serve = q < free;
    if (cand.work) {
      const w = cand.work;
      if (serve) {
        w.state = "pendingAssign";
        w.outReason = null;
        w.op = "associate";
      } else {
        w.state = "waiting";
        w.outReason = "insufficientLicenses";
      }
    }
    if (!serve) continue;
    const storeKey = cand.work ? cand.work.storeKeyNow : cand.row!.storeKey;
    if (!storeKey) throw new EngineInputError(`engine: queue row ${cand.type}:${cand.id} has no store key`);
    const licenseType = cand.work ? cand.work.lic : cand.row!.licenseType;
    ops.push({
      op: {
        kind: "associate",
        appId: input.app.id,
        holderType: cand.type,
        holderId: cand.id,
        licenseType,
        storeKey,
      },
      k1: assocRank,
      k2: q,
      k3: 0,
    });
    if (cand.row) {
      const row = cand.row;
      decisions.push({
        holderType: row.holderType,
        holderId: row.holderId,
        holderSeq: row.holderSeq ?? Number.MAX_SAFE_INTEGER,
        licenseType: row.licenseType,
        intent: null,
        rule: "queued",
        assignmentId: null,
        via: null,
        entitledAt: row.entitledAt ?? null,
        state: "pendingAssign",
        reason: null,
        previousState: row.state,
        previousReason: row.reason ?? null,
        changed: true,
        since: c.now,
        waitingSince: null,
        storeKey,
      });
    }
  }
  let newlyReleased = 0;
  const cmds = newCommands();
  for (let k = 0; k < works.length; k++) {
    const w = works[k];
    if (w.op === "disassociate") newlyReleased++;
    holderOps(c, w, k, ops, cmds);
    if (w.state !== null || w.inScope) decisions.push(decisionOf(c, w));
  }
  flushCommands(cmds, ops);
  // Served queue rows sit among the affected holders' operations in holder order, as in the full plan.
  decisions.sort(decisionOrder);
  const newlyAssigned = served.length;
  const licensed = licensedAfter + newlyAssigned;
  const consuming = consumingAfter + newlyAssigned;
  return {
    appId: input.app.id,
    tokenId: input.app.tokenId,
    holdings: decisions,
    operations: sortIncrementalOps(ops, decisions),
    issues: issuesOf(c).filter((i) =>
      i.principalType === "user" ? affected.users.has(i.principalId) : affected.devices.has(i.principalId),
    ),
    counts: {
      capacity,
      consuming,
      licensed,
      available: Math.max(0, capacity - consuming),
      newlyAssigned,
      newlyReleased,
    },
  };
}

/** Operation order as in the full plan: k2 of non-associate operations is re-based on holder order. */
function sortIncrementalOps(ops: SortableOp[], decisions: HoldingDecision[]): Operation[] {
  const pos = new Map<string, number>();
  for (let i = 0; i < decisions.length; i++)
    pos.set(`${decisions[i].holderType}:${decisions[i].holderId}`, i);
  const assocRank = OPERATION_ORDER.indexOf("associate");
  for (const o of ops) {
    if (o.k1 === assocRank) continue;
    const op = o.op;
    const k =
      op.kind === "registerAppleUser" || op.kind === "inviteAppleUser"
        ? `user:${op.userId}`
        : `${(op as AssociateOp | DeviceCommandOp).holderType}:${(op as AssociateOp | DeviceCommandOp).holderId}`;
    o.k2 = pos.get(k) ?? o.k2;
  }
  return sortOps(ops);
}

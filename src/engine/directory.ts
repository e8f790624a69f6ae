// The directory as the engine reads it: dense indexes over users, devices and groups, adjacency in
// compressed arrays, and the entitlement time of every member of a group — the earliest moment,
// over all nesting paths, at which a path became complete (the latest joinedAt along it): a
// bottleneck ("minimax") path problem solved with Dijkstra over the groups and one pass over the
// leaf memberships of the groups reached.
import type { AppleUserRecord, DeviceOs, DirectoryInput } from "./types.ts";

export const PLATFORM_NONE = 0;
export const PLATFORM_IOS = 1;
export const PLATFORM_MACOS = 2;

/** Apple's platform name for a device's operating system (iOS and iPadOS are Apple's `iOS`). */
export function applePlatformOf(os: DeviceOs): "iOS" | "macOS" | null {
  if (os === "iOS" || os === "iPadOS") return "iOS";
  if (os === "macOS") return "macOS";
  return null;
}

function platformCode(os: DeviceOs): number {
  const p = applePlatformOf(os);
  return p === "iOS" ? PLATFORM_IOS : p === "macOS" ? PLATFORM_MACOS : PLATFORM_NONE;
}

export interface Expansion {
  /** Principal indexes: users 0..nUsers-1, devices nUsers..nUsers+nDevices-1. */
  readonly principals: Int32Array;
  readonly times: Float64Array;
}

/**
 * Read-only after construction (the scratch arrays are an implementation detail: every function
 * that uses them finishes synchronously, so interleaved callers cannot observe them).
 */
export interface DirectoryIndex {
  readonly nUsers: number;
  readonly nDevices: number;
  readonly userIds: readonly string[];
  readonly userSeq: Float64Array;
  readonly userCreated: Float64Array;
  /** enabled and not deleted */
  readonly userActive: Uint8Array;
  readonly userById: ReadonlyMap<string, number>;
  readonly activeUsers: Int32Array;
  readonly deviceIds: readonly string[];
  readonly deviceSeq: Float64Array;
  readonly deviceCreated: Float64Array;
  readonly deviceSerial: readonly (string | null)[];
  readonly devicePlatform: Uint8Array;
  /** primary user index or -1 */
  readonly deviceUser: Int32Array;
  readonly deviceItunesBlocked: Uint8Array;
  readonly deviceManaged: Uint8Array;
  readonly deviceOsVersion: readonly (string | null)[];
  /** Rank among the primary user's managed Apple devices that can use the Apple Account (not iTunes-blocked),
   * in (seq, id) order; -1 when not such a device. Compared with the 5-device limit. */
  readonly deviceSlot: Int32Array;
  readonly deviceById: ReadonlyMap<string, number>;
  /** Devices of user u (any state) are userDevList[userDevStart[u] .. userDevStart[u+1]), in (seq, id) order. */
  readonly userDevStart: Int32Array;
  readonly userDevList: Int32Array;
  readonly groupById: ReadonlyMap<string, number>;
  readonly nGroups: number;
  readonly childStart: Int32Array;
  readonly childGroup: Int32Array;
  readonly childTime: Float64Array;
  readonly leafStart: Int32Array;
  readonly leafPrincipal: Int32Array;
  readonly leafTime: Float64Array;
  /** tokenId → user index → record */
  readonly appleUsers: ReadonlyMap<string, ReadonlyMap<number, AppleUserRecord>>;
  /** @internal */
  readonly scratch: Scratch;
}

interface Scratch {
  stamp: number;
  pStamp: Int32Array;
  pBest: Float64Array;
  gStamp: Int32Array;
  gDist: Float64Array;
  cache: Map<number, Expansion>;
  cacheSize: number;
  cacheLimit: number;
}

function byKey(seq: ArrayLike<number>, ids: readonly string[]) {
  return (a: number, b: number) => seq[a] - seq[b] || (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0);
}

export interface IndexOptions {
  /** Upper bound on cached group expansions (members, summed). Default 4,000,000 (≈50 MB). */
  cacheEntries?: number;
}

export function buildDirectoryIndex(dir: DirectoryInput, options: IndexOptions = {}): DirectoryIndex {
  const nUsers = dir.users.length;
  const userIds = new Array<string>(nUsers);
  const userSeq = new Float64Array(nUsers);
  const userCreated = new Float64Array(nUsers);
  const userActive = new Uint8Array(nUsers);
  const userById = new Map<string, number>();
  // Sort indexes by (seq, id) so the index does not depend on input order.
  const uOrder = dir.users.map((_, i) => i);
  uOrder.sort((a, b) => dir.users[a].seq - dir.users[b].seq || cmpStr(dir.users[a].id, dir.users[b].id));
  let activeCount = 0;
  for (let i = 0; i < nUsers; i++) {
    const u = dir.users[uOrder[i]];
    if (userById.has(u.id)) throw new Error(`engine: duplicate user ${u.id}`);
    userIds[i] = u.id;
    userSeq[i] = u.seq;
    userCreated[i] = u.createdAt;
    const active = u.enabled && !u.deleted;
    userActive[i] = active ? 1 : 0;
    if (active) activeCount++;
    userById.set(u.id, i);
  }
  const activeUsers = new Int32Array(activeCount);
  for (let i = 0, k = 0; i < nUsers; i++) if (userActive[i]) activeUsers[k++] = i;

  const nDevices = dir.devices.length;
  const dOrder = dir.devices.map((_, i) => i);
  dOrder.sort(
    (a, b) => dir.devices[a].seq - dir.devices[b].seq || cmpStr(dir.devices[a].id, dir.devices[b].id),
  );
  const deviceIds = new Array<string>(nDevices);
  const deviceSeq = new Float64Array(nDevices);
  const deviceCreated = new Float64Array(nDevices);
  const deviceSerial = new Array<string | null>(nDevices);
  const devicePlatform = new Uint8Array(nDevices);
  const deviceUser = new Int32Array(nDevices);
  const deviceItunesBlocked = new Uint8Array(nDevices);
  const deviceManaged = new Uint8Array(nDevices);
  const deviceOsVersion = new Array<string | null>(nDevices);
  const deviceById = new Map<string, number>();
  const userDevCount = new Int32Array(nUsers + 1);
  for (let i = 0; i < nDevices; i++) {
    const d = dir.devices[dOrder[i]];
    if (deviceById.has(d.id)) throw new Error(`engine: duplicate device ${d.id}`);
    deviceIds[i] = d.id;
    deviceSeq[i] = d.seq;
    deviceCreated[i] = d.createdAt;
    deviceSerial[i] = d.serialNumber ? d.serialNumber : null;
    devicePlatform[i] = platformCode(d.operatingSystem);
    const u = d.userId == null ? -1 : (userById.get(d.userId) ?? -1);
    deviceUser[i] = u;
    if (u >= 0) userDevCount[u]++;
    deviceItunesBlocked[i] = d.itunesStoreBlocked ? 1 : 0;
    deviceManaged[i] = d.managed ? 1 : 0;
    deviceOsVersion[i] = d.osVersion ?? null;
    deviceById.set(d.id, i);
  }
  // Devices per user; device indexes are already in (seq, id) order, so filling in index order keeps it.
  const userDevStart = new Int32Array(nUsers + 1);
  for (let u = 0; u < nUsers; u++) userDevStart[u + 1] = userDevStart[u] + userDevCount[u];
  const fill = userDevStart.slice(0, nUsers);
  const userDevList = new Int32Array(userDevStart[nUsers]);
  for (let d = 0; d < nDevices; d++) {
    const u = deviceUser[d];
    if (u >= 0) userDevList[fill[u]++] = d;
  }
  const deviceSlot = new Int32Array(nDevices).fill(-1);
  for (let u = 0; u < nUsers; u++) {
    let rank = 0;
    for (let k = userDevStart[u]; k < userDevStart[u + 1]; k++) {
      const d = userDevList[k];
      if (deviceManaged[d] && devicePlatform[d] !== PLATFORM_NONE && !deviceItunesBlocked[d])
        deviceSlot[d] = rank++;
    }
  }

  // Groups: every id that appears as a group (container or nested member).
  const groupById = new Map<string, number>();
  const groupIdx = (id: string) => {
    let g = groupById.get(id);
    if (g === undefined) {
      g = groupById.size;
      groupById.set(id, g);
    }
    return g;
  };
  const edges = dir.memberships;
  const eGroup = new Int32Array(edges.length);
  const eMember = new Int32Array(edges.length); // group index, or principal index, or -1 (unknown)
  const eKind = new Uint8Array(edges.length); // 0 leaf, 1 nested group
  let nChild = 0;
  let nLeaf = 0;
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i];
    eGroup[i] = groupIdx(e.groupId);
    if (e.memberType === "group") {
      eKind[i] = 1;
      eMember[i] = groupIdx(e.memberId);
      nChild++;
    } else {
      const m = e.memberType === "user" ? userById.get(e.memberId) : deviceById.get(e.memberId);
      eMember[i] = m === undefined ? -1 : e.memberType === "user" ? m : nUsers + m;
      if (m !== undefined) nLeaf++;
    }
  }
  const nGroups = groupById.size;
  const childStart = new Int32Array(nGroups + 1);
  const leafStart = new Int32Array(nGroups + 1);
  for (let i = 0; i < edges.length; i++) {
    if (eKind[i] === 1) childStart[eGroup[i] + 1]++;
    else if (eMember[i] >= 0) leafStart[eGroup[i] + 1]++;
  }
  for (let g = 0; g < nGroups; g++) {
    childStart[g + 1] += childStart[g];
    leafStart[g + 1] += leafStart[g];
  }
  const childGroup = new Int32Array(nChild);
  const childTime = new Float64Array(nChild);
  const leafPrincipal = new Int32Array(nLeaf);
  const leafTime = new Float64Array(nLeaf);
  const cFill = childStart.slice(0, nGroups);
  const lFill = leafStart.slice(0, nGroups);
  for (let i = 0; i < edges.length; i++) {
    const g = eGroup[i];
    if (eKind[i] === 1) {
      const k = cFill[g]++;
      childGroup[k] = eMember[i];
      childTime[k] = edges[i].joinedAt;
    } else if (eMember[i] >= 0) {
      const k = lFill[g]++;
      leafPrincipal[k] = eMember[i];
      leafTime[k] = edges[i].joinedAt;
    }
  }

  const appleUsers = new Map<string, Map<number, AppleUserRecord>>();
  for (const a of dir.appleUsers ?? []) {
    const u = userById.get(a.userId);
    if (u === undefined) continue;
    let m = appleUsers.get(a.tokenId);
    if (!m) {
      m = new Map();
      appleUsers.set(a.tokenId, m);
    }
    if (m.has(u))
      throw new Error(`engine: duplicate Apple user record for user ${a.userId} on token ${a.tokenId}`);
    m.set(u, a);
  }

  const nP = nUsers + nDevices;
  return {
    nUsers,
    nDevices,
    userIds,
    userSeq,
    userCreated,
    userActive,
    userById,
    activeUsers,
    deviceIds,
    deviceSeq,
    deviceCreated,
    deviceSerial,
    devicePlatform,
    deviceUser,
    deviceItunesBlocked,
    deviceManaged,
    deviceOsVersion,
    deviceSlot,
    deviceById,
    userDevStart,
    userDevList,
    groupById,
    nGroups,
    childStart,
    childGroup,
    childTime,
    leafStart,
    leafPrincipal,
    leafTime,
    appleUsers,
    scratch: {
      stamp: 0,
      pStamp: new Int32Array(nP),
      pBest: new Float64Array(nP),
      gStamp: new Int32Array(nGroups),
      gDist: new Float64Array(nGroups),
      cache: new Map(),
      cacheSize: 0,
      cacheLimit: options.cacheEntries ?? 4_000_000,
    },
  };
}

export function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorted-by-(seq,id) comparator over device indexes (exported for tests and the planner). */
export function deviceOrder(ix: DirectoryIndex) {
  return byKey(ix.deviceSeq, ix.deviceIds);
}

/**
 * Every user and device that is a transitive member of group `groupId`, with its entitlement time:
 * min over paths of max(joinedAt along the path). Unknown groups expand to nothing. Nesting cycles
 * are harmless. Results are cached in the index (bounded).
 */
export function expandGroup(ix: DirectoryIndex, groupId: string): Expansion {
  const g0 = ix.groupById.get(groupId);
  if (g0 === undefined) return { principals: new Int32Array(0), times: new Float64Array(0) };
  const s = ix.scratch;
  const hit = s.cache.get(g0);
  if (hit) {
    // refresh LRU position
    s.cache.delete(g0);
    s.cache.set(g0, hit);
    return hit;
  }
  const stamp = ++s.stamp;
  // 1. Groups reached, with their bottleneck times (Dijkstra on max-of-path; lazy-deletion heap).
  const reached: number[] = [];
  const heapG: number[] = [];
  const heapT: number[] = [];
  const push = (g: number, t: number) => {
    let i = heapG.length;
    heapG.push(g);
    heapT.push(t);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heapT[p] <= t) break;
      heapG[i] = heapG[p];
      heapT[i] = heapT[p];
      i = p;
    }
    heapG[i] = g;
    heapT[i] = t;
  };
  const pop = () => {
    const g = heapG[0];
    const lastG = heapG.pop()!;
    const lastT = heapT.pop()!;
    const n = heapG.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heapT[c + 1] < heapT[c]) c++;
        if (heapT[c] >= lastT) break;
        heapG[i] = heapG[c];
        heapT[i] = heapT[c];
        i = c;
      }
      heapG[i] = lastG;
      heapT[i] = lastT;
    }
    return g;
  };
  s.gStamp[g0] = stamp;
  s.gDist[g0] = Number.NEGATIVE_INFINITY;
  push(g0, Number.NEGATIVE_INFINITY);
  const done = new Set<number>();
  while (heapG.length > 0) {
    const g = pop();
    if (done.has(g)) continue;
    done.add(g);
    reached.push(g);
    const tg = s.gDist[g];
    for (let k = ix.childStart[g]; k < ix.childStart[g + 1]; k++) {
      const c = ix.childGroup[k];
      const t = Math.max(tg, ix.childTime[k]);
      if (s.gStamp[c] !== stamp || t < s.gDist[c]) {
        s.gStamp[c] = stamp;
        s.gDist[c] = t;
        push(c, t);
      }
    }
  }
  // 2. Leaf members of every reached group.
  const ps: number[] = [];
  for (const g of reached) {
    const tg = s.gDist[g];
    for (let k = ix.leafStart[g]; k < ix.leafStart[g + 1]; k++) {
      const p = ix.leafPrincipal[k];
      const t = Math.max(tg, ix.leafTime[k]);
      if (s.pStamp[p] !== stamp) {
        s.pStamp[p] = stamp;
        s.pBest[p] = t;
        ps.push(p);
      } else if (t < s.pBest[p]) s.pBest[p] = t;
    }
  }
  const principals = Int32Array.from(ps);
  const times = new Float64Array(ps.length);
  for (let i = 0; i < ps.length; i++) times[i] = s.pBest[ps[i]];
  const result: Expansion = { principals, times };
  if (ps.length <= s.cacheLimit) {
    s.cache.set(g0, result);
    s.cacheSize += ps.length;
    while (s.cacheSize > s.cacheLimit) {
      const [oldest, exp] = s.cache.entries().next().value as [number, Expansion];
      s.cache.delete(oldest);
      s.cacheSize -= exp.principals.length;
    }
  }
  return result;
}

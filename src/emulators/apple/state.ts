// The emulator's memory: organizational units ("locations"), their tokens, assets, users and
// assignments, with the version bookkeeping behind `versionId` / `sinceVersionId`.
//
// Built for a million assignments in one location: plain objects linked both ways, dense arrays
// per asset (swap-remove, so a page is an O(page) slice), small arrays per target, and append-only
// change logs ordered by write sequence (an incremental read is a binary search plus a scan of what
// changed). Nothing here does I/O; events.ts and server.ts drive it.
import type { Random } from "./prng.ts";

export type PricingParam = "STDQ" | "PLUS";
export type ProductType = "App" | "Book";
export type UserStatus = "Registered" | "Associated" | "Retired" | "Deleted";
export type Dataset = "assets" | "assignments" | "users";

export const INT32_MAX = 2147483647;
export const platformNames = ["iOS", "macOS", "tvOS", "watchOS", "visionOS"] as const;

export interface MdmInfo {
  id: string;
  name: string;
  metadata: string;
}

export interface AssetRec {
  adamId: string;
  pricingParam: PricingParam;
  productType: ProductType;
  deviceAssignable: boolean;
  revocable: boolean;
  supportedPlatforms: string[];
  /** Free assets: never run out; reported with totalCount INT32_MAX. */
  unlimited: boolean;
  total: number;
  assigned: number;
  /** Licenses still held by retired users (irrevocable assets such as books). */
  retired: number;
  /** Every current assignment of this asset, including those of retired users (dense). */
  assignments: AssignmentRec[];
}

export interface UserRec {
  clientUserId: string;
  email?: string;
  managedAppleId?: string;
  idHash?: string;
  inviteCode?: string;
  status: UserStatus;
  seq: number;
  assignments: AssignmentRec[];
}

export interface AssignmentRec {
  asset: AssetRec;
  serial: string | null;
  user: UserRec | null;
  /** Write sequence of the last change (creation, user state change, removal). */
  seq: number;
  /** Position in asset.assignments and in the target's list. */
  apos: number;
  tpos: number;
  removed: boolean;
}

export interface TokenRec {
  /** The decoded `token` member: what identifies the unit. */
  inner: string;
  /** The whole base64 file content a client sends as Bearer. */
  sToken: string;
  expDate: number;
  expDateText: string;
  location: Location;
  revoked: boolean;
}

export interface LocationInit {
  uId: string;
  orgName: string;
  locationName: string;
  countryISO2ACode: string;
  accountType: "business" | "education";
  appleId: string;
}

export function assetKey(adamId: string, pricingParam: string): string {
  return `${adamId}/${pricingParam}`;
}

/** Apple's date style: ISO-8601 with a `+0000` offset and no fractional seconds. */
export function appleDate(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+0000`;
}

/** Parses `2030-11-08T22:33:22+0000` / `-0700` / `Z` / `+00:00`. */
export function parseAppleDate(text: string): number {
  return Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
}

/** A list made of several arrays, sliced as one without copying them. */
export class Segments<T> {
  readonly length: number;
  private readonly parts: readonly T[][];

  constructor(parts: readonly T[][]) {
    this.parts = parts;
    let n = 0;
    for (const p of parts) n += p.length;
    this.length = n;
  }

  slice(start: number, end: number): T[] {
    const out: T[] = [];
    let offset = 0;
    for (const part of this.parts) {
      if (offset + part.length <= start) {
        offset += part.length;
        continue;
      }
      const from = Math.max(0, start - offset);
      const to = Math.min(part.length, end - offset);
      for (let i = from; i < to; i++) out.push(part[i]);
      offset += part.length;
      if (offset >= end) break;
    }
    return out;
  }
}

export class Location {
  readonly uId: string;
  readonly orgName: string;
  readonly locationName: string;
  readonly countryISO2ACode: string;
  readonly accountType: "business" | "education";
  readonly appleId: string;
  token!: TokenRec;
  mdmInfo?: MdmInfo;
  notificationUrl?: string;
  notificationAuthToken?: string;
  subscribedTypes: string[] = [];
  legacyClientContext?: string;

  readonly assets: AssetRec[] = [];
  readonly assetIndex = new Map<string, AssetRec>();
  readonly users: UserRec[] = [];
  readonly usersById = new Map<string, UserRec[]>();
  readonly activeUsers = new Map<string, UserRec>();
  /** Assignments per serial number: the record itself when there is one (saves an array per device). */
  private readonly devices = new Map<string, AssignmentRec | AssignmentRec[]>();
  assignmentCount = 0;
  retiredAssignmentCount = 0;

  /** Write sequence: every committed write gets the next number. */
  seq = 0;
  readonly versionIds: Record<Dataset, string>;
  private readonly versions = new Map<string, { dataset: Dataset; seq: number }>();
  private readonly touched = new Set<Dataset>();
  private writing = false;
  private readonly assignLogSeq: number[] = [];
  private readonly assignLogRec: AssignmentRec[] = [];
  private readonly userLogSeq: number[] = [];
  private readonly userLogRec: UserRec[] = [];
  private removedInLog = 0;
  private readonly viewCache = new Map<string, { seq: number; list: unknown[] }>();
  private readonly versionRandom: Random;
  private readonly keepRemovals: boolean;

  /** Sliding one-second window of accepted request times (rate limiting). */
  readonly requestTimes: number[] = [];

  constructor(init: LocationInit, versionRandom: Random, keepRemovals: boolean) {
    this.uId = init.uId;
    this.orgName = init.orgName;
    this.locationName = init.locationName;
    this.countryISO2ACode = init.countryISO2ACode;
    this.accountType = init.accountType;
    this.appleId = init.appleId;
    this.versionRandom = versionRandom;
    this.keepRemovals = keepRemovals;
    this.versionIds = { assets: "", assignments: "", users: "" };
    for (const d of ["assets", "assignments", "users"] as const) this.newVersion(d);
  }

  get defaultPlatform(): string {
    return this.accountType === "education" ? "volumestore" : "enterprisestore";
  }

  get websiteURL(): string {
    return this.accountType === "education" ? "https://school.apple.com" : "https://business.apple.com";
  }

  private newVersion(dataset: Dataset): void {
    const id = this.versionRandom.uuid();
    this.versionIds[dataset] = id;
    this.versions.set(id, { dataset, seq: this.seq });
  }

  /** Sequence a versionId of this dataset stands for; undefined when unknown (9721). */
  versionSeq(dataset: Dataset, versionId: string): number | undefined {
    const v = this.versions.get(versionId);
    return v && v.dataset === dataset ? v.seq : undefined;
  }

  /** Runs `fn` as one write: one sequence number, new versionIds for every data set it touched. */
  write<T>(fn: () => T): T {
    if (this.writing) return fn();
    this.writing = true;
    this.seq++;
    this.touched.clear();
    try {
      return fn();
    } finally {
      this.writing = false;
      for (const d of this.touched) this.newVersion(d);
      if (this.touched.size > 0) this.viewCache.clear();
      this.compactLogs();
    }
  }

  touch(dataset: Dataset): void {
    this.touched.add(dataset);
  }

  // ----- assets -----

  addAsset(asset: Omit<AssetRec, "assignments" | "assigned" | "retired">): AssetRec {
    const rec: AssetRec = { ...asset, assigned: 0, retired: 0, assignments: [] };
    this.assets.push(rec);
    this.assetIndex.set(assetKey(rec.adamId, rec.pricingParam), rec);
    this.touch("assets");
    return rec;
  }

  /** The asset a request names; without pricingParam the STDQ one, else PLUS. */
  findAsset(adamId: string, pricingParam?: string): AssetRec | undefined {
    if (pricingParam) return this.assetIndex.get(assetKey(adamId, pricingParam));
    return this.assetIndex.get(assetKey(adamId, "STDQ")) ?? this.assetIndex.get(assetKey(adamId, "PLUS"));
  }

  available(asset: AssetRec): number {
    return asset.total - asset.assigned - asset.retired;
  }

  changeTotal(asset: AssetRec, delta: number): void {
    asset.total += delta;
    this.touch("assets");
  }

  // ----- assignments -----

  findAssignment(asset: AssetRec, target: { serial: string } | { user: UserRec }): AssignmentRec | undefined {
    const list = "serial" in target ? this.devices.get(target.serial) : target.user.assignments;
    if (!list) return undefined;
    if (!Array.isArray(list)) return list.asset === asset ? list : undefined;
    for (const rec of list) if (rec.asset === asset) return rec;
    return undefined;
  }

  assignmentsOfSerial(serial: string): AssignmentRec[] {
    const entry = this.devices.get(serial);
    if (!entry) return [];
    return Array.isArray(entry) ? [...entry] : [entry];
  }

  addAssignment(asset: AssetRec, target: { serial: string } | { user: UserRec }): AssignmentRec {
    const rec: AssignmentRec = {
      asset,
      serial: "serial" in target ? target.serial : null,
      user: "user" in target ? target.user : null,
      seq: this.seq,
      apos: asset.assignments.length,
      tpos: 0,
      removed: false,
    };
    asset.assignments.push(rec);
    if ("serial" in target) {
      const entry = this.devices.get(target.serial);
      if (!entry) {
        this.devices.set(target.serial, rec);
      } else if (!Array.isArray(entry)) {
        rec.tpos = 1;
        this.devices.set(target.serial, [entry, rec]);
      } else {
        rec.tpos = entry.length;
        entry.push(rec);
      }
    } else {
      const list = target.user.assignments;
      rec.tpos = list.length;
      list.push(rec);
    }
    asset.assigned++;
    this.assignmentCount++;
    this.logAssignment(rec);
    this.touch("assets");
    return rec;
  }

  removeAssignment(rec: AssignmentRec): void {
    if (rec.removed) return;
    const asset = rec.asset;
    const last = asset.assignments.pop()!;
    if (last !== rec) {
      asset.assignments[rec.apos] = last;
      last.apos = rec.apos;
    }
    const entry = rec.serial !== null ? this.devices.get(rec.serial)! : rec.user!.assignments;
    if (!Array.isArray(entry)) {
      this.devices.delete(rec.serial!);
    } else {
      const lastT = entry.pop()!;
      if (lastT !== rec) {
        entry[rec.tpos] = lastT;
        lastT.tpos = rec.tpos;
      }
      if (rec.serial !== null && entry.length === 1) {
        entry[0].tpos = 0;
        this.devices.set(rec.serial, entry[0]);
      }
    }
    if (rec.user && rec.user.status === "Retired") {
      asset.retired--;
      this.retiredAssignmentCount--;
    } else {
      asset.assigned--;
    }
    this.assignmentCount--;
    rec.removed = true;
    if (this.keepRemovals) {
      this.logAssignment(rec);
      this.removedInLog++;
    } else {
      rec.seq = this.seq;
      this.touch("assignments");
    }
    this.touch("assets");
  }

  private logAssignment(rec: AssignmentRec): void {
    rec.seq = this.seq;
    this.assignLogSeq.push(this.seq);
    this.assignLogRec.push(rec);
    this.touch("assignments");
  }

  /** Assignments changed after write `sinceSeq`, latest state once each, in change order. */
  assignmentsChangedSince(sinceSeq: number): AssignmentRec[] {
    const seqs = this.assignLogSeq;
    const out: AssignmentRec[] = [];
    for (let i = upperBound(seqs, sinceSeq); i < seqs.length; i++) {
      const rec = this.assignLogRec[i];
      if (rec.seq !== seqs[i]) continue;
      if (rec.removed && !this.keepRemovals) continue;
      out.push(rec);
    }
    return out;
  }

  // ----- users -----

  addUser(fields: Omit<UserRec, "seq" | "assignments">): UserRec {
    const user: UserRec = { ...fields, seq: this.seq, assignments: [] };
    this.users.push(user);
    const rows = this.usersById.get(user.clientUserId);
    if (rows) rows.push(user);
    else this.usersById.set(user.clientUserId, [user]);
    if (user.status === "Registered" || user.status === "Associated")
      this.activeUsers.set(user.clientUserId, user);
    this.logUser(user);
    return user;
  }

  /** Marks a user row changed (after its fields were edited). */
  logUser(user: UserRec): void {
    user.seq = this.seq;
    this.userLogSeq.push(this.seq);
    this.userLogRec.push(user);
    this.touch("users");
  }

  /** Retire: revocable licenses go back to the pool, irrevocable ones stay as retired licenses. */
  retireUser(user: UserRec): void {
    for (const rec of [...user.assignments]) {
      if (rec.asset.revocable) {
        this.removeAssignment(rec);
      } else {
        rec.asset.assigned--;
        rec.asset.retired++;
        this.retiredAssignmentCount++;
        this.logAssignment(rec);
        this.touch("assets");
      }
    }
    user.status = "Retired";
    user.inviteCode = undefined;
    this.activeUsers.delete(user.clientUserId);
    this.logUser(user);
  }

  usersChangedSince(sinceSeq: number): UserRec[] {
    const seqs = this.userLogSeq;
    const out: UserRec[] = [];
    for (let i = upperBound(seqs, sinceSeq); i < seqs.length; i++) {
      const user = this.userLogRec[i];
      if (user.seq === seqs[i]) out.push(user);
    }
    return out;
  }

  /** Memoised filtered list for the current state (cleared by every write). */
  cached<T>(key: string, build: () => T[]): T[] {
    const hit = this.viewCache.get(key);
    if (hit && hit.seq === this.seq) return hit.list as T[];
    const list = build();
    if (this.viewCache.size > 64) this.viewCache.clear();
    this.viewCache.set(key, { seq: this.seq, list });
    return list;
  }

  private compactLogs(): void {
    const live = this.assignmentCount + this.removedInLog;
    if (this.assignLogSeq.length > 2 * live + 65536) {
      let w = 0;
      let removed = 0;
      for (let i = 0; i < this.assignLogSeq.length; i++) {
        const rec = this.assignLogRec[i];
        if (rec.seq !== this.assignLogSeq[i]) continue;
        if (rec.removed && !this.keepRemovals) continue;
        if (rec.removed) removed++;
        this.assignLogSeq[w] = this.assignLogSeq[i];
        this.assignLogRec[w] = rec;
        w++;
      }
      this.assignLogSeq.length = w;
      this.assignLogRec.length = w;
      this.removedInLog = removed;
    }
    if (this.userLogSeq.length > 2 * this.users.length + 65536) {
      let w = 0;
      for (let i = 0; i < this.userLogSeq.length; i++) {
        const user = this.userLogRec[i];
        if (user.seq !== this.userLogSeq[i]) continue;
        this.userLogSeq[w] = this.userLogSeq[i];
        this.userLogRec[w] = user;
        w++;
      }
      this.userLogSeq.length = w;
      this.userLogRec.length = w;
    }
  }
}

/** First index whose value is > x in a non-decreasing array. */
function upperBound(values: number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

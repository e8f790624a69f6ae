// Splitting writes into requests Apple accepts (§4.5, §4.6, §4.8). Associate/disassociate is a
// cross product (every asset × every target), limited per request to `maxAssets` assets,
// `maxSerialNumbers` serials and `maxClientUserIds` users; a request may carry serials and users
// together. Revoke has its own limits, users writes `maxUsers`. Duplicates are removed (Apple
// rejects them: 9703/9704/9705/9715) and an empty write sends nothing (Apple rejects it: 9718/9719/9720).
import type {
  AppleAssetRef,
  AppleAssetTargetPair,
  AppleLimits,
  AppleManageAssetsRequest,
  AppleRequestUser,
  AppleRevokeAssetsRequest,
  AppleTarget,
} from "./types.ts";

export function assetKey(asset: AppleAssetRef): string {
  return `${asset.adamId}\u0000${asset.pricingParam ?? ""}`;
}

export function targetKey(target: AppleTarget): string {
  return target.serialNumber !== undefined
    ? `s\u0000${target.serialNumber}`
    : `u\u0000${target.clientUserId}`;
}

export function chunk<T>(list: readonly T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size));
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}

function unique(list: readonly string[] | undefined): string[] {
  return [...new Set(list ?? [])];
}

function uniqueAssets(assets: readonly AppleAssetRef[]): AppleAssetRef[] {
  const seen = new Map<string, AppleAssetRef>();
  for (const a of assets) {
    const ref: AppleAssetRef =
      a.pricingParam === undefined
        ? { adamId: a.adamId }
        : { adamId: a.adamId, pricingParam: a.pricingParam };
    if (!seen.has(assetKey(ref))) seen.set(assetKey(ref), ref);
  }
  return [...seen.values()];
}

/** Pairs serial chunks with user chunks so one request carries both kinds of targets when it can. */
function zipTargets(
  serialChunks: string[][],
  userChunks: string[][],
): { serialNumbers?: string[]; clientUserIds?: string[] }[] {
  const out: { serialNumbers?: string[]; clientUserIds?: string[] }[] = [];
  for (let i = 0; i < Math.max(serialChunks.length, userChunks.length); i++) {
    const t: { serialNumbers?: string[]; clientUserIds?: string[] } = {};
    if (userChunks[i]) t.clientUserIds = userChunks[i];
    if (serialChunks[i]) t.serialNumbers = serialChunks[i];
    out.push(t);
  }
  return out;
}

export type AssetWriteLimits = Pick<AppleLimits, "maxAssets" | "maxSerialNumbers" | "maxClientUserIds">;

/** Cross-product write (all assets × all targets) → requests within the limits. */
export function planManageAssets(
  request: AppleManageAssetsRequest,
  limits: AssetWriteLimits,
): AppleManageAssetsRequest[] {
  const assets = uniqueAssets(request.assets);
  const serials = unique(request.serialNumbers);
  const users = unique(request.clientUserIds);
  if (assets.length === 0 || (serials.length === 0 && users.length === 0)) return [];
  const targets = zipTargets(chunk(serials, limits.maxSerialNumbers), chunk(users, limits.maxClientUserIds));
  const out: AppleManageAssetsRequest[] = [];
  for (const assetChunk of chunk(assets, limits.maxAssets))
    for (const t of targets) out.push({ assets: assetChunk, ...t });
  return out;
}

/**
 * Individual (asset, target) pairs → requests. Targets that need the same list of assets share
 * requests (the cross product then adds nothing unwanted); each group is chunked by the limits.
 */
export function planAssetPairs(
  pairs: readonly AppleAssetTargetPair[],
  limits: AssetWriteLimits,
): AppleManageAssetsRequest[] {
  const byTarget = new Map<string, { target: AppleTarget; assets: Map<string, AppleAssetRef> }>();
  for (const p of pairs) {
    const target: AppleTarget =
      p.serialNumber !== undefined
        ? { serialNumber: p.serialNumber }
        : { clientUserId: p.clientUserId as string };
    const key = targetKey(target);
    let entry = byTarget.get(key);
    if (!entry) {
      entry = { target, assets: new Map() };
      byTarget.set(key, entry);
    }
    const ref: AppleAssetRef =
      p.pricingParam === undefined
        ? { adamId: p.adamId }
        : { adamId: p.adamId, pricingParam: p.pricingParam };
    entry.assets.set(assetKey(ref), ref);
  }
  const groups = new Map<
    string,
    { assets: AppleAssetRef[]; serialNumbers: string[]; clientUserIds: string[] }
  >();
  for (const { target, assets } of byTarget.values()) {
    const key = [...assets.keys()].sort().join("\u0001");
    let group = groups.get(key);
    if (!group) {
      group = { assets: [...assets.values()], serialNumbers: [], clientUserIds: [] };
      groups.set(key, group);
    }
    if (target.serialNumber !== undefined) group.serialNumbers.push(target.serialNumber);
    else group.clientUserIds.push(target.clientUserId);
  }
  return [...groups.values()].flatMap((g) => planManageAssets(g, limits));
}

/** Every (asset, target) pair a request covers. */
export function expandPairs(request: AppleManageAssetsRequest): AppleAssetTargetPair[] {
  const out: AppleAssetTargetPair[] = [];
  for (const a of request.assets) {
    for (const serialNumber of request.serialNumbers ?? []) out.push({ ...a, serialNumber });
    for (const clientUserId of request.clientUserIds ?? []) out.push({ ...a, clientUserId });
  }
  return out;
}

export type RevokeLimits = Pick<AppleLimits, "maxRevokeSerialNumbers" | "maxRevokeClientUserIds">;

export function planRevoke(
  request: AppleRevokeAssetsRequest,
  limits: RevokeLimits,
): AppleRevokeAssetsRequest[] {
  const serials = unique(request.serialNumbers);
  const users = unique(request.clientUserIds);
  return zipTargets(
    chunk(serials, limits.maxRevokeSerialNumbers),
    chunk(users, limits.maxRevokeClientUserIds),
  );
}

export function targetsOf(request: AppleRevokeAssetsRequest): AppleTarget[] {
  return [
    ...(request.serialNumbers ?? []).map((serialNumber) => ({ serialNumber })),
    ...(request.clientUserIds ?? []).map((clientUserId) => ({ clientUserId })),
  ];
}

export function revokeRequestOf(targets: readonly AppleTarget[]): AppleRevokeAssetsRequest {
  const serialNumbers = targets.flatMap((t) => (t.serialNumber !== undefined ? [t.serialNumber] : []));
  const clientUserIds = targets.flatMap((t) => (t.serialNumber === undefined ? [t.clientUserId] : []));
  const out: AppleRevokeAssetsRequest = {};
  if (clientUserIds.length > 0) out.clientUserIds = clientUserIds;
  if (serialNumbers.length > 0) out.serialNumbers = serialNumbers;
  return out;
}

/** Users writes: one entry per clientUserId (the first wins), `maxUsers` per request. */
export function planUsers(users: readonly AppleRequestUser[], maxUsers: number): AppleRequestUser[][] {
  const seen = new Map<string, AppleRequestUser>();
  for (const u of users) if (!seen.has(u.clientUserId)) seen.set(u.clientUserId, u);
  return chunk([...seen.values()], maxUsers);
}

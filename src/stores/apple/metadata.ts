// App and book metadata (§12). The asset list carries only ids and counts; names, bundle ids,
// versions, icons and platforms come from the storefront catalogue of the token's country. Two body
// shapes are read: the legacy contentMetadataLookup `{results: {"<adamId>": {...}}}` (the URL the
// service config lists) and the Metadata for Organizations API `{data: [{id, attributes}]}`.
import { isObject } from "./parse.ts";
import type { AppleAssetMetadata, ApplePlatform } from "./types.ts";

type Obj = Record<string, unknown>;

const familyPlatforms: Record<string, ApplePlatform> = {
  iphone: "iOS",
  ipad: "iOS",
  ipod: "iOS",
  mac: "macOS",
  tvos: "tvOS",
  appletv: "tvOS",
  watch: "watchOS",
  applewatch: "watchOS",
  realitydevice: "visionOS",
  vision: "visionOS",
  visionos: "visionOS",
};

/** Apple device families (`iphone`, `ipad`, `mac`, `tvos`, …) → platforms, in a stable order. */
export function platformsOfFamilies(families: string[], kind?: string): ApplePlatform[] {
  const set = new Set<ApplePlatform>();
  for (const f of families) {
    const p = familyPlatforms[f.toLowerCase()];
    if (p) set.add(p);
  }
  if (kind === "macSoftware") set.add("macOS");
  const order = ["iOS", "macOS", "tvOS", "watchOS", "visionOS"];
  return [...set].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/** Fills Apple's `{w}x{h}bb.{f}` artwork template, or picks the largest listed size. */
export function iconUrlOf(artwork: unknown, size = 512): string | undefined {
  if (isObject(artwork) && typeof artwork.url === "string") {
    return artwork.url
      .replace("{w}", String(size))
      .replace("{h}", String(size))
      .replace("{f}", "png")
      .replace("{c}", "bb");
  }
  if (Array.isArray(artwork)) {
    let best: { url: string; width: number } | undefined;
    for (const a of artwork) {
      if (!isObject(a) || typeof a.url !== "string") continue;
      const width = typeof a.width === "number" ? a.width : 0;
      if (!best || width > best.width) best = { url: a.url, width };
    }
    return best?.url;
  }
  return undefined;
}

function str(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (typeof v === "string") return v.trim() === "" ? undefined : v.trim();
  if (typeof v === "number") return String(v);
  return undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function bool(o: Obj, key: string): boolean | undefined {
  return typeof o[key] === "boolean" ? (o[key] as boolean) : undefined;
}

function releaseDateOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function compact(m: AppleAssetMetadata): AppleAssetMetadata {
  for (const key of Object.keys(m) as (keyof AppleAssetMetadata)[]) if (m[key] === undefined) delete m[key];
  return m;
}

/** One entry of the legacy lookup's `results`. */
function fromLegacy(adamId: string, e: Obj): AppleAssetMetadata | undefined {
  const name = str(e, "name") ?? str(e, "nameRaw");
  if (!name) return undefined;
  const offers = Array.isArray(e.offers) ? e.offers.filter(isObject) : [];
  const version = offers
    .map((o) => (isObject(o.version) ? str(o.version, "display") : undefined))
    .find((v) => v !== undefined);
  const families = strings(e.deviceFamilies);
  const kind = str(e, "kind");
  const softwareInfo = isObject(e.softwareInfo) ? e.softwareInfo : {};
  const description = isObject(e.description) ? str(e.description, "standard") : str(e, "description");
  return compact({
    adamId,
    name,
    bundleId: str(e, "bundleId"),
    version,
    iconUrl: iconUrlOf(e.artwork),
    platforms: platformsOfFamilies(families, kind),
    deviceFamilies: families,
    storeUrl: str(e, "url") ?? str(e, "shortUrl"),
    publisher: str(e, "artistName"),
    seller: str(softwareInfo, "seller"),
    kind,
    releaseDate: releaseDateOf(str(e, "releaseDate")),
    minimumOsVersion: str(e, "minimumOSVersion"),
    description,
    genres: strings(e.genreNames),
    isB2BCustomApp: bool(e, "isB2BCustomApp"),
    isVppDeviceBasedLicensingEnabled: bool(e, "isVppDeviceBasedLicensingEnabled"),
  });
}

/** One entry of the Metadata for Organizations API's `data`. */
function fromCatalog(e: Obj): AppleAssetMetadata | undefined {
  const adamId = str(e, "id");
  const attributes = isObject(e.attributes) ? e.attributes : undefined;
  if (!adamId || !attributes) return undefined;
  const name = str(attributes, "name");
  if (!name) return undefined;
  const platformAttributes = isObject(attributes.platformAttributes) ? attributes.platformAttributes : {};
  const first = (["ios", "osx", "appletvos", "xros", "watchos"]
    .map((k) => platformAttributes[k])
    .find(isObject) ?? {}) as Obj;
  const latest = isObject(first.latestVersionInfo)
    ? first.latestVersionInfo
    : isObject(attributes.latestVersionInfo)
      ? attributes.latestVersionInfo
      : {};
  const families = strings(attributes.deviceFamilies);
  const description = isObject(first.description) ? str(first.description, "standard") : undefined;
  return compact({
    adamId,
    name,
    bundleId: str(first, "bundleId"),
    version: str(latest, "versionDisplay"),
    iconUrl: iconUrlOf(first.artwork ?? attributes.artwork),
    platforms: platformsOfFamilies(families),
    deviceFamilies: families,
    storeUrl: str(attributes, "url"),
    publisher: str(attributes, "artistName"),
    seller: str(first, "seller"),
    kind: str(e, "type"),
    releaseDate: releaseDateOf(str(first, "releaseDate") ?? str(attributes, "releaseDate")),
    minimumOsVersion: str(first, "minimumOSVersion"),
    description,
    genres: str(attributes, "genreDisplayName") ? [str(attributes, "genreDisplayName") as string] : [],
    isB2BCustomApp: bool(attributes, "isB2BCustomApp"),
    isVppDeviceBasedLicensingEnabled: bool(attributes, "isVppDeviceBasedLicensingEnabled"),
  });
}

/** Reads a lookup body into metadata per adamId; ids the storefront does not list are simply absent. */
export function parseMetadataBody(body: unknown): Map<string, AppleAssetMetadata> {
  const out = new Map<string, AppleAssetMetadata>();
  if (!isObject(body)) return out;
  if (isObject(body.results)) {
    for (const [adamId, entry] of Object.entries(body.results)) {
      if (!isObject(entry)) continue;
      const m = fromLegacy(str(entry, "id") ?? adamId, entry);
      if (m) out.set(m.adamId, m);
    }
  }
  if (Array.isArray(body.data)) {
    for (const entry of body.data.filter(isObject)) {
      const m = fromCatalog(entry);
      if (m) out.set(m.adamId, m);
    }
  }
  return out;
}

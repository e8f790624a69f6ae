// The emulator's shared core: options that can change at runtime, locations and their tokens, the
// store catalogue, faults, the event engine and the notifier. The HTTP modules (api.ts, control.ts,
// lookup.ts) all work through this object.
import { createHash } from "node:crypto";
import { AppleApiError, serviceConfigFixture } from "./errors.ts";
import { EventEngine } from "./events.ts";
import { emptyFaults, type Faults } from "./faults.ts";
import type { CatalogEntry } from "./metadata.ts";
import { Notifier } from "./notifier.ts";
import { type AppleEmulatorOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { createRandom, type Random } from "./prng.ts";
import {
  type AssetRec,
  appleDate,
  INT32_MAX,
  Location,
  type PricingParam,
  type ProductType,
  parseAppleDate,
  platformNames,
  type TokenRec,
} from "./state.ts";

const DAY = 86_400_000;

export class InputError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}

export interface AssetSeed {
  adamId: string;
  pricingParam: PricingParam;
  productType: ProductType;
  name: string;
  bundleId?: string;
  version: string;
  totalCount: number;
  deviceAssignable: boolean;
  revocable: boolean;
  supportedPlatforms: string[];
  unlimited: boolean;
  storefronts: string[];
  isB2BCustomApp: boolean;
  artistName: string;
  releaseDate: string;
  minimumOSVersion: string;
  watchBundleId?: string;
  localizedNames: Record<string, string>;
  genre: string;
  price: number;
  description?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function str(v: unknown, name: string, required: true): string;
function str(v: unknown, name: string, required?: false): string | undefined;
function str(v: unknown, name: string, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw new InputError(`${name} is required`);
    return undefined;
  }
  if (typeof v !== "string" || v.length === 0) throw new InputError(`${name} must be a non-empty string`);
  return v;
}

function bool(v: unknown, name: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new InputError(`${name} must be a boolean`);
  return v;
}

/** Validates one asset of POST /_emulator/locations (also used by purchase of a new asset). */
export function parseAssetSeed(v: unknown, i: number): AssetSeed {
  if (!isObject(v)) throw new InputError(`assets[${i}] must be an object`);
  const adamId = typeof v.adamId === "number" ? String(v.adamId) : str(v.adamId, `assets[${i}].adamId`, true);
  if (!/^\d{1,19}$/.test(adamId)) throw new InputError(`assets[${i}].adamId must be digits`);
  const pricingParam = (str(v.pricingParam, `assets[${i}].pricingParam`) ?? "STDQ") as PricingParam;
  if (pricingParam !== "STDQ" && pricingParam !== "PLUS")
    throw new InputError(`assets[${i}].pricingParam must be STDQ or PLUS`);
  const productType = (str(v.productType, `assets[${i}].productType`) ?? "App") as ProductType;
  if (productType !== "App" && productType !== "Book")
    throw new InputError(`assets[${i}].productType must be App or Book`);
  const isApp = productType === "App";
  const supportedPlatforms = v.supportedPlatforms ?? ["iOS"];
  if (
    !Array.isArray(supportedPlatforms) ||
    supportedPlatforms.length === 0 ||
    !supportedPlatforms.every((p) => (platformNames as readonly string[]).includes(p as string))
  )
    throw new InputError(`assets[${i}].supportedPlatforms must list some of ${platformNames.join(", ")}`);
  const unlimited = bool(v.unlimited, `assets[${i}].unlimited`, false);
  const totalCount = v.totalCount ?? 0;
  if (
    typeof totalCount !== "number" ||
    !Number.isInteger(totalCount) ||
    totalCount < 0 ||
    totalCount >= INT32_MAX
  )
    throw new InputError(`assets[${i}].totalCount must be a non-negative integer`);
  const storefronts = v.storefronts ?? [];
  if (
    !Array.isArray(storefronts) ||
    !storefronts.every((s) => typeof s === "string" && /^[A-Za-z]{2}$/.test(s))
  )
    throw new InputError(`assets[${i}].storefronts must be ISO 3166 alpha-2 codes`);
  const localizedNames = v.localizedNames ?? {};
  if (!isObject(localizedNames) || !Object.values(localizedNames).every((n) => typeof n === "string"))
    throw new InputError(`assets[${i}].localizedNames must map language codes to names`);
  const price = v.price ?? 0;
  if (typeof price !== "number" || price < 0)
    throw new InputError(`assets[${i}].price must be a non-negative number`);
  const name = str(v.name, `assets[${i}].name`) ?? `${isApp ? "App" : "Book"} ${adamId}`;
  return {
    adamId,
    pricingParam,
    productType,
    name,
    bundleId: isApp ? (str(v.bundleId, `assets[${i}].bundleId`) ?? `com.example.app${adamId}`) : undefined,
    version: str(v.version, `assets[${i}].version`) ?? "1.0",
    totalCount,
    deviceAssignable: bool(v.deviceAssignable, `assets[${i}].deviceAssignable`, isApp),
    revocable: bool(v.revocable, `assets[${i}].revocable`, isApp),
    supportedPlatforms: supportedPlatforms as string[],
    unlimited,
    storefronts: (storefronts as string[]).map((s) => s.toUpperCase()),
    isB2BCustomApp: bool(v.isB2BCustomApp, `assets[${i}].isB2BCustomApp`, false),
    artistName: str(v.artistName ?? v.publisher, `assets[${i}].artistName`) ?? "Example Developer",
    releaseDate: str(v.releaseDate, `assets[${i}].releaseDate`) ?? "2020-01-15",
    minimumOSVersion: str(v.minimumOSVersion, `assets[${i}].minimumOSVersion`) ?? "16.0",
    watchBundleId: str(v.watchBundleId, `assets[${i}].watchBundleId`),
    localizedNames: Object.fromEntries(
      Object.entries(localizedNames).map(([k, n]) => [k.toLowerCase(), n as string]),
    ),
    genre: str(v.genre, `assets[${i}].genre`) ?? (isApp ? "Business" : "Books"),
    price,
    description: str(v.description, `assets[${i}].description`),
  };
}

export class EmulatorCore {
  readonly options: ResolvedOptions;
  readonly limits: Record<string, number>;
  faults: Faults = emptyFaults();
  readonly locations = new Map<string, Location>();
  private readonly tokens = new Map<string, TokenRec>();
  readonly catalog = new Map<string, CatalogEntry>();
  readonly notifier: Notifier;
  readonly events: EventEngine;
  publicUrl = "";
  private readonly rUId: Random;
  private readonly rToken: Random;
  private readonly rVersion: Random;
  private readonly rFaults: Random;
  private externalVersionCounter = 0;

  constructor(input: AppleEmulatorOptions) {
    this.options = resolveOptions(input, serviceConfigFixture.limits);
    this.limits = this.options.limits;
    const seed = this.options.seed;
    this.rUId = createRandom(seed, "uId");
    this.rToken = createRandom(seed, "sToken");
    this.rVersion = createRandom(seed, "versionId");
    this.rFaults = createRandom(seed, "faults");
    this.notifier = new Notifier(
      this.options,
      createRandom(seed, "notificationId"),
      this.rFaults,
      () => this.faults,
    );
    this.events = new EventEngine({
      options: this.options,
      notifier: this.notifier,
      ids: createRandom(seed, "eventId"),
      inviteCodes: createRandom(seed, "inviteCode"),
      idHashes: createRandom(seed, "idHash"),
      faults: () => this.faults,
    });
  }

  now(): number {
    return this.options.now();
  }

  /** Requests per second enforced per location (0 = unlimited). */
  effectiveRps(): number {
    return this.faults.rateLimitRps ?? this.options.rateLimitRps ?? this.limits.maxRequestPerSecond ?? 0;
  }

  effectiveLatency(): number {
    return this.faults.latencyMs ?? this.options.latencyMs;
  }

  httpStatusFor(errorNumber: number, fallback: number): number {
    return this.options.errorStatusOverrides[errorNumber] ?? fallback;
  }

  // ----- tokens -----

  issueToken(location: Location, expDate?: number): TokenRec {
    const inner = this.rToken.bytes(64).toString("base64");
    const exp = expDate ?? this.now() + 365 * DAY;
    const expDateText = appleDate(exp);
    const sToken = Buffer.from(
      JSON.stringify({ token: inner, expDate: expDateText, orgName: location.orgName }),
    ).toString("base64");
    if (location.token) location.token.revoked = true;
    const rec: TokenRec = {
      inner,
      sToken,
      expDate: Date.parse(`${expDateText.slice(0, 19)}Z`),
      expDateText,
      location,
      revoked: false,
    };
    this.tokens.set(inner, rec);
    location.token = rec;
    return rec;
  }

  /** The token behind an sToken (the whole base64 file content), or the Apple error it earns. */
  resolveSToken(sToken: string): TokenRec {
    let inner: string | undefined;
    if (/^[A-Za-z0-9+/=_-]+$/.test(sToken)) {
      try {
        const decoded: unknown = JSON.parse(Buffer.from(sToken, "base64").toString("utf8"));
        if (isObject(decoded) && typeof decoded.token === "string") inner = decoded.token;
      } catch {
        inner = undefined;
      }
    }
    const rec = inner === undefined ? undefined : this.tokens.get(inner);
    if (!rec) throw new AppleApiError(9622);
    if (rec.revoked) throw new AppleApiError(9625);
    if (rec.expDate <= this.now()) throw new AppleApiError(9621);
    return rec;
  }

  /** `tokenExpirationDate`, `uId` and (once set) `mdmInfo` of every authenticated v2 answer. */
  envelope(tok: TokenRec): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const loc = tok.location;
    if (loc.mdmInfo) out.mdmInfo = { ...loc.mdmInfo };
    if (this.options.tokenExpirationDate === "always" || tok.expDate - this.now() <= 15 * DAY)
      out.tokenExpirationDate = tok.expDateText;
    out.uId = loc.uId;
    return out;
  }

  // ----- locations -----

  location(uId: string): Location {
    const loc = this.locations.get(uId);
    if (!loc) throw new InputError(`location ${uId} not found`, 404);
    return loc;
  }

  createLocation(body: unknown): { uId: string; sToken: string } {
    if (!isObject(body)) throw new InputError("body must be an object");
    const orgName = str(body.orgName, "orgName", true);
    const locationName = str(body.locationName, "locationName", true);
    const country = str(body.countryISO2ACode, "countryISO2ACode", true);
    if (!/^[A-Za-z]{2}$/.test(country))
      throw new InputError("countryISO2ACode must be an ISO 3166 alpha-2 code");
    const accountType = str(body.accountType, "accountType") ?? "business";
    if (accountType !== "business" && accountType !== "education")
      throw new InputError("accountType must be business or education");
    let expDate: number | undefined;
    const expText = str(body.expDate, "expDate");
    if (expText !== undefined) {
      expDate = parseAppleDate(expText);
      if (Number.isNaN(expDate)) throw new InputError("expDate must be an ISO-8601 date");
    }
    const assetsIn = body.assets ?? [];
    if (!Array.isArray(assetsIn)) throw new InputError("assets must be an array");
    const seeds = assetsIn.map((a, i) => parseAssetSeed(a, i));
    const seen = new Set<string>();
    for (const s of seeds) {
      const k = `${s.adamId}/${s.pricingParam}`;
      if (seen.has(k)) throw new InputError(`asset ${k} is listed twice`);
      seen.add(k);
    }
    const uId = `20${this.rUId.digits(14)}`;
    const loc = new Location(
      {
        uId,
        orgName,
        locationName,
        countryISO2ACode: country.toUpperCase(),
        accountType,
        appleId:
          str(body.appleId, "appleId") ??
          `vpp-admin@${orgName.toLowerCase().replace(/[^a-z0-9]+/g, "")}.example`,
      },
      this.rVersion,
      this.options.sinceVersionRemovals === "flag",
    );
    this.locations.set(uId, loc);
    loc.write(() => {
      for (const s of seeds) this.addAsset(loc, s);
    });
    const tok = this.issueToken(loc, expDate);
    return { uId, sToken: tok.sToken };
  }

  addAsset(loc: Location, s: AssetSeed): AssetRec {
    const asset = loc.addAsset({
      adamId: s.adamId,
      pricingParam: s.pricingParam,
      productType: s.productType,
      deviceAssignable: s.deviceAssignable,
      revocable: s.revocable,
      supportedPlatforms: s.supportedPlatforms,
      unlimited: s.unlimited,
      total: s.unlimited ? INT32_MAX : s.totalCount,
    });
    this.upsertCatalog(loc, s);
    return asset;
  }

  private upsertCatalog(loc: Location, s: AssetSeed): void {
    let e = this.catalog.get(s.adamId);
    if (!e) {
      e = {
        adamId: s.adamId,
        productType: s.productType,
        name: s.name,
        bundleId: s.bundleId,
        version: s.version,
        externalVersionId: 800000000 + ++this.externalVersionCounter,
        artistName: s.artistName,
        supportedPlatforms: s.supportedPlatforms,
        deviceAssignable: s.deviceAssignable,
        isB2BCustomApp: s.isB2BCustomApp,
        storefronts: new Set(),
        owners: new Set(),
        releaseDate: s.releaseDate,
        latestVersionReleaseDate: formatReleaseDate(s.releaseDate),
        minimumOSVersion: s.minimumOSVersion,
        watchBundleId: s.watchBundleId,
        genre: s.genre,
        price: s.price,
        localizedNames: s.localizedNames,
        description: s.description ?? `${s.name} by ${s.artistName}.`,
      };
      this.catalog.set(s.adamId, e);
    } else {
      Object.assign(e, {
        name: s.name,
        bundleId: s.bundleId ?? e.bundleId,
        artistName: s.artistName,
        supportedPlatforms: s.supportedPlatforms,
        deviceAssignable: s.deviceAssignable,
        isB2BCustomApp: s.isB2BCustomApp || e.isB2BCustomApp,
        watchBundleId: s.watchBundleId ?? e.watchBundleId,
        localizedNames: { ...e.localizedNames, ...s.localizedNames },
      });
      if (s.version !== e.version) this.setVersion(e, s.version);
    }
    e.storefronts.add(loc.countryISO2ACode);
    for (const sf of s.storefronts) e.storefronts.add(sf);
    e.owners.add(loc.uId);
  }

  setVersion(e: CatalogEntry, version: string): void {
    e.version = version;
    e.externalVersionId = 800000000 + ++this.externalVersionCounter;
    e.latestVersionReleaseDate = formatReleaseDate(new Date(this.now()).toISOString().slice(0, 10));
  }

  /** Location ids as the legacy v1 API shows them. */
  legacyIds(loc: Location): { locationId: number; organizationId: number; organizationIdHash: string } {
    const h = createHash("sha256").update(`${this.options.seed}:${loc.orgName}`).digest();
    return {
      locationId: Number(loc.uId.slice(-11)),
      organizationId: 2000000000000000 + (h.readUInt32BE(0) % 1000000000),
      organizationIdHash: h.toString("hex"),
    };
  }

  close(): void {
    this.events.close();
    this.notifier.close();
  }
}

function formatReleaseDate(isoDay: string): string {
  const d = new Date(`${isoDay}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return isoDay;
  return d.toLocaleDateString("en-US", { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });
}

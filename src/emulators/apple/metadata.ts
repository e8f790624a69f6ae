// The store catalogue behind the metadata lookups (reference §12): names, bundle ids, versions and
// icons live here and nowhere in the asset list. An app is sold in the storefronts of the locations
// that hold it (plus any `storefronts` it was seeded with); elsewhere a lookup answers HTTP 200 with
// no entry for it. Custom (B2B) apps are visible only with the `itvt` cookie of a location that
// owns them.
//
// Two services are emulated:
// - the legacy `contentMetadataLookup` (the URL Service Config lists): `version=1` answers in the
//   shape of Apple's older example (numeric ids, artwork as a list of sized images), `version=2`
//   (default) in the newer one (string ids, an artwork template);
// - the "Apps and Books for Organizations" catalogue, /v1/catalog/{storefront}/stoken-authenticated-apps|books.
import { createHash } from "node:crypto";
import { crc32, deflateSync } from "node:zlib";

export interface CatalogEntry {
  adamId: string;
  productType: "App" | "Book";
  name: string;
  bundleId?: string;
  version: string;
  externalVersionId: number;
  artistName: string;
  supportedPlatforms: string[];
  deviceAssignable: boolean;
  isB2BCustomApp: boolean;
  storefronts: Set<string>;
  owners: Set<string>;
  releaseDate: string;
  latestVersionReleaseDate: string;
  minimumOSVersion: string;
  watchBundleId?: string;
  genre: string;
  price: number;
  localizedNames: Record<string, string>;
  description: string;
}

// App Store storefront ids of common countries; others get a stable made-up id.
const storefrontIds: Record<string, string> = {
  US: "143441",
  FR: "143442",
  DE: "143443",
  GB: "143444",
  AT: "143445",
  BE: "143446",
  FI: "143447",
  GR: "143448",
  IE: "143449",
  IT: "143450",
  LU: "143451",
  NL: "143452",
  PT: "143453",
  ES: "143454",
  CA: "143455",
  SE: "143456",
  NO: "143457",
  DK: "143458",
  CH: "143459",
  AU: "143460",
  NZ: "143461",
  JP: "143462",
};

export function storefrontId(cc: string): string {
  const known = storefrontIds[cc.toUpperCase()];
  if (known) return known;
  const h = createHash("sha256").update(cc.toUpperCase()).digest();
  return String(143500 + (h.readUInt16BE(0) % 400));
}

const genreIds: Record<string, string> = {
  Business: "6000",
  Utilities: "6002",
  Education: "6017",
  Productivity: "6007",
  Reference: "6006",
  Entertainment: "6016",
  Books: "38",
};

function deviceFamilies(platforms: string[]): string[] {
  const out: string[] = [];
  if (platforms.includes("iOS")) out.push("iphone", "ipad", "ipod");
  if (platforms.includes("macOS")) out.push("mac");
  if (platforms.includes("tvOS")) out.push("tvos");
  if (platforms.includes("watchOS")) out.push("watch");
  if (platforms.includes("visionOS")) out.push("realityDevice");
  return out;
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "app"
  );
}

function artistIdOf(e: CatalogEntry): number {
  const h = createHash("sha256").update(e.artistName).digest();
  return 280000000 + (h.readUInt32BE(0) % 100000000);
}

function nameFor(e: CatalogEntry, language: string): string {
  const lang = language.toLowerCase();
  return e.localizedNames[lang] ?? e.localizedNames[lang.split("-")[0]] ?? e.name;
}

function languageTag(l: string | null, cc: string): string {
  if (!l) return `en-${cc.toLowerCase()}`;
  return l.includes("-") || l.includes("_")
    ? l.replace("_", "-").toLowerCase()
    : `${l.toLowerCase()}-${cc.toLowerCase()}`;
}

function requirements(e: CatalogEntry): string {
  if (e.productType === "Book") return "Requires Apple Books.";
  if (e.supportedPlatforms.includes("iOS"))
    return `Requires iOS\u00a0${e.minimumOSVersion} or later. Compatible with iPhone, iPad, and iPod\u00a0touch.`;
  return `Requires macOS\u00a0${e.minimumOSVersion} or later.`;
}

export interface LookupContext {
  baseUrl: string;
  cc: string;
  language: string;
  platform: string;
}

function artworkTemplate(baseUrl: string, adamId: string): string {
  return `${baseUrl}/_emulator/artwork/${adamId}/{w}x{h}bb.{f}`;
}

function kindOf(e: CatalogEntry, platform: string): string {
  if (e.productType === "Book") return "ebook";
  if (platform === "macappstore" || !e.supportedPlatforms.includes("iOS")) return "macSoftware";
  return "iosSoftware";
}

function buyParams(e: CatalogEntry): string {
  const price = Math.round(e.price * 1000);
  return `productType=C&price=${price}&salableAdamId=${e.adamId}&pricingParameters=STDQ&pg=default&marketType=ENT&appExtVrsId=${e.externalVersionId}`;
}

const actionText = {
  short: "Get",
  medium: "Get",
  long: "Get App",
  downloaded: "Installed",
  downloading: "Installing",
};

/** One entry in the shape of Apple's `version=2` example (custom app lookup). */
export function lookupEntryV2(e: CatalogEntry, ctx: LookupContext): Record<string, unknown> {
  const cc = ctx.cc.toLowerCase();
  const name = nameFor(e, ctx.language);
  const genreId = genreIds[e.genre] ?? "6000";
  const url = `https://apps.apple.com/${cc}/app/${slug(e.name)}/id${e.adamId}`;
  const out: Record<string, unknown> = {
    artistId: String(artistIdOf(e)),
    artistName: e.artistName,
    artistUrl: `https://apps.apple.com/${cc}/developer/${slug(e.artistName)}/id${artistIdOf(e)}`,
    artwork: {
      bgColor: colorOf(e.adamId).hex,
      hasAlpha: false,
      hasP3: false,
      height: 1024,
      supportsLayeredImage: false,
      textColor1: "000000",
      textColor2: "1c190d",
      textColor3: "222b13",
      textColor4: "383f1e",
      url: artworkTemplate(ctx.baseUrl, e.adamId),
      width: 1024,
    },
  };
  if (e.bundleId !== undefined) out.bundleId = e.bundleId;
  Object.assign(out, {
    contentRatingsBySystem: { appsApple: { name: "4+", rank: 1, value: 100 } },
    copyright: `\u00a9 ${e.releaseDate.slice(0, 4)} ${e.artistName}`,
    description: { standard: e.description },
    deviceFamilies: deviceFamilies(e.supportedPlatforms),
    editorialArtwork: {},
    genreNames: [e.genre],
    genres: [
      { genreId, mediaType: "8", name: e.genre, url: `https://itunes.apple.com/${cc}/genre/id${genreId}` },
    ],
    id: e.adamId,
    isB2BCustomApp: e.isB2BCustomApp,
    isVppDeviceBasedLicensingEnabled: e.deviceAssignable,
    kind: kindOf(e, ctx.platform),
    latestVersionReleaseDate: e.latestVersionReleaseDate,
    minimumOSVersion: e.minimumOSVersion,
    name,
    nameRaw: name,
    nameSortValue: name.replace(/[^A-Za-z0-9]/g, ""),
  });
  if (e.watchBundleId !== undefined) out.watchBundleId = e.watchBundleId;
  Object.assign(out, {
    offers: [
      {
        actionText,
        assets: [{ flavor: kindOf(e, ctx.platform), size: 1048576 + (Number(e.adamId) % 100000000) }],
        buyParams: buyParams(e),
        price: e.price,
        priceFormatted: `$${e.price.toFixed(2)}`,
        type: e.price > 0 ? "buy" : "get",
        version: { display: e.version, externalId: e.externalVersionId },
      },
    ],
    releaseDate: e.releaseDate,
    requiredCapabilities: "arm64 ",
    shortUrl: url,
    softwareInfo: {
      eulaUrl: null,
      isGameCenter: false,
      languagesDisplayString: "English",
      privacyPolicyTextUrl: null,
      privacyPolicyUrl: `https://${slug(e.artistName)}.example/privacy`,
      requirementsString: requirements(e),
      seller: e.artistName,
      supportUrl: `https://${slug(e.artistName)}.example/support`,
      websiteUrl: null,
    },
    url,
    userRating: { ratingCount: 0, ratingCountCurrentVersion: 0, value: 0, valueCurrentVersion: 0 },
    whatsNew: `Version ${e.version}.`,
  });
  return out;
}

/** One entry in the shape of Apple's older `version=1` example. */
export function lookupEntryV1(e: CatalogEntry, ctx: LookupContext): Record<string, unknown> {
  const cc = ctx.cc.toLowerCase();
  const name = nameFor(e, ctx.language);
  const genreId = genreIds[e.genre] ?? "6000";
  const url = `https://itunes.apple.com/${cc}/app/${slug(e.name)}/id${e.adamId}?mt=8`;
  const template = artworkTemplate(ctx.baseUrl, e.adamId);
  const sized = (w: number, h: number) => ({
    width: w,
    height: h,
    url: template.replace("{w}x{h}bb.{f}", `${w}x${h}bb.png`),
  });
  const out: Record<string, unknown> = {
    artwork: [sized(128, 128), sized(512, 512)],
    artistName: e.artistName,
    hasMessagesExtension: false,
    url,
    shortUrl: url,
    softwareInfo: {
      seller: e.artistName,
      languagesDisplayString: "English",
      requirementsString: requirements(e),
      eulaUrl: `https://itunes.apple.com/WebObjects/MZStore.woa/wa/viewEula?cc=${cc}&id=${e.adamId}`,
      supportUrl: `https://${slug(e.artistName)}.example/support`,
      websiteUrl: `https://${slug(e.artistName)}.example/`,
      privacyPolicyUrl: `https://${slug(e.artistName)}.example/privacy`,
      privacyPolicyTextUrl: null,
    },
    ageBand: null,
    isFirstParty: false,
    deviceFamilies: deviceFamilies(e.supportedPlatforms),
    genreNames: [e.genre],
    whatsNew: `Version ${e.version}.`,
    isPreorder: false,
    nameSortValue: name.replace(/[^A-Za-z0-9]/g, ""),
    id: Number(e.adamId),
    releaseDate: e.releaseDate,
    userRating: { value: 0, ratingCount: 0, valueCurrentVersion: 0, ratingCountCurrentVersion: 0 },
    editorialBadgeInfo: null,
    contentRatingsBySystem: { appsApple: { name: "4+", value: 100, rank: 1 } },
    name,
    uber: null,
    artistUrl: `https://itunes.apple.com/${cc}/developer/${slug(e.artistName)}/id${artistIdOf(e)}?mt=8`,
    ovalArtwork: null,
    nameRaw: name,
    subtitle: e.genre,
  };
  if (e.bundleId !== undefined) out.bundleId = e.bundleId;
  Object.assign(out, {
    isFirstPartyHideableApp: false,
    isVppDeviceBasedLicensingEnabled: e.deviceAssignable,
    hasInAppPurchases: false,
    isAppleWatchSupported: e.watchBundleId !== undefined,
    isB2BCustomApp: e.isB2BCustomApp,
    kind: kindOf(e, ctx.platform),
    circularArtwork: null,
    copyright: `\u00a9 ${e.releaseDate.slice(0, 4)} ${e.artistName}`,
    latestVersionReleaseDate: e.latestVersionReleaseDate,
    requiresGameController: false,
    isHiddenFromSpringboard: false,
    artistId: artistIdOf(e),
    genres: [
      { genreId, name: e.genre, url: `https://itunes.apple.com/${cc}/genre/id${genreId}`, mediaType: "8" },
    ],
    minimumOSVersion: e.minimumOSVersion,
    isGameControllerSupported: false,
    is32bitOnly: false,
    isSiriSupported: false,
    description: { standard: e.description },
    requiredCapabilities: "arm64 ",
    offers: [
      {
        actionText,
        type: e.price > 0 ? "buy" : "get",
        priceFormatted: `$${e.price.toFixed(2)}`,
        price: e.price,
        buyParams: buyParams(e),
        version: { display: e.version, externalId: e.externalVersionId },
        assets: [{ flavor: kindOf(e, ctx.platform), size: 1048576 + (Number(e.adamId) % 100000000) }],
      },
    ],
    contentRating: { system: "GAMES", name: "4+", value: 100, rank: 1 },
  });
  return out;
}

const platformKeys: Record<string, string> = {
  iphone: "ios",
  ipad: "ios",
  ipod: "ios",
  mac: "osx",
  appletv: "appletvos",
  watch: "watchos",
  realitydevice: "xros",
};

const platformOfKey: Record<string, string> = {
  ios: "iOS",
  osx: "macOS",
  appletvos: "tvOS",
  watchos: "watchOS",
  xros: "visionOS",
};

/** One item of /v1/catalog/{sf}/stoken-authenticated-apps, or undefined when no requested platform fits. */
export function catalogItem(
  e: CatalogEntry,
  sf: string,
  platforms: string[],
  extendLatestVersion: boolean,
  baseUrl: string,
): Record<string, unknown> | undefined {
  const keys = [
    ...new Set(platforms.map((p) => platformKeys[p.toLowerCase()]).filter((k) => k !== undefined)),
  ];
  const wanted = keys.filter((k) => e.supportedPlatforms.includes(platformOfKey[k]));
  if (wanted.length === 0 && e.productType === "App") return undefined;
  const genreId = genreIds[e.genre] ?? "6000";
  const type = e.productType === "App" ? "apps" : "books";
  const platformAttributes: Record<string, unknown> = {};
  for (const k of wanted) {
    const attrs: Record<string, unknown> = {
      artwork: {
        bgColor: colorOf(e.adamId).hex,
        height: 1024,
        textColor1: "170502",
        textColor2: "431207",
        textColor3: "453735",
        textColor4: "684138",
        url: artworkTemplate(baseUrl, e.adamId),
        width: 1024,
      },
    };
    if (e.bundleId !== undefined) attrs.bundleId = e.bundleId;
    attrs.externalVersionId = e.externalVersionId;
    if (extendLatestVersion)
      attrs.latestVersionInfo = { versionDisplay: e.version, releaseDate: e.latestVersionReleaseDate };
    attrs.minimumOSVersion = e.minimumOSVersion;
    attrs.requiredCapabilities = "arm64 ";
    attrs.seller = e.artistName;
    platformAttributes[k] = attrs;
  }
  return {
    attributes: {
      artistName: e.artistName,
      contentRatingsBySystem: { appsApple: { name: "4+", rank: 1, value: 100 } },
      deviceFamilies: deviceFamilies(e.supportedPlatforms),
      genreDisplayName: e.genre,
      hasEula: false,
      isB2BCustomApp: e.isB2BCustomApp,
      isFirstPartyHideableApp: false,
      isVppDeviceBasedLicensingEnabled: e.deviceAssignable,
      name: e.name,
      offers: [
        {
          assets: [{ flavor: e.productType === "Book" ? "ebook" : "iosSoftware", size: 1048576 }],
          buyParams: buyParams(e),
          currencyCode: "USD",
          price: e.price,
          priceFormatted: `$${e.price.toFixed(2)}`,
          type: e.price > 0 ? "buy" : "get",
        },
      ],
      platformAttributes,
      supportsDeviceSharing: false,
      url: `https://apps.apple.com/${sf}/app/${slug(e.name)}/id${e.adamId}`,
      userRating: { ratingCount: 0, value: 0 },
      usesClassKit: false,
    },
    href: `/v1/catalog/${sf}/${type}/${e.adamId}`,
    id: e.adamId,
    relationships: {
      genres: {
        data: [
          {
            attributes: {
              name: e.genre,
              parentId: "36",
              parentName: "App Store",
              url: `https://itunes.apple.com/${sf}/genre/id${genreId}`,
            },
            href: `/v1/catalog/${sf}/genres/${genreId}`,
            id: genreId,
            type: "genres",
          },
        ],
        href: `/v1/catalog/${sf}/${type}/${e.adamId}/genres`,
      },
    },
    type,
  };
}

export function languageTagOf(l: string | null, cc: string): string {
  return languageTag(l, cc);
}

// ----- icons: a solid-colour PNG per app, so consoles have something to show -----

function colorOf(adamId: string): { r: number; g: number; b: number; hex: string } {
  const h = createHash("sha256").update(adamId).digest();
  const r = 64 + (h[0] % 160);
  const g = 64 + (h[1] % 160);
  const b = 64 + (h[2] % 160);
  return { r, g, b, hex: [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("") };
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

export function iconPng(adamId: string, width: number, height: number): Buffer {
  const w = Math.max(1, Math.min(1024, Math.floor(width)));
  const h = Math.max(1, Math.min(1024, Math.floor(height)));
  const { r, g, b } = colorOf(adamId);
  const row = Buffer.alloc(1 + w * 3);
  for (let x = 0; x < w; x++) {
    row[1 + x * 3] = r;
    row[2 + x * 3] = g;
    row[3 + x * 3] = b;
  }
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(raw)),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

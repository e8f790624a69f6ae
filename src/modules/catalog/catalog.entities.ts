// Graph shapes of the app catalog (APP-1..4): the polymorphic mobileApp set with iosVppApp (and, on
// beta, macOsVppApp), and the managedEBook set with iosVppEBook; how their properties map onto
// the columns of the catalog row source (catalog.repository.ts). Beta-only members never appear on
// v1.0. Allot's own members (documented in README "App catalog extensions") follow Graph's.
import type { EntityDef, PropertyDef } from "../../http/odata/entity.ts";
import { IOS_VPP_APP, IOS_VPP_EBOOK, MACOS_VPP_APP } from "../sync/sync.service.ts";
import { pickLanguage } from "../sync/sync.storefronts.ts";

export { IOS_VPP_APP, IOS_VPP_EBOOK, MACOS_VPP_APP };
export const MOBILE_APP = "microsoft.graph.mobileApp";
export const MANAGED_EBOOK = "microsoft.graph.managedEBook";

export type Version = "v1.0" | "beta";

export const metadataStatuses = ["pending", "ok", "notFound", "notSoldInStorefront"] as const;
const accountTypes = ["business", "education"] as const;
const publishingStates = ["notPublished", "processing", "published"] as const;

const str = (column: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({
  column,
  type: "string",
  caseInsensitive: true,
  ...extra,
});
const int = (column: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({
  column,
  type: "integer",
  ...extra,
});
const bool = (column: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({
  column,
  type: "boolean",
  ...extra,
});
const dt = (column: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({
  column,
  type: "datetime",
  ...extra,
});
const guid = (column: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({
  column,
  type: "guid",
  ...extra,
});
/** Shown and selectable, not filterable or sortable (complex values, constants). */
const opaque = (column: string): PropertyDef => ({
  column,
  type: "string",
  filterable: false,
  sortable: false,
});

function owned(props: Record<string, PropertyDef>, types: readonly string[]): Record<string, PropertyDef> {
  return Object.fromEntries(Object.entries(props).map(([k, p]) => [k, { ...p, ownerTypes: types }]));
}

/** Members Allot adds to its store apps and books (both versions). */
function extensions(): Record<string, PropertyDef> {
  return {
    adamId: str("adam_id", { caseInsensitive: false }),
    iconUrl: opaque("icon_url"),
    metadataStatus: { column: "metadata_status", type: "enum", enumValues: metadataStatuses },
    availableLicenseCount: int("available_count"),
    retiredLicenseCount: int("retired_count"),
    pendingLicenseCount: int("pending_count"),
    untrackedLicenseCount: int("untracked_count"),
    revokedLicenseCount: int("revoked_count"),
    unitPrice: { column: "unit_price", type: "integer", filterable: false, sortable: true },
  };
}

export function mobileAppEntity(version: Version): EntityDef {
  const beta = version === "beta";
  const vppTypes = beta ? [IOS_VPP_APP, MACOS_VPP_APP] : [IOS_VPP_APP];
  const base: Record<string, PropertyDef> = {
    id: guid("id"),
    displayName: str("display_name"),
    description: str("description", { sortable: false }),
    publisher: str("publisher"),
    largeIcon: opaque("icon_url"),
    createdDateTime: dt("created_at"),
    lastModifiedDateTime: dt("last_modified_at"),
    isFeatured: bool("is_featured"),
    privacyInformationUrl: opaque("none_text"),
    informationUrl: opaque("none_text"),
    owner: opaque("none_text"),
    developer: opaque("none_text"),
    notes: opaque("none_text"),
    publishingState: { column: "publishing_state", type: "enum", enumValues: publishingStates },
    ...(beta
      ? {
          uploadState: int("upload_state"),
          isAssigned: bool("is_assigned"),
          roleScopeTagIds: { column: "role_scope_tag_ids", type: "stringCollection" } as PropertyDef,
          dependentAppCount: int("zero_count"),
          supersedingAppCount: int("zero_count"),
          supersededAppCount: int("zero_count"),
        }
      : {}),
  };
  const vpp: Record<string, PropertyDef> = {
    usedLicenseCount: int("assigned_count"),
    totalLicenseCount: int("total_count"),
    releaseDateTime: dt("release_at"),
    appStoreUrl: str("app_store_url", { caseInsensitive: false }),
    "licensingType/supportsUserLicensing": bool("supports_user_licensing"),
    "licensingType/supportsDeviceLicensing": bool("device_assignable"),
    vppTokenOrganizationName: str("token_organization_name"),
    vppTokenAccountType: { column: "token_account_type", type: "enum", enumValues: accountTypes },
    vppTokenAppleId: str("token_apple_id"),
    bundleId: str("bundle_id"),
    licensingType: opaque("device_assignable"),
    ...(beta
      ? {
          "licensingType/supportUserLicensing": bool("supports_user_licensing"),
          "licensingType/supportDeviceLicensing": bool("device_assignable"),
          vppTokenId: guid("token_id"),
          vppTokenDisplayName: str("token_display_name"),
          revokeLicenseActionResults: opaque("none_text"),
        }
      : {}),
    ...extensions(),
  };
  const iosOnly: Record<string, PropertyDef> = {
    applicableDeviceType: opaque("for_ipad"),
    "applicableDeviceType/iPad": bool("for_ipad"),
    "applicableDeviceType/iPhoneAndIPod": bool("for_iphone"),
    ...(beta ? { appleDeviceAppDeliveryProtocolType: opaque("delivery_protocol") } : {}),
  };
  return {
    typeName: MOBILE_APP,
    discriminator: "odata_type",
    derivedTypes: vppTypes,
    sequenceColumn: "seq",
    properties: { ...base, ...owned(vpp, vppTypes), ...owned(iosOnly, [IOS_VPP_APP]) },
  };
}

export function managedEBookEntity(version: Version): EntityDef {
  const beta = version === "beta";
  const own: Record<string, PropertyDef> = {
    vppTokenId: guid("token_id"),
    appleId: str("token_apple_id"),
    vppOrganizationName: str("token_organization_name"),
    genres: { column: "genres", type: "stringCollection", caseInsensitive: true },
    language: str("metadata_language"),
    seller: str("seller"),
    totalLicenseCount: int("total_count"),
    usedLicenseCount: int("assigned_count"),
    ...extensions(),
  };
  return {
    typeName: MANAGED_EBOOK,
    discriminator: "odata_type",
    derivedTypes: [IOS_VPP_EBOOK],
    sequenceColumn: "seq",
    properties: {
      id: guid("id"),
      displayName: str("display_name"),
      description: str("description", { sortable: false }),
      publisher: str("publisher"),
      publishedDateTime: dt("release_at"),
      largeCover: opaque("icon_url"),
      createdDateTime: dt("created_at"),
      lastModifiedDateTime: dt("last_modified_at"),
      informationUrl: opaque("none_text"),
      privacyInformationUrl: opaque("none_text"),
      ...(beta
        ? { roleScopeTagIds: { column: "role_scope_tag_ids", type: "stringCollection" } as PropertyDef }
        : {}),
      ...owned(own, [IOS_VPP_EBOOK]),
    },
  };
}

type Row = Record<string, any>;
const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);

interface Localized {
  displayName: string;
  description: string | null;
}

/** Name and description in the caller's language when the storefront has it (APP-4), else the storefront's own. */
function localized(
  r: Row,
  acceptLanguage: string | undefined,
): { displayName: string | null; description: string | null } {
  const l10n = (r.metadata_localizations ?? {}) as Record<string, Localized>;
  const lang = pickLanguage(acceptLanguage, Object.keys(l10n));
  const chosen = lang ? l10n[lang] : undefined;
  return chosen
    ? { displayName: chosen.displayName, description: chosen.description ?? r.description ?? null }
    : { displayName: r.display_name ?? null, description: r.description ?? null };
}

function extensionValues(r: Row) {
  return {
    adamId: r.adam_id,
    iconUrl: r.icon_url ?? null,
    metadataStatus: r.metadata_status,
    availableLicenseCount: r.available_count,
    retiredLicenseCount: r.retired_count,
    pendingLicenseCount: Number(r.pending_count ?? 0),
    untrackedLicenseCount: r.untracked_count,
    revokedLicenseCount: r.revoked_count ?? 0,
    unitPrice: r.unit_price === null || r.unit_price === undefined ? null : Number(r.unit_price),
  };
}

/** A catalog row as iosVppApp / macOsVppApp, with @odata.type. */
export function mobileAppToGraph(r: Row, version: Version, acceptLanguage?: string): Record<string, unknown> {
  const beta = version === "beta";
  const ios = r.odata_type === IOS_VPP_APP;
  const text = localized(r, acceptLanguage);
  return {
    "@odata.type": `#${r.odata_type}`,
    id: r.id,
    displayName: text.displayName,
    description: text.description,
    publisher: r.publisher ?? null,
    largeIcon: null,
    createdDateTime: iso(r.created_at),
    lastModifiedDateTime: iso(r.last_modified_at),
    isFeatured: false,
    privacyInformationUrl: null,
    informationUrl: null,
    owner: null,
    developer: null,
    notes: null,
    publishingState: "published",
    ...(beta
      ? {
          uploadState: 1,
          isAssigned: Boolean(r.is_assigned),
          roleScopeTagIds: ["0"],
          dependentAppCount: 0,
          supersedingAppCount: 0,
          supersededAppCount: 0,
        }
      : {}),
    usedLicenseCount: r.assigned_count,
    totalLicenseCount: r.total_count,
    releaseDateTime: iso(r.release_at),
    appStoreUrl: r.app_store_url ?? null,
    licensingType: beta
      ? {
          supportUserLicensing: true,
          supportDeviceLicensing: r.device_assignable,
          supportsUserLicensing: true,
          supportsDeviceLicensing: r.device_assignable,
        }
      : { supportsUserLicensing: true, supportsDeviceLicensing: r.device_assignable },
    ...(ios
      ? { applicableDeviceType: { iPad: Boolean(r.for_ipad), iPhoneAndIPod: Boolean(r.for_iphone) } }
      : {}),
    vppTokenOrganizationName: r.token_organization_name ?? null,
    vppTokenAccountType: r.token_account_type,
    vppTokenAppleId: r.token_apple_id ?? null,
    bundleId: r.bundle_id ?? null,
    ...(beta
      ? {
          vppTokenId: r.token_id,
          vppTokenDisplayName: r.token_display_name ?? null,
          revokeLicenseActionResults: [],
          ...(ios ? { appleDeviceAppDeliveryProtocolType: r.delivery_protocol } : {}),
        }
      : {}),
    ...extensionValues(r),
  };
}

/** A catalog row as iosVppEBook, with @odata.type. */
export function managedEBookToGraph(
  r: Row,
  version: Version,
  acceptLanguage?: string,
): Record<string, unknown> {
  const text = localized(r, acceptLanguage);
  return {
    "@odata.type": `#${IOS_VPP_EBOOK}`,
    id: r.id,
    displayName: text.displayName,
    description: text.description,
    publisher: r.publisher ?? null,
    publishedDateTime: iso(r.release_at),
    largeCover: null,
    createdDateTime: iso(r.created_at),
    lastModifiedDateTime: iso(r.last_modified_at),
    informationUrl: null,
    privacyInformationUrl: null,
    ...(version === "beta" ? { roleScopeTagIds: ["0"] } : {}),
    vppTokenId: r.token_id,
    appleId: r.token_apple_id ?? null,
    vppOrganizationName: r.token_organization_name ?? null,
    genres: r.genres ?? [],
    language: r.metadata_language ?? null,
    seller: r.seller ?? null,
    totalLicenseCount: r.total_count,
    usedLicenseCount: r.assigned_count,
    ...extensionValues(r),
  };
}

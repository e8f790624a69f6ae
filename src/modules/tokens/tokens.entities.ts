// Graph shape of vppToken (TOK-3) under /v1.0 and /beta, and how its properties map onto columns.
// Beta-only members never appear on v1.0; there a token in state duplicateLocationId reads `valid`
// (v1.0's vppTokenState has no such member). The token secret is never returned: `token` is null.
import type { Selectable } from "kysely";
import type { VppTokensTable } from "../../db/types.ts";
import type { EntityDef, PropertyDef } from "../../http/odata/entity.ts";

export const VPP_TOKEN = "microsoft.graph.vppToken";
export type ApiVersion = "v1.0" | "beta";
export type VppTokenRow = Selectable<VppTokensTable>;

export const accountTypes = ["business", "education"] as const;
export const syncStatuses = ["none", "inProgress", "completed", "failed"] as const;
export const statesV1 = ["unknown", "valid", "expired", "invalid", "assignedToExternalMDM"] as const;
export const statesBeta = [...statesV1, "duplicateLocationId"] as const;
export const deliveryProtocols = [
  "default",
  "mobileDeviceManagement",
  "declarativeDeviceManagement",
  "unknownFutureValue",
] as const;
/** Graph's "never" for a non-nullable DateTimeOffset. */
export const NEVER = "0001-01-01T00:00:00Z";

const s = (column: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({
  column,
  type: "string",
  caseInsensitive: true,
  ...extra,
});
const dt = (column: string): PropertyDef => ({ column, type: "datetime" });
const never = (column: string): PropertyDef => ({
  column,
  type: "string",
  filterable: false,
  sortable: false,
});

const common = {
  id: { column: "id", type: "guid" },
  organizationName: s("organization_name"),
  vppTokenAccountType: { column: "account_type", type: "enum", enumValues: accountTypes },
  appleId: s("apple_id"),
  expirationDateTime: dt("expiration_at"),
  lastSyncDateTime: dt("last_sync_at"),
  // Accepted in $select (Graph has it); always null, never filterable.
  token: never("id"),
  lastModifiedDateTime: dt("last_modified_at"),
  lastSyncStatus: { column: "last_sync_status", type: "enum", enumValues: syncStatuses },
  automaticallyUpdateApps: { column: "automatically_update_apps", type: "boolean" },
  countryOrRegion: s("country_or_region"),
} satisfies Record<string, PropertyDef>;

export const vppTokenEntityV1: EntityDef = {
  typeName: VPP_TOKEN,
  sequenceColumn: "seq",
  // state_v1 is computed by the list query: duplicateLocationId reads valid.
  properties: { ...common, state: { column: "state_v1", type: "enum", enumValues: statesV1 } },
};

export const vppTokenEntityBeta: EntityDef = {
  typeName: VPP_TOKEN,
  sequenceColumn: "seq",
  properties: {
    ...common,
    state: { column: "state", type: "enum", enumValues: statesBeta },
    displayName: s("display_name"),
    locationName: s("location_name"),
    claimTokenManagementFromExternalMdm: never("id"),
    dataSharingConsentGranted: never("id"),
    roleScopeTagIds: never("id"),
    tokenActionResults: never("id"),
    appleDeviceAppDeliveryProtocolType: never("id"),
  },
};

export const vppTokenEntity = (v: ApiVersion) => (v === "beta" ? vppTokenEntityBeta : vppTokenEntityV1);

const iso = (d: Date | string | null | undefined) =>
  d === null || d === undefined ? null : new Date(d).toISOString();

/** Claim bookkeeping kept in vpp_tokens.external_mdm (TOK-5). */
export interface ClaimRecord {
  /** Another MDM's mdmInfo, seen on Apple's answers after Allot claimed the token. */
  otherMdm?: { id: string; name: string; metadata?: string } | null;
  /** The MDM Allot took the token over from, with the administrator's consent. */
  takenOverFrom?: { id: string; name: string } | null;
  takenOverAt?: string | null;
  claimConsent?: boolean;
}

export function claimRecordOf(row: Pick<VppTokenRow, "external_mdm">): ClaimRecord {
  const v = row.external_mdm as unknown;
  const parsed = typeof v === "string" ? JSON.parse(v) : v;
  return parsed && typeof parsed === "object" ? (parsed as ClaimRecord) : {};
}

export function vppTokenToGraph(r: VppTokenRow, version: ApiVersion): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: r.id,
    organizationName: r.organization_name,
    vppTokenAccountType: r.account_type,
    appleId: r.apple_id,
    expirationDateTime: iso(r.expiration_at),
    lastSyncDateTime: iso(r.last_sync_at) ?? NEVER,
    token: null,
    lastModifiedDateTime: iso(r.last_modified_at),
    state: version === "v1.0" && r.state === "duplicateLocationId" ? "valid" : r.state,
    lastSyncStatus: r.last_sync_status,
    automaticallyUpdateApps: r.automatically_update_apps,
    countryOrRegion: r.country_or_region,
  };
  if (version === "beta") {
    out.displayName = r.display_name;
    out.locationName = r.location_name;
    out.claimTokenManagementFromExternalMdm = claimRecordOf(r).claimConsent === true;
    // Assigning licenses sends device serial numbers and user ids to Apple: uploading a token is that consent.
    out.dataSharingConsentGranted = true;
    out.roleScopeTagIds = ["0"];
    out.tokenActionResults = [];
    out.appleDeviceAppDeliveryProtocolType = "default";
  }
  return out;
}

/** Audit snapshot: the beta shape without `token` (nothing secret in it anyway). */
export function vppTokenAuditShape(r: VppTokenRow): Record<string, unknown> {
  const {
    token: _never,
    lastSyncDateTime: _sync,
    lastSyncStatus: _status,
    ...rest
  } = vppTokenToGraph(r, "beta");
  return rest;
}

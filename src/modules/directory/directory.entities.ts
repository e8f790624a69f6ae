// Graph shapes of the directory (DIR-1) and how their properties map onto columns.
import type { EntityDef, PropertyDef } from "../../http/odata/entity.ts";

const s = (column: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({ column, type: "string", caseInsensitive: true, ...extra });
const b = (column: string): PropertyDef => ({ column, type: "boolean" });
const dt = (column: string): PropertyDef => ({ column, type: "datetime" });
const id = (column = "id"): PropertyDef => ({ column, type: "guid" });

export const USER = "microsoft.graph.user";
export const GROUP = "microsoft.graph.group";
export const DEVICE = "microsoft.graph.managedDevice";

export const operatingSystems = ["iOS", "iPadOS", "macOS", "Windows"] as const;
export const ownerTypes = ["company", "personal", "unknown"] as const;
export const joinTypes = ["unknown", "azureADJoined", "azureADRegistered", "hybridAzureADJoined"] as const;
export const memberKinds = ["user", "device", "mixed"] as const;

const userProps = {
  id: id(),
  displayName: s("display_name"),
  userPrincipalName: s("user_principal_name"),
  mail: s("mail"),
  accountEnabled: b("account_enabled"),
  usageLocation: s("usage_location"),
  givenName: s("given_name"),
  surname: s("surname"),
  jobTitle: s("job_title"),
  department: s("department"),
  appleIdEmail: s("apple_id_email"),
  createdDateTime: dt("created_at"),
} satisfies Record<string, PropertyDef>;

const groupProps = {
  id: id(),
  displayName: s("display_name"),
  description: s("description"),
  mailNickname: s("mail_nickname"),
  mailEnabled: b("mail_enabled"),
  securityEnabled: b("security_enabled"),
  memberKind: { column: "member_kind", type: "enum", enumValues: memberKinds },
  createdDateTime: dt("created_at"),
} satisfies Record<string, PropertyDef>;

const deviceProps = {
  id: id(),
  deviceName: s("device_name"),
  serialNumber: s("serial_number"),
  operatingSystem: { column: "operating_system", type: "enum", enumValues: operatingSystems },
  osVersion: s("os_version"),
  managedDeviceOwnerType: { column: "managed_device_owner_type", type: "enum", enumValues: ownerTypes },
  isSupervised: b("is_supervised"),
  userId: id("user_id"),
  joinType: { column: "join_type", type: "enum", enumValues: joinTypes },
  kioskMode: b("kiosk_mode"),
  iTunesStoreBlocked: b("itunes_store_blocked"),
  storeAppBlocked: b("store_app_blocked"),
  enrolledDateTime: dt("enrolled_at"),
} satisfies Record<string, PropertyDef>;

export const userEntity: EntityDef = { typeName: USER, properties: userProps, sequenceColumn: "seq", expandable: ["memberOf", "managedDevices"] };
export const groupEntity: EntityDef = { typeName: GROUP, properties: groupProps, sequenceColumn: "seq", expandable: ["members"] };
export const deviceEntity: EntityDef = { typeName: DEVICE, properties: { ...deviceProps, userPrincipalName: s("user_principal_name", { sortable: false }) }, sequenceColumn: "seq", expandable: ["users"] };

// The polymorphic directoryObject set (members, transitiveMembers, memberOf) reads the
// directory_objects view; properties of derived types may be used with or without a cast segment.
const owned = (props: Record<string, PropertyDef>, type: string, rename: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries(props).filter(([k]) => k !== "id").map(([k, p]) => [k, { ...p, column: rename[k] ?? p.column, ownerTypes: [type] }]));

export const directoryObjectEntity: EntityDef = {
  typeName: "microsoft.graph.directoryObject",
  discriminator: "odata_type",
  derivedTypes: [USER, GROUP, DEVICE],
  sequenceColumn: "sort_key",
  properties: {
    ...owned(deviceProps, DEVICE, { createdDateTime: "created_at" }),
    ...owned(groupProps, GROUP, { createdDateTime: "created_at" }),
    ...owned(userProps, USER),
    id: id(),
    // displayName exists on users and groups; devices expose their device name through it too.
    displayName: s("display_name", { ownerTypes: [USER, GROUP, DEVICE] }),
    createdDateTime: dt("created_at"),
  },
};

type Row = Record<string, any>;
const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function userToGraph(r: Row) {
  return {
    id: r.id,
    displayName: r.display_name,
    userPrincipalName: r.user_principal_name,
    mail: r.mail ?? null,
    accountEnabled: r.account_enabled,
    usageLocation: r.usage_location ?? null,
    givenName: r.given_name ?? null,
    surname: r.surname ?? null,
    jobTitle: r.job_title ?? null,
    department: r.department ?? null,
    appleIdEmail: r.apple_id_email ?? null,
    createdDateTime: iso(r.created_at),
  };
}

export function groupToGraph(r: Row) {
  return {
    id: r.id,
    displayName: r.display_name,
    description: r.description ?? null,
    mailNickname: r.mail_nickname ?? null,
    mailEnabled: r.mail_enabled,
    securityEnabled: r.security_enabled,
    groupTypes: [] as string[],
    memberKind: r.member_kind,
    createdDateTime: iso(r.created_at),
  };
}

export function deviceToGraph(r: Row) {
  return {
    id: r.id,
    deviceName: r.device_name,
    serialNumber: r.serial_number ?? null,
    operatingSystem: r.operating_system,
    osVersion: r.os_version ?? null,
    managedDeviceOwnerType: r.managed_device_owner_type,
    isSupervised: r.is_supervised,
    userId: r.user_id ?? null,
    userPrincipalName: r.user_principal_name ?? null,
    joinType: r.join_type ?? null,
    kioskMode: r.kiosk_mode,
    iTunesStoreBlocked: r.itunes_store_blocked,
    storeAppBlocked: r.store_app_blocked,
    enrolledDateTime: iso(r.enrolled_at),
  };
}

/** A row of the directory_objects view as its concrete Graph type, with @odata.type. */
export function directoryObjectToGraph(r: Row): Record<string, unknown> {
  switch (r.odata_type) {
    case USER:
      return { "@odata.type": `#${USER}`, ...userToGraph(r) };
    case GROUP:
      return { "@odata.type": `#${GROUP}`, ...groupToGraph(r) };
    default:
      return { "@odata.type": `#${DEVICE}`, displayName: r.display_name, ...deviceToGraph(r) };
  }
}

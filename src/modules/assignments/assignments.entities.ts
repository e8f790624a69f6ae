// ASG-1..4: Graph shapes of an app's assignments (mobileAppAssignment with iosVppAppAssignmentSettings
// or macOsVppAppAssignmentSettings) and of a book's (managedEBookAssignment with installIntent), per
// API version, and the parsing of request bodies into rows. Parsing checks only the body itself;
// everything that needs the database (groups, the app's licensing) is checked by the service.
import type { AssignmentSettingsJson, MobileAppAssignmentsTable } from "../../db/types.ts";
import type { EngineAssignment } from "../../engine/types.ts";
import { badRequest } from "../../lib/errors.ts";
import { MACOS_VPP_APP } from "../catalog/catalog.entities.ts";

export type Version = "v1.0" | "beta";
export type AssignmentSet = "mobileApps" | "managedEBooks";
export type TargetKind = MobileAppAssignmentsTable["target_kind"];
export type Intent = MobileAppAssignmentsTable["intent"];

export const MOBILE_APP_ASSIGNMENT = "microsoft.graph.mobileAppAssignment";
export const MANAGED_EBOOK_ASSIGNMENT = "microsoft.graph.managedEBookAssignment";
export const IOS_VPP_EBOOK_ASSIGNMENT = "microsoft.graph.iosVppEBookAssignment";
export const IOS_SETTINGS = "microsoft.graph.iosVppAppAssignmentSettings";
export const MACOS_SETTINGS = "microsoft.graph.macOsVppAppAssignmentSettings";

export const targetTypes: Record<TargetKind, string> = {
  group: "microsoft.graph.groupAssignmentTarget",
  exclusionGroup: "microsoft.graph.exclusionGroupAssignmentTarget",
  allLicensedUsers: "microsoft.graph.allLicensedUsersAssignmentTarget",
  allDevices: "microsoft.graph.allDevicesAssignmentTarget",
};
const intents: readonly Intent[] = ["required", "available", "uninstall"];

/** Settings members that exist on beta only (never shown on, nor accepted by, v1.0). */
export const betaOnlySettings = [
  "uninstallOnDeviceRemoval",
  "isRemovable",
  "preventManagedAppBackup",
  "preventAutoAppUpdate",
] as const;
type BetaSetting = (typeof betaOnlySettings)[number];
/** macOsVppAppAssignmentSettings has no isRemovable and no vpnConfigurationId. */
const macSettings: readonly BetaSetting[] = [
  "uninstallOnDeviceRemoval",
  "preventManagedAppBackup",
  "preventAutoAppUpdate",
];

/** One assignment as the service stores it. */
export interface AssignmentInput {
  /** An id the client sent (kept when it names an assignment the app already has). */
  id?: string;
  targetKind: TargetKind;
  groupId: string | null;
  intent: Intent;
  settings: AssignmentSettingsJson;
  /** Settings members the request named (a v1.0 update keeps beta-only members it cannot see). */
  namedSettings: readonly string[];
}

export interface AssignmentRow {
  id: string;
  seq: number | string;
  app_id: string;
  target_kind: TargetKind;
  group_id: string | null;
  intent: Intent;
  settings: AssignmentSettingsJson;
  created_at: Date | string;
  updated_at: Date | string;
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (v: unknown): v is string => typeof v === "string" && guid.test(v);

const bare = (t: unknown) => (typeof t === "string" ? t.replace(/^#/, "").toLowerCase() : undefined);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function targetToGraph(r: AssignmentRow, version: Version) {
  return {
    "@odata.type": `#${targetTypes[r.target_kind]}`,
    ...(version === "beta"
      ? { deviceAndAppManagementAssignmentFilterId: null, deviceAndAppManagementAssignmentFilterType: "none" }
      : {}),
    ...(r.group_id ? { groupId: r.group_id } : {}),
  };
}

/** A row as Graph's mobileAppAssignment of the given app type (iosVppApp or macOsVppApp). */
export function mobileAppAssignmentToGraph(r: AssignmentRow, version: Version, appType: string) {
  const s = r.settings ?? { useDeviceLicensing: false };
  const mac = appType === MACOS_VPP_APP;
  const beta = version === "beta";
  const settings: Record<string, unknown> = {
    "@odata.type": `#${mac ? MACOS_SETTINGS : IOS_SETTINGS}`,
    useDeviceLicensing: Boolean(s.useDeviceLicensing),
    ...(mac ? {} : { vpnConfigurationId: null }),
  };
  if (beta) for (const k of mac ? macSettings : betaOnlySettings) settings[k] = s[k] ?? null;
  return {
    "@odata.type": `#${MOBILE_APP_ASSIGNMENT}`,
    id: r.id,
    intent: r.intent,
    ...(beta ? { source: "direct", sourceId: null } : {}),
    target: targetToGraph(r, version),
    settings,
  };
}

/** A row as Graph's managedEBookAssignment (books: installIntent, no settings). */
export function managedEBookAssignmentToGraph(r: AssignmentRow, version: Version) {
  return {
    "@odata.type": `#${IOS_VPP_EBOOK_ASSIGNMENT}`,
    id: r.id,
    target: targetToGraph(r, version),
    installIntent: r.intent,
  };
}

function rejectUnknown(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  version: Version,
  betaOnly: readonly string[] = [],
) {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    if (version === "v1.0" && betaOnly.includes(key))
      throw badRequest(
        `'${key}' of ${where} exists on /beta only; send it to the /beta endpoint or leave it out on /v1.0.`,
      );
    throw badRequest(`Property '${key}' is not a member of ${where}.`);
  }
}

function parseIntent(value: unknown, name: string): Intent {
  if (value === "availableWithoutEnrollment")
    throw badRequest(
      `'${name}': 'availableWithoutEnrollment' is not supported for volume-purchased apps and books (it targets devices without MDM enrollment, which cannot receive VPP licenses); use 'available', 'required' or 'uninstall'.`,
    );
  if (typeof value !== "string" || !intents.includes(value as Intent))
    throw badRequest(
      `'${name}' must be one of 'required', 'available', 'uninstall' (got ${JSON.stringify(value ?? null)}).`,
    );
  return value as Intent;
}

function parseTarget(
  value: unknown,
  version: Version,
  where: string,
): { targetKind: TargetKind; groupId: string | null } {
  if (!isObject(value))
    throw badRequest(
      `'target' of ${where} is required: an object with '@odata.type' (groupAssignmentTarget, exclusionGroupAssignmentTarget, allLicensedUsersAssignmentTarget or allDevicesAssignmentTarget).`,
    );
  const type = bare(value["@odata.type"]);
  const kind = (Object.keys(targetTypes) as TargetKind[]).find((k) => targetTypes[k].toLowerCase() === type);
  if (!kind) {
    const known = Object.values(targetTypes)
      .map((t) => `#${t}`)
      .join(", ");
    throw badRequest(
      value["@odata.type"] === undefined
        ? `'target' of ${where} needs '@odata.type' (one of ${known}).`
        : `Assignment target type '${String(value["@odata.type"])}' is not supported; use one of ${known}.`,
    );
  }
  const filterKeys = [
    "deviceAndAppManagementAssignmentFilterId",
    "deviceAndAppManagementAssignmentFilterType",
  ];
  const grouped = kind === "group" || kind === "exclusionGroup";
  rejectUnknown(
    value,
    ["@odata.type", ...(grouped ? ["groupId"] : []), ...(version === "beta" ? filterKeys : [])],
    `the ${targetTypes[kind]}`,
    version,
    filterKeys,
  );
  if (value.deviceAndAppManagementAssignmentFilterId != null)
    throw badRequest(
      "Assignment filters are not supported: 'deviceAndAppManagementAssignmentFilterId' must be null.",
    );
  const ft = value.deviceAndAppManagementAssignmentFilterType;
  if (ft !== undefined && ft !== null && ft !== "none")
    throw badRequest(
      "Assignment filters are not supported: 'deviceAndAppManagementAssignmentFilterType' must be 'none'.",
    );
  if (!grouped) return { targetKind: kind, groupId: null };
  if (!isGuid(value.groupId))
    throw badRequest(
      `'groupId' of the ${targetTypes[kind]} must be a group id (GUID); got ${JSON.stringify(value.groupId ?? null)}.`,
    );
  return { targetKind: kind, groupId: value.groupId.toLowerCase() };
}

function parseSettings(
  value: unknown,
  version: Version,
  appType: string,
): { settings: AssignmentSettingsJson; named: string[] } {
  if (value === undefined || value === null) return { settings: { useDeviceLicensing: false }, named: [] };
  const mac = appType === MACOS_VPP_APP;
  const expected = mac ? MACOS_SETTINGS : IOS_SETTINGS;
  if (!isObject(value)) throw badRequest(`'settings' must be an object of type #${expected}.`);
  const type = value["@odata.type"];
  if (type !== undefined && bare(type) !== expected.toLowerCase())
    throw badRequest(
      `'settings' of a ${mac ? "macOsVppApp" : "iosVppApp"} must be #${expected}, not '${String(type)}'.`,
    );
  const beta = mac ? macSettings : betaOnlySettings;
  const v1 = ["@odata.type", "useDeviceLicensing", ...(mac ? [] : ["vpnConfigurationId"])];
  rejectUnknown(value, version === "beta" ? [...v1, ...beta] : v1, `#${expected}`, version, beta);
  if (value.vpnConfigurationId !== undefined && value.vpnConfigurationId !== null)
    throw badRequest("'vpnConfigurationId' must be null: Allot manages no VPN configurations.");
  const settings: AssignmentSettingsJson = { useDeviceLicensing: false };
  const named: string[] = [];
  if (value.useDeviceLicensing !== undefined) {
    if (typeof value.useDeviceLicensing !== "boolean")
      throw badRequest("'useDeviceLicensing' must be true or false.");
    settings.useDeviceLicensing = value.useDeviceLicensing;
    named.push("useDeviceLicensing");
  }
  for (const k of beta) {
    if (value[k] === undefined) continue;
    named.push(k);
    if (value[k] === null) continue;
    if (typeof value[k] !== "boolean") throw badRequest(`'${k}' must be true, false or null.`);
    settings[k] = value[k] as boolean;
  }
  return { settings, named };
}

/** A mobileAppAssignment from a request body (assign, POST or PATCH merged onto the current one). */
export function parseMobileAppAssignment(
  body: unknown,
  version: Version,
  appType: string,
  where = "the mobileAppAssignment",
): AssignmentInput {
  if (!isObject(body)) throw badRequest(`${where} must be an object.`);
  const t = body["@odata.type"];
  if (t !== undefined && bare(t) !== MOBILE_APP_ASSIGNMENT.toLowerCase())
    throw badRequest(`'@odata.type' of ${where} must be #${MOBILE_APP_ASSIGNMENT}, not '${String(t)}'.`);
  rejectUnknown(
    body,
    [
      "@odata.type",
      "id",
      "intent",
      "target",
      "settings",
      ...(version === "beta" ? ["source", "sourceId"] : []),
    ],
    `#${MOBILE_APP_ASSIGNMENT}`,
    version,
    ["source", "sourceId"],
  );
  if (body.source !== undefined && body.source !== null && body.source !== "direct")
    throw badRequest("'source' must be 'direct': Allot has no policy sets.");
  if (body.sourceId !== undefined && body.sourceId !== null)
    throw badRequest("'sourceId' must be null: Allot has no policy sets.");
  const intent = parseIntent(body.intent, "intent");
  const target = parseTarget(body.target, version, where);
  const { settings, named } = parseSettings(body.settings, version, appType);
  return {
    ...(isGuid(body.id) ? { id: body.id.toLowerCase() } : {}),
    ...target,
    intent,
    settings,
    namedSettings: named,
  };
}

/** A managedEBookAssignment from a request body; books are user-licensed only (no settings). */
export function parseManagedEBookAssignment(
  body: unknown,
  version: Version,
  where = "the managedEBookAssignment",
): AssignmentInput {
  if (!isObject(body)) throw badRequest(`${where} must be an object.`);
  const t = bare(body["@odata.type"]);
  if (
    t !== undefined &&
    t !== MANAGED_EBOOK_ASSIGNMENT.toLowerCase() &&
    t !== IOS_VPP_EBOOK_ASSIGNMENT.toLowerCase()
  )
    throw badRequest(
      `'@odata.type' of ${where} must be #${IOS_VPP_EBOOK_ASSIGNMENT} or #${MANAGED_EBOOK_ASSIGNMENT}, not '${String(body["@odata.type"])}'.`,
    );
  if ("settings" in body || "useDeviceLicensing" in body || "intent" in body) {
    const s = isObject(body.settings) ? body.settings : body;
    if (s.useDeviceLicensing === true)
      throw badRequest(
        "Books cannot use device licensing: Apple assigns books to users only. Leave out 'useDeviceLicensing' (a managedEBookAssignment has only 'target' and 'installIntent').",
      );
    if ("intent" in body)
      throw badRequest("A managedEBookAssignment names its intent in 'installIntent', not 'intent'.");
  }
  rejectUnknown(
    body,
    ["@odata.type", "id", "target", "installIntent"],
    `#${MANAGED_EBOOK_ASSIGNMENT}`,
    version,
  );
  const intent = parseIntent(body.installIntent, "installIntent");
  const target = parseTarget(body.target, version, where);
  return {
    ...(isGuid(body.id) ? { id: body.id.toLowerCase() } : {}),
    ...target,
    intent,
    settings: { useDeviceLicensing: false },
    namedSettings: [],
  };
}

/** The key two assignments of one app may not share: the group (included or excluded), or the all-users/all-devices target. */
export const targetKey = (a: { targetKind: TargetKind; groupId: string | null }) => a.groupId ?? a.targetKind;

/** A stored assignment as the licensing engine's input (src/engine/types.ts). */
export function toEngineAssignment(r: AssignmentRow): EngineAssignment {
  return {
    id: r.id,
    seq: Number(r.seq),
    createdAt: new Date(r.created_at).getTime(),
    target: { kind: r.target_kind, groupId: r.group_id },
    intent: r.intent,
    settings: { ...r.settings },
  };
}

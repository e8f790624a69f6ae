// Apps and books as /beta returns them (iosVppApp, macOsVppApp, iosVppEBook) and their assignments.
export interface StoreApp {
  "@odata.type": string;
  id: string;
  displayName: string | null;
  publisher: string | null;
  description?: string | null;
  bundleId?: string | null;
  adamId?: string;
  appStoreUrl?: string | null;
  releaseDateTime?: string | null;
  publishedDateTime?: string | null;
  lastModifiedDateTime?: string | null;
  metadataStatus?: string;
  vppTokenId: string;
  vppTokenDisplayName?: string | null;
  vppTokenOrganizationName?: string | null;
  vppOrganizationName?: string | null;
  totalLicenseCount: number;
  usedLicenseCount: number;
  availableLicenseCount?: number;
  revokedLicenseCount?: number;
  pendingLicenseCount?: number;
  untrackedLicenseCount?: number;
  retiredLicenseCount?: number;
  unitPrice?: number | null;
  isAssigned?: boolean;
  licensingType?: { supportsUserLicensing?: boolean; supportsDeviceLicensing?: boolean };
  applicableDeviceType?: { iPad?: boolean; iPhoneAndIPod?: boolean };
  version?: string | null;
  versionNumber?: string | null;
  latestVersion?: string | null;
  updateAvailable?: boolean;
}

export type TargetKind =
  | "groupAssignmentTarget"
  | "exclusionGroupAssignmentTarget"
  | "allLicensedUsersAssignmentTarget"
  | "allDevicesAssignmentTarget";

export interface Assignment {
  id?: string;
  intent: "required" | "available" | "uninstall";
  target: { "@odata.type": string; groupId?: string };
  settings?: {
    "@odata.type"?: string;
    useDeviceLicensing?: boolean;
    uninstallOnDeviceRemoval?: boolean | null;
    isRemovable?: boolean | null;
    preventManagedAppBackup?: boolean | null;
    preventAutoAppUpdate?: boolean | null;
  } | null;
}

export interface Holding {
  holderType: "user" | "device";
  holderId: string;
  displayName: string | null;
  userPrincipalName: string | null;
  serialNumber: string | null;
  state: string;
  reason: string | null;
  licenseType: string;
  sinceDateTime: string;
  waitingSinceDateTime: string | null;
}

export interface PreviewHolder {
  id: string;
  type: "user" | "device";
  reason?: string;
}
export interface Preview {
  licensed: PreviewHolder[];
  waiting: PreviewHolder[];
  released: PreviewHolder[];
  counts: Record<string, number>;
  countsBefore: Record<string, number>;
  cost: Record<string, number | null>;
}

export const APPS_PATH = "/beta/deviceAppManagement/mobileApps";
export const BOOKS_PATH = "/beta/deviceAppManagement/managedEBooks";

export const kindOf = (t: string) => t.replace(/^#?microsoft\.graph\./, "");

export function platformOf(a: StoreApp): "iOS" | "macOS" | "Book" {
  const k = kindOf(a["@odata.type"]);
  if (k.startsWith("macOs")) return "macOS";
  if (k.toLowerCase().includes("ebook")) return "Book";
  return "iOS";
}

export function countsOf(a: StoreApp) {
  const total = a.totalLicenseCount ?? 0;
  const used = a.usedLicenseCount ?? 0;
  return {
    total,
    used,
    available: a.availableLicenseCount ?? Math.max(0, total - used),
    revoked: a.revokedLicenseCount ?? 0,
    pending: a.pendingLicenseCount ?? 0,
  };
}

/** Running out: 10 % or less left, or none (the alert's default threshold). */
export function runningOut(a: StoreApp): boolean {
  const c = countsOf(a);
  return c.total === 0 ? c.used > 0 : c.available * 10 <= c.total;
}

/** Words for the ledger's reasons (why someone waits or failed). */
const reasons: Record<string, string> = {
  insufficientLicenses: "No license left: buy more or free some",
  awaitingInvitation: "Waiting for the user to accept the Apple invitation",
  notDeviceAssignable: "The app cannot be licensed to devices: use user licensing",
  platformNotSupported: "The app does not run on this device's platform",
  userNotActive: "The user is disabled or deleted",
  notRequested: "Available app: waits until the user requests it",
  excluded: "In an excluded group",
  notTargeted: "No longer targeted",
  uninstallIntent: "Assigned as uninstall",
  deviceRemoved: "The device was removed",
  noSerialNumber: "The device has no serial number yet",
  notSoldInStorefront: "Not sold in the token's storefront",
  tokenInvalid: "The VPP token is not valid",
  revoked: "Revoked by an administrator",
};
export function reasonText(reason: string | null | undefined): string {
  if (!reason) return "";
  return reasons[reason] ?? reason.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

export function targetLabel(a: Assignment, groupName: (id: string) => string): string {
  const k = kindOf(a.target["@odata.type"]);
  if (k === "allLicensedUsersAssignmentTarget") return "All users";
  if (k === "allDevicesAssignmentTarget") return "All devices";
  const g = a.target.groupId ? groupName(a.target.groupId) : "?";
  return k === "exclusionGroupAssignmentTarget" ? `Exclude: ${g}` : g;
}

export function money(v: number | null | undefined): string {
  return v === null || v === undefined
    ? "—"
    : v.toLocaleString(undefined, { style: "currency", currency: "USD" });
}

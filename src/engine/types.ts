// The licensing engine's contract (ENG-1..9, ASG-4, EUX-1, UPD-1): plain data in, plain data out.
// Times are epoch milliseconds (numbers) so a million of them cost no allocations; callers convert
// `Date`s with getTime(). Nothing here imports from db/, http/, stores/ or modules/.

export type Millis = number;
export type HolderType = "user" | "device";
export type LicenseType = "user" | "device";
export type Intent = "required" | "available" | "uninstall";
export type TargetKind = "group" | "exclusionGroup" | "allLicensedUsers" | "allDevices";
/** The app's token as the engine sees it: only `usable` lets it plan store operations. */
export type TokenUsability = "usable" | "expired" | "invalid" | "assignedToExternalMDM";
export type DeviceOs = "iOS" | "iPadOS" | "macOS" | "Windows";
/** Per (token, user). `registered`: known to Apple, no invitation sent yet; `invited`: invitation
 * sent, not accepted; `associated`: accepted (has an Apple Account) — only then user-licensable. */
export type AppleUserState = "none" | "registered" | "invited" | "associated" | "retired";
export type HoldingState =
  | "pendingAssign"
  | "assigned"
  | "pendingRelease"
  | "released"
  | "failed"
  | "waiting";
/** Install state of one app on one device, as the device-command outbox and the MDM bridge record it. */
export type InstallState = "none" | "installPending" | "installed" | "removePending" | "removed" | "failed";

/** States that hold one of the app's licenses at the store (ENG-1 counts these). */
export const CONSUMING_STATES: ReadonlySet<HoldingState> = new Set([
  "pendingAssign",
  "assigned",
  "pendingRelease",
]);
/** States in which the holder is (or is about to be) licensed. */
export const LICENSED_STATES: ReadonlySet<HoldingState> = new Set(["pendingAssign", "assigned"]);

/** A user + Apple Account pair may be used on at most this many devices (ENG-4, seed 000). */
export const APPLE_ID_DEVICE_LIMIT = 5;
/** Default for PlanOptions.uninstallTimeoutMs (ENG-6): release after 7 days without a removal report. */
export const DEFAULT_UNINSTALL_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

// ---------------------------------------------------------------------------------------------
// Reasons

/** Why a holder is not licensed, or why its license is released. */
export const REASONS = [
  // not licensed, served automatically once the cause disappears ("waiting")
  "insufficientLicenses",
  "awaitingInvitation",
  "tokenNotUsable",
  "notDeviceAssignable",
  "platformNotSupported",
  "itunesStoreDisabled",
  "deviceLimitReached",
  "noSerialNumber",
  "noPrimaryUser",
  // eligible only (Available without an install request): no ledger row needed
  "notRequested",
  // no license wanted: releases, and rows that stop waiting
  "excluded",
  "uninstallIntent",
  "notTargeted",
  "userNotActive",
  "deviceRemoved",
  "storeKeyChanged",
  // a release the store does not allow (books, irrevocable apps): the license stays assigned
  "notRevocable",
] as const;
export type Reason = (typeof REASONS)[number];

/** Reasons that put a wanted-but-unlicensed holder in state `waiting`. */
export const WAITING_REASONS: ReadonlySet<Reason> = new Set([
  "insufficientLicenses",
  "awaitingInvitation",
  "tokenNotUsable",
  "notDeviceAssignable",
  "platformNotSupported",
  "itunesStoreDisabled",
  "deviceLimitReached",
  "noSerialNumber",
  "noPrimaryUser",
]);

export const ADVICE: Partial<Record<Reason, string>> = {
  itunesStoreDisabled:
    "The device's policy disables the iTunes Store, so the user cannot accept the VPP invitation: use device licensing for this app, or allow the iTunes Store.",
  deviceLimitReached: `A user and Apple Account can be used on at most ${APPLE_ID_DEVICE_LIMIT} devices: use device licensing for this device.`,
  notDeviceAssignable:
    "The store does not allow device licensing for this asset (books never): use user licensing.",
  awaitingInvitation: "The user must accept the invitation to the organization's VPP program.",
  insufficientLicenses:
    "Buy more licenses or release some: waiting holders are served in order automatically.",
  notRevocable:
    "The store does not allow this license to be taken back (books and some apps): it stays assigned.",
};

// ---------------------------------------------------------------------------------------------
// Inputs

export interface EngineApp {
  id: string;
  /** Token whose Apple users (DirectoryInput.appleUsers) license this app. */
  tokenId: string;
  /** The store's totalCount. */
  totalCount: number;
  /** Licenses consumed outside this ledger (retired users' irrevocable licenses, untracked assignments). Default 0. */
  externallyConsumed?: number;
  deviceAssignable: boolean;
  revocable: boolean;
  productType: "App" | "Book";
  /** Apple's platforms (iOS, macOS, tvOS, watchOS, visionOS). Empty = not known yet: not filtered. */
  supportedPlatforms: readonly string[];
  token: TokenUsability;
  /** Optional price of one license (documented extension); feeds `cost`. */
  unitPrice?: number | null;
}

export interface AssignmentSettings {
  useDeviceLicensing: boolean;
  uninstallOnDeviceRemoval?: boolean;
  isRemovable?: boolean;
  preventManagedAppBackup?: boolean;
  preventAutoAppUpdate?: boolean;
}

export interface EngineAssignment {
  id: string;
  /** Monotonic creation order (tie-break of conflicts and of the queue, never a random id). */
  seq: number;
  createdAt: Millis;
  target: { kind: TargetKind; groupId?: string | null };
  /** Ignored for exclusion targets. */
  intent: Intent;
  settings: AssignmentSettings;
}

/** One DIRECT membership; the engine derives transitive memberships and their times itself. */
export interface MembershipEdge {
  groupId: string;
  memberId: string;
  memberType: "user" | "device" | "group";
  joinedAt: Millis;
}

export interface EngineUser {
  id: string;
  seq: number;
  createdAt: Millis;
  enabled: boolean;
  /** Deleted users may also simply be left out. */
  deleted?: boolean;
}

export interface EngineDevice {
  id: string;
  seq: number;
  /** Enrollment (or creation) time: the moment the device is in "all devices" and has its primary user. */
  createdAt: Millis;
  serialNumber: string | null;
  operatingSystem: DeviceOs;
  /** Primary user. */
  userId: string | null;
  itunesStoreBlocked: boolean;
  /** false once removed from management. */
  managed: boolean;
  /** e.g. "17.4"; used by automatic updates (UPD-1: iOS/iPadOS 11 and later). */
  osVersion?: string | null;
}

export interface AppleUserRecord {
  tokenId: string;
  userId: string;
  state: AppleUserState;
  clientUserId: string | null;
  /** Devices using this Apple Account that Allot does not manage; they count toward the 5-device limit. */
  externalDeviceCount?: number;
}

export interface DirectoryInput {
  users: readonly EngineUser[];
  devices: readonly EngineDevice[];
  memberships: readonly MembershipEdge[];
  appleUsers?: readonly AppleUserRecord[];
}

/** An install request for an Available app (requestAppInstall, or a company-portal request via the MDM bridge). */
export interface InstallRequest {
  deviceId: string;
  /** The requesting user. A request counts for the device's primary user only: one from another user
   * (or on a device without a primary user) is ignored. */
  userId?: string | null;
  requestedAt: Millis;
}

export interface DeviceInstall {
  deviceId: string;
  state: InstallState;
  since: Millis;
}

/** One row of the ledger (license_holdings) for this app. */
export interface LedgerHolding {
  holderType: HolderType;
  holderId: string;
  state: HoldingState;
  reason?: string | null;
  licenseType: LicenseType;
  since: Millis;
  waitingSince?: Millis | null;
  /** The queue key the engine computed (store it: the incremental API reads the queue from it). */
  entitledAt?: Millis | null;
  holderSeq?: number | null;
  /** Serial number or clientUserId the license is (to be) bound to. */
  storeKey?: string | null;
}

export interface AppInput {
  app: EngineApp;
  assignments: readonly EngineAssignment[];
  holdings: readonly LedgerHolding[];
  installRequests?: readonly InstallRequest[];
  installs?: readonly DeviceInstall[];
}

export interface PlanOptions {
  now: Millis;
  /** Release an Uninstall holder this long after its remove command if the MDM never confirms. */
  uninstallTimeoutMs?: number;
  /** Retry `failed` holdings this long after they failed; null/undefined = stay failed until the ledger resets them. */
  failedRetryMs?: number | null;
}

// ---------------------------------------------------------------------------------------------
// Outputs

/** `queued`: only in incremental plans, for a holder served from the stored waiting queue without being
 * re-resolved (its resolution fields are null). */
export type Rule = "exclusion" | "uninstall" | "required" | "available" | "notTargeted" | "queued";

export interface DeviceTarget {
  deviceId: string;
  /** install: the app belongs on this device (a command is planned only if it is not installed or pending);
   * remove: Uninstall intent; none: not possible here, see reason. */
  action: "install" | "remove" | "none";
  reason: Reason | null;
}

export interface HoldingDecision {
  holderType: HolderType;
  holderId: string;
  holderSeq: number;
  licenseType: LicenseType;
  /** Resolved intent (ASG-4); "excluded" when an exclusion group won; null when not targeted. */
  intent: Intent | "excluded" | null;
  rule: Rule;
  /** The assignment that decided (lowest seq among those of the winning intent). */
  assignmentId: string | null;
  /** The principal through which the deciding assignment reached the holder, when not the holder itself
   * (a user's device for user licensing; the primary user for device licensing). */
  via: { type: HolderType; id: string } | null;
  /** Queue key: when the claim became complete (see README). null when not entitled. */
  entitledAt: Millis | null;
  /** Desired ledger state; null = no ledger row needed (never had one, nothing to record). */
  state: HoldingState | null;
  reason: string | null;
  advice?: string;
  previousState: HoldingState | null;
  previousReason: string | null;
  /** true when the ledger row must be written (state, reason, store key or queue key differ). */
  changed: boolean;
  since: Millis | null;
  waitingSince: Millis | null;
  storeKey: string | null;
  /** User holders: the user's devices the decision considered. Device holders: absent (the device itself). */
  devices?: DeviceTarget[];
}

export interface AssociateOp {
  kind: "associate" | "disassociate";
  appId: string;
  holderType: HolderType;
  holderId: string;
  licenseType: LicenseType;
  /** serialNumber (device licenses) or clientUserId (user licenses). */
  storeKey: string;
  reason?: string;
}
export interface AppleUserOp {
  kind: "registerAppleUser" | "inviteAppleUser";
  tokenId: string;
  userId: string;
  clientUserId: string | null;
}
export interface DeviceCommandOp {
  kind: "installCommand" | "removeCommand";
  appId: string;
  deviceId: string;
  holderType: HolderType | null;
  holderId: string | null;
  licenseType: LicenseType | null;
  assignmentId: string | null;
  /** Management flags of the deciding assignment (InstallApplication payload). */
  flags?: { isRemovable: boolean; preventManagedAppBackup: boolean; preventAutoAppUpdate: boolean };
}
export type Operation = AssociateOp | AppleUserOp | DeviceCommandOp;
export type OperationKind = Operation["kind"];

/** Order of kinds within a plan: releases first (they free licenses), installs last. */
export const OPERATION_ORDER: readonly OperationKind[] = [
  "disassociate",
  "removeCommand",
  "registerAppleUser",
  "inviteAppleUser",
  "associate",
  "installCommand",
];

/** A principal the deciding assignment reached but who cannot hold the license at all. */
export interface PrincipalIssue {
  principalType: HolderType;
  principalId: string;
  assignmentId: string;
  reason: Reason;
}

export interface PlanCounts {
  total: number;
  externallyConsumed: number;
  /** total − externallyConsumed, never negative. */
  capacity: number;
  /** pendingAssign + assigned + pendingRelease after the plan (≤ max(capacity, before)). */
  consuming: number;
  /** pendingAssign + assigned after the plan (≤ capacity). */
  licensed: number;
  assigned: number;
  pendingAssign: number;
  pendingRelease: number;
  waiting: number;
  failed: number;
  released: number;
  /** capacity − consuming, never negative. */
  available: number;
  newlyAssigned: number;
  newlyReleased: number;
  /** waiting with insufficientLicenses. */
  shortfall: number;
  waitingByReason: Record<string, number>;
}

export interface PlanCost {
  unitPrice: number | null;
  /** unitPrice × licensed. */
  licensedValue: number | null;
  /** unitPrice × newlyAssigned. */
  newlyAssignedValue: number | null;
  /** unitPrice × shortfall: what serving every insufficientLicenses waiter would cost. */
  shortfallValue: number | null;
}

export interface AppPlan {
  appId: string;
  tokenId: string;
  /** Sorted by holder type (users first), holder seq, holder id. */
  holdings: HoldingDecision[];
  /** In OPERATION_ORDER; associates in queue order; the rest in holder order. */
  operations: Operation[];
  issues: PrincipalIssue[];
  counts: PlanCounts;
  cost: PlanCost;
}

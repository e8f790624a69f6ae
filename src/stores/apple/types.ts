// Shapes of Apple's Apps and Books Management API v2 (reference/apple-apps-and-books.md §4, §5, §10),
// after the client has checked and normalised them: dates are ISO-8601 with a "Z", unknown extra
// fields are dropped, open enumerations stay open (Apple adds values without notice).

export type PricingParam = "STDQ" | "PLUS" | (string & {});
export type ProductType = "App" | "Book" | (string & {});
export type ApplePlatform = "iOS" | "macOS" | "tvOS" | "watchOS" | "visionOS" | (string & {});
export type AppleUserStatus = "Registered" | "Associated" | "Retired" | "Deleted" | (string & {});
export type AppleEventStatusValue = "PENDING" | "COMPLETE" | "FAILED" | (string & {});
export type AppleEventType =
  | "ASSOCIATE"
  | "DISASSOCIATE"
  | "REVOKE"
  | "CREATE"
  | "UPDATE"
  | "RETIRE"
  | (string & {});
export type AppleNotificationType =
  | "TEST_NOTIFICATION"
  | "ASSET_MANAGEMENT"
  | "USER_MANAGEMENT"
  | "USER_ASSOCIATED"
  | "ASSET_COUNT"
  | "SUBSCRIPTION_MANAGEMENT"
  | "SUBSCRIPTION_COUNT"
  | "UNLIMITED_ASSET"
  | (string & {});

export interface MdmInfo {
  id: string;
  name: string;
  metadata: string;
}

/** Members every authenticated v2 response carries (§2). */
export interface AppleEnvelope {
  /** ISO-8601 UTC ("2030-11-08T22:33:22.000Z"); Apple writes "+0000". */
  tokenExpirationDate?: string;
  uId?: string;
  /** Present once some MDM has set it through POST /client/config. */
  mdmInfo?: MdmInfo;
}

export interface AppleErrorInfo {
  assets?: AppleAssetRef[];
  clientUserIds?: string[];
  serialNumbers?: string[];
}

export interface AppleErrorBody {
  errorNumber: number;
  errorMessage: string;
  errorInfo?: AppleErrorInfo;
}

/** An asset as written in requests: (adamId, pricingParam); Apple accepts a missing pricingParam. */
export interface AppleAssetRef {
  adamId: string;
  pricingParam?: PricingParam;
}

export interface AppleAsset {
  adamId: string;
  pricingParam: PricingParam;
  productType: ProductType;
  assignedCount: number;
  availableCount: number;
  retiredCount: number;
  totalCount: number;
  deviceAssignable: boolean;
  revocable: boolean;
  supportedPlatforms: ApplePlatform[];
}

export type AppleUnlimitedAsset = Omit<AppleAsset, "availableCount" | "totalCount" | "retiredCount">;

export interface AppleAssignment {
  adamId: string;
  pricingParam: PricingParam;
  clientUserId?: string;
  serialNumber?: string;
  userStatus?: AppleUserStatus;
  idHash?: string;
  /**
   * Not documented by Apple: how a `sinceVersionId` answer shows a removed assignment is an open
   * question (§7). If a server marks removals this way (the emulator's "flag" switch), it is kept.
   */
  removed?: true;
}

export interface AppleUser {
  clientUserId: string;
  email?: string;
  idHash?: string;
  inviteCode?: string;
  status: AppleUserStatus;
}

export interface ApplePaging {
  currentPageIndex: number;
  /** Only when another page exists: the end-of-data signal. */
  nextPageIndex?: number;
  size: number;
  totalPages: number;
  versionId: string;
}

export interface AppleAssetsPage extends AppleEnvelope, ApplePaging {
  assets: AppleAsset[];
  unlimitedAssets?: AppleUnlimitedAsset[];
}

export interface AppleAssignmentsPage extends AppleEnvelope, ApplePaging {
  assignments: AppleAssignment[];
}

export interface AppleUsersPage extends AppleEnvelope, ApplePaging {
  users: AppleUser[];
}

/** GET /assets filters (§4.3). Counts are inclusive. There is no sinceVersionId on assets. */
export interface AppleAssetFilters {
  productType?: ProductType;
  pricingParam?: PricingParam;
  revocable?: boolean;
  deviceAssignable?: boolean;
  minAvailableCount?: number;
  maxAvailableCount?: number;
  minAssignedCount?: number;
  maxAssignedCount?: number;
  adamId?: string;
  unlimited?: boolean;
}

/** GET /assignments filters (§4.4). */
export interface AppleAssignmentFilters {
  adamId?: string;
  clientUserId?: string;
  serialNumber?: string;
  pricingParam?: PricingParam;
  sinceVersionId?: string;
  excludeInactiveUsers?: boolean;
  includeUserState?: boolean;
}

/** GET /users filters (§4.7). */
export interface AppleUserFilters {
  activeOnly?: boolean;
  retiredOnly?: boolean;
  clientUserId?: string;
  sinceVersionId?: string;
}

export interface AppleLimits {
  maxAssets: number;
  maxClientUserIds: number;
  maxSerialNumbers: number;
  maxRevokeClientUserIds: number;
  maxRevokeSerialNumbers: number;
  maxUsers: number;
  maxSubscriptions: number;
  maxSubscriptionClientUserIds: number;
  maxNotificationLength: number;
  maxMdmNameLength: number;
  maxMdmIdLength: number;
  maxMdmMetadataLength: number;
  maxRequestPerSecond: number;
  /** Apple's map is open-ended ("Any Key"). */
  [key: string]: number;
}

export interface AppleServiceConfig {
  limits: AppleLimits;
  urls: Record<string, string>;
  notificationTypes: AppleNotificationType[];
  errorCodes: { errorNumber: number; errorMessage: string }[];
}

export interface AppleClientConfig extends AppleEnvelope {
  countryISO2ACode?: string;
  defaultPlatform?: string;
  locationName?: string;
  notificationAuthToken?: string;
  notificationUrl?: string;
  subscribedNotificationTypes?: AppleNotificationType[];
  websiteURL?: string;
}

export interface AppleClientConfigRequest {
  mdmInfo?: MdmInfo;
  notificationUrl?: string;
  notificationAuthToken?: string;
  notificationTypes?: AppleNotificationType[];
}

export interface AppleManageAssetsRequest {
  assets: AppleAssetRef[];
  clientUserIds?: string[];
  serialNumbers?: string[];
}

export interface AppleRevokeAssetsRequest {
  clientUserIds?: string[];
  serialNumbers?: string[];
}

export interface AppleRequestUser {
  clientUserId: string;
  email?: string;
  managedAppleId?: string;
}

export interface AppleManageUsersRequest {
  users: AppleRequestUser[];
}

export interface AppleEventResponse extends AppleEnvelope {
  eventId: string;
}

export interface AppleEventStatus extends AppleEnvelope {
  eventStatus: AppleEventStatusValue;
  eventType: AppleEventType;
  numRequested: number;
  numCompleted: number;
  failures: AppleErrorBody[];
}

/** One license target: a device serial number or a user registered with /users/create. */
export type AppleTarget =
  | { serialNumber: string; clientUserId?: undefined }
  | { clientUserId: string; serialNumber?: undefined };

/** One (asset, target) assignment as a write intends it. */
export type AppleAssetTargetPair = AppleAssetRef & AppleTarget;

// --- subscriptions (§4.10): integer adamIds, cursor pagination -----------------------------------------

export interface AppleSubscriptionCounts {
  assigned: { renewing: number; expiring: number };
  available: { renewing: number; expiring: number };
  total: { renewing: number; expiring: number };
}

export interface AppleSubscription {
  parentAdamId: number;
  adamId: number;
  status: string;
  periodEndDate: string;
  counts: AppleSubscriptionCounts;
}

export interface AppleSubscriptionAssignment {
  adamId: number;
  clientUserId: string;
  renewing: boolean;
}

export interface AppleCursorPage extends AppleEnvelope {
  nextCursor?: string;
  versionId?: string;
}

export interface AppleSubscriptionsPage extends AppleCursorPage {
  subscriptions: AppleSubscription[];
}

export interface AppleSubscriptionAssignmentsPage extends AppleCursorPage {
  assignments: AppleSubscriptionAssignment[];
}

export interface AppleSubscriptionManagementState extends AppleEnvelope {
  subscriptionManagement: boolean;
}

export interface AppleManageSubscriptionsRequest {
  adamIds: number[];
  clientUserIds: string[];
  renewing?: boolean;
  deferred?: boolean;
}

// --- metadata (§12) -------------------------------------------------------------------------------------

export interface AppleAssetMetadata {
  adamId: string;
  name: string;
  bundleId?: string;
  version?: string;
  /** A square PNG (512×512 when Apple offers a template, else the largest size listed). */
  iconUrl?: string;
  platforms: ApplePlatform[];
  deviceFamilies: string[];
  storeUrl?: string;
  publisher?: string;
  seller?: string;
  kind?: string;
  releaseDate?: string;
  minimumOsVersion?: string;
  description?: string;
  genres: string[];
  isB2BCustomApp?: boolean;
  isVppDeviceBasedLicensingEnabled?: boolean;
}

export interface AppleMetadataResult {
  /** Lower-case storefront country code the lookup used. */
  country: string;
  items: AppleAssetMetadata[];
  /** Requested ids the storefront returned nothing for (not sold there, no access, or unknown). */
  notFound: string[];
}

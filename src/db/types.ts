// Row types of every table, as Kysely sees them. Generated-always columns are `Generated<>`.
import type { ColumnType, Generated } from "kysely";

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type TimestampNullable = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string, string>;

export interface TenantsTable {
  id: string;
  display_name: string;
  is_default: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
}

export interface AdministratorsTable {
  tenant_id: string;
  id: string;
  email: string;
  display_name: string;
  password_hash: string;
  roles: string[];
  account_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  last_sign_in_at: TimestampNullable;
}

export interface SessionsTable {
  tenant_id: string;
  id_hash: string;
  administrator_id: string;
  csrf_token: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface AppRegistrationsTable {
  tenant_id: string;
  id: string;
  client_id: string;
  display_name: string;
  secret_hash: string;
  secret_hint: string;
  roles: string[];
  created_at: Timestamp;
  secret_created_at: Timestamp;
}

export interface SetupLinksTable {
  tenant_id: string;
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: TimestampNullable;
}

export interface ScimTokensTable {
  tenant_id: string;
  id: string;
  display_name: string;
  token_hash: string;
  created_at: Timestamp;
  last_used_at: TimestampNullable;
}

export interface UsersTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  display_name: string;
  user_principal_name: string;
  mail: string | null;
  apple_id_email: string | null;
  account_enabled: boolean;
  usage_location: string | null;
  given_name: string | null;
  surname: string | null;
  job_title: string | null;
  department: string | null;
  external_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GroupsTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  display_name: string;
  description: string | null;
  mail_nickname: string | null;
  member_kind: "user" | "device" | "mixed";
  security_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  mail_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  external_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DevicesTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  device_name: string;
  serial_number: string | null;
  operating_system: "iOS" | "iPadOS" | "macOS" | "Windows";
  os_version: string | null;
  managed_device_owner_type: "company" | "personal" | "unknown";
  is_supervised: boolean;
  user_id: string | null;
  join_type: string | null;
  kiosk_mode: boolean;
  itunes_store_blocked: boolean;
  store_app_blocked: boolean;
  enrolled_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type MemberType = "user" | "device" | "group";

export interface GroupMembersTable {
  tenant_id: string;
  group_id: string;
  member_id: string;
  member_type: MemberType;
  joined_at: Timestamp;
}

export interface DirectoryChangesTable {
  tenant_id: string;
  seq: Generated<number>;
  occurred_at: Timestamp;
  change_type: string;
  object_type: string;
  object_id: string;
  group_id: string | null;
}

export interface AuditActor {
  type: "administrator" | "application" | "scim" | "system" | "cli";
  userPrincipalName?: string | null;
  userId?: string | null;
  applicationId?: string | null;
  applicationDisplayName?: string | null;
  ipAddress?: string | null;
}

export interface AuditResource {
  displayName: string | null;
  type: string;
  resourceId: string;
  modifiedProperties: { displayName: string; oldValue: string | null; newValue: string | null }[];
}

export interface AuditEventsTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  activity_date_time: Timestamp;
  display_name: string;
  component_name: string;
  category: string;
  activity: string;
  activity_type: string;
  activity_operation_type: string;
  activity_result: string;
  correlation_id: string | null;
  actor: Json<AuditActor>;
  resources: Json<AuditResource[]>;
}

export interface ImportsTable {
  tenant_id: string;
  id: string;
  kind: "users" | "devices" | "groups" | "members";
  status: string;
  file_name: string | null;
  spool_path: string | null;
  total_rows: ColumnType<number, number | undefined, number>;
  processed_rows: ColumnType<number, number | undefined, number>;
  created_rows: ColumnType<number, number | undefined, number>;
  updated_rows: ColumnType<number, number | undefined, number>;
  errors: Json<unknown[]>;
  created_by: Json<unknown>;
  request_id: string | null;
  created_at: Timestamp;
  started_at: TimestampNullable;
  completed_at: TimestampNullable;
}


export type VppTokenState = "unknown" | "valid" | "expired" | "invalid" | "assignedToExternalMDM" | "duplicateLocationId";
export type SyncStatus = "none" | "inProgress" | "completed" | "failed";

export interface VppTokensTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  display_name: string | null;
  organization_name: string | null;
  location_name: string | null;
  location_id: string;
  token_ciphertext: string;
  token_fingerprint: string;
  apple_id: string | null;
  country_or_region: string;
  account_type: "business" | "education";
  automatically_update_apps: ColumnType<boolean, boolean | undefined, boolean>;
  state: VppTokenState;
  state_reason: string | null;
  expiration_at: Timestamp;
  last_modified_at: Timestamp;
  last_sync_at: TimestampNullable;
  last_full_sync_at: TimestampNullable;
  last_sync_status: ColumnType<SyncStatus, SyncStatus | undefined, SyncStatus>;
  last_sync_error: string | null;
  sync_interval_hours: number | null;
  next_sync_at: TimestampNullable;
  notification_secret_hash: string | null;
  notifications_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  external_mdm: Json<Record<string, unknown> | null>;
  assets_version_id: string | null;
  assignments_version_id: string | null;
  users_version_id: string | null;
  expiry_warnings_sent: ColumnType<number[], number[] | undefined, number[]>;
  created_at: Timestamp;
}

export interface AppsTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  odata_type: string;
  source: "appleVpp" | "microsoftStore" | "saas";
  token_id: string | null;
  adam_id: string | null;
  pricing_param: string | null;
  product_type: string | null;
  display_name: string | null;
  publisher: string | null;
  description: string | null;
  bundle_id: string | null;
  version: string | null;
  icon_url: string | null;
  app_store_url: string | null;
  release_at: TimestampNullable;
  supported_platforms: ColumnType<string[], string[] | undefined, string[]>;
  device_assignable: ColumnType<boolean, boolean | undefined, boolean>;
  revocable: ColumnType<boolean, boolean | undefined, boolean>;
  total_count: ColumnType<number, number | undefined, number>;
  revoked_count: ColumnType<number, number | undefined, number>;
  assigned_count: ColumnType<number, number | undefined, number>;
  available_count: ColumnType<number, number | undefined, number>;
  retired_count: ColumnType<number, number | undefined, number>;
  metadata_status: ColumnType<"pending" | "ok" | "notFound" | "notSoldInStorefront", string | undefined, string>;
  metadata_country: string | null;
  metadata_localizations: Json<unknown>;
  unit_price: number | null;
  created_at: Timestamp;
  last_modified_at: Timestamp;
  // 0022
  device_families: ColumnType<string[], string[] | undefined, string[]>;
  genres: ColumnType<string[], string[] | undefined, string[]>;
  seller: string | null;
  minimum_os_version: string | null;
  metadata_language: string | null;
  metadata_synced_at: TimestampNullable;
  untracked_count: ColumnType<number, number | undefined, number>;
  /** UPD-1: the store version the MDM bridge last acted on (migration 0036). */
  update_seen_version: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface StoreAssignmentsTable {
  tenant_id: string;
  token_id: string;
  adam_id: string;
  pricing_param: string;
  serial_number: ColumnType<string, string | undefined, string>;
  client_user_id: ColumnType<string, string | undefined, string>;
  tracked: ColumnType<boolean, boolean | undefined, boolean>;
  synced_at: Timestamp;
}

export interface AppleUsersTable {
  tenant_id: string;
  token_id: string;
  client_user_id: string;
  user_id: string | null;
  apple_user_id: string | null;
  email: string | null;
  status: ColumnType<string, string | undefined, string>;
  invite_code: string | null;
  invite_url: string | null;
  managed_apple_id: string | null;
  invited_at: TimestampNullable;
  invited_code: string | null;
  invitation_count: ColumnType<number, number | undefined, number>;
  associated_at: TimestampNullable;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface StoreNotificationsTable {
  tenant_id: string;
  token_id: string;
  notification_id: string;
  notification_type: string;
  received_at: Timestamp;
}

export interface AdminNotificationsTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  kind: string;
  severity: "info" | "warning" | "critical";
  title: string;
  message: string;
  resource_type: string | null;
  resource_id: string | null;
  created_at: Timestamp;
  acknowledged_at: TimestampNullable;
}

export interface DirectoryObjectsView {
  tenant_id: string;
  id: string;
  odata_type: string;
  sort_key: number;
  display_name: string;
  created_at: Date;
  [column: string]: unknown;
}

export interface AssignmentSettingsJson {
  useDeviceLicensing: boolean;
  uninstallOnDeviceRemoval?: boolean;
  isRemovable?: boolean;
  preventManagedAppBackup?: boolean;
  preventAutoAppUpdate?: boolean;
}

export interface MobileAppAssignmentsTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  app_id: string;
  target_kind: "group" | "exclusionGroup" | "allLicensedUsers" | "allDevices";
  group_id: string | null;
  intent: "required" | "available" | "uninstall";
  settings: Json<AssignmentSettingsJson>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface LicenseHoldingsTable {
  tenant_id: string;
  app_id: string;
  holder_type: "user" | "device";
  holder_id: string;
  holder_seq: number | null;
  state: "pendingAssign" | "assigned" | "pendingRelease" | "released" | "failed" | "waiting";
  reason: string | null;
  license_type: "user" | "device";
  store_key: string | null;
  entitled_at: TimestampNullable;
  since: Timestamp;
  waiting_since: TimestampNullable;
  event_id: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  updated_at: Timestamp;
}

export interface LicenseEventsTable {
  tenant_id: string;
  seq: Generated<number>;
  app_id: string;
  holder_type: string;
  holder_id: string;
  from_state: string | null;
  to_state: string;
  reason: string | null;
  store_key: string | null;
  event_id: string | null;
  occurred_at: Timestamp;
}

export interface StoreOperationsTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  token_id: string;
  app_id: string | null;
  kind: "associate" | "disassociate" | "revoke" | "registerUser" | "inviteUser";
  holder_type: string | null;
  holder_id: string | null;
  store_key: string | null;
  payload: Json<Record<string, unknown>>;
  state: ColumnType<"pending" | "sending" | "sent" | "done" | "failed", string | undefined, string>;
  batch_id: string | null;
  event_id: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DeviceCommandsTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  app_id: string;
  device_id: string;
  kind: "install" | "remove" | "update";
  payload: Json<Record<string, unknown>>;
  state: ColumnType<"pending" | "sent" | "acknowledged" | "failed", string | undefined, string>;
  attempts: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Migration 0032 (MDM bridge delivery). */
  next_attempt_at: Generated<Date>;
  last_error: Generated<string | null>;
  sent_at: Generated<Date | null>;
}

export interface InstallRequestsTable {
  tenant_id: string;
  app_id: string;
  device_id: string;
  user_id: string | null;
  requested_at: Timestamp;
}

export interface InstallStatesTable {
  tenant_id: string;
  app_id: string;
  device_id: string;
  state: "none" | "installPending" | "installed" | "removePending" | "removed" | "failed" | "updateAvailable";
  since: Timestamp;
}

export interface LicenseCursorsTable {
  tenant_id: string;
  directory_seq: ColumnType<number, number | undefined, number>;
  updated_at: Timestamp;
}

export interface DB {
  directory_objects: DirectoryObjectsView;
  tenants: TenantsTable;
  administrators: AdministratorsTable;
  sessions: SessionsTable;
  app_registrations: AppRegistrationsTable;
  setup_links: SetupLinksTable;
  scim_tokens: ScimTokensTable;
  users: UsersTable;
  groups: GroupsTable;
  devices: DevicesTable;
  group_members: GroupMembersTable;
  directory_changes: DirectoryChangesTable;
  audit_events: AuditEventsTable;
  imports: ImportsTable;
  vpp_tokens: VppTokensTable;
  apps: AppsTable;
  store_assignments: StoreAssignmentsTable;
  apple_users: AppleUsersTable;
  store_notifications: StoreNotificationsTable;
  admin_notifications: AdminNotificationsTable;
  mobile_app_assignments: MobileAppAssignmentsTable;
  license_holdings: LicenseHoldingsTable;
  license_events: LicenseEventsTable;
  store_operations: StoreOperationsTable;
  device_commands: DeviceCommandsTable;
  install_requests: InstallRequestsTable;
  install_states: InstallStatesTable;
  license_cursors: LicenseCursorsTable;
  notification_settings: NotificationSettingsTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  notification_messages: NotificationMessagesTable;
  notification_deliveries: NotificationDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  mdm_bridge_cursors: MdmBridgeCursorsTable;
  alert_conditions: AlertConditionsTable;
  alert_settings: AlertSettingsTable;
}

// Condition alerts (EUX-3): migration 2026_11_21_0036_app_updates_alerts.
export interface AlertConditionsTable {
  tenant_id: string;
  kind: string;
  resource_id: string;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  value: ColumnType<number, number | undefined, number>;
  raised_at: Date | null;
  updated_at: Timestamp;
}

export interface AlertSettingsTable {
  tenant_id: string;
  licenses_running_out_percent: ColumnType<number, number | undefined, number>;
  waitlist_alert_minutes: ColumnType<number, number | undefined, number>;
  updated_at: Timestamp;
}

// Notifications (EUX-3) and the MDM bridge (MDM-1): migration 2026_11_21_0032_notifications.
export interface NotificationSettingsTable {
  tenant_id: string;
  smtp_url_enc: string | null;
  mail_from: string | null;
  admin_emails: ColumnType<string[], string[] | undefined, string[]>;
  mdm_webhook_url: string | null;
  mdm_webhook_secret_enc: string | null;
  updated_at: Timestamp;
}

export interface WebhookSubscriptionsTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  url: string;
  description: string | null;
  event_types: ColumnType<string[], string[] | undefined, string[]>;
  secret_enc: string;
  created_at: Timestamp;
}

export interface NotificationMessagesTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  audience: "user" | "admin" | "test";
  kind: string;
  user_id: string | null;
  subject: string;
  body: string;
  data: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface NotificationDeliveriesTable {
  tenant_id: string;
  id: string;
  seq: Generated<number>;
  message_id: string;
  channel: "email" | "webhook" | "mdm";
  target: string;
  subscription_id: string | null;
  state: ColumnType<"pending" | "delivered" | "failed", string | undefined, string>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookAttemptsTable {
  tenant_id: string;
  seq: Generated<number>;
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: Timestamp;
}

export interface MdmBridgeCursorsTable {
  tenant_id: string;
  event_seq: number;
  updated_at: Timestamp;
}

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

export interface DirectoryObjectsView {
  tenant_id: string;
  id: string;
  odata_type: string;
  sort_key: number;
  display_name: string;
  created_at: Date;
  [column: string]: unknown;
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
}

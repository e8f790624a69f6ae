// The CSV formats of bulk import (and `allot export`): one header row, UTF-8, comma-separated,
// RFC 4180 quoting, column names case-insensitive, booleans true/false. Each column names its
// database column; an empty cell means the column's default (text columns: cleared).
import { joinTypes, memberKinds, operatingSystems } from "../directory/directory.entities.ts";

export const importKinds = ["users", "devices", "groups", "members"] as const;
export type ImportKind = (typeof importKinds)[number];

export interface ColumnSpec {
  /** CSV header name (matched case-insensitively). */
  name: string;
  /** Database column written from it (undefined: a reference resolved by the importer). */
  column?: string;
  type: "text" | "boolean" | "enum";
  required?: boolean;
  /** The row key (upserts match on it; duplicates in one file are refused). */
  key?: boolean;
  values?: readonly string[];
  /** Value used for an empty cell (and on insert when the column is absent). */
  default?: string;
  maxLength?: number;
  pattern?: RegExp;
  /** How the pattern reads in an error message. */
  patternHint?: string;
  /** Normalises a valid value before it is stored. */
  normalize?: (v: string) => string;
}

const upn: Pick<ColumnSpec, "pattern" | "patternHint" | "maxLength"> = { pattern: /^[^@\s]+@[^@\s]+$/, patternHint: "an address like name@example.com", maxLength: 1024 };

export const importColumns: Record<ImportKind, readonly ColumnSpec[]> = {
  users: [
    { name: "userPrincipalName", column: "user_principal_name", type: "text", required: true, key: true, ...upn },
    { name: "displayName", column: "display_name", type: "text", required: true, maxLength: 256 },
    { name: "accountEnabled", column: "account_enabled", type: "boolean", default: "true" },
    { name: "mail", column: "mail", type: "text", maxLength: 1024 },
    { name: "appleIdEmail", column: "apple_id_email", type: "text", ...upn },
    { name: "usageLocation", column: "usage_location", type: "text", pattern: /^[A-Za-z]{2}$/, patternHint: "a two-letter country code", normalize: (v) => v.toUpperCase() },
    { name: "givenName", column: "given_name", type: "text", maxLength: 1024 },
    { name: "surname", column: "surname", type: "text", maxLength: 1024 },
    { name: "jobTitle", column: "job_title", type: "text", maxLength: 1024 },
    { name: "department", column: "department", type: "text", maxLength: 1024 },
  ],
  devices: [
    { name: "serialNumber", column: "serial_number", type: "text", required: true, key: true, maxLength: 64 },
    { name: "deviceName", column: "device_name", type: "text", required: true, maxLength: 256 },
    { name: "operatingSystem", column: "operating_system", type: "enum", required: true, values: operatingSystems },
    { name: "osVersion", column: "os_version", type: "text", maxLength: 64 },
    { name: "managedDeviceOwnerType", column: "managed_device_owner_type", type: "enum", values: ["company", "personal"], default: "company" },
    { name: "isSupervised", column: "is_supervised", type: "boolean", default: "false" },
    { name: "userPrincipalName", type: "text", ...upn },
    { name: "joinType", column: "join_type", type: "enum", values: joinTypes },
    { name: "kioskMode", column: "kiosk_mode", type: "boolean", default: "false" },
    { name: "iTunesStoreBlocked", column: "itunes_store_blocked", type: "boolean", default: "false" },
    { name: "storeAppBlocked", column: "store_app_blocked", type: "boolean", default: "false" },
  ],
  groups: [
    { name: "mailNickname", column: "mail_nickname", type: "text", required: true, key: true, maxLength: 64, pattern: /^[^\s@]+$/, patternHint: "a nickname without spaces or @" },
    { name: "displayName", column: "display_name", type: "text", required: true, maxLength: 256 },
    { name: "description", column: "description", type: "text", maxLength: 1024 },
    { name: "memberKind", column: "member_kind", type: "enum", values: memberKinds, default: "mixed" },
  ],
  members: [
    { name: "groupMailNickname", type: "text", required: true, maxLength: 64 },
    { name: "memberType", type: "enum", required: true, values: ["user", "device", "group"] },
    { name: "member", type: "text", required: true, maxLength: 1024 },
  ],
};

/** The header row of a kind, in documented order. */
export function headerOf(kind: ImportKind): string[] {
  return importColumns[kind].map((c) => c.name);
}

// Administrator roles (TEN-2) and what each may do. Every route names one permission; this table is
// the single place that decides which roles hold it (the route × role test walks it).

export const roles = [
  "globalAdministrator",
  "licenseAdministrator",
  "userAdministrator",
  "applicationManager",
  "billingAdministrator",
  "reader",
] as const;
export type Role = (typeof roles)[number];

export const roleDisplayNames: Record<Role, string> = {
  globalAdministrator: "Global administrator",
  licenseAdministrator: "License administrator",
  userAdministrator: "User administrator",
  applicationManager: "Application manager",
  billingAdministrator: "Billing administrator",
  reader: "Reader",
};

const all = roles;
export const permissions = {
  "directory.read": all,
  "directory.write": ["globalAdministrator", "userAdministrator"],
  "imports.write": ["globalAdministrator", "userAdministrator"],
  "audit.read": all,
  "access.manage": ["globalAdministrator"],
  "tenants.manage": ["globalAdministrator"],
  "instance.backup": ["globalAdministrator"],
  "tokens.read": all,
  "tokens.write": ["globalAdministrator", "applicationManager"],
  "alerts.read": all,
  "alerts.acknowledge": ["globalAdministrator", "licenseAdministrator", "applicationManager"],
  "assignments.write": ["globalAdministrator", "applicationManager"],
  "notifications.manage": ["globalAdministrator"],
  "devices.installRequest": ["globalAdministrator", "applicationManager", "userAdministrator"],
  "devices.reportInstalls": ["globalAdministrator", "applicationManager"],
  "licenses.revoke": ["globalAdministrator", "licenseAdministrator", "applicationManager"],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof permissions;

export function hasPermission(held: readonly string[], permission: Permission): boolean {
  const allowed = permissions[permission] as readonly string[];
  return held.some((r) => allowed.includes(r));
}

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

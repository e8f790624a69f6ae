// Role names as the server defines them (src/modules/access/roles.ts has no imports, so the console
// bundles the same table instead of keeping a copy).
import { roleDisplayNames, roles } from "../../../src/modules/access/roles.ts";

/** [role, display name] in the server's order, for role pickers. */
export const ROLES: [string, string][] = roles.map((r) => [r, roleDisplayNames[r]]);
export const roleName = (r: string): string => (roleDisplayNames as Record<string, string>)[r] ?? r;

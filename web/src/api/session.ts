// The signed-in administrator: GET /auth/session (roles, permissions, CSRF token), sign-in and
// sign-out, and useCan(permission) for what the UI shows and enables.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext } from "react";
import { ApiError, api, setCsrfToken } from "./client.ts";

export interface Session {
  tenantId: string;
  tenantName?: string;
  kind: string;
  id: string;
  name: string;
  roles: string[];
  /** The permissions the roles grant (server's roles table: src/modules/access/roles.ts). */
  permissions: string[];
  csrfToken: string | null;
}

export const sessionKey = ["auth", "session"] as const;

/** null = not signed in. */
export function useSessionQuery() {
  return useQuery({
    queryKey: sessionKey,
    queryFn: async (): Promise<Session | null> => {
      try {
        const s = await api<Session>("/auth/session", { quiet401: true });
        setCsrfToken(s.csrfToken);
        return s;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return null;
        throw err;
      }
    },
    staleTime: 60_000,
  });
}

export const SessionContext = createContext<Session | null>(null);

/** The signed-in administrator (inside the app shell, always set). */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a signed-in shell");
  return s;
}

/** Whether the signed-in administrator holds a permission (e.g. "tokens.write"). */
export function useCan(permission: string): boolean {
  const s = useContext(SessionContext);
  return !!s?.permissions.includes(permission);
}

export async function signIn(userPrincipalName: string, password: string) {
  const r = await api<{ csrfToken: string }>("/auth/login", {
    method: "POST",
    body: { userPrincipalName, password },
    quiet401: true,
  });
  setCsrfToken(r.csrfToken);
}

export function useSignOut() {
  const qc = useQueryClient();
  return async () => {
    await api("/auth/logout", { method: "POST", quiet401: true }).catch(() => undefined);
    setCsrfToken(null);
    // Signed out first (the shell unmounts), then drop every other cached answer. Not qc.clear():
    // it would also remove the session query under its mounted observer, which then never sees null.
    qc.setQueryData(sessionKey, null);
    qc.removeQueries({ predicate: (q) => q.queryKey[0] !== sessionKey[0] });
  };
}

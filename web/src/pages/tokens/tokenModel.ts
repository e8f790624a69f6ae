// The VPP token as /beta returns it, and the words the tokens page uses for it.
export interface VppToken {
  id: string;
  displayName: string | null;
  organizationName: string | null;
  locationName?: string | null;
  appleId: string | null;
  countryOrRegion: string | null;
  vppTokenAccountType: "business" | "education";
  automaticallyUpdateApps: boolean;
  expirationDateTime: string | null;
  lastSyncDateTime: string | null;
  lastSyncStatus: "none" | "inProgress" | "completed" | "failed";
  state: string;
}

export const TOKENS_PATH = "/beta/deviceAppManagement/vppTokens";

const DAY = 86_400_000;

/** "in 12 days", "today", "3 days ago": how long until (or since) the token expires. */
export function expiryCountdown(iso: string | null, now = Date.now()): { text: string; urgent: boolean } {
  if (!iso) return { text: "Unknown", urgent: false };
  const days = Math.floor((new Date(iso).getTime() - now) / DAY);
  if (days < 0) return { text: `Expired ${-days} day${days === -1 ? "" : "s"} ago`, urgent: true };
  if (days === 0) return { text: "Expires today", urgent: true };
  return { text: `${days} day${days === 1 ? "" : "s"} left`, urgent: days <= 30 };
}

export function tokenName(t: VppToken): string {
  return t.displayName || t.locationName || t.organizationName || t.id;
}

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "Never";
}

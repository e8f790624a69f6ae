// Every background job Allot runs: its queue name and payload. Producers and consumers share these
// types through src/jobs/queue.ts.

export interface JobMap {
  /** Synchronise one Apple VPP token (SYNC-1, SYNC-2). `full`: walk everything even if an incremental would do. */
  "apple-sync": {
    tenantId: string;
    tokenId: string;
    full: boolean;
    reason: "manual" | "scheduled" | "tokenSaved" | "eventCompleted" | "notification";
  };
  /** Every minute: enqueue a sync for each token whose next scheduled sync time has come. */
  "apple-sync-due": Record<string, never>;
  /** Event-status polling fallback (SYNC-3): look at one Apple event, again later while it is PENDING. */
  "apple-event-poll": {
    tenantId: string;
    tokenId: string;
    eventId: string;
    attempt: number;
    firstSeenAt: string;
  };
  /** Daily: token expiry warnings and expired states (TOK-4). */
  "token-expiry-check": Record<string, never>;
  /** Daily: forget processed notification ids old enough that Apple will not send them again. */
  "sync-housekeeping": Record<string, never>;
  /** License ledger (ENG-3): plan and apply one app (appId) or every app of the tenant (appId null). */
  "licenses-reconcile": { tenantId: string; appId: string | null; reason: string };
  /** License ledger: reconcile the apps the tenant's new directory_changes affect. */
  "licenses-directory": { tenantId: string };
  /** License ledger: send the tenant's store-operations outbox to Apple and settle the results. */
  "licenses-outbox": { tenantId: string };
  /** Every minute: resume outboxes and directory changes of every tenant (after a restart, too). */
  "licenses-sweep": Record<string, never>;
  /** Notifications (EUX-3): send the tenant's due e-mails and webhook deliveries (retries included). */
  "notifications-deliver": { tenantId: string };
  /** MDM bridge (MDM-1): plan device commands (of appId, and of apps with new ledger events) and POST due ones to the MDM. */
  "mdm-commands": { tenantId: string; appId: string | null };
}

export type JobName = keyof JobMap;

// Everything the emulator can be told at start. Defaults are fast (no added latency, events settle
// within a fraction of a second, notifications sent at once) and, where Apple's documentation leaves
// a behaviour open, the least convenient reading for a client (see README.md "Switches").

export type SinceVersionRemovals = "omit" | "flag";

export interface AppleEmulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Seed of every generated identifier (default 1). Same seed + same requests = same answers. */
  seed?: number;
  /** Base URL written into service config `urls` (default: the address listened on). */
  publicUrl?: string;
  /** Refuse plain-http notification URLs even on loopback (Apple's rule without the test exception). */
  strictHttps?: boolean;
  /** Records per page of /assets, /assignments and /users (default 500). */
  pageSize?: number;
  /** Added to every Apple API and metadata request (default 0). */
  latencyMs?: number;
  /** Enforced requests per second per location; default = limits.maxRequestPerSecond (15); 0 = off. */
  rateLimitRps?: number;
  /** Time from acceptance to the end of an asynchronous event (default 100 ms). */
  settleMs?: number;
  /** Number of increments an event's tasks are processed in over `settleMs` (default 2). */
  eventSteps?: number;
  /** Overrides of the Service Config `limits` (e.g. {maxAssets: 2} in tests). */
  limits?: Record<string, number>;
  /** HTTP status of 9622 "invalid token" answers: 200 as observed in production (default) or 401. */
  invalidTokenStatus?: number;
  /** Any other errorNumber → HTTP status overrides, e.g. {9625: 200}. */
  errorStatusOverrides?: Record<number, number>;
  /**
   * Re-associating an existing assignment / disassociating a missing one. Default false: the task
   * fails (9616 "License already assigned" / 9619 "License not associated"); true: a no-op success.
   */
  lenientReassociation?: boolean;
  /**
   * How `sinceVersionId` answers show assignments removed since that version. "omit" (default):
   * they do not appear at all (learn removals from notifications or a full sync); "flag": they
   * appear with `"removed": true`.
   */
  sinceVersionRemovals?: SinceVersionRemovals;
  /** Associate to an unknown/retired clientUserId: false (default) async 9609; true: sync 400 9609. */
  unknownUserSync?: boolean;
  /** "always" (default) or only when the token expires within 15 days ("within15Days"). */
  tokenExpirationDate?: "always" | "within15Days";
  /** Delivery attempts per notification (default 3). */
  notificationAttempts?: number;
  /** First retry delay; later ones triple (default 100 ms). */
  notificationRetryMs?: number;
  /** Per-attempt timeout (default 5000 ms). */
  notificationTimeoutMs?: number;
  /** Items (assignments, users) per notification (default 100). */
  notificationMaxItems?: number;
  /** How long a notification held back by the `reorder` fault waits for a successor (default 250 ms). */
  reorderWindowMs?: number;
  /** Trust only these CAs (PEM) for https notification receivers, in addition to the system ones. */
  notificationCa?: string | string[];
  /** Clock (ms since epoch); default Date.now. */
  now?: () => number;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  seed: number;
  publicUrl?: string;
  strictHttps: boolean;
  pageSize: number;
  latencyMs: number;
  rateLimitRps?: number;
  settleMs: number;
  eventSteps: number;
  limits: Record<string, number>;
  errorStatusOverrides: Record<number, number>;
  lenientReassociation: boolean;
  sinceVersionRemovals: SinceVersionRemovals;
  unknownUserSync: boolean;
  tokenExpirationDate: "always" | "within15Days";
  notificationAttempts: number;
  notificationRetryMs: number;
  notificationTimeoutMs: number;
  notificationMaxItems: number;
  reorderWindowMs: number;
  notificationCa?: string | string[];
  now: () => number;
}

export function resolveOptions(
  options: AppleEmulatorOptions,
  fixtureLimits: Record<string, number>,
): ResolvedOptions {
  return {
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    seed: options.seed ?? 1,
    publicUrl: options.publicUrl?.replace(/\/+$/, ""),
    strictHttps: options.strictHttps ?? false,
    pageSize: options.pageSize ?? 500,
    latencyMs: options.latencyMs ?? 0,
    rateLimitRps: options.rateLimitRps,
    settleMs: options.settleMs ?? 100,
    eventSteps: Math.max(1, options.eventSteps ?? 2),
    limits: { ...fixtureLimits, ...options.limits },
    errorStatusOverrides: { 9622: options.invalidTokenStatus ?? 200, ...options.errorStatusOverrides },
    lenientReassociation: options.lenientReassociation ?? false,
    sinceVersionRemovals: options.sinceVersionRemovals ?? "omit",
    unknownUserSync: options.unknownUserSync ?? false,
    tokenExpirationDate: options.tokenExpirationDate ?? "always",
    notificationAttempts: Math.max(1, options.notificationAttempts ?? 3),
    notificationRetryMs: options.notificationRetryMs ?? 100,
    notificationTimeoutMs: options.notificationTimeoutMs ?? 5000,
    notificationMaxItems: Math.max(1, options.notificationMaxItems ?? 100),
    reorderWindowMs: options.reorderWindowMs ?? 250,
    notificationCa: options.notificationCa,
    now: options.now ?? Date.now,
  };
}

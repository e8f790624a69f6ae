// The Apple Apps and Books Management API v2 client (reference/apple-apps-and-books.md).
//
//   const apple = createAppleClient({ baseUrl: config.ALLOT_APPLE_BASE_URL });
//   const token = apple.forToken(sToken, { mdmId });
//   await token.walkAssets({}, { onPage: (assets) => ... });
//
// - Paths are built from `baseUrl` (which includes /mdm/v2); the service config is read on first use
//   and again when it is older than 5 minutes, and its limits drive chunking and the rate limiter.
// - Every token has one rate limiter in the process (rate-limiter.ts), used by every request of every
//   client made for that token, the metadata lookup included.
// - Writes are chunked by the current limits. A chunk whose outcome is unknown (timeout, connection
//   lost after sending, gateway 5xx) is not sent again blindly: the client reads Apple's assignments
//   (or users) for exactly those targets, and sends only what is still missing.
// - Responses are watched for mdmInfo: when another MDM's id shows up, the caller is told and asset
//   and user writes stop with AppleMdmConflictError.
import { performance } from "node:perf_hooks";
import {
  assetKey,
  chunk,
  expandPairs,
  planAssetPairs,
  planManageAssets,
  planRevoke,
  planUsers,
  revokeRequestOf,
  targetKey,
  targetsOf,
} from "./chunking.ts";
import {
  AppleApiError,
  AppleDataChangedError,
  AppleEventTimeoutError,
  AppleMdmConflictError,
  AppleProtocolError,
  AppleTokenError,
  type AppleTokenProblem,
  AppleWriteError,
  isOutcomeUnknown,
} from "./errors.ts";
import { parseMetadataBody } from "./metadata.ts";
import {
  parseAssetsPage,
  parseAssignmentsPage,
  parseClientConfig,
  parseEventResponse,
  parseEventStatus,
  parseServiceConfig,
  parseSubscriptionAssignmentsPage,
  parseSubscriptionManagementState,
  parseSubscriptionsPage,
  parseUsersPage,
  readMdmInfo,
} from "./parse.ts";
import { type AppleRateLimiter, hashSToken, rateLimiterFor, sleep } from "./rate-limiter.ts";
import {
  type AppleLogger,
  type AppleRetryPolicy,
  createAppleTransport,
  defaultRetryPolicy,
  type QueryValue,
  silentLogger,
} from "./transport.ts";
import type {
  AppleAsset,
  AppleAssetFilters,
  AppleAssetMetadata,
  AppleAssetRef,
  AppleAssetsPage,
  AppleAssetTargetPair,
  AppleAssignment,
  AppleAssignmentFilters,
  AppleAssignmentsPage,
  AppleClientConfig,
  AppleClientConfigRequest,
  AppleEnvelope,
  AppleEventStatus,
  AppleLimits,
  AppleManageAssetsRequest,
  AppleManageSubscriptionsRequest,
  AppleManageUsersRequest,
  AppleMetadataResult,
  ApplePaging,
  AppleRequestUser,
  AppleRevokeAssetsRequest,
  AppleServiceConfig,
  AppleSubscription,
  AppleSubscriptionAssignment,
  AppleSubscriptionAssignmentsPage,
  AppleSubscriptionManagementState,
  AppleSubscriptionsPage,
  AppleTarget,
  AppleUnlimitedAsset,
  AppleUser,
  AppleUserFilters,
  AppleUsersPage,
  MdmInfo,
} from "./types.ts";

export const APPLE_DEFAULT_BASE_URL = "https://vpp.itunes.apple.com/mdm/v2";

/**
 * Apple's guidance (§6): while an event is PENDING, poll no more often than every 30 s; when
 * notifications are on, wait 5 minutes for one before looking at all.
 */
export const applePollGuidance = {
  withoutNotifications: [30_000],
  withNotifications: [300_000, 30_000],
} as const;

export interface AppleWriteRecoveryOptions {
  /** Delays before each look at Apple after a write whose outcome is unknown; what is still missing after the last look is sent again. */
  checkDelaysMs: number[];
  /** How many times one write may be re-sent that way before the error goes to the caller. */
  maxResends: number;
}

export interface AppleClientOptions {
  /** Includes /mdm/v2; a trailing slash is optional. */
  baseUrl: string;
  /** Overrides the service config's `urls.contentMetadataLookup` (ALLOT_APPLE_METADATA_URL). */
  metadataUrl?: string;
  /** Delays between event-status checks in waitForEvent; the last one repeats. Default: Apple's 30 s. */
  pollIntervalsMs?: number[];
  /** Per HTTP request, body included. Default 30 s. */
  requestTimeoutMs?: number;
  logger?: AppleLogger;
  /** Wall clock in ms (service-config age). */
  now?: () => number;
  /** Age after which the service config is read again. Default 5 minutes. */
  serviceConfigTtlMs?: number;
  retry?: Partial<AppleRetryPolicy>;
  /** Concurrent page fetches of a walk; Apple allows at most 5. */
  maxParallelPages?: number;
  /** A walk restarts when the versionId changes under it, at most this many times. Default 5. */
  maxWalkRestarts?: number;
  /** Concurrent chunk requests of one write. Default 5. */
  writeConcurrency?: number;
  writeRecovery?: Partial<AppleWriteRecoveryOptions>;
  /** waitForEvent gives up after this long (Apple: re-send after 10 minutes PENDING). */
  eventTimeoutMs?: number;
  /** adamIds per metadata lookup request. Default 25. */
  metadataBatchSize?: number;
  userAgent?: string;
}

export interface AppleWalkOptions<T, P> {
  /** Called once per page in page order. After a restart pages come again from page 0. */
  onPage?: (items: T[], page: P) => void | Promise<void>;
  /** The data changed under the walk (versionId moved): everything delivered so far is stale. */
  onRestart?: (restart: number, reason: string) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface AppleWalkResult extends AppleEnvelope {
  /**
   * versionId of page 0 of the complete walk: the `sinceVersionId` of the next incremental walk.
   * Empty when Apple had no page at all (an empty data set answered 9650): walk in full next time.
   */
  versionId: string;
  pages: number;
  items: number;
  restarts: number;
}

export interface AppleAssetWriteResult {
  /** Accepted requests: follow them with waitForEvent or notifications. */
  events: { eventId: string; request: AppleManageAssetsRequest }[];
  /** Pairs found already applied at Apple after a write whose outcome was unknown (no eventId). */
  verifiedPairs: AppleAssetTargetPair[];
}

export interface AppleRevokeResult {
  events: { eventId: string; request: AppleRevokeAssetsRequest }[];
  verifiedTargets: AppleTarget[];
}

export interface AppleUsersWriteResult {
  events: { eventId: string; request: AppleManageUsersRequest }[];
  verifiedClientUserIds: string[];
}

export interface AppleSubscriptionsWriteResult {
  events: { eventId: string; request: AppleManageSubscriptionsRequest }[];
}

export type ApplePendingWrite =
  | { kind: "associate" | "disassociate"; request: AppleManageAssetsRequest }
  | { kind: "revoke"; request: AppleRevokeAssetsRequest }
  | { kind: "createUsers" | "updateUsers" | "retireUsers"; request: AppleManageUsersRequest };

export interface AppleMetadataOptions {
  /** Storefront country (ISO 3166 alpha-2, any case). Default: the token's countryISO2ACode. */
  country?: string;
  /** `volumestore` / `enterprisestore` / `macappstore`. Default: the token's defaultPlatform. */
  platform?: string;
  language?: string;
  /** Look ids the first platform did not find up again in the Mac App Store. Default true. */
  macFallback?: boolean;
}

export interface AppleTokenClientOptions {
  /** Allot's own mdmInfo.id for this token; another id on any response is a conflict. */
  mdmId?: string;
  /** Every change of the mdmInfo seen on responses (also the first sighting). */
  onMdmInfo?: (info: MdmInfo | undefined) => void;
  /** Once, when another MDM's mdmInfo is first seen. */
  onMdmConflict?: (info: MdmInfo) => void;
  /** When Apple says the token is expired, invalid or revoked. */
  onTokenProblem?: (problem: AppleTokenProblem, error: AppleTokenError) => void;
}

export interface AppleClient {
  readonly baseUrl: string;
  serviceConfig(): Promise<AppleServiceConfig>;
  limits(): Promise<AppleLimits>;
  refreshServiceConfig(): Promise<AppleServiceConfig>;
  forToken(sToken: string, options?: AppleTokenClientOptions): AppleTokenClient;
  /** Public storefront lookup without a token (custom B2B apps need a token client). */
  lookupMetadata(
    adamIds: readonly string[],
    options: AppleMetadataOptions & { country: string },
  ): Promise<AppleMetadataResult>;
}

export interface AppleTokenClient {
  /** SHA-256 of the sToken: safe to log and to key caches by. */
  readonly tokenHash: string;
  /** The mdmInfo on the latest response (undefined when none was set or nothing was read yet). */
  readonly mdmInfo: MdmInfo | undefined;
  /** Another MDM's mdmInfo was seen; asset and user writes refuse to run. */
  readonly mdmConflict: boolean;
  readonly tokenProblem: AppleTokenProblem | undefined;
  /** The tokenExpirationDate on the latest response (ISO). */
  readonly tokenExpirationDate: string | undefined;

  getClientConfig(options?: { signal?: AbortSignal }): Promise<AppleClientConfig>;
  /** POST /client/config. Setting mdmInfo makes its id this client's own (clears a conflict). */
  setClientConfig(
    request: AppleClientConfigRequest,
    options?: { signal?: AbortSignal },
  ): Promise<AppleClientConfig>;

  getAssets(
    filters?: AppleAssetFilters & { pageIndex?: number },
    options?: { signal?: AbortSignal },
  ): Promise<AppleAssetsPage>;
  getAssignments(
    filters?: AppleAssignmentFilters & { pageIndex?: number },
    options?: { signal?: AbortSignal },
  ): Promise<AppleAssignmentsPage>;
  getUsers(
    filters?: AppleUserFilters & { pageIndex?: number },
    options?: { signal?: AbortSignal },
  ): Promise<AppleUsersPage>;
  walkAssets(
    filters?: AppleAssetFilters,
    options?: AppleWalkOptions<AppleAsset, AppleAssetsPage>,
  ): Promise<AppleWalkResult>;
  walkAssignments(
    filters?: AppleAssignmentFilters,
    options?: AppleWalkOptions<AppleAssignment, AppleAssignmentsPage>,
  ): Promise<AppleWalkResult>;
  walkUsers(
    filters?: AppleUserFilters,
    options?: AppleWalkOptions<AppleUser, AppleUsersPage>,
  ): Promise<AppleWalkResult>;
  listAssets(
    filters?: AppleAssetFilters,
  ): Promise<AppleWalkResult & { assets: AppleAsset[]; unlimitedAssets: AppleUnlimitedAsset[] }>;
  listAssignments(
    filters?: AppleAssignmentFilters,
  ): Promise<AppleWalkResult & { assignments: AppleAssignment[] }>;
  listUsers(filters?: AppleUserFilters): Promise<AppleWalkResult & { users: AppleUser[] }>;

  /** Every asset × every target, chunked by the current limits. */
  associateAssets(request: AppleManageAssetsRequest): Promise<AppleAssetWriteResult>;
  disassociateAssets(request: AppleManageAssetsRequest): Promise<AppleAssetWriteResult>;
  /** Individual pairs; targets needing the same assets share requests. */
  associatePairs(pairs: readonly AppleAssetTargetPair[]): Promise<AppleAssetWriteResult>;
  disassociatePairs(pairs: readonly AppleAssetTargetPair[]): Promise<AppleAssetWriteResult>;
  revokeAssets(request: AppleRevokeAssetsRequest): Promise<AppleRevokeResult>;
  createUsers(users: readonly AppleRequestUser[]): Promise<AppleUsersWriteResult>;
  updateUsers(users: readonly AppleRequestUser[]): Promise<AppleUsersWriteResult>;
  retireUsers(clientUserIds: readonly string[]): Promise<AppleUsersWriteResult>;
  /**
   * After a crash or an unknown outcome: with an eventId, Apple's status for it; without one (or
   * when Apple does not know it), checks the targets and sends only what is still missing.
   */
  resumeWrite(
    write: ApplePendingWrite,
    options?: { eventId?: string; checkDelaysMs?: number[] },
  ): Promise<{
    event?: AppleEventStatus;
    result?: AppleAssetWriteResult | AppleRevokeResult | AppleUsersWriteResult;
  }>;

  getEventStatus(eventId: string, options?: { signal?: AbortSignal }): Promise<AppleEventStatus>;
  /** Polls until COMPLETE or FAILED; AppleEventTimeoutError when still PENDING after the timeout. */
  waitForEvent(
    eventId: string,
    options?: {
      intervalsMs?: number[];
      timeoutMs?: number;
      signal?: AbortSignal;
      onProgress?: (status: AppleEventStatus) => void;
    },
  ): Promise<AppleEventStatus>;

  lookupMetadata(adamIds: readonly string[], options?: AppleMetadataOptions): Promise<AppleMetadataResult>;

  getSubscriptions(filters?: {
    parentAdamId?: number;
    adamId?: number;
    cursor?: string;
  }): Promise<AppleSubscriptionsPage>;
  listSubscriptions(filters?: { parentAdamId?: number; adamId?: number }): Promise<AppleSubscription[]>;
  getSubscriptionAssignments(filters?: {
    parentAdamId?: number;
    adamId?: number;
    clientUserId?: string;
    cursor?: string;
  }): Promise<AppleSubscriptionAssignmentsPage>;
  listSubscriptionAssignments(filters?: {
    parentAdamId?: number;
    adamId?: number;
    clientUserId?: string;
  }): Promise<AppleSubscriptionAssignment[]>;
  associateSubscriptions(request: AppleManageSubscriptionsRequest): Promise<AppleSubscriptionsWriteResult>;
  disassociateSubscriptions(request: AppleManageSubscriptionsRequest): Promise<AppleSubscriptionsWriteResult>;
  setSubscriptionManagement(enabled: boolean): Promise<AppleSubscriptionManagementState>;
}

const MAX_PARALLEL_PAGES = 5;

/** Runs `fn` over `items` with at most `limit` running at once; results in input order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.error;
  return results;
}

/** Runs chunk senders with bounded concurrency; on the first failure stops starting new ones and reports what completed. */
async function runChunks<C, R>(
  chunks: readonly C[],
  limit: number,
  send: (c: C) => Promise<R>,
): Promise<{ done: R[]; error?: unknown }> {
  const results = new Array<R | undefined>(chunks.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < chunks.length) {
      const i = next++;
      try {
        results[i] = await send(chunks[i]);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, chunks.length) }, worker));
  return { done: results.filter((r): r is R => r !== undefined), error: failed?.error };
}

function pairKey(adamId: string, pricingParam: string | undefined, target: AppleTarget): string {
  return `${adamId}\u0000${pricingParam ?? ""}\u0000${targetKey(target)}`;
}

function targetOfAssignment(a: AppleAssignment): AppleTarget {
  return a.serialNumber !== undefined
    ? { serialNumber: a.serialNumber }
    : { clientUserId: a.clientUserId as string };
}

function targetOfPair(p: AppleAssetTargetPair): AppleTarget {
  return p.serialNumber !== undefined
    ? { serialNumber: p.serialNumber }
    : { clientUserId: p.clientUserId as string };
}

function unconfirmed(endpoint: string, missing: number, of: number): Error {
  return new Error(
    `Apple ${endpoint}: ${missing} of ${of} items are still not applied and re-sending is not allowed`,
  );
}

function isActiveUser(u: AppleUser): boolean {
  return u.status === "Registered" || u.status === "Associated";
}

function sameMdm(a: MdmInfo | undefined, b: MdmInfo | undefined): boolean {
  return a?.id === b?.id && a?.name === b?.name && a?.metadata === b?.metadata;
}

function filtersQuery(filters: object | undefined): Record<string, QueryValue> {
  const q: Record<string, QueryValue> = {};
  for (const [key, value] of Object.entries(filters ?? {})) {
    if (value === undefined || value === null) continue;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") q[key] = value;
  }
  return q;
}

export function createAppleClient(options: AppleClientOptions): AppleClient {
  const parsedBase = new URL(options.baseUrl.trim());
  if (parsedBase.protocol !== "https:" && parsedBase.protocol !== "http:")
    throw new Error(`Apple base URL must be http(s): ${parsedBase.protocol}`);
  // The value includes /mdm/v2; a bare host (https://vpp.itunes.apple.com) means Apple's layout.
  if (parsedBase.pathname === "/" || parsedBase.pathname === "") parsedBase.pathname = "/mdm/v2";
  const baseUrl = parsedBase.toString().replace(/\/+$/, "");
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const configTtlMs = options.serviceConfigTtlMs ?? 5 * 60_000;
  const pollIntervalsMs =
    options.pollIntervalsMs && options.pollIntervalsMs.length > 0
      ? options.pollIntervalsMs
      : [...applePollGuidance.withoutNotifications];
  const maxParallelPages = Math.min(
    MAX_PARALLEL_PAGES,
    Math.max(1, options.maxParallelPages ?? MAX_PARALLEL_PAGES),
  );
  const maxWalkRestarts = options.maxWalkRestarts ?? 5;
  const writeConcurrency = Math.max(1, options.writeConcurrency ?? 5);
  const recovery: AppleWriteRecoveryOptions = {
    checkDelaysMs: options.writeRecovery?.checkDelaysMs ?? [10_000, 30_000, 90_000],
    maxResends: options.writeRecovery?.maxResends ?? 2,
  };
  const eventTimeoutMs = options.eventTimeoutMs ?? 10 * 60_000;
  const metadataBatchSize = Math.max(1, options.metadataBatchSize ?? 25);
  const transport = createAppleTransport({
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    retry: { ...defaultRetryPolicy, ...options.retry },
    logger,
    userAgent: options.userAgent,
  });

  // --- service config: read at first use, refreshed when older than configTtlMs -------------------
  let cached: { config: AppleServiceConfig; fetchedAt: number } | undefined;
  let inflight: Promise<AppleServiceConfig> | undefined;

  async function fetchServiceConfig(): Promise<AppleServiceConfig> {
    const res = await transport.send({
      method: "GET",
      url: `${baseUrl}/service/config`,
      endpoint: "GET /service/config",
    });
    return parseServiceConfig(res.body);
  }

  function loadServiceConfig(): Promise<AppleServiceConfig> {
    inflight ??= fetchServiceConfig()
      .then(
        (config) => {
          cached = { config, fetchedAt: now() };
          logger.debug({ limits: config.limits }, "apple service config read");
          return config;
        },
        (error: unknown) => {
          if (!cached) throw error;
          // Keep working with the limits we have; try again at the next use after a minute.
          logger.warn(
            { err: error instanceof Error ? error.message : String(error) },
            "apple service config refresh failed; keeping the previous one",
          );
          cached.fetchedAt = now() - configTtlMs + 60_000;
          return cached.config;
        },
      )
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  async function serviceConfig(): Promise<AppleServiceConfig> {
    if (cached && now() - cached.fetchedAt < configTtlMs) return cached.config;
    return loadServiceConfig();
  }

  async function metadataUrl(): Promise<string> {
    if (options.metadataUrl) return options.metadataUrl;
    const url = (await serviceConfig()).urls.contentMetadataLookup;
    if (!url) throw new AppleProtocolError("GET /service/config", "urls.contentMetadataLookup is missing");
    return url;
  }

  async function lookup(
    adamIds: readonly string[],
    o: {
      country: string;
      platform: string;
      language: string;
      macFallback: boolean;
      sToken?: string;
      limiter?: AppleRateLimiter;
      tokenTag?: string;
    },
  ): Promise<AppleMetadataResult> {
    const url = await metadataUrl();
    const country = o.country.trim().toLowerCase();
    const ids = [...new Set(adamIds.map(String))];
    const found = new Map<string, AppleAssetMetadata>();
    const run = async (list: string[], platform: string) => {
      await mapLimit(chunk(list, metadataBatchSize), 2, async (batch) => {
        const res = await transport.send({
          method: "GET",
          url,
          endpoint: "GET contentMetadataLookup",
          query: {
            version: 2,
            id: batch.join(","),
            p: "mdm-lockup",
            caller: "MDM",
            platform,
            cc: country,
            l: o.language,
          },
          cookie: o.sToken ? `itvt=${o.sToken}` : undefined,
          limiter: o.limiter,
          tokenTag: o.tokenTag,
        });
        for (const [id, m] of parseMetadataBody(res.body))
          if (batch.includes(id) && !found.has(id)) found.set(id, m);
      });
    };
    await run(ids, o.platform);
    const missing = ids.filter((id) => !found.has(id));
    if (o.macFallback && missing.length > 0 && o.platform !== "macappstore")
      await run(missing, "macappstore");
    return {
      country,
      items: ids.flatMap((id) => (found.has(id) ? [found.get(id) as AppleAssetMetadata] : [])),
      notFound: ids.filter((id) => !found.has(id)),
    };
  }

  function forToken(sTokenInput: string, tokenOptions: AppleTokenClientOptions = {}): AppleTokenClient {
    const sToken = sTokenInput.trim();
    if (sToken === "") throw new Error("an Apple sToken is required");
    const tokenHash = hashSToken(sToken);
    const tokenTag = tokenHash.slice(0, 12);
    const limiter = rateLimiterFor(tokenHash, cached?.config.limits.maxRequestPerSecond ?? 15);
    let expectedMdmId = tokenOptions.mdmId;
    let lastMdm: MdmInfo | undefined;
    let seenMdm = false;
    let conflict = false;
    let tokenProblem: AppleTokenProblem | undefined;
    let tokenExpirationDate: string | undefined;

    /** `authoritative`: a client-config answer, where a missing mdmInfo really means none is set. */
    function observe(body: unknown, authoritative: boolean): void {
      const info = readMdmInfo(body);
      // Some answers (subscriptions enable/disable) write "mdmInfo": null whatever is set: only a
      // client-config answer may say that nobody claims the token.
      if (info === undefined && !authoritative) return;
      const changed = !seenMdm || !sameMdm(info, lastMdm);
      seenMdm = true;
      lastMdm = info;
      if (changed) tokenOptions.onMdmInfo?.(info);
      if (info && expectedMdmId !== undefined && info.id !== expectedMdmId && !conflict) {
        conflict = true;
        logger.warn(
          { token: tokenTag, otherMdm: info.name },
          "apple token is now managed by another MDM; writes stop",
        );
        tokenOptions.onMdmConflict?.(info);
      }
    }

    async function call<T>(
      method: "GET" | "POST",
      path: string,
      parse: (body: unknown, endpoint: string) => T,
      o: {
        query?: Record<string, QueryValue>;
        body?: unknown;
        write?: boolean;
        licenseWrite?: boolean;
        signal?: AbortSignal;
      } = {},
    ): Promise<T> {
      const config = await serviceConfig();
      limiter.setRate(config.limits.maxRequestPerSecond);
      if (o.licenseWrite && conflict) throw new AppleMdmConflictError(expectedMdmId as string, lastMdm);
      const endpoint = `${method} ${path}`;
      try {
        const res = await transport.send({
          method,
          url: `${baseUrl}${path}`,
          endpoint,
          query: o.query,
          body: o.body,
          bearer: sToken,
          write: o.write,
          limiter,
          tokenTag,
          signal: o.signal,
        });
        observe(res.body, path === "/client/config");
        const parsed = parse(res.body, endpoint);
        const exp = (parsed as AppleEnvelope).tokenExpirationDate;
        if (exp) tokenExpirationDate = exp;
        return parsed;
      } catch (error) {
        if (error instanceof AppleTokenError) {
          tokenProblem = error.reason;
          tokenOptions.onTokenProblem?.(error.reason, error);
        }
        throw error;
      }
    }

    // --- paged reads ------------------------------------------------------------------------------

    async function walk<P extends ApplePaging & AppleEnvelope, T>(
      endpoint: string,
      fetchPage: (pageIndex: number, signal: AbortSignal) => Promise<P>,
      itemsOf: (page: P) => T[],
      o: AppleWalkOptions<T, P>,
    ): Promise<AppleWalkResult> {
      for (let restarts = 0; ; restarts++) {
        const controller = new AbortController();
        const signal = o.signal ? AbortSignal.any([controller.signal, o.signal]) : controller.signal;
        const inflightPages = new Map<number, Promise<P>>();
        try {
          let first: P;
          try {
            first = await fetchPage(0, signal);
          } catch (error) {
            // An empty data set may have no page 0 at all ("page index … less than the total number
            // of pages" with 0 pages): nothing to read, and no version to pin.
            if (error instanceof AppleApiError && error.errorNumber === 9650)
              return { versionId: "", pages: 0, items: 0, restarts };
            throw error;
          }
          const pinned = first.versionId;
          await o.onPage?.(itemsOf(first), first);
          let items = itemsOf(first).length;
          let pages = 1;
          let total =
            first.nextPageIndex === undefined ? 1 : Math.max(first.totalPages, first.nextPageIndex + 1);
          let launched = 1;
          let changed: string | undefined;
          for (let i = 1; i < total; i++) {
            while (launched < total && inflightPages.size < maxParallelPages) {
              const p = fetchPage(launched, signal);
              p.catch(() => {});
              inflightPages.set(launched++, p);
            }
            let page: P;
            try {
              page = await (inflightPages.get(i) as Promise<P>);
            } catch (error) {
              // The data shrank under the walk: the page no longer exists.
              if (error instanceof AppleApiError && error.errorNumber === 9650) {
                changed = "page index out of range";
                break;
              }
              throw error;
            } finally {
              inflightPages.delete(i);
            }
            if (page.versionId !== pinned) {
              changed = "versionId changed";
              break;
            }
            if (page.currentPageIndex !== i)
              throw new AppleProtocolError(
                endpoint,
                `asked for page ${i}, got page ${page.currentPageIndex}`,
              );
            await o.onPage?.(itemsOf(page), page);
            items += itemsOf(page).length;
            pages++;
            if (page.nextPageIndex === undefined) total = i + 1;
            else total = Math.max(total, page.nextPageIndex + 1);
          }
          if (changed === undefined) {
            const result: AppleWalkResult = { versionId: pinned, pages, items, restarts };
            if (first.uId !== undefined) result.uId = first.uId;
            if (first.tokenExpirationDate !== undefined)
              result.tokenExpirationDate = first.tokenExpirationDate;
            if (first.mdmInfo !== undefined) result.mdmInfo = first.mdmInfo;
            return result;
          }
          if (restarts >= maxWalkRestarts) throw new AppleDataChangedError(endpoint, restarts + 1);
          logger.info(
            { endpoint, token: tokenTag, restart: restarts + 1, reason: changed },
            "apple data changed during the walk; starting again",
          );
          await o.onRestart?.(restarts + 1, changed);
        } finally {
          controller.abort();
        }
      }
    }

    const getAssets: AppleTokenClient["getAssets"] = (filters = {}, o = {}) =>
      call("GET", "/assets", parseAssetsPage, {
        query: { ...filtersQuery(filters), pageIndex: filters.pageIndex ?? 0 },
        signal: o.signal,
      });
    const getAssignments: AppleTokenClient["getAssignments"] = (filters = {}, o = {}) =>
      call("GET", "/assignments", parseAssignmentsPage, {
        query: { ...filtersQuery(filters), pageIndex: filters.pageIndex ?? 0 },
        signal: o.signal,
      });
    const getUsers: AppleTokenClient["getUsers"] = (filters = {}, o = {}) =>
      call("GET", "/users", parseUsersPage, {
        query: { ...filtersQuery(filters), pageIndex: filters.pageIndex ?? 0 },
        signal: o.signal,
      });

    const walkAssets: AppleTokenClient["walkAssets"] = (filters = {}, o = {}) =>
      walk(
        "GET /assets",
        (pageIndex, signal) => getAssets({ ...filters, pageIndex }, { signal }),
        (p) => p.assets,
        o,
      );
    const walkAssignments: AppleTokenClient["walkAssignments"] = (filters = {}, o = {}) =>
      walk(
        "GET /assignments",
        (pageIndex, signal) => getAssignments({ ...filters, pageIndex }, { signal }),
        (p) => p.assignments,
        o,
      );
    const walkUsers: AppleTokenClient["walkUsers"] = (filters = {}, o = {}) =>
      walk(
        "GET /users",
        (pageIndex, signal) => getUsers({ ...filters, pageIndex }, { signal }),
        (p) => p.users,
        o,
      );

    async function listAssets(filters: AppleAssetFilters = {}) {
      let assets: AppleAsset[] = [];
      let unlimitedAssets: AppleUnlimitedAsset[] = [];
      const result = await walkAssets(filters, {
        onPage: (items, page) => {
          assets.push(...items);
          if (page.unlimitedAssets) unlimitedAssets.push(...page.unlimitedAssets);
        },
        onRestart: () => {
          assets = [];
          unlimitedAssets = [];
        },
      });
      return { ...result, assets, unlimitedAssets };
    }

    async function listAssignments(filters: AppleAssignmentFilters = {}) {
      let assignments: AppleAssignment[] = [];
      const result = await walkAssignments(filters, {
        onPage: (items) => {
          assignments.push(...items);
        },
        onRestart: () => {
          assignments = [];
        },
      });
      return { ...result, assignments };
    }

    async function listUsers(filters: AppleUserFilters = {}) {
      let users: AppleUser[] = [];
      const result = await walkUsers(filters, {
        onPage: (items) => {
          users.push(...items);
        },
        onRestart: () => {
          users = [];
        },
      });
      return { ...result, users };
    }

    // --- checking Apple after a write whose outcome is unknown --------------------------------------

    /** Keys (adamId, pricingParam?, target) of the given pairs that Apple currently lists as assigned. */
    async function assignedPairKeys(pairs: readonly AppleAssetTargetPair[]): Promise<Set<string>> {
      const targets = new Map<string, AppleTarget>();
      const assets = new Map<string, AppleAssetRef>();
      for (const p of pairs) {
        targets.set(targetKey(targetOfPair(p)), targetOfPair(p));
        assets.set(assetKey(p), { adamId: p.adamId, pricingParam: p.pricingParam });
      }
      const keys = new Set<string>();
      const add = (a: AppleAssignment) => {
        const t = targetOfAssignment(a);
        if (!targets.has(targetKey(t))) return;
        keys.add(pairKey(a.adamId, a.pricingParam, t));
        keys.add(pairKey(a.adamId, undefined, t));
      };
      // Cheapest reading: one query per target, or the assets' assignment lists when those are shorter.
      let perAsset = false;
      if (targets.size > assets.size) {
        const firstPages = await mapLimit([...assets.values()], maxParallelPages, (a) =>
          getAssignments({ adamId: a.adamId, pricingParam: a.pricingParam }),
        );
        perAsset = firstPages.reduce((n, p) => n + p.totalPages, 0) <= targets.size;
      }
      if (perAsset) {
        for (const a of assets.values()) {
          const found: AppleAssignment[] = [];
          await walkAssignments(
            { adamId: a.adamId, pricingParam: a.pricingParam },
            {
              onPage: (items) => {
                for (const x of items) if (targets.has(targetKey(targetOfAssignment(x)))) found.push(x);
              },
              onRestart: () => {
                found.length = 0;
              },
            },
          );
          for (const x of found) add(x);
        }
      } else {
        await mapLimit([...targets.values()], maxParallelPages, async (t) => {
          const { assignments } = await listAssignments(
            t.serialNumber !== undefined
              ? { serialNumber: t.serialNumber }
              : { clientUserId: t.clientUserId },
          );
          for (const x of assignments) add(x);
        });
      }
      return keys;
    }

    /**
     * Looks at Apple after each delay until `pending` returns nothing; returns what is still pending
     * after the last look.
     */
    async function checkRepeatedly<T>(
      delays: readonly number[],
      items: T[],
      pending: (items: T[]) => Promise<T[]>,
    ): Promise<T[]> {
      let remaining = items;
      for (const delay of delays.length > 0 ? delays : [0]) {
        await sleep(delay);
        remaining = await pending(remaining);
        if (remaining.length === 0) break;
      }
      return remaining;
    }

    // --- asset writes -------------------------------------------------------------------------------

    async function sendAssetChunk(
      kind: "associate" | "disassociate",
      request: AppleManageAssetsRequest,
      resends: number,
      delays = recovery.checkDelaysMs,
    ): Promise<AppleAssetWriteResult> {
      try {
        const event = await call("POST", `/assets/${kind}`, parseEventResponse, {
          body: request,
          write: true,
          licenseWrite: true,
        });
        return { events: [{ eventId: event.eventId, request }], verifiedPairs: [] };
      } catch (error) {
        if (!isOutcomeUnknown(error)) throw error;
        logger.warn(
          { endpoint: `POST /assets/${kind}`, token: tokenTag, reason: (error as Error).message },
          "apple write outcome unknown; checking assignments before sending again",
        );
        return recoverAssetChunk(kind, request, resends, delays, error);
      }
    }

    async function recoverAssetChunk(
      kind: "associate" | "disassociate",
      request: AppleManageAssetsRequest,
      resends: number,
      delays: readonly number[],
      cause: unknown | undefined,
    ): Promise<AppleAssetWriteResult> {
      const pairs = expandPairs(request);
      const keyOf = (p: AppleAssetTargetPair) => pairKey(p.adamId, p.pricingParam, targetOfPair(p));
      const remaining = await checkRepeatedly(delays, pairs, async (list) => {
        const present = await assignedPairKeys(list);
        return list.filter((p) => (kind === "associate" ? !present.has(keyOf(p)) : present.has(keyOf(p))));
      });
      const left = new Set(remaining.map(keyOf));
      const result: AppleAssetWriteResult = {
        events: [],
        verifiedPairs: pairs.filter((p) => !left.has(keyOf(p))),
      };
      if (remaining.length === 0) return result;
      if (resends >= recovery.maxResends)
        throw cause ?? unconfirmed(`POST /assets/${kind}`, remaining.length, pairs.length);
      logger.warn(
        { endpoint: `POST /assets/${kind}`, token: tokenTag, missing: remaining.length, of: pairs.length },
        "apple write not (fully) applied; sending what is missing",
      );
      for (const c of planAssetPairs(remaining, await serviceConfig().then((s) => s.limits))) {
        const r = await sendAssetChunk(kind, c, resends + 1);
        result.events.push(...r.events);
        result.verifiedPairs.push(...r.verifiedPairs);
      }
      return result;
    }

    async function assetWrite(
      kind: "associate" | "disassociate",
      plan: (limits: AppleLimits) => AppleManageAssetsRequest[],
    ): Promise<AppleAssetWriteResult> {
      if (conflict) throw new AppleMdmConflictError(expectedMdmId as string, lastMdm);
      const chunks = plan((await serviceConfig()).limits);
      const { done, error } = await runChunks(chunks, writeConcurrency, (c) => sendAssetChunk(kind, c, 0));
      const result: AppleAssetWriteResult = {
        events: done.flatMap((r) => r.events),
        verifiedPairs: done.flatMap((r) => r.verifiedPairs),
      };
      if (error !== undefined) {
        if (done.length === 0) throw error;
        throw new AppleWriteError(`POST /assets/${kind}`, result, error);
      }
      return result;
    }

    // --- revoke -------------------------------------------------------------------------------------

    async function targetsStillHoldingRevocable(targets: AppleTarget[]): Promise<AppleTarget[]> {
      const { assets } = await listAssets({ revocable: false });
      const irrevocable = new Set(assets.map((a) => `${a.adamId}\u0000${a.pricingParam}`));
      const holding = await mapLimit(targets, maxParallelPages, async (t) => {
        const { assignments } = await listAssignments(
          t.serialNumber !== undefined ? { serialNumber: t.serialNumber } : { clientUserId: t.clientUserId },
        );
        return assignments.some((a) => !irrevocable.has(`${a.adamId}\u0000${a.pricingParam}`));
      });
      return targets.filter((_, i) => holding[i]);
    }

    async function sendRevokeChunk(
      request: AppleRevokeAssetsRequest,
      resends: number,
      delays = recovery.checkDelaysMs,
    ): Promise<AppleRevokeResult> {
      try {
        const event = await call("POST", "/assets/revoke", parseEventResponse, {
          body: request,
          write: true,
          licenseWrite: true,
        });
        return { events: [{ eventId: event.eventId, request }], verifiedTargets: [] };
      } catch (error) {
        if (!isOutcomeUnknown(error)) throw error;
        logger.warn(
          { endpoint: "POST /assets/revoke", token: tokenTag },
          "apple write outcome unknown; checking assignments before sending again",
        );
        return recoverRevokeChunk(request, resends, delays, error);
      }
    }

    async function recoverRevokeChunk(
      request: AppleRevokeAssetsRequest,
      resends: number,
      delays: readonly number[],
      cause: unknown | undefined,
    ): Promise<AppleRevokeResult> {
      const targets = targetsOf(request);
      const remaining = await checkRepeatedly(delays, targets, targetsStillHoldingRevocable);
      const left = new Set(remaining.map(targetKey));
      const result: AppleRevokeResult = {
        events: [],
        verifiedTargets: targets.filter((t) => !left.has(targetKey(t))),
      };
      if (remaining.length === 0) return result;
      if (resends >= recovery.maxResends)
        throw cause ?? unconfirmed("POST /assets/revoke", remaining.length, targets.length);
      const r = await sendRevokeChunk(revokeRequestOf(remaining), resends + 1);
      result.events.push(...r.events);
      result.verifiedTargets.push(...r.verifiedTargets);
      return result;
    }

    async function revokeAssets(request: AppleRevokeAssetsRequest): Promise<AppleRevokeResult> {
      if (conflict) throw new AppleMdmConflictError(expectedMdmId as string, lastMdm);
      const chunks = planRevoke(request, (await serviceConfig()).limits);
      const { done, error } = await runChunks(chunks, writeConcurrency, (c) => sendRevokeChunk(c, 0));
      const result: AppleRevokeResult = {
        events: done.flatMap((r) => r.events),
        verifiedTargets: done.flatMap((r) => r.verifiedTargets),
      };
      if (error !== undefined) {
        if (done.length === 0) throw error;
        throw new AppleWriteError("POST /assets/revoke", result, error);
      }
      return result;
    }

    // --- users --------------------------------------------------------------------------------------

    type UsersKind = "create" | "update" | "retire";

    async function usersNotDone(kind: UsersKind, users: AppleRequestUser[]): Promise<AppleRequestUser[]> {
      const rows = await mapLimit(
        users,
        maxParallelPages,
        async (u) => (await listUsers({ clientUserId: u.clientUserId })).users,
      );
      return users.filter((u, i) => {
        const active = rows[i].find(isActiveUser);
        if (kind === "create") return !active;
        if (kind === "retire") return active !== undefined;
        // update: what Apple lists must match; a managedAppleId cannot be read back.
        return (
          !active || (u.email !== undefined && active.email !== u.email) || u.managedAppleId !== undefined
        );
      });
    }

    async function sendUsersChunk(
      kind: UsersKind,
      users: AppleRequestUser[],
      resends: number,
      delays = recovery.checkDelaysMs,
    ): Promise<AppleUsersWriteResult> {
      const request: AppleManageUsersRequest = { users };
      try {
        const event = await call("POST", `/users/${kind}`, parseEventResponse, {
          body: request,
          write: true,
          licenseWrite: true,
        });
        return { events: [{ eventId: event.eventId, request }], verifiedClientUserIds: [] };
      } catch (error) {
        if (!isOutcomeUnknown(error)) throw error;
        logger.warn(
          { endpoint: `POST /users/${kind}`, token: tokenTag },
          "apple write outcome unknown; checking users before sending again",
        );
        const remaining = await checkRepeatedly(delays, users, (list) => usersNotDone(kind, list));
        const left = new Set(remaining.map((u) => u.clientUserId));
        const result: AppleUsersWriteResult = {
          events: [],
          verifiedClientUserIds: users.filter((u) => !left.has(u.clientUserId)).map((u) => u.clientUserId),
        };
        if (remaining.length === 0) return result;
        if (resends >= recovery.maxResends) throw error;
        const r = await sendUsersChunk(kind, remaining, resends + 1);
        result.events.push(...r.events);
        result.verifiedClientUserIds.push(...r.verifiedClientUserIds);
        return result;
      }
    }

    async function usersWrite(
      kind: UsersKind,
      users: readonly AppleRequestUser[],
    ): Promise<AppleUsersWriteResult> {
      if (conflict) throw new AppleMdmConflictError(expectedMdmId as string, lastMdm);
      const chunks = planUsers(users, (await serviceConfig()).limits.maxUsers);
      const { done, error } = await runChunks(chunks, writeConcurrency, (c) => sendUsersChunk(kind, c, 0));
      const result: AppleUsersWriteResult = {
        events: done.flatMap((r) => r.events),
        verifiedClientUserIds: done.flatMap((r) => r.verifiedClientUserIds),
      };
      if (error !== undefined) {
        if (done.length === 0) throw error;
        throw new AppleWriteError(`POST /users/${kind}`, result, error);
      }
      return result;
    }

    // --- events -------------------------------------------------------------------------------------

    const getEventStatus: AppleTokenClient["getEventStatus"] = (eventId, o = {}) =>
      call("GET", "/status", parseEventStatus, { query: { eventId }, signal: o.signal });

    async function waitForEvent(
      eventId: string,
      o: {
        intervalsMs?: number[];
        timeoutMs?: number;
        signal?: AbortSignal;
        onProgress?: (status: AppleEventStatus) => void;
      } = {},
    ): Promise<AppleEventStatus> {
      const intervals = o.intervalsMs && o.intervalsMs.length > 0 ? o.intervalsMs : pollIntervalsMs;
      const timeoutMs = o.timeoutMs ?? eventTimeoutMs;
      const started = performance.now();
      for (let n = 0; ; n++) {
        await sleep(intervals[Math.min(n, intervals.length - 1)], o.signal);
        const status = await getEventStatus(eventId, { signal: o.signal });
        o.onProgress?.(status);
        if (status.eventStatus !== "PENDING") return status;
        if (performance.now() - started >= timeoutMs) throw new AppleEventTimeoutError(eventId, status);
      }
    }

    async function resumeWrite(
      write: ApplePendingWrite,
      o: { eventId?: string; checkDelaysMs?: number[] } = {},
    ) {
      if (o.eventId !== undefined) {
        try {
          return { event: await getEventStatus(o.eventId) };
        } catch (error) {
          // 9708: Apple does not know the event; fall through to checking the targets.
          if (!(error instanceof AppleApiError && error.errorNumber === 9708)) throw error;
        }
      }
      if (conflict) throw new AppleMdmConflictError(expectedMdmId as string, lastMdm);
      const delays = o.checkDelaysMs ?? [0];
      const limits = (await serviceConfig()).limits;
      switch (write.kind) {
        case "associate":
        case "disassociate": {
          const result: AppleAssetWriteResult = { events: [], verifiedPairs: [] };
          for (const c of planManageAssets(write.request, limits)) {
            const r = await recoverAssetChunk(write.kind, c, 0, delays, undefined);
            result.events.push(...r.events);
            result.verifiedPairs.push(...r.verifiedPairs);
          }
          return { result };
        }
        case "revoke": {
          const result: AppleRevokeResult = { events: [], verifiedTargets: [] };
          for (const c of planRevoke(write.request, limits)) {
            const r = await recoverRevokeChunk(c, 0, delays, undefined);
            result.events.push(...r.events);
            result.verifiedTargets.push(...r.verifiedTargets);
          }
          return { result };
        }
        default: {
          const kind: UsersKind =
            write.kind === "createUsers" ? "create" : write.kind === "updateUsers" ? "update" : "retire";
          const result: AppleUsersWriteResult = { events: [], verifiedClientUserIds: [] };
          for (const users of planUsers(write.request.users, limits.maxUsers)) {
            const remaining = await checkRepeatedly(delays, users, (list) => usersNotDone(kind, list));
            const left = new Set(remaining.map((u) => u.clientUserId));
            result.verifiedClientUserIds.push(
              ...users.filter((u) => !left.has(u.clientUserId)).map((u) => u.clientUserId),
            );
            if (remaining.length > 0) {
              if (recovery.maxResends < 1)
                throw unconfirmed(`POST /users/${kind}`, remaining.length, users.length);
              const r = await sendUsersChunk(kind, remaining, 1);
              result.events.push(...r.events);
              result.verifiedClientUserIds.push(...r.verifiedClientUserIds);
            }
          }
          return { result };
        }
      }
    }

    // --- subscriptions ------------------------------------------------------------------------------

    const getSubscriptions: AppleTokenClient["getSubscriptions"] = (filters = {}) =>
      call("GET", "/subscriptions", parseSubscriptionsPage, { query: filtersQuery(filters) });
    const getSubscriptionAssignments: AppleTokenClient["getSubscriptionAssignments"] = (filters = {}) =>
      call("GET", "/subscriptions/assignments", parseSubscriptionAssignmentsPage, {
        query: filtersQuery(filters),
      });

    async function followCursor<T, P extends { nextCursor?: string }>(
      get: (cursor: string | undefined) => Promise<P>,
      itemsOf: (p: P) => T[],
    ): Promise<T[]> {
      const out: T[] = [];
      let cursor: string | undefined;
      do {
        const page = await get(cursor);
        out.push(...itemsOf(page));
        cursor = page.nextCursor && page.nextCursor !== cursor ? page.nextCursor : undefined;
      } while (cursor !== undefined);
      return out;
    }

    async function subscriptionsWrite(
      kind: "associate" | "disassociate",
      request: AppleManageSubscriptionsRequest,
    ): Promise<AppleSubscriptionsWriteResult> {
      if (conflict) throw new AppleMdmConflictError(expectedMdmId as string, lastMdm);
      const limits = (await serviceConfig()).limits;
      const adamIds = [...new Set(request.adamIds)];
      const users = [...new Set(request.clientUserIds)];
      const chunks: AppleManageSubscriptionsRequest[] = [];
      for (const a of chunk(adamIds, limits.maxSubscriptions)) {
        for (const u of chunk(users, limits.maxSubscriptionClientUserIds)) {
          const c: AppleManageSubscriptionsRequest = { adamIds: a, clientUserIds: u };
          if (request.renewing !== undefined) c.renewing = request.renewing;
          if (request.deferred !== undefined) c.deferred = request.deferred;
          chunks.push(c);
        }
      }
      // No automatic re-send here at all: an unknown outcome goes to the caller, who re-reads the assignments.
      const { done, error } = await runChunks(chunks, writeConcurrency, async (c) => {
        const event = await call("POST", `/subscriptions/${kind}`, parseEventResponse, {
          body: c,
          write: true,
          licenseWrite: true,
        });
        return { eventId: event.eventId, request: c };
      });
      const result = { events: done };
      if (error !== undefined) {
        if (done.length === 0) throw error;
        throw new AppleWriteError(`POST /subscriptions/${kind}`, result, error);
      }
      return result;
    }

    return {
      tokenHash,
      get mdmInfo() {
        return lastMdm;
      },
      get mdmConflict() {
        return conflict;
      },
      get tokenProblem() {
        return tokenProblem;
      },
      get tokenExpirationDate() {
        return tokenExpirationDate;
      },
      getClientConfig: (o = {}) => call("GET", "/client/config", parseClientConfig, { signal: o.signal }),
      async setClientConfig(request, o = {}) {
        // Setting mdmInfo makes its id ours before the answer (which echoes it) is looked at.
        const before = { expectedMdmId, conflict };
        if (request.mdmInfo) {
          expectedMdmId = request.mdmInfo.id;
          conflict = false;
        }
        try {
          return await call("POST", "/client/config", parseClientConfig, { body: request, signal: o.signal });
        } catch (error) {
          ({ expectedMdmId, conflict } = before);
          throw error;
        }
      },
      getAssets,
      getAssignments,
      getUsers,
      walkAssets,
      walkAssignments,
      walkUsers,
      listAssets,
      listAssignments,
      listUsers,
      associateAssets: (request) => assetWrite("associate", (limits) => planManageAssets(request, limits)),
      disassociateAssets: (request) =>
        assetWrite("disassociate", (limits) => planManageAssets(request, limits)),
      associatePairs: (pairs) => assetWrite("associate", (limits) => planAssetPairs(pairs, limits)),
      disassociatePairs: (pairs) => assetWrite("disassociate", (limits) => planAssetPairs(pairs, limits)),
      revokeAssets,
      createUsers: (users) => usersWrite("create", users),
      updateUsers: (users) => usersWrite("update", users),
      retireUsers: (clientUserIds) =>
        usersWrite(
          "retire",
          clientUserIds.map((clientUserId) => ({ clientUserId })),
        ),
      resumeWrite,
      getEventStatus,
      waitForEvent,
      async lookupMetadata(adamIds, o = {}) {
        let { country, platform } = o;
        if (country === undefined || platform === undefined) {
          const cc = await call("GET", "/client/config", parseClientConfig);
          country ??= cc.countryISO2ACode;
          platform ??= cc.defaultPlatform ?? "enterprisestore";
        }
        if (!country)
          throw new AppleProtocolError("GET /client/config", "countryISO2ACode is missing; pass a country");
        return lookup(adamIds, {
          country,
          platform,
          language: o.language ?? "en",
          macFallback: o.macFallback ?? true,
          sToken,
          limiter,
          tokenTag,
        });
      },
      getSubscriptions,
      listSubscriptions: (filters = {}) =>
        followCursor(
          (cursor) => getSubscriptions({ ...filters, cursor }),
          (p) => p.subscriptions,
        ),
      getSubscriptionAssignments,
      listSubscriptionAssignments: (filters = {}) =>
        followCursor(
          (cursor) => getSubscriptionAssignments({ ...filters, cursor }),
          (p) => p.assignments,
        ),
      associateSubscriptions: (request) => subscriptionsWrite("associate", request),
      disassociateSubscriptions: (request) => subscriptionsWrite("disassociate", request),
      setSubscriptionManagement: (enabled) =>
        call(
          "POST",
          enabled ? "/subscriptions/enable" : "/subscriptions/disable",
          parseSubscriptionManagementState,
          { write: true },
        ),
    };
  }

  return {
    baseUrl,
    serviceConfig,
    limits: async () => (await serviceConfig()).limits,
    refreshServiceConfig: async () => {
      if (cached) cached.fetchedAt = Number.NEGATIVE_INFINITY;
      return loadServiceConfig();
    },
    forToken,
    lookupMetadata: (adamIds, o) =>
      lookup(adamIds, {
        country: o.country,
        platform: o.platform ?? "enterprisestore",
        language: o.language ?? "en",
        macFallback: o.macFallback ?? true,
      }),
  };
}

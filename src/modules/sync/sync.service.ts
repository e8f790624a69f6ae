// SYNC-1..4 for Apple VPP tokens: scheduled and on-demand syncs (full and incremental), store
// notifications, and event-status polling when notifications are off.
//
// A sync of one token:
//   1. client config (validates the token; the client's hooks notice another MDM or a dead token),
//   2. every asset → one apps row per (token, asset) with Apple's counts (APP-1),
//   3. metadata from the storefront of the token's country, in each of its languages (APP-4, TOK-6),
//   4. assignments → the store_assignments mirror: full (mark and sweep) or since the last versionId,
//   5. Apple users Allot created (TOK-5), also incremental when possible,
//   6. untracked counts per app (SYNC-4), version ids, last sync time and status.
// The walks pin Apple's versionId and start again when it moves (the client does that); every page
// is written as it arrives, one statement per page, so memory stays flat and PGlite is never held.
import type { TableStatistics } from "../../db/statistics.ts";
import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import { systemActor } from "../../http/context.ts";
import type { JobMap } from "../../jobs/jobs.ts";
import type { Queue } from "../../jobs/queue.ts";
import { AppError, badRequest, conflict } from "../../lib/errors.ts";
import {
  AppleApiError,
  type AppleAsset,
  type AppleAssetMetadata,
  type AppleAssignment,
  type AppleNotification,
  AppleProtocolError,
  type AppleTokenClient,
  AppleTokenError,
  parseAppleNotification,
} from "../../stores/apple/index.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type {
  AppKeyRow,
  AssetInput,
  AssignmentKey,
  MetadataUpdate,
  SyncRepository,
  SyncTokenRow,
} from "./sync.repository.ts";
import { storefrontLanguages } from "./sync.storefronts.ts";

export const IOS_VPP_APP = "microsoft.graph.iosVppApp";
export const MACOS_VPP_APP = "microsoft.graph.macOsVppApp";
export const IOS_VPP_EBOOK = "microsoft.graph.iosVppEBook";

const HOUR = 3_600_000;
/** A sync is full when the last full one is older than this (SYNC-2: at least daily). */
const FULL_SYNC_AFTER_MS = 23 * HOUR;
/** A sync that added or removed at least this many mirror rows refreshes the planner's statistics. */
const ANALYZE_AFTER_ROWS = 5000;
const ANALYZE_AFTER_APPS = 500;
/** Apple: wait this long for a notification before looking at an event; give up on a PENDING event after 10 minutes. */
const NOTIFICATION_GRACE_S = 300;
const EVENT_GIVE_UP_MS = 10 * 60_000;
/** An incremental sync also re-reads metadata older than this, so a new store version (UPD-1) is seen between full syncs. */
const METADATA_REFRESH_MS = 6 * HOUR;

type SyncStatus = "inProgress" | "completed" | "failed";

/** What the sync needs from the tokens module (src/modules/tokens/tokens.service.ts), wired in main.ts. */
export interface SyncTokensPort {
  /** A per-token Apple client whose hooks mark the token expired/invalid/assignedToExternalMDM. */
  appleFor(tenantId: string, tokenId: string): Promise<AppleTokenClient>;
  /** The token as Graph shows it (404 when it does not exist in ctx's tenant). */
  getToken(ctx: Ctx, tokenId: string, version: "v1.0" | "beta"): Promise<Record<string, unknown>>;
  /** Whose token a notification bearer belongs to; `pending` while its upload or renewal is still running. */
  verifyNotificationSecret(
    tenantId: string | null | undefined,
    tokenId: string,
    bearer: string | null | undefined,
  ): Promise<{ tenantId: string; tokenId: string; pending: boolean } | undefined>;
  setSyncStatus(
    tenantId: string,
    tokenId: string,
    update: {
      status: SyncStatus;
      at?: Date;
      full?: boolean;
      error?: string | null;
      nextSyncAt?: Date | null;
    },
  ): Promise<unknown>;
  recordVersionIds(
    tenantId: string,
    tokenId: string,
    ids: { assets?: string | null; assignments?: string | null; users?: string | null },
  ): Promise<unknown>;
  checkExpiries(): Promise<unknown>;
}

export interface SyncLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SyncDeps {
  db: Kysely<DB>;
  /** Told how many mirror rows each sync changed (many small syncs add up to stale statistics too). */
  statistics?: TableStatistics;
  syncRepository: SyncRepository;
  auditService: AuditService;
  queue: Queue;
  tokens: SyncTokensPort;
  logger: () => SyncLogger;
  /** Default hours between scheduled syncs (ALLOT_SYNC_INTERVAL_HOURS). */
  intervalHours: number;
  /** Seconds between event-status checks (ALLOT_APPLE_EVENT_POLL_SECONDS). */
  eventPollSeconds: number;
  /** Rows per transaction for bulk mirror writes. */
  chunkRows?: number;
}

export interface SyncResult {
  full: boolean;
  apps: number;
  appsAdded: number;
  metadataRead: number;
  metadataMissing: number;
  assignmentsAdded: number;
  assignmentsRemoved: number;
  usersUpdated: number;
  restarts: number;
}

function odataTypeOf(a: Pick<AppleAsset, "productType" | "supportedPlatforms">): string {
  if (a.productType === "Book") return IOS_VPP_EBOOK;
  const platforms = a.supportedPlatforms ?? [];
  if (platforms.length > 0 && !platforms.includes("iOS") && platforms.includes("macOS")) return MACOS_VPP_APP;
  return IOS_VPP_APP;
}

function assignmentKey(a: AppleAssignment): AssignmentKey {
  return {
    adamId: a.adamId,
    pricingParam: a.pricingParam ?? "STDQ",
    serialNumber: a.serialNumber ?? "",
    clientUserId: a.clientUserId ?? "",
  };
}

const assetKey = (adamId: string, pricingParam: string) => `${adamId}\u0000${pricingParam}`;

/** Seconds since the epoch at which this token's scheduled syncs fall: a fixed offset per token within the period. */
export function nextSlot(tokenId: string, intervalHours: number, now: Date): Date {
  const period = Math.max(1, Math.round(intervalHours * 3600));
  const phase = createHash("sha256").update(`allot/sync/${tokenId}`).digest().readUInt32BE(0) % period;
  const t = Math.floor(now.getTime() / 1000);
  const since = (((t - phase) % period) + period) % period;
  return new Date((t - since + period) * 1000);
}

function errorText(err: unknown): string {
  if (err instanceof AppleTokenError)
    return `Apple refused the token (${err.reason}, error ${err.errorNumber}).`;
  if (err instanceof AppleApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Errors a later attempt may get past (Apple busy or down, network); anything else fails the job for good. */
function isTransient(err: unknown): boolean {
  if (err instanceof AppleTokenError) return false;
  if (err instanceof AppleApiError) return err.isRetryable;
  if (err instanceof AppleProtocolError) return false;
  return !(err instanceof AppError);
}

export function createSyncService(deps: SyncDeps) {
  const { db, syncRepository: repo, auditService, queue, tokens } = deps;
  const chunkRows = deps.chunkRows ?? 2000;
  const completedHandlers: ((e: { tenantId: string; tokenId: string; full: boolean }) => Promise<unknown>)[] = [];
  const countHandlers: ((e: { tenantId: string; tokenId: string; appId: string }) => Promise<unknown>)[] = [];
  const log = () => deps.logger();

  const systemCtx = (tenantId: string, requestId: string): Ctx => ({
    tenantId,
    actor: systemActor,
    requestId,
  });

  // ---------------------------------------------------------------- assets and metadata

  async function syncAssets(apple: AppleTokenClient, token: SyncTokenRow, now: Date, signal?: AbortSignal) {
    let seen = new Map<string, { adamId: string; pricingParam: string }>();
    let added = 0;
    const result = await apple.walkAssets(
      {},
      {
        signal,
        onRestart: () => {
          seen = new Map();
          added = 0;
        },
        onPage: async (assets) => {
          const inputs: AssetInput[] = assets.map((a) => ({
            adamId: a.adamId,
            pricingParam: a.pricingParam ?? "STDQ",
            productType: a.productType ?? "App",
            odataType: odataTypeOf(a),
            supportedPlatforms: a.supportedPlatforms ?? [],
            deviceAssignable: a.deviceAssignable,
            revocable: a.revocable,
            totalCount: a.totalCount,
            assignedCount: a.assignedCount,
            availableCount: a.availableCount,
            retiredCount: a.retiredCount,
          }));
          for (const i of inputs)
            seen.set(assetKey(i.adamId, i.pricingParam), { adamId: i.adamId, pricingParam: i.pricingParam });
          const rows: AppKeyRow[] = await repo.upsertAssets(db, token.tenant_id, token.id, inputs, now);
          added += rows.filter((r) => r.inserted).length;
        },
      },
    );
    await repo.zeroMissingAssets(db, token.tenant_id, token.id, [...seen.values()], now);
    return { apps: seen.size, added, versionId: result.versionId, restarts: result.restarts };
  }

  /** APP-4 / TOK-6: names, icons, store URLs from the token's storefront, in each of its languages. */
  async function syncMetadata(
    apple: AppleTokenClient,
    token: SyncTokenRow,
    platform: string | undefined,
    full: boolean,
    now: Date,
  ) {
    const country = token.country_or_region.trim().toLowerCase();
    const apps = await repo.appsNeedingMetadata(
      db,
      token.tenant_id,
      token.id,
      country,
      full ? now : new Date(now.getTime() - METADATA_REFRESH_MS),
    );
    if (apps.length === 0) return { read: 0, missing: 0 };
    const languages = storefrontLanguages(country);
    const ids = [...new Set(apps.map((a) => a.adam_id as string))];
    const base = { country, ...(platform ? { platform } : {}) };
    const primary = await apple.lookupMetadata(ids, { ...base, language: languages[0] });
    const found = new Map<string, AppleAssetMetadata>(primary.items.map((m) => [m.adamId, m]));
    const localized = new Map<string, Record<string, { displayName: string; description: string | null }>>();
    for (const m of primary.items)
      localized.set(m.adamId, {
        [languages[0]]: { displayName: m.name, description: m.description ?? null },
      });
    for (const language of languages.slice(1)) {
      if (found.size === 0) break;
      const more = await apple.lookupMetadata([...found.keys()], { ...base, language });
      for (const m of more.items) {
        const l = localized.get(m.adamId);
        if (l) l[language] = { displayName: m.name, description: m.description ?? null };
      }
    }
    const updates: MetadataUpdate[] = [];
    const notSold: string[] = [];
    const notFound: string[] = [];
    for (const app of apps) {
      const m = found.get(app.adam_id as string);
      if (m) {
        updates.push({
          id: app.id,
          displayName: m.name,
          publisher: m.publisher ?? m.seller ?? null,
          description: m.description ?? null,
          bundleId: m.bundleId ?? null,
          version: m.version ?? null,
          iconUrl: m.iconUrl ?? null,
          appStoreUrl: m.storeUrl ?? null,
          releaseAt: m.releaseDate ?? null,
          deviceFamilies: m.deviceFamilies,
          genres: m.genres,
          seller: m.seller ?? null,
          minimumOsVersion: m.minimumOsVersion ?? null,
          country,
          language: languages[0],
          localizations: localized.get(m.adamId) ?? {},
        });
      } else if (
        app.display_name !== null &&
        app.metadata_country !== null &&
        app.metadata_country !== country
      ) {
        // TOK-6: not sold in the new storefront; what the old one said stays, flagged.
        notSold.push(app.id);
      } else {
        notFound.push(app.id);
      }
    }
    // One statement per 200 apps (one statement per app cost a round trip each: 2,000 for a big token).
    for (let i = 0; i < updates.length; i += 200)
      await repo.upsertMetadata(db, token.tenant_id, updates.slice(i, i + 200), now);
    await repo.setMetadataStatus(db, token.tenant_id, notSold, "notSoldInStorefront", now);
    await repo.setMetadataStatus(db, token.tenant_id, notFound, "notFound", now);
    if (notSold.length + notFound.length > 0)
      log().info(
        {
          tenantId: token.tenant_id,
          tokenId: token.id,
          country,
          notSold: notSold.length,
          notFound: notFound.length,
        },
        "some apps have no metadata in the token's storefront",
      );
    return { read: updates.length, missing: notSold.length + notFound.length };
  }

  // ---------------------------------------------------------------- assignments and users

  async function writeAssignments(token: SyncTokenRow, items: AppleAssignment[], syncedAt: Date) {
    let added = 0;
    let removed = 0;
    for (let i = 0; i < items.length; i += chunkRows) {
      const slice = items.slice(i, i + chunkRows);
      const gone = slice.filter((a) => a.removed === true).map(assignmentKey);
      const present = slice.filter((a) => a.removed !== true).map(assignmentKey);
      added += (await repo.upsertAssignments(db, token.tenant_id, token.id, present, syncedAt)).length;
      removed += (await repo.deleteAssignments(db, token.tenant_id, token.id, gone)).length;
    }
    return { added, removed };
  }

  async function syncAssignments(
    apple: AppleTokenClient,
    token: SyncTokenRow,
    full: boolean,
    signal?: AbortSignal,
  ) {
    let added = 0;
    let removed = 0;
    if (!full && token.assignments_version_id) {
      // The apps whose assignments changed: only their untracked counts can have moved.
      const touched = new Map<string, { adamId: string; pricingParam: string }>();
      try {
        const r = await apple.walkAssignments(
          { sinceVersionId: token.assignments_version_id },
          {
            signal,
            onPage: async (items) => {
              for (const a of items) {
                const pricingParam = a.pricingParam ?? "STDQ";
                touched.set(assetKey(a.adamId, pricingParam), { adamId: a.adamId, pricingParam });
              }
              const w = await writeAssignments(token, items, new Date());
              added += w.added;
              removed += w.removed;
            },
          },
        );
        return {
          added,
          removed,
          versionId: r.versionId || token.assignments_version_id,
          full: false,
          restarts: r.restarts,
          touched: [...touched.values()],
        };
      } catch (err) {
        // 9721: Apple no longer knows that version; read everything.
        if (!(err instanceof AppleApiError && err.errorNumber === 9721)) throw err;
        log().info(
          { tenantId: token.tenant_id, tokenId: token.id },
          "apple forgot the assignments version; syncing in full",
        );
      }
    }
    let marker = new Date();
    const r = await apple.walkAssignments(
      {},
      {
        signal,
        onRestart: () => {
          marker = new Date();
        },
        onPage: async (items) => {
          added += (await writeAssignments(token, items, marker)).added;
        },
      },
    );
    // Whatever the complete walk did not touch is gone at Apple.
    for (;;) {
      const n = await repo.sweepAssignments(db, token.tenant_id, token.id, marker, chunkRows);
      removed += n;
      if (n < chunkRows) break;
    }
    return {
      added,
      removed,
      versionId: r.versionId,
      full: true,
      restarts: r.restarts,
      touched: undefined as { adamId: string; pricingParam: string }[] | undefined,
    };
  }

  async function syncUsers(
    apple: AppleTokenClient,
    token: SyncTokenRow,
    full: boolean,
    signal?: AbortSignal,
  ) {
    // TOK-5: only users Allot created are kept; with none there is nothing to read.
    if (!(await repo.hasAppleUsers(db, token.tenant_id, token.id)))
      return { updated: 0, versionId: token.users_version_id };
    let updated = 0;
    const onPage = async (
      users: { clientUserId: string; status: string; idHash?: string; email?: string; inviteCode?: string }[],
    ) => {
      const now = new Date();
      for (let i = 0; i < users.length; i += chunkRows)
        updated += await repo.updateAppleUsers(
          db,
          token.tenant_id,
          token.id,
          users.slice(i, i + chunkRows).map((u) => ({
            clientUserId: u.clientUserId,
            status: u.status,
            appleUserId: u.idHash ?? null,
            email: u.email ?? null,
            inviteCode: u.inviteCode ?? null,
          })),
          now,
        );
    };
    if (!full && token.users_version_id) {
      try {
        const r = await apple.walkUsers({ sinceVersionId: token.users_version_id }, { signal, onPage });
        return { updated, versionId: r.versionId || token.users_version_id };
      } catch (err) {
        if (!(err instanceof AppleApiError && err.errorNumber === 9721)) throw err;
      }
    }
    const r = await apple.walkUsers({}, { signal, onPage });
    return { updated, versionId: r.versionId };
  }

  // ---------------------------------------------------------------- one sync

  /**
   * Syncs of one token never overlap (a mark-and-sweep would delete what the other one marked): the
   * queue runs one job per token at a time across processes; this also orders them within the process.
   */
  const running = new Map<string, Promise<unknown>>();
  async function runSync(
    data: JobMap["apple-sync"],
    options: { signal?: AbortSignal; jobId?: string; lastAttempt?: boolean } = {},
  ): Promise<SyncResult | undefined> {
    const key = `${data.tenantId}/${data.tokenId}`;
    for (let before = running.get(key); before; before = running.get(key))
      await before.catch(() => undefined);
    const run = runSyncNow(data, options);
    running.set(key, run);
    try {
      return await run;
    } finally {
      if (running.get(key) === run) running.delete(key);
    }
  }

  async function runSyncNow(
    data: JobMap["apple-sync"],
    options: { signal?: AbortSignal; jobId?: string; lastAttempt?: boolean },
  ): Promise<SyncResult | undefined> {
    const { tenantId, tokenId } = data;
    const token = await repo.findToken(db, tenantId, tokenId);
    if (!token) return undefined; // deleted meanwhile
    if (!repo.syncableStates.includes(token.state)) {
      await tokens.setSyncStatus(tenantId, tokenId, {
        status: "failed",
        error: `The token is ${token.state}; it is not synced until it is valid again.`,
      });
      return undefined;
    }
    const started = new Date();
    await tokens.setSyncStatus(tenantId, tokenId, { status: "inProgress" });
    try {
      const apple = await tokens.appleFor(tenantId, tokenId);
      const full =
        data.full ||
        !token.last_full_sync_at ||
        started.getTime() - token.last_full_sync_at.getTime() >= FULL_SYNC_AFTER_MS ||
        !token.assignments_version_id;
      const clientConfig = await apple.getClientConfig({ signal: options.signal });
      const assets = await syncAssets(apple, token, started, options.signal);
      const metadata = await syncMetadata(apple, token, clientConfig.defaultPlatform, full, started);
      const assignments = await syncAssignments(apple, token, full, options.signal);
      // After many changed rows the planner's statistics are stale until autovacuum comes by (on
      // PGlite it never does): the queries below and the catalog's would be planned as if the
      // mirror were empty (a per-app re-count of 100k rows took 18 s).
      const stale: ("store_assignments" | "apps")[] = [];
      if (deps.statistics) await deps.statistics.wrote("store_assignments", assignments.added + assignments.removed);
      else if (assignments.added + assignments.removed >= ANALYZE_AFTER_ROWS) stale.push("store_assignments");
      if (assets.added >= ANALYZE_AFTER_APPS) stale.push("apps");
      if (stale.length > 0) await repo.analyze(db, stale);
      const users = await syncUsers(apple, token, full, options.signal);
      // An incremental sync recounts only the apps whose assignments changed.
      await repo.refreshUntrackedCounts(db, tenantId, tokenId, assignments.touched);
      await tokens.recordVersionIds(tenantId, tokenId, {
        assets: assets.versionId || null,
        assignments: assignments.versionId || null,
        users: users.versionId ?? null,
      });
      const finished = new Date();
      await tokens.setSyncStatus(tenantId, tokenId, {
        status: "completed",
        at: finished,
        full: assignments.full,
      });
      for (const h of completedHandlers)
        await h({ tenantId, tokenId, full: assignments.full }).catch((err) =>
          log().warn({ tenantId, tokenId, err: errorText(err) }, "a sync-completed handler failed"),
        );
      const result: SyncResult = {
        full: assignments.full,
        apps: assets.apps,
        appsAdded: assets.added,
        metadataRead: metadata.read,
        metadataMissing: metadata.missing,
        assignmentsAdded: assignments.added,
        assignmentsRemoved: assignments.removed,
        usersUpdated: users.updated,
        restarts: assets.restarts + assignments.restarts,
      };
      if (
        result.appsAdded +
          result.metadataRead +
          result.assignmentsAdded +
          result.assignmentsRemoved +
          result.usersUpdated >
        0
      )
        await db.transaction().execute((trx) =>
          auditService.record(trx, systemCtx(tenantId, options.jobId ?? `sync-${tokenId}`), {
            activity: result.full ? "Full sync of VPP token" : "Incremental sync of VPP token",
            component: "Sync",
            operation: "Action",
            changes: [
              {
                type: "microsoft.graph.vppToken",
                id: tokenId,
                displayName: token.display_name ?? token.organization_name,
                after: { ...result, reason: data.reason },
              },
            ],
          }),
        );
      log().info(
        { tenantId, tokenId, ms: finished.getTime() - started.getTime(), ...result },
        "vpp token synced",
      );
      return result;
    } catch (err) {
      const transient = isTransient(err);
      const text = errorText(err);
      // A transient failure is tried again by the queue: the token stays inProgress until the last attempt.
      if (!transient || options.lastAttempt !== false)
        await tokens
          .setSyncStatus(tenantId, tokenId, { status: "failed", error: text })
          .catch(() => undefined);
      log().warn({ tenantId, tokenId, err: text, transient }, "vpp token sync failed");
      if (transient) throw err;
      return undefined;
    }
  }

  // ---------------------------------------------------------------- notifications (SYNC-3)

  async function applyNotification(
    tenantId: string,
    tokenId: string,
    n: AppleNotification,
  ): Promise<{ duplicate: boolean; syncAssets: boolean; countsChanged: string | null }> {
    const now = new Date();
    let syncAssets = false;
    let countsChanged: string | null = null;
    let mirrored = 0;
    const fresh = await db.transaction().execute(async (trx) => {
      if (
        !(await repo.recordNotification(
          trx,
          tenantId,
          tokenId,
          n.notificationId,
          n.notificationType === "other" ? n.originalType : n.notificationType,
        ))
      )
        return false;
      let changed: Record<string, unknown> | undefined;
      switch (n.notificationType) {
        case "ASSET_COUNT": {
          const known = await repo.applyCountDelta(
            trx,
            tenantId,
            tokenId,
            n.adamId,
            n.pricingParam,
            n.countDelta,
            now,
          );
          if (!known) syncAssets = true; // a new asset: read it (and its metadata) from Apple
          else countsChanged = known;
          changed = { adamId: n.adamId, pricingParam: n.pricingParam, countDelta: n.countDelta };
          break;
        }
        case "ASSET_MANAGEMENT": {
          // A FAILURE lists assignments that did not change at Apple: nothing to mirror.
          if (n.result !== "SUCCESS") break;
          const keys = n.assignments.map(assignmentKey);
          const rows =
            n.type === "ASSOCIATE"
              ? await repo.upsertAssignments(trx, tenantId, tokenId, keys, now)
              : await repo.deleteAssignments(trx, tenantId, tokenId, keys);
          const sign = n.type === "ASSOCIATE" ? 1 : -1;
          const deltas = new Map<string, { adamId: string; pricingParam: string; delta: number }>();
          for (const r of rows) {
            const k = assetKey(r.adamId, r.pricingParam);
            const d = deltas.get(k) ?? { adamId: r.adamId, pricingParam: r.pricingParam, delta: 0 };
            d.delta += sign;
            deltas.set(k, d);
          }
          mirrored = rows.length;
          await repo.applyAssignedDeltas(trx, tenantId, tokenId, deltas, now);
          await repo.refreshUntrackedCounts(trx, tenantId, tokenId, [
            ...new Map(
              keys.map((k) => [
                assetKey(k.adamId, k.pricingParam),
                { adamId: k.adamId, pricingParam: k.pricingParam },
              ]),
            ).values(),
          ]);
          if (rows.length > 0) changed = { type: n.type, eventId: n.eventId, assignments: rows.length };
          break;
        }
        case "USER_MANAGEMENT": {
          if (n.result !== "SUCCESS") break;
          const count = await repo.updateAppleUsers(
            trx,
            tenantId,
            tokenId,
            n.users.map((u) => ({
              clientUserId: u.clientUserId,
              status: u.status,
              appleUserId: u.idHash ?? null,
              email: u.email ?? null,
              inviteCode: u.inviteCode ?? null,
            })),
            now,
          );
          if (count > 0) changed = { type: n.type, eventId: n.eventId, users: count };
          break;
        }
        case "USER_ASSOCIATED": {
          const count = await repo.updateAppleUsers(
            trx,
            tenantId,
            tokenId,
            n.associatedUsers.map((u) => ({
              clientUserId: u.clientUserId,
              status: u.status || "Associated",
              appleUserId: u.idHash ?? null,
              email: u.email ?? null,
            })),
            now,
          );
          if (count > 0) changed = { users: count };
          break;
        }
        default:
          break;
      }
      if (changed)
        await auditService.record(trx, systemCtx(tenantId, `notification-${n.notificationId}`), {
          activity: `Apply Apple ${n.notificationType} notification`,
          component: "Sync",
          operation: "Action",
          changes: [{ type: "microsoft.graph.vppToken", id: tokenId, after: changed }],
        });
      return true;
    });
    // An initial push arrives as thousands of these: the mirror grows by hundreds of thousands of rows.
    if (mirrored > 0) await deps.statistics?.wrote("store_assignments", mirrored);
    return { duplicate: !fresh, syncAssets, countsChanged };
  }

  async function handleNotification(
    tokenId: string,
    bearer: string | undefined,
    body: unknown,
  ): Promise<{ accepted: true; duplicate?: boolean; type: string }> {
    const target = bearer ? await tokens.verifyNotificationSecret(null, tokenId, bearer) : undefined;
    if (!target)
      throw new AppError(
        "unauthenticated",
        "The notification's bearer token does not match this VPP token's notification secret.",
      );
    const tenantId = target.tenantId;
    let n: AppleNotification;
    try {
      n = parseAppleNotification(body);
    } catch (err) {
      throw badRequest(
        `The notification could not be read: ${err instanceof Error ? err.message : String(err)}.`,
      );
    }
    const type = n.notificationType === "other" ? n.originalType : n.notificationType;
    // TEST_NOTIFICATION (also for an upload not yet saved) only proves the endpoint works.
    if (n.notificationType === "TEST_NOTIFICATION" || target.pending) return { accepted: true, type };
    const result = await applyNotification(tenantId, tokenId, n);
    if (result.duplicate) return { accepted: true, duplicate: true, type };
    if (n.notificationType === "other")
      log().info({ tenantId, tokenId, type }, "ignored an apple notification of an unknown type");
    // After the commit (on PGlite a send inside the transaction would wait for it).
    // A purchase or refund: the app's waiting members are served (or released) now, not at the next sync.
    if (result.countsChanged)
      for (const h of countHandlers)
        await h({ tenantId, tokenId, appId: result.countsChanged }).catch((err) =>
          log().warn({ tenantId, tokenId, err: errorText(err) }, "a counts-changed handler failed"),
        );
    if (result.syncAssets)
      await queue
        .send(
          "apple-sync",
          { tenantId, tokenId, full: false, reason: "notification" },
          { singletonKey: tokenId, group: tokenId },
        )
        .catch((err) => log().warn({ err, tokenId }, "could not queue a sync"));
    return { accepted: true, type };
  }

  // ---------------------------------------------------------------- requests, schedules, polling

  async function enqueueSync(
    tenantId: string,
    tokenId: string,
    full: boolean,
    reason: JobMap["apple-sync"]["reason"],
  ) {
    return queue.send(
      "apple-sync",
      { tenantId, tokenId, full, reason },
      { singletonKey: tokenId, group: tokenId },
    );
  }

  return {
    runSync,
    handleNotification,
    enqueueSync,

    /** Called after an ASSET_COUNT notification changed a known app's counts (the ledger reconciles it). */
    onCountsChanged(handler: (e: { tenantId: string; tokenId: string; appId: string }) => Promise<unknown>) {
      countHandlers.push(handler);
    },

    /** Called after every completed sync (the licensing ledger reconciles after a full one). */
    onSyncCompleted(handler: (e: { tenantId: string; tokenId: string; full: boolean }) => Promise<unknown>) {
      completedHandlers.push(handler);
    },

    /** POST …/vppTokens/{id}/syncLicenses (SYNC-1): starts a full sync now and answers with the token. */
    async requestSync(ctx: Ctx, tokenId: string, version: "v1.0" | "beta"): Promise<Record<string, unknown>> {
      const before = await tokens.getToken(ctx, tokenId, version);
      const token = await repo.findToken(db, ctx.tenantId, tokenId);
      if (!token)
        throw new AppError(
          "notFound",
          `Resource '${tokenId}' does not exist or one of its queried reference-property objects are not present (vppToken).`,
        );
      if (!repo.syncableStates.includes(token.state))
        throw conflict(
          `The VPP token is ${token.state} and cannot be synced${token.state === "expired" || token.state === "invalid" ? ": renew it with a new token file first" : token.state === "assignedToExternalMDM" ? ": another MDM manages its location; take it back by uploading it again with claimTokenManagementFromExternalMdm" : ""}.`,
        );
      await tokens.setSyncStatus(ctx.tenantId, tokenId, { status: "inProgress" });
      await db.transaction().execute((trx) =>
        auditService.record(trx, ctx, {
          activity: "Sync VPP token licenses",
          component: "Tokens",
          operation: "Action",
          changes: [
            {
              type: "microsoft.graph.vppToken",
              id: tokenId,
              displayName: (before.displayName as string | undefined) ?? token.organization_name,
              before: { lastSyncStatus: before.lastSyncStatus },
              after: { lastSyncStatus: "inProgress" },
            },
          ],
        }),
      );
      await enqueueSync(ctx.tenantId, tokenId, true, "manual");
      return tokens.getToken(ctx, tokenId, version);
    },

    /** After an upload or a renewal: the first sync now, then the schedule. */
    async onTokenSaved(tenantId: string, tokenId: string): Promise<void> {
      const token = await repo.findToken(db, tenantId, tokenId);
      if (!token || !repo.syncableStates.includes(token.state)) return;
      await repo.setNextSync(
        db,
        tenantId,
        tokenId,
        nextSlot(tokenId, token.sync_interval_hours ?? deps.intervalHours, new Date()),
      );
      await tokens.setSyncStatus(tenantId, tokenId, { status: "inProgress" });
      await enqueueSync(tenantId, tokenId, true, "tokenSaved");
    },

    /** Every minute: queue the syncs whose time has come (SYNC-1), each at its own offset in the period. */
    async scheduleDue(now = new Date()): Promise<number> {
      let queued = 0;
      for (const t of await repo.dueTokens(now, 1000)) {
        const next = nextSlot(t.id, t.sync_interval_hours ?? deps.intervalHours, now);
        // A token without a slot yet just gets one (its first sync ran when it was saved).
        if (t.next_sync_at !== null && (await enqueueSync(t.tenant_id, t.id, false, "scheduled")) !== null)
          queued++;
        await repo.setNextSync(db, t.tenant_id, t.id, next);
      }
      return queued;
    },

    /**
     * SYNC-3 fallback: follow an Apple event (a write the licensing engine made) by its status. With
     * notifications on, Apple's guidance is to wait 5 minutes for one first.
     */
    async trackEvent(tenantId: string, tokenId: string, eventId: string): Promise<void> {
      const token = await repo.findToken(db, tenantId, tokenId);
      if (!token) return;
      const wait = token.notifications_enabled
        ? Math.max(NOTIFICATION_GRACE_S, deps.eventPollSeconds)
        : deps.eventPollSeconds;
      await queue.send(
        "apple-event-poll",
        { tenantId, tokenId, eventId, attempt: 0, firstSeenAt: new Date().toISOString() },
        { startAfter: wait },
      );
    },

    async pollEvent(data: JobMap["apple-event-poll"]): Promise<"pending" | "done" | "gaveUp" | "gone"> {
      const token = await repo.findToken(db, data.tenantId, data.tokenId);
      if (!token || !repo.syncableStates.includes(token.state)) return "gone";
      const apple = await tokens.appleFor(data.tenantId, data.tokenId);
      const status = await apple.getEventStatus(data.eventId);
      if (status.eventStatus === "PENDING") {
        if (Date.now() - Date.parse(data.firstSeenAt) >= EVENT_GIVE_UP_MS) {
          log().warn(
            { tokenId: data.tokenId, eventId: data.eventId },
            "apple event still pending after 10 minutes; no longer polling it",
          );
          return "gaveUp";
        }
        await queue.send(
          "apple-event-poll",
          { ...data, attempt: data.attempt + 1 },
          { startAfter: deps.eventPollSeconds },
        );
        return "pending";
      }
      // COMPLETE or FAILED: the assignments changed at Apple; read what changed.
      await enqueueSync(data.tenantId, data.tokenId, false, "eventCompleted");
      return "done";
    },

    async housekeeping(now = new Date()): Promise<void> {
      await repo.pruneNotifications(new Date(now.getTime() - 7 * 24 * HOUR));
    },
  };
}
export type SyncService = ReturnType<typeof createSyncService>;

// The license ledger service (ENG-3, ENG-8): reconciliation (engine plan → ledger rows, history and
// outbox, in short chunked transactions) and the outbox worker that sends store operations to Apple
// in the largest batches the limits allow and settles holdings item by item from the event's result.
//
// Crash safety: an operation is marked `sending` (with its batch: one request) just before the
// request, and `sent` with Apple's event id as soon as Apple answers. A worker that starts again
// follows the recorded events, and resumes `sending` batches through the client's resumeWrite (which
// looks at Apple — after the request's event had time to settle — and sends only what is missing), so
// nothing is associated twice and no release is lost.
import { randomUUID } from "node:crypto";
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from "node:timers/promises";
import type { Kysely, Transaction } from "kysely";
import type { DB } from "../../db/types.ts";
import {
  type AppInput,
  affectedHolders,
  buildDirectoryIndex,
  capacityOf,
  type DirectoryIndex,
  type EngineAssignment,
  EngineInputError,
  type HoldingDecision,
  type LedgerHolding,
  ledgerRowOf,
  type Operation,
  planApp,
  type IncrementalPlan,
  planAppIncremental,
  queueHeadSize,
} from "../../engine/index.ts";
import { expandPairs, planManageAssets } from "../../stores/apple/chunking.ts";
import {
  type AppleAssetTargetPair,
  type AppleAssetWriteResult,
  type AppleEventStatus,
  AppleEventTimeoutError,
  type AppleManageAssetsRequest,
  type ApplePendingWrite,
  type AppleTokenClient,
  type AppleUser,
} from "../../stores/apple/index.ts";
import type { TableStatistics } from "../../db/statistics.ts";
import { createBounded, type Bounded } from "../../lib/bounded.ts";
import { fallbackLimits } from "../../stores/apple/parse.ts";
import { groupWritePairs, type WriteLimits } from "./licenses.batching.ts";
import { createDirectoryIndexes, type DirectoryIndexes } from "./licenses.directory.ts";
import { engineAppOf } from "./licenses.mapping.ts";
import type {
  HoldingStateChange,
  HoldingWrite,
  LedgerAppRow,
  LicensesRepository,
  OperationInsert,
  OperationRow,
} from "./licenses.repository.ts";

/** Holdings per transaction when a plan is applied (PGlite has one session: keep transactions short). */
export const APPLY_CHUNK = 2000;
/** Where persistPlan hands each chunk of holdings and operations (written atomically, as one transaction). */
type ChunkSink = (writes: HoldingWrite[], ops: OperationInsert[], at: Date) => Promise<unknown>;
/**
 * Directory changes of these kinds are reconciled incrementally (when few objects changed). Deletions
 * are not: a deleted device's primary user, and a deleted user's devices, are no longer linked in
 * the database, so the slice could not name every affected holder.
 */
const INCREMENTAL_CHANGES = new Set([
  "memberAdded",
  "memberRemoved",
  "userCreated",
  "userEnabled",
  "userDisabled",
  "deviceCreated",
]);
/** Above this many changed users and devices a full plan of the affected apps is cheaper. */
const INCREMENTAL_MAX_OBJECTS = 200;
/** Operations taken from the outbox per round. */
const OUTBOX_ROUND = 20_000;
/** Request groups of one round sent at the same time (the Apple client's rate limiter paces them). */
const WRITE_GROUPS_AT_ONCE = 5;
/** Apple-user operations (registrations, invitations) taken from the outbox per round. */
const USER_ROUND = 100_000;
/** While the outbox drains, mirror rows are marked tracked at most this often (and at the end). */
const TRACK_EVERY_MS = 30_000;
/** Apple event-status requests in flight at once while events are followed (followEvents). */
const EVENT_WAITS_AT_ONCE = 8;
/** Requests of one group in flight at once (as the Apple client sent a group's chunks before). */
const REQUESTS_PER_GROUP_AT_ONCE = 5;
/**
 * A request that was in flight when its worker stopped (operations `sending`, no event, no error) may
 * have become an Apple event that is still PENDING, whose tasks do not show in Apple's assignments yet:
 * Apple is looked at this many event-poll intervals after the request left, and only what is still
 * missing after the last look is sent again (at Apple's 30 s cadence: after 7.5 minutes).
 */
const UNKNOWN_WRITE_LOOKS = [1, 3, 7, 15];
/** An event still PENDING after this long fails the drain (retried later), as the client's waitForEvent did. */
const EVENT_TIMEOUT_MS = 10 * 60_000;

/** Runs fn over items, at most `limit` at a time; the first error stops new work and is thrown once all running calls ended. */
async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}

export interface LicensesLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LicensesDeps {
  db: Kysely<DB>;
  licensesRepository: LicensesRepository;
  tokens: { appleFor(tenantId: string, tokenId: string): Promise<AppleTokenClient> };
  /** untracked_count per app (SYNC-4) after the ledger's own assignments are marked tracked. */
  refreshUntrackedCounts(tenantId: string, tokenId: string): Promise<unknown>;
  logger: () => LicensesLogger;
  /** Delay between event-status checks while an Apple event is pending. */
  eventPollMs: number;
  now?: () => number;
  /** The ledger rows as the engine must see them (revocation parks revoked holders, licenses.revoke.ts). */
  adjustHoldings?: (tenantId: string, appId: string, holdings: LedgerHolding[]) => Promise<LedgerHolding[]>;
  /** Apple's invitation link template (service config `urls.invitationEmail`, with `%25inviteCode%25`). */
  invitationTemplate?: () => Promise<string | undefined>;
  /** Writes a message to a user in the caller's transaction (notifications outbox, EUX-3). */
  enqueueUserMessage?: (
    trx: Transaction<DB>,
    tenantId: string,
    m: { userId: string; kind: string; subject: string; body: string; data: Record<string, unknown> },
  ) => Promise<unknown>;
  /** ENG-6: how long an Uninstall waits for the MDM to report the app removed before the license is released. */
  uninstallTimeoutMs?: number;
  /** Apple's current write limits (service config); the published values when absent. */
  writeLimits?: () => Promise<WriteLimits>;
  /** Ledger chunks a full reconcile writes at once (PostgreSQL: several connections; PGlite: 1). */
  writeConcurrency?: number;
  /** The whole-directory index of full reconciles (shared with the MDM bridge); a private one when absent. */
  directoryIndexes?: DirectoryIndexes;
  /** Told how many ledger rows were written, so the planner's statistics follow bulk writes. */
  statistics?: TableStatistics;
}

/** Per-user reads after users/create; above this many users one walk of the location's users is cheaper. */
const USER_LOOKUPS_MAX = 50;
/** Invitations written per transaction. */
const INVITE_CHUNK = 200;

/** The invitation link of one invite code (reference §11: replace the literal `%25inviteCode%25`). */
export function invitationUrlOf(template: string, inviteCode: string): string {
  return template.split("%25inviteCode%25").join(encodeURIComponent(inviteCode));
}

export function createLicensesService(deps: LicensesDeps) {
  const { db, licensesRepository: repo, tokens } = deps;
  const directories = deps.directoryIndexes ?? createDirectoryIndexes(repo);
  const now = () => deps.now?.() ?? Date.now();
  const log = () => deps.logger();

  /**
   * Runs `fn` once everything chained on `key` before it has ended (failed or not); a key's chain is
   * forgotten once it is idle.
   */
  function chainOn<T>(chains: Map<string, Promise<unknown>>, key: string, fn: () => Promise<T>): Promise<T> {
    const next = (chains.get(key) ?? Promise.resolve()).then(fn, fn);
    const settled = next.catch(() => undefined);
    chains.set(key, settled);
    void settled.then(() => {
      if (chains.get(key) === settled) chains.delete(key);
    });
    return next;
  }

  const reconciledListeners: ((tenantId: string, appIds: string[]) => Promise<unknown>)[] = [];
  // Listeners (licensing alerts) run after a reconcile, off its path: the next directory change does
  // not wait for them. One chain per tenant keeps them in reconcile order; a failing one is logged.
  const listenerChains = new Map<string, Promise<unknown>>();
  function afterReconcile(tenantId: string, appIds: string[]) {
    if (reconciledListeners.length === 0 || appIds.length === 0) return;
    void chainOn(listenerChains, tenantId, async () => {
      for (const l of reconciledListeners)
        await l(tenantId, appIds).catch((err) =>
          log().warn({ tenantId, err: err instanceof Error ? err.message : String(err) }, "a reconcile listener failed"),
        );
    });
  }

  // One reconcile at a time per tenant in this process (a second request waits for the first).
  const tenantLocks = new Map<string, Promise<unknown>>();
  const serialized = <T>(tenantId: string, fn: () => Promise<T>): Promise<T> => chainOn(tenantLocks, tenantId, fn);

  /** Reports written ledger rows (planner statistics); a failed ANALYZE never fails the write. */
  async function noteWrites(rows: { holdings: number; events: number; operations: number }) {
    const stats = deps.statistics;
    if (!stats) return;
    try {
      await stats.wrote("license_holdings", rows.holdings);
      await stats.wrote("license_events", rows.events);
      await stats.wrote("store_operations", rows.operations);
    } catch (err) {
      log().warn({ err: err instanceof Error ? err.message : String(err) }, "analyze after ledger writes failed");
    }
  }

  /** Plans one app against a directory index and applies the plan in chunks. Returns what changed. */
  async function reconcileWithIndex(
    tenantId: string,
    app: LedgerAppRow,
    ix: DirectoryIndex,
    userOps: Set<string>,
    writer: Bounded,
  ) {
    const at = now();
    const t0 = performance.now();
    // Independent reads go out together (PostgreSQL runs them on several connections; PGlite queues them).
    const [assignments, loaded, { requests, installs }, externally] = await Promise.all([
      repo.loadAssignments(tenantId, app.id),
      repo.loadHoldings(db, tenantId, app.id),
      repo.loadInstalls(tenantId, app.id),
      repo.externallyConsumed(tenantId, app),
    ]);
    const holdings = deps.adjustHoldings ? await deps.adjustHoldings(tenantId, app.id, loaded) : loaded;
    const input: AppInput = {
      app: engineAppOf(app, externally),
      assignments,
      holdings,
      installRequests: requests,
      installs,
    };
    const t1 = performance.now();
    const plan = planApp(ix, input, {
      now: at,
      ...(deps.uninstallTimeoutMs !== undefined ? { uninstallTimeoutMs: deps.uninstallTimeoutMs } : {}),
    });
    const t2 = performance.now();
    const written = await persistPlan(tenantId, app, plan, userOps, at, async (writes, ops, when) => {
      await writer.submit(() => repo.writeChunk(tenantId, writes, ops, when));
      await yieldToEventLoop(); // a large app's chunks, too (see reconcileApps)
    });
    // With more than one writer the chunks are still being written: this is the time the loop waited for a free writer.
    const timing = { loadMs: t1 - t0, planMs: t2 - t1, persistMs: performance.now() - t2 };
    return { appId: app.id, ...written, counts: plan.counts, timing };
  }

  /**
   * Writes a plan's changed rows, their history and their outbox operations in chunks of APPLY_CHUNK
   * holdings, each chunk one transaction (PGlite has one session: never a long transaction). Chunks
   * go through `writer`: by default one at a time, awaited; a full reconcile passes one that writes
   * up to `writeConcurrency` chunks at once while the next app is read and planned (drained by the caller).
   */
  async function persistPlan(
    tenantId: string,
    app: LedgerAppRow,
    plan: { holdings: readonly HoldingDecision[]; operations: readonly Operation[] },
    userOps: Set<string>,
    at: number,
    sink?: ChunkSink,
  ) {
    const own = sink ? undefined : createBounded(1);
    const write: ChunkSink =
      sink ?? ((writes, ops, when) => (own as Bounded).submit(() => repo.writeChunk(tenantId, writes, ops, when)));
    const changed = plan.holdings.filter((d) => d.changed && d.state !== null);
    const opsByHolder = new Map<string, OperationInsert[]>();
    const loose: OperationInsert[] = [];
    for (const op of plan.operations) {
      if ((op.kind === "associate" || op.kind === "disassociate") && app.token_id) {
        const o: OperationInsert = {
          tokenId: app.token_id,
          appId: app.id,
          kind: op.kind,
          holderType: op.holderType,
          holderId: op.holderId,
          storeKey: op.storeKey,
          payload: { licenseType: op.licenseType, reason: op.reason ?? null },
        };
        const k = `${op.holderType}:${op.holderId}`;
        const list = opsByHolder.get(k) ?? [];
        list.push(o);
        opsByHolder.set(k, list);
      } else if ((op.kind === "registerAppleUser" || op.kind === "inviteAppleUser") && app.token_id) {
        // ENG-4: every plan asks again until Apple reports the user; one open operation per user and token is enough.
        const kind = op.kind === "registerAppleUser" ? "registerUser" : "inviteUser";
        if (
          userOps.has(`registerUser:${op.tokenId}:${op.userId}`) ||
          userOps.has(`${kind}:${op.tokenId}:${op.userId}`)
        )
          continue;
        userOps.add(`${kind}:${op.tokenId}:${op.userId}`);
        loose.push({
          tokenId: op.tokenId,
          appId: null,
          kind,
          holderType: "user",
          holderId: op.userId,
          storeKey: op.clientUserId,
          payload: {},
        });
      }
    }
    const written = new Set<string>();
    const nowDate = new Date(at);
    for (let i = 0; i < changed.length || (i === 0 && loose.length > 0); i += APPLY_CHUNK) {
      const part = changed.slice(i, i + APPLY_CHUNK);
      const writes: HoldingWrite[] = [];
      const ops: OperationInsert[] = i + APPLY_CHUNK >= changed.length ? [...loose] : [];
      for (const d of part) {
        const row = ledgerRowOf(d);
        if (!row) continue;
        writes.push({ appId: app.id, row, previousState: d.previousState });
        const k = `${d.holderType}:${d.holderId}`;
        written.add(k);
        ops.push(...(opsByHolder.get(k) ?? []));
      }
      await write(writes, ops, nowDate);
    }
    // Operations of holders whose row did not change (should not happen; kept so nothing is lost).
    const orphans = [...opsByHolder.entries()].filter(([k]) => !written.has(k)).flatMap(([, v]) => v);
    if (orphans.length > 0) await write([], orphans, nowDate);
    await own?.drain();
    const operations = [...opsByHolder.values()].reduce((n, l) => n + l.length, 0) + loose.length;
    return { changed: changed.length, operations };
  }

  async function reconcileApps(tenantId: string, appIds: readonly string[]) {
    if (appIds.length === 0) return [];
    const started = performance.now();
    const apps = await repo.loadApps(db, tenantId, appIds);
    // Always read afresh (the MDM bridge may then share it); the loaded rows are garbage once indexed.
    const { ix, loadMs, indexMs } = await directories.fresh(tenantId);
    const results: Awaited<ReturnType<typeof reconcileWithIndex>>[] = [];
    const userOps = await repo.openAppleUserOperations(tenantId);
    // PostgreSQL writes chunks on several connections while the next app is read and planned.
    const writer = createBounded(deps.writeConcurrency ?? 1);
    let loopEnd = 0;
    try {
      for (const app of apps) {
        results.push(await reconcileWithIndex(tenantId, app, ix, userOps, writer));
        // PGlite answers without real I/O, so a reconcile's promise chain would run from microtask to
        // microtask and starve the HTTP server for its whole length (no request answered for 88 s at
        // 1M holdings); one turn of the event loop per app lets requests in.
        await yieldToEventLoop();
      }
      loopEnd = performance.now();
      await writer.drain();
    } catch (err) {
      // Nothing is reported (or retried by the caller) while chunks of this reconcile are still being written.
      await writer.drain().catch(() => undefined);
      throw err;
    }
    const drainMs = performance.now() - loopEnd;
    const sumOf = (f: (r: (typeof results)[number]) => number) => results.reduce((n, r) => n + f(r), 0);
    await noteWrites({
      holdings: sumOf((r) => r.changed),
      events: sumOf((r) => r.changed),
      operations: sumOf((r) => r.operations),
    });
    // One line per reconcile with where the time went (bench/reconcile reads it).
    const sum = (f: (r: (typeof results)[number]) => number) =>
      Math.round(results.reduce((n, r) => n + f(r), 0));
    log().info(
      {
        tenantId,
        apps: results.length,
        changed: sum((r) => r.changed),
        operations: sum((r) => r.operations),
        licensed: sum((r) => r.counts.licensed),
        waiting: sum((r) => r.counts.waiting),
        ms: Math.round(performance.now() - started),
        directoryLoadMs: Math.round(loadMs),
        indexMs: Math.round(indexMs),
        appLoadMs: sum((r) => r.timing.loadMs),
        planMs: sum((r) => r.timing.planMs),
        // Wall time during which ledger chunks were being written (some of it overlaps reads and plans) …
        persistMs: Math.round(writer.busyMs()),
        // … and the part of it the reconcile waited for (writer busy, or the last chunks' drain).
        persistWaitMs: sum((r) => r.timing.persistMs) + Math.round(drainMs),
      },
      "licenses reconciled",
    );
    // Listeners (licensing alerts) see every reconciled app; a failing one never fails the reconcile.
    afterReconcile(
      tenantId,
      results.map((r) => r.appId),
    );
    return results;
  }

  // ---------------------------------------------------------------- outbox

  interface Batch {
    tenantId: string;
    tokenId: string;
    kind: "associate" | "disassociate" | "revoke";
    ops: OperationRow[];
  }

  const pairOf = (o: OperationRow): AppleAssetTargetPair => {
    const asset = { adamId: o.adam_id as string, pricingParam: (o.pricing_param ?? "STDQ") as "STDQ" };
    const lt = (typeof o.payload === "string" ? JSON.parse(o.payload) : o.payload)?.licenseType;
    return lt === "user" || (lt === undefined && o.holder_type === "user")
      ? { ...asset, clientUserId: o.store_key as string }
      : { ...asset, serialNumber: o.store_key as string };
  };

  /** The pending write a batch stands for (what resumeWrite needs after a crash). */
  function pendingWriteOf(b: Batch): ApplePendingWrite {
    if (b.kind === "revoke") {
      const serials = b.ops.filter((o) => o.holder_type !== "user").map((o) => o.store_key as string);
      const users = b.ops.filter((o) => o.holder_type === "user").map((o) => o.store_key as string);
      return {
        kind: "revoke",
        request: {
          ...(serials.length ? { serialNumbers: [...new Set(serials)] } : {}),
          ...(users.length ? { clientUserIds: [...new Set(users)] } : {}),
        },
      };
    }
    const pairs = b.ops.map(pairOf);
    const assets = [
      ...new Map(
        pairs.map((p) => [
          `${p.adamId}|${p.pricingParam}`,
          { adamId: p.adamId, pricingParam: p.pricingParam },
        ]),
      ).values(),
    ];
    const serials = [...new Set(pairs.filter((p) => p.serialNumber).map((p) => p.serialNumber as string))];
    const users = [...new Set(pairs.filter((p) => p.clientUserId).map((p) => p.clientUserId as string))];
    return {
      kind: b.kind,
      request: {
        assets,
        ...(serials.length ? { serialNumbers: serials } : {}),
        ...(users.length ? { clientUserIds: users } : {}),
      },
    };
  }

  /**
   * Settles the batch's operations and holdings from Apple's results, item by item. Returns the apps
   * to plan again: those where a license was released (the queue may move) or a holder went back to
   * waiting or failed; an association that simply succeeded changes nothing the plan depends on.
   */
  async function settle(
    b: Batch,
    results: { eventId: string | null; status: AppleEventStatus | null; ops: OperationRow[] }[],
  ) {
    const at = new Date(now());
    const touchedApps = new Set<string>();
    for (const r of results) {
      const failedKeys = new Map<string, number>();
      for (const f of r.status?.failures ?? []) {
        const adamIds = f.errorInfo?.assets?.map((a) => a.adamId);
        const keys = [...(f.errorInfo?.serialNumbers ?? []), ...(f.errorInfo?.clientUserIds ?? [])];
        for (const o of r.ops) {
          const matchesKey = keys.length === 0 || keys.includes(o.store_key ?? "");
          const matchesAsset = !adamIds || adamIds.length === 0 || adamIds.includes(o.adam_id ?? "");
          if (matchesKey && matchesAsset) failedKeys.set(o.id, f.errorNumber);
        }
      }
      const wholeFailed = r.status?.eventStatus === "FAILED" && (r.status.failures ?? []).length === 0;
      for (let i = 0; i < r.ops.length; i += APPLY_CHUNK) {
        const part = r.ops.slice(i, i + APPLY_CHUNK);
        await db.transaction().execute(async (trx) => {
          const current = await repo.getHoldings(
            trx,
            b.tenantId,
            part
              .filter((o) => o.app_id && o.holder_id)
              .map((o) => ({
                appId: o.app_id as string,
                holderType: o.holder_type as string,
                holderId: o.holder_id as string,
              })),
          );
          const byKey = new Map(current.map((h) => [`${h.app_id}:${h.holder_type}:${h.holder_id}`, h]));
          const done: string[] = [];
          const failed: string[] = [];
          // Every holding of the part changes in one statement (and its history in one more).
          const changes = new Map<string, HoldingStateChange>();
          const change = (c: HoldingStateChange) =>
            changes.set(`${c.appId}:${c.holderType}:${c.holderId}`, c);
          for (const o of part) {
            const err = wholeFailed ? -1 : failedKeys.get(o.id);
            (err === undefined ? done : failed).push(o.id);
            if (o.app_id && (err !== undefined || b.kind !== "associate")) touchedApps.add(o.app_id);
            const h =
              o.app_id && o.holder_id ? byKey.get(`${o.app_id}:${o.holder_type}:${o.holder_id}`) : undefined;
            if (!h || h.store_key !== o.store_key) continue;
            const base = {
              appId: o.app_id as string,
              holderType: o.holder_type as string,
              holderId: o.holder_id as string,
              from: h.state,
              storeKey: o.store_key,
              eventId: r.eventId,
            };
            if (b.kind === "associate" && h.state === "pendingAssign") {
              if (err === undefined) change({ ...base, to: "assigned", reason: null });
              else if (err === 9709) change({ ...base, to: "waiting", reason: "insufficientLicenses" });
              else change({ ...base, to: "failed", reason: `appleError${err}` });
            } else if ((b.kind === "disassociate" || b.kind === "revoke") && h.state === "pendingRelease") {
              if (err === undefined)
                change({ ...base, to: "released", reason: (o.payload as any)?.reason ?? null });
              else change({ ...base, to: "failed", reason: `appleError${err}` });
            }
          }
          await repo.setHoldingStates(trx, b.tenantId, [...changes.values()], at);
          await repo.markOperations(trx, b.tenantId, done, { state: "done", eventId: r.eventId }, at);
          await repo.markOperations(
            trx,
            b.tenantId,
            failed,
            { state: "failed", eventId: r.eventId, error: "Apple reported a failure for this item" },
            at,
          );
        });
      }
      await noteWrites({ holdings: r.ops.length, events: r.ops.length, operations: r.ops.length });
    }
    return touchedApps;
  }

  /**
   * Which of `ops` each Apple event carries, and each recorded `sent` with its event id. Called as soon
   * as a request's answer arrives: a worker killed later resumes by following the event, instead of
   * asking Apple's assignments (where a still-pending event's tasks are not visible yet) and sending again.
   */
  async function recordEvents(
    b: Batch,
    ops: OperationRow[],
    events: { eventId: string; request: any }[],
  ): Promise<{ groups: { eventId: string; ops: OperationRow[] }[]; remaining: Map<string, OperationRow> }> {
    const remaining = new Map(ops.map((o) => [o.id, o]));
    const byKey = new Map<string, OperationRow[]>();
    for (const o of ops) {
      const list = byKey.get(o.store_key ?? "");
      if (list) list.push(o);
      else byKey.set(o.store_key ?? "", [o]);
    }
    const groups: { eventId: string; ops: OperationRow[] }[] = [];
    for (const e of events) {
      const assets = new Set<string>((e.request.assets ?? []).map((a: { adamId: string }) => a.adamId));
      const keys = new Set<string>([...(e.request.serialNumbers ?? []), ...(e.request.clientUserIds ?? [])]);
      const carried: OperationRow[] = [];
      for (const k of keys)
        for (const o of byKey.get(k) ?? [])
          if (remaining.has(o.id) && (b.kind === "revoke" || assets.has(o.adam_id ?? ""))) carried.push(o);
      for (const o of carried) remaining.delete(o.id);
      await repo.markOperations(
        db,
        b.tenantId,
        carried.map((o) => o.id),
        { state: "sent", eventId: e.eventId },
        new Date(now()),
      );
      groups.push({ eventId: e.eventId, ops: carried });
    }
    return { groups, remaining };
  }

  /** Maps the client's results (events and verified pairs) back to the batch's operations. */
  async function followResult(
    b: Batch,
    apple: AppleTokenClient,
    result: AppleAssetWriteResult | { events: { eventId: string; request: any }[] },
  ) {
    return followRecorded(b, apple, await recordEvents(b, b.ops, result.events));
  }

  /** Settles the operations no event covers, then follows the recorded events (followEvents). */
  async function followRecorded(
    b: Batch,
    apple: AppleTokenClient,
    recorded: Awaited<ReturnType<typeof recordEvents>>,
  ) {
    // Whatever no event covers was found already done at Apple (verified) or needed no write.
    const touched =
      recorded.remaining.size > 0
        ? await settle(b, [{ eventId: null, status: null, ops: [...recorded.remaining.values()] }])
        : new Set<string>();
    const events = recorded.groups
      .filter((g) => g.ops.length > 0)
      .map((g) => ({ eventId: g.eventId, batch: { ...b, ops: g.ops } }));
    // Events just accepted: the first look after one poll interval.
    for (const a of await followEvents(apple, events, deps.eventPollMs)) touched.add(a);
    return touched;
  }

  /**
   * Follows Apple events until each one settles, and settles each event's operations as soon as it
   * does (a slow event holds back no other). Every round looks at each event still PENDING once
   * (EVENT_WAITS_AT_ONCE requests at a time, paced by the client's rate limiter) and then waits one poll
   * interval: however many events are open, each is settled about a poll interval after it completes
   * (not one event after the other, each with its own waits).
   */
  async function followEvents(
    apple: AppleTokenClient,
    events: readonly { eventId: string; batch: Batch }[],
    firstLookMs: number,
  ): Promise<Set<string>> {
    const touched = new Set<string>();
    const started = performance.now();
    let open = [...events];
    let wait = firstLookMs;
    while (open.length > 0) {
      if (wait > 0) await sleep(wait);
      wait = deps.eventPollMs;
      const pending: typeof open = [];
      const lastStatus = new Map<string, AppleEventStatus>();
      await eachLimit(open, EVENT_WAITS_AT_ONCE, async (e) => {
        const status = await apple.getEventStatus(e.eventId);
        if (status.eventStatus === "PENDING") {
          pending.push(e);
          lastStatus.set(e.eventId, status);
          return;
        }
        for (const a of await settle(e.batch, [{ eventId: e.eventId, status, ops: e.batch.ops }]))
          touched.add(a);
      });
      open = pending;
      if (open.length > 0 && performance.now() - started >= EVENT_TIMEOUT_MS)
        throw new AppleEventTimeoutError(
          open[0].eventId,
          lastStatus.get(open[0].eventId) as AppleEventStatus,
        );
    }
    return touched;
  }

  /** Operations of one cross-product group, split into the requests the client sends for it (same limits, same plan). */
  function requestsOf(b: Batch, group: OperationRow[], limits: WriteLimits): OperationRow[][] {
    const keyOf = (p: AppleAssetTargetPair) =>
      `${p.adamId}\u0000${p.pricingParam ?? ""}\u0000${p.serialNumber !== undefined ? `s\u0000${p.serialNumber}` : `u\u0000${p.clientUserId}`}`;
    const byPair = new Map(group.map((o) => [keyOf(pairOf(o)), o]));
    const request = pendingWriteOf({ ...b, ops: group }).request as AppleManageAssetsRequest;
    const out = planManageAssets(request, limits)
      .map((r) => expandPairs(r).flatMap((p) => byPair.get(keyOf(p)) ?? []))
      .filter((ops) => ops.length > 0);
    // A group is an exact cross product, so every operation is in one request; kept whole if not.
    return out.reduce((n, ops) => n + ops.length, 0) === group.length ? out : [group];
  }

  const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 500);

  /**
   * Marks `ids` `sending` (a new batch) and sends the request. When it fails they stay `sending`,
   * with the error: the next drain looks at Apple at once before anything is sent again (resumeInterrupted).
   */
  async function sendMarked<T>(tenantId: string, ids: string[], request: () => Promise<T>): Promise<T> {
    await repo.markOperations(
      db,
      tenantId,
      ids,
      { state: "sending", batchId: randomUUID(), attempt: true, error: null },
      new Date(now()),
    );
    try {
      return await request();
    } catch (err) {
      await repo.markOperations(db, tenantId, ids, { state: "sending", error: errorText(err) }, new Date(now()));
      throw err;
    }
  }

  async function sendBatch(b: Batch): Promise<Set<string>> {
    const apple = await tokens.appleFor(b.tenantId, b.tokenId);
    if (b.kind === "revoke") {
      const result = await sendMarked(
        b.tenantId,
        b.ops.map((o) => o.id),
        () => apple.revokeAssets(pendingWriteOf(b).request as never),
      );
      return followResult(b, apple, result);
    }
    // Groups whose pairs are exactly assets × targets (licenses.batching.ts): few requests. Each group
    // goes out as the requests Apple accepts (the limits), each request its own batch (a cross product,
    // which resumeWrite can rebuild: pendingWriteOf): marked `sending` just before it is sent and `sent`
    // with its event as soon as Apple answers. A worker stopped at any point thus leaves `sending` only
    // the requests then in flight; the requests it had not sent yet stay `pending`.
    const limits = (await deps.writeLimits?.()) ?? fallbackLimits;
    const groups = groupWritePairs(
      b.ops,
      {
        asset: (o) => `${o.adam_id}\u0000${o.pricing_param ?? "STDQ"}`,
        target: (o) => {
          const p = pairOf(o);
          return p.serialNumber !== undefined
            ? { kind: "serial", key: p.serialNumber }
            : { kind: "user", key: p.clientUserId as string };
        },
      },
      limits,
    );
    // Up to WRITE_GROUPS_AT_ONCE groups, each with up to REQUESTS_PER_GROUP_AT_ONCE requests, in flight
    // (the client's rate limiter paces them). A request that fails stays `sending` with its error: the
    // next drain resumes it (Apple is asked before anything is re-sent). The events are followed
    // together once every request is answered.
    const sent: OperationRow[] = [];
    const recorded: Awaited<ReturnType<typeof recordEvents>> = { groups: [], remaining: new Map() };
    const failure = await eachLimit(groups, WRITE_GROUPS_AT_ONCE, (g) =>
      eachLimit(requestsOf(b, g, limits), REQUESTS_PER_GROUP_AT_ONCE, async (ops) => {
        const pairs = ops.map(pairOf);
        const r: AppleAssetWriteResult = await sendMarked(
          b.tenantId,
          ops.map((o) => o.id),
          () => (b.kind === "associate" ? apple.associatePairs(pairs) : apple.disassociatePairs(pairs)),
        );
        const own = await recordEvents(b, ops, r.events);
        recorded.groups.push(...own.groups);
        for (const [id, o] of own.remaining) recorded.remaining.set(id, o);
        sent.push(...ops);
      }),
    ).then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    const touched =
      sent.length > 0 ? await followRecorded({ ...b, ops: sent }, apple, recorded) : new Set<string>();
    if (failure) throw failure.err;
    return touched;
  }

  /**
   * When to look at Apple for a request left `sending` without an event (delays from now, for
   * resumeWrite): a request that failed (its error recorded) at once — the client already waited for
   * an unknown outcome before giving up; a request that was in flight when its worker stopped
   * UNKNOWN_WRITE_LOOKS poll intervals after it left (its event may still be PENDING).
   */
  function unknownWriteLooks(ops: readonly OperationRow[]): number[] {
    if (ops.some((o) => o.error)) return [0];
    const left = Math.max(...ops.map((o) => new Date(o.updated_at).getTime()));
    const at = now();
    const looks = UNKNOWN_WRITE_LOOKS.map((k) => left + k * deps.eventPollMs).filter((t) => t > at);
    if (looks.length === 0) return [0];
    return looks.map((t, i) => t - (i === 0 ? at : looks[i - 1]));
  }

  /**
   * Every batch left `sending` or `sent` by a stopped worker (or by a failed request), all at once, and
   * the `fresh` (pending) batches with them: releases and revocations first, then associations (as a
   * drain sends them). In each phase, together:
   * - the recorded events (operations `sent` with their event id) are followed (followEvents; the
   *   first look at once: they are usually complete by now);
   * - a request without an event is checked at Apple (unknownWriteLooks) and only what is still
   *   missing is sent again (resumeWrite);
   * - the fresh batches are sent (sendBatch).
   */
  async function resumeInterrupted(batches: readonly Batch[], fresh: readonly Batch[]): Promise<Set<string>> {
    const touched = new Set<string>();
    const add = (apps: Set<string>) => {
      for (const a of apps) touched.add(a);
    };
    const apples = new Map<string, AppleTokenClient>();
    for (const b of batches)
      if (!apples.has(b.tokenId)) apples.set(b.tokenId, await tokens.appleFor(b.tenantId, b.tokenId));
    const events = new Map<string, { eventId: string; batch: Batch }>();
    const unknown: Batch[] = [];
    for (const b of batches) {
      const loose: OperationRow[] = [];
      for (const o of b.ops) {
        if (!o.event_id) {
          loose.push(o);
          continue;
        }
        const e = events.get(o.event_id) ?? { eventId: o.event_id, batch: { ...b, ops: [] } };
        e.batch.ops.push(o);
        events.set(o.event_id, e);
      }
      if (loose.length > 0) unknown.push({ ...b, ops: loose });
    }
    for (const kinds of [["disassociate", "revoke"], ["associate"]]) {
      const inPhase = (b: Batch) => kinds.includes(b.kind);
      const work: Promise<void>[] = [];
      for (const [tokenId, apple] of apples) {
        const followed = [...events.values()].filter((e) => e.batch.tokenId === tokenId && inPhase(e.batch));
        if (followed.length > 0) work.push(followEvents(apple, followed, 0).then(add));
      }
      work.push(
        eachLimit(unknown.filter(inPhase), WRITE_GROUPS_AT_ONCE, async (b) => {
          const apple = apples.get(b.tokenId) as AppleTokenClient;
          const r = await apple.resumeWrite(pendingWriteOf(b), { checkDelaysMs: unknownWriteLooks(b.ops) });
          const result = (r.result as AppleAssetWriteResult | undefined) ?? { events: [], verifiedPairs: [] };
          add(await followResult(b, apple, result));
        }),
      );
      work.push(
        (async () => {
          for (const b of fresh.filter(inPhase)) add(await sendBatch(b));
        })(),
      );
      const failed = (await Promise.allSettled(work)).find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    return touched;
  }

  /**
   * A full round ends at an app boundary when it can (the rest of the last app comes with the next
   * round), so an app's operations are batched together instead of in two partial requests.
   */
  function wholeApps(ops: OperationRow[]): OperationRow[] {
    if (ops.length < OUTBOX_ROUND) return ops;
    const last = ops[ops.length - 1].app_id;
    if (last === null) return ops;
    let cut = ops.length;
    while (cut > 0 && ops[cut - 1].app_id === last) cut--;
    return cut > 0 ? ops.slice(0, cut) : ops;
  }

  function batchesOf(tenantId: string, ops: OperationRow[]): Batch[] {
    const m = new Map<string, Batch>();
    for (const o of ops) {
      if (o.kind === "registerUser" || o.kind === "inviteUser") continue;
      const kind = o.kind as Batch["kind"];
      const k = `${o.token_id}|${kind}|${o.batch_id ?? ""}`;
      const b = m.get(k) ?? { tenantId, tokenId: o.token_id, kind, ops: [] };
      b.ops.push(o);
      m.set(k, b);
    }
    // Releases first (they free licenses), then revokes, then associations.
    const order = { disassociate: 0, revoke: 1, associate: 2 } as const;
    return [...m.values()].sort((a, b) => order[a.kind] - order[b.kind]);
  }

  /** What Apple says of these clientUserIds now (the active row of each; retired rows stay at Apple). */
  async function readAppleUsers(
    apple: AppleTokenClient,
    clientUserIds: readonly string[],
  ): Promise<Map<string, AppleUser>> {
    const wanted = new Set(clientUserIds);
    const found = new Map<string, AppleUser>();
    const keep = (u: AppleUser) => {
      if (!wanted.has(u.clientUserId)) return;
      const active = u.status === "Registered" || u.status === "Associated";
      if (active || !found.has(u.clientUserId)) found.set(u.clientUserId, u);
    };
    if (wanted.size <= USER_LOOKUPS_MAX) {
      for (const id of wanted) for (const u of (await apple.listUsers({ clientUserId: id })).users) keep(u);
    } else {
      await apple.walkUsers({}, { onPage: async (users: AppleUser[]) => users.forEach(keep) });
    }
    return found;
  }

  /**
   * ENG-4, EUX-2: sends the invitation (notifications outbox: e-mail and webhook) to every one of these
   * people whose Apple user is Registered with an invite code not invited yet. The message and the
   * `invited_code` commit together, so a restarted worker never invites twice for the same code.
   */
  async function inviteUsers(tenantId: string, tokenId: string, userIds: readonly string[]): Promise<number> {
    const rows = (await repo.appleUsersToInvite(tenantId, tokenId, userIds)).filter(
      (r) => r.status === "Registered" && r.invite_code && r.invited_code !== r.invite_code,
    );
    if (rows.length === 0 || !deps.enqueueUserMessage) return 0;
    const template = await deps.invitationTemplate?.();
    if (!template) {
      log().warn(
        { tenantId, tokenId },
        "Apple's service config has no invitation link (urls.invitationEmail); invitations wait",
      );
      return 0;
    }
    const enqueue = deps.enqueueUserMessage;
    for (let i = 0; i < rows.length; i += INVITE_CHUNK) {
      const part = rows.slice(i, i + INVITE_CHUNK);
      const at = new Date(now());
      await db.transaction().execute(async (trx) => {
        for (const r of part) {
          const url = invitationUrlOf(template, r.invite_code as string);
          await enqueue(trx, tenantId, {
            userId: r.user_id as string,
            kind: "appInvitation",
            subject: "Accept your invitation to receive apps from your organization",
            body:
              `Hello ${r.display_name},\n\n` +
              "Your organization assigns you apps and books through Apple's volume purchase program. " +
              "To receive them, open this link on your device and sign in with your Apple Account:\n\n" +
              `${url}\n\n` +
              "Accepting links your Apple Account to your organization's program (Apple asks you to agree to its terms). " +
              "Your organization does not see your Apple Account's personal data.",
            data: { vppTokenId: tokenId, clientUserId: r.client_user_id, invitationUrl: url },
          });
          await repo.markInvited(trx, tenantId, tokenId, r.client_user_id, r.invite_code as string, url, at);
        }
      });
    }
    // Apple users are part of the directory index, and Allot's own writes of them are not directory changes.
    if (rows.length > 0) directories.invalidate(tenantId);
    return rows.length;
  }

  /**
   * The engine's Apple-user operations (ENG-4): `registerUser` creates the user at Apple (users/create;
   * clientUserId = the person's id: one Apple user per person and token), reads its invite code back and
   * invites it; `inviteUser` (Registered, not invited for its current code) reads and invites. Safe to
   * run again after a crash: Apple refuses a second create of an active user (9716, read back like a
   * success) and an invitation is keyed by its code.
   */
  async function registerUsers(tenantId: string, ops: OperationRow[]) {
    const byToken = new Map<string, OperationRow[]>();
    for (const o of ops)
      if (o.kind === "registerUser" || o.kind === "inviteUser")
        byToken.set(o.token_id, [...(byToken.get(o.token_id) ?? []), o]);
    for (const [tokenId, list] of byToken) {
      const apple = await tokens.appleFor(tenantId, tokenId);
      const at = () => new Date(now());
      await repo.markOperations(
        db,
        tenantId,
        list.map((o) => o.id),
        { state: "sending", attempt: true },
        at(),
      );
      const clientIdOf = (o: OperationRow) => o.store_key ?? (o.holder_id as string);
      const toCreate = [...new Set(list.filter((o) => o.kind === "registerUser").map(clientIdOf))];
      const refused = new Map<string, number>();
      if (toCreate.length > 0) {
        const r = await apple.createUsers(toCreate.map((clientUserId) => ({ clientUserId })));
        for (const e of r.events) {
          const st = await apple.waitForEvent(e.eventId, { intervalsMs: [deps.eventPollMs] });
          for (const f of st.failures ?? [])
            for (const id of f.errorInfo?.clientUserIds ?? [])
              if (f.errorNumber !== 9716) refused.set(id, f.errorNumber);
        }
      }
      // Read every user back: the invite code (Registered) or the association (Associated) is only there.
      const known = await readAppleUsers(apple, [...new Set(list.map(clientIdOf))]);
      const done: string[] = [];
      const invite = new Set<string>();
      const failed = new Map<string, string>();
      for (const o of list) {
        const id = clientIdOf(o);
        const u = known.get(id);
        if (refused.has(id))
          failed.set(o.id, `Apple refused to register the user (error ${refused.get(id)})`);
        else if (!u || u.status === "Retired" || u.status === "Deleted")
          failed.set(o.id, "Apple has no active user with this clientUserId");
        if (failed.has(o.id) || !u) continue;
        const user = {
          clientUserId: u.clientUserId,
          status: u.status,
          inviteCode: u.inviteCode ?? null,
          idHash: u.idHash ?? null,
          email: u.email ?? null,
        };
        await repo.upsertAppleUser(tenantId, tokenId, o.holder_id as string, user, at());
        invite.add(o.holder_id as string);
        done.push(o.id);
      }
      if (invite.size > 0) directories.invalidate(tenantId);
      await inviteUsers(tenantId, tokenId, [...invite]);
      await repo.markOperations(db, tenantId, done, { state: "done" }, at());
      for (const [id, error] of failed)
        await repo.markOperations(db, tenantId, [id], { state: "failed", error }, at());
    }
  }

  const draining = new Map<string, Promise<number>>();

  /** Sends every open operation of the tenant (resuming interrupted batches first). Returns operations handled. */
  async function drainOutbox(tenantId: string): Promise<number> {
    const running = draining.get(tenantId);
    if (running) return running;
    const p = (async () => {
      // A reconcile of this tenant writing its plan goes first: the outbox then groups the whole plan's
      // writes (fewer Apple requests), and does not compete with the ledger writes for the database.
      await tenantLocks.get(tenantId);
      let handled = 0;
      // Apps whose settlements freed licenses (releases) or put holders back in the queue: planned again
      // once the outbox has nothing ready (a plan reads the whole directory: once per drain, not per round).
      const touched = new Set<string>();
      // Mirror rows that are now the ledger's own (SYNC-4): at most every TRACK_EVERY_MS while the outbox
      // drains (it joins the whole ledger), and once at the end.
      const tokensSent = new Set<string>();
      let trackedAt = performance.now();
      const markTracked = async () => {
        for (const tokenId of tokensSent) {
          await repo.markTracked(db, tenantId, tokenId);
          await deps.refreshUntrackedCounts(tenantId, tokenId);
        }
        tokensSent.clear();
        trackedAt = performance.now();
      };
      for (let round = 0; round < 100; round++) {
        const roundStarted = performance.now();
        const interrupted = await repo.openOperations(tenantId, ["sending", "sent"], OUTBOX_ROUND);
        // Apple users first, all of them at once: one walk of Apple's users reads back every new one
        // (their licenses wait for the invitation anyway), instead of one walk per round. (With
        // interrupted operations, only whether there are any: they come in the next round.)
        const users = await repo.openOperations(
          tenantId,
          ["pending"],
          interrupted.length > 0 ? 1 : USER_ROUND,
          ["registerUser", "inviteUser"],
        );
        // Pending store writes go out with the interrupted ones (resumeInterrupted), unless Apple users
        // must be registered first.
        const pending =
          users.length > 0
            ? []
            : wholeApps(
                await repo.openOperations(tenantId, ["pending"], OUTBOX_ROUND, [
                  "associate",
                  "disassociate",
                  "revoke",
                ]),
              );
        if (interrupted.length === 0 && users.length === 0 && pending.length === 0) {
          if (tokensSent.size > 0) await markTracked();
          if (touched.size === 0) break;
          const apps = [...touched];
          touched.clear();
          await serialized(tenantId, () => reconcileApps(tenantId, apps));
          continue;
        }
        const ops = interrupted.length > 0 ? interrupted : users.length > 0 ? users : pending;
        const read = performance.now();
        await registerUsers(tenantId, ops);
        const batches = batchesOf(tenantId, ops);
        const fresh = interrupted.length > 0 ? batchesOf(tenantId, pending) : [];
        if (interrupted.length > 0) for (const a of await resumeInterrupted(batches, fresh)) touched.add(a);
        else for (const b of batches) for (const a of await sendBatch(b)) touched.add(a);
        for (const b of [...batches, ...fresh]) tokensSent.add(b.tokenId);
        handled += ops.length + (interrupted.length > 0 ? pending.length : 0);
        const sent = performance.now();
        if (tokensSent.size > 0 && performance.now() - trackedAt >= TRACK_EVERY_MS) await markTracked();
        // Where a drain's time goes, round by round (reads of the outbox, Apple and settlement, tracking).
        log().info(
          {
            tenantId,
            round,
            interrupted: interrupted.length,
            users: users.length,
            pending: pending.length,
            readMs: Math.round(read - roundStarted),
            sendMs: Math.round(sent - read),
            trackMs: Math.round(performance.now() - sent),
          },
          "outbox round",
        );
      }
      if (tokensSent.size > 0) await markTracked();
      return handled;
    })();
    draining.set(tenantId, p);
    try {
      return await p;
    } finally {
      draining.delete(tenantId);
    }
  }

  // ---------------------------------------------------------------- directory changes

  /**
   * The users and devices a batch of directory changes touched, when an incremental plan covers them:
   * memberships of users and devices, users created, enabled or disabled, devices created, in small
   * numbers. Nesting changes, deletions and primary-user changes (the previous links are not in the
   * change record) are planned in full.
   */
  function incrementalChangeOf(
    changes: readonly { change_type: string; object_type: string; object_id: string }[],
  ) {
    const users = new Set<string>();
    const devices = new Set<string>();
    for (const c of changes) {
      if (!INCREMENTAL_CHANGES.has(c.change_type) || (c.object_type !== "user" && c.object_type !== "device"))
        return null;
      (c.object_type === "user" ? users : devices).add(c.object_id);
    }
    return users.size + devices.size <= INCREMENTAL_MAX_OBJECTS
      ? { users: [...users], devices: [...devices] }
      : null;
  }

  /**
   * Incremental reconcile (ENG-8): reads only what the change needs (src/engine/slice.ts, in SQL) and
   * re-plans the affected holders of each app with planAppIncremental; an app whose stored queue head
   * is too short, or whose ledger disagrees with its counts, is planned in full instead.
   */
  /**
   * Plans `appIds` for the holders `changed` touches only (src/engine/slice.ts, in SQL): the directory
   * slice of those users and devices, and per app their ledger rows, installs, the app's counts and
   * the head of its queue. `onPlan` gets each app's plan in turn; apps that need a full plan (stored
   * queue head too short) are returned in `full`. Shared by the incremental reconcile and the MDM bridge.
   */
  async function planSlice(
    tenantId: string,
    appIds: readonly string[],
    changed: { users: string[]; devices: string[] },
    at: number,
    onPlan: (app: LedgerAppRow, plan: IncrementalPlan, assignments: EngineAssignment[]) => Promise<void>,
  ) {
    const started = performance.now();
    // Independent reads go out together (PostgreSQL runs them on several connections; PGlite queues them).
    const [apps, slice] = await Promise.all([
      repo.loadApps(db, tenantId, appIds),
      repo.loadDirectorySlice(tenantId, changed),
    ]);
    const ix = buildDirectoryIndex(slice);
    const affected = affectedHolders(ix, changed);
    const holders = { users: [...affected.users], devices: [...affected.devices] };
    const timing = { sliceMs: performance.now() - started, readMs: 0, planMs: 0, onPlanMs: 0 };
    const full: string[] = [];
    // Every app's reads go out at once (PostgreSQL spreads them over the pool; PGlite queues them);
    // the apps are then planned and written one by one.
    const readsOf = async (app: LedgerAppRow) => {
      const [externally, loaded, ledgerCounts, { requests, installs }, assignments] = await Promise.all([
        repo.externallyConsumed(tenantId, app),
        repo.loadHoldingsOf(tenantId, app.id, holders),
        repo.ledgerCounts(tenantId, app.id),
        repo.loadInstalls(tenantId, app.id, holders.devices),
        repo.loadAssignments(tenantId, app.id),
      ]);
      const engineApp = engineAppOf(app, externally);
      const [holdings, head] = await Promise.all([
        deps.adjustHoldings ? deps.adjustHoldings(tenantId, app.id, loaded) : loaded,
        repo.queueHead(
          tenantId,
          app.id,
          queueHeadSize(capacityOf(engineApp), ledgerCounts.consuming, holders.users.length + holders.devices.length),
        ),
      ]);
      return { engineApp, holdings, head, requests, installs, assignments, ledgerCounts };
    };
    const reads = apps.map(readsOf);
    // A failed read is thrown where its app is reached; the others are not reported as unhandled.
    for (const r of reads) r.catch(() => undefined);
    for (const [i, app] of apps.entries()) {
      const t0 = performance.now();
      const { engineApp, holdings, head, requests, installs, assignments, ledgerCounts } = await (reads[i] as ReturnType<
        typeof readsOf
      >);
      timing.readMs += performance.now() - t0; // the time spent waiting for reads
      const t1 = performance.now();
      let plan: IncrementalPlan;
      try {
        plan = planAppIncremental(
          ix,
          {
            app: engineApp,
            assignments,
            holdings,
            installRequests: requests,
            installs,
            changed,
            ledgerCounts,
            queue: head.rows,
            queueComplete: head.complete,
          },
          {
            now: at,
            ...(deps.uninstallTimeoutMs !== undefined ? { uninstallTimeoutMs: deps.uninstallTimeoutMs } : {}),
          },
        );
      } catch (err) {
        if (!(err instanceof EngineInputError)) throw err;
        full.push(app.id);
        continue;
      }
      const t2 = performance.now();
      timing.planMs += t2 - t1;
      await onPlan(app, plan, assignments);
      timing.onPlanMs += performance.now() - t2;
    }
    return { apps, full, timing };
  }

  async function reconcileIncremental(
    tenantId: string,
    appIds: readonly string[],
    changed: { users: string[]; devices: string[] },
  ) {
    if (appIds.length === 0) return;
    const started = performance.now();
    const at = now();
    const userOps = await repo.openAppleUserOperations(tenantId);
    let written = 0;
    // The affected apps' rows are written together, in chunks of APPLY_CHUNK holdings: one transaction
    // (one WAL flush) for a typical change instead of one per app.
    const writes: HoldingWrite[] = [];
    const ops: OperationInsert[] = [];
    const flush = async () => {
      if (writes.length === 0 && ops.length === 0) return;
      await repo.writeChunk(tenantId, writes.splice(0), ops.splice(0), new Date(at));
    };
    const { apps, full, timing } = await planSlice(tenantId, appIds, changed, at, async (app, plan) => {
      written += (
        await persistPlan(tenantId, app, plan, userOps, at, async (w, o) => {
          writes.push(...w);
          ops.push(...o);
          if (writes.length >= APPLY_CHUNK) await flush();
        })
      ).changed;
    });
    const t0 = performance.now();
    await flush();
    timing.onPlanMs += performance.now() - t0;
    await noteWrites({ holdings: written, events: written, operations: written });
    if (full.length > 0) await reconcileApps(tenantId, full);
    const ms = (x: number) => Math.round(x);
    log().info(
      {
        tenantId,
        apps: apps.length,
        fullPlans: full.length,
        changed: written,
        ms: ms(performance.now() - started),
        sliceMs: ms(timing.sliceMs),
        readMs: ms(timing.readMs),
        planMs: ms(timing.planMs),
        persistMs: ms(timing.onPlanMs),
      },
      "licenses reconciled incrementally",
    );
    afterReconcile(
      tenantId,
      apps.map((a) => a.id).filter((id) => !full.includes(id)),
    );
  }

  async function processDirectoryChanges(tenantId: string): Promise<{ changes: number; apps: number }> {
    return serialized(tenantId, async () => {
      const started = performance.now();
      const changes = await repo.pendingDirectoryChanges(tenantId, 50_000);
      if (changes.length === 0) return { changes: 0, apps: 0 };
      const objects = [...new Set(changes.map((c) => c.object_id))];
      const groups = [...new Set(changes.map((c) => c.group_id).filter((g): g is string => g !== null))];
      const apps = await repo.affectedApps(tenantId, objects, groups);
      const found = performance.now();
      const changed = incrementalChangeOf(changes);
      if (changed) await reconcileIncremental(tenantId, apps, changed);
      else await reconcileApps(tenantId, apps);
      await repo.setDirectoryCursor(tenantId, Number(changes[changes.length - 1].seq));
      log().info(
        {
          tenantId,
          changes: changes.length,
          apps: apps.length,
          incremental: changed !== null,
          ms: Math.round(performance.now() - started),
          findMs: Math.round(found - started),
        },
        "directory changes reconciled",
      );
      return { changes: changes.length, apps: apps.length };
    });
  }

  return {
    /** Runs `listener` after every reconcile with the apps planned (after their ledger rows are written). */
    onReconciled(listener: (tenantId: string, appIds: string[]) => Promise<unknown>) {
      reconciledListeners.push(listener);
    },
    /** Resolves once every listener run started so far has ended (before the database closes). */
    async listenersIdle(): Promise<void> {
      while (listenerChains.size > 0) await Promise.all(listenerChains.values());
    },
    /**
     * Plans apps for the holders `changed` touches only, without writing (the MDM bridge takes its
     * device commands from these plans); apps that need a full plan come back in `full`.
     */
    planSlice(
      tenantId: string,
      appIds: readonly string[],
      changed: { users: string[]; devices: string[] },
      onPlan: (app: LedgerAppRow, plan: IncrementalPlan, assignments: EngineAssignment[]) => Promise<void>,
    ) {
      return planSlice(tenantId, appIds, changed, now(), onPlan);
    },
    /** Plans one app and writes the plan (holdings, history, outbox) in chunks. */
    reconcileApp(tenantId: string, appId: string) {
      return serialized(tenantId, async () => (await reconcileApps(tenantId, [appId]))[0]);
    },
    /** Every app with assignments or ledger rows, the directory indexed once. */
    reconcileAll(tenantId: string) {
      return serialized(tenantId, async () => reconcileApps(tenantId, await repo.appsInScope(tenantId)));
    },
    reconcileApps(tenantId: string, appIds: readonly string[]) {
      return serialized(tenantId, () => reconcileApps(tenantId, appIds));
    },
    processDirectoryChanges,
    drainOutbox,
    tenantsWithDirectoryChanges: () => repo.tenantsWithDirectoryChanges(),
    tenantsWithOpenOperations: () => repo.tenantsWithOpenOperations(),
  };
}
export type LicensesService = ReturnType<typeof createLicensesService>;

// Background jobs: pg-boss 12 on either engine.
//
// - PostgreSQL: pg-boss's own small pool on the same database (its schema `pgboss`), with
//   LISTEN/NOTIFY so a worker wakes the moment a job is sent.
// - PGlite: pg-boss's PGlite adapter (`fromPglite`) over the one embedded instance. Every pg-boss
//   statement goes through PGlite's own lock, so it waits while a Kysely transaction holds the
//   session and never runs inside one. The consequence for callers: never `send` from inside a
//   `db.transaction()` callback on PGlite (it would wait for the transaction that waits for it) —
//   send after the commit.
//
// Producers (`send`, `schedule`) work in every RUN_MODE; consumers (`work`) and pg-boss's
// supervision/cron run only when the mode is `all` or `worker`, so an `api` process never takes
// jobs. Job names and payloads are typed by JobMap (src/jobs/jobs.ts).

import { sql } from "kysely";
import pg from "pg";
import { fromPglite, type Job, PgBoss, type QueuePolicy } from "pg-boss";
import type { Database } from "../db/database.ts";
import type { JobMap, JobName } from "./jobs.ts";

export type RunMode = "all" | "api" | "worker";

export interface QueueLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface QueueDefinition {
  policy?: QueuePolicy;
  retryLimit?: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  /** Seconds a job may stay active before pg-boss retries it. */
  expireInSeconds?: number;
  deleteAfterSeconds?: number;
}

export interface SendOptions {
  /** With a singleton/stately queue policy: at most one queued (and one active) job per key. */
  singletonKey?: string;
  /** Seconds from now, or a date. */
  startAfter?: number | Date;
  retryLimit?: number;
  /**
   * pg-boss group id: a worker with `groupConcurrency` runs at most that many jobs of one group at
   * once, checked in the database at every fetch (unlike the singleton/stately exclusion, which a
   * worker applies from queue statistics refreshed only every minute or so).
   */
  group?: string;
}

export interface WorkOptions {
  /** Jobs of this queue processed at once by this process. */
  concurrency?: number;
  pollingIntervalSeconds?: number;
  /**
   * Polling while LISTEN/NOTIFY is up (it wakes workers when a job is created, not when a deferred
   * job comes due): queues of deferred jobs want this as short as their delays.
   */
  notifyPollingIntervalSeconds?: number;
  /** At most this many jobs of one `group` active at once, across all processes. */
  groupConcurrency?: number;
}

export type JobHandler<K extends JobName> = (
  data: JobMap[K],
  job: { id: string; signal: AbortSignal; retryCount: number },
) => Promise<void>;

export interface Queue {
  readonly runMode: RunMode;
  /** True when this process runs consumers (RUN_MODE all or worker). */
  readonly consumes: boolean;
  /** Declares a queue (idempotent). Call before start(). */
  define(name: JobName, definition?: QueueDefinition): void;
  /** Registers a consumer; started by start() (or at once when already started). Ignored in api mode. */
  work<K extends JobName>(name: K, handler: JobHandler<K>, options?: WorkOptions): void;
  /** Sends a job; returns its id, or null when a singleton/stately policy dropped it as a duplicate. */
  send<K extends JobName>(name: K, data: JobMap[K], options?: SendOptions): Promise<string | null>;
  /** A cron schedule (UTC) that sends `data` to `name`; one per (name, key) across all processes. */
  schedule<K extends JobName>(
    name: K,
    cron: string,
    data: JobMap[K],
    options?: { key?: string },
  ): Promise<void>;
  unschedule(name: JobName, key?: string): Promise<void>;
  start(): Promise<void>;
  /** Stops consumers (waiting up to `timeoutMs` for running jobs) and closes pg-boss's connections. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface QueueOptions {
  database: Database;
  runMode: RunMode;
  logger: QueueLogger;
}

/** PostgreSQL: a job whose worker sent no heartbeat for this long is failed (and retried) by pg-boss's monitor. */
const HEARTBEAT_SECONDS = 10;
const STALE_CHECK_MS = 10_000;
/**
 * PostgreSQL: the advisory lock every process that runs jobs holds (shared) for as long as it runs
 * them, on a connection of its own. A process that gets it exclusively at start knows that no other
 * one runs jobs on this database.
 */
const WORKERS_LOCK = 7_416_111_004_201n;

export function createQueue(options: QueueOptions): Queue {
  const { database, runMode, logger } = options;
  const consumes = runMode !== "api";
  const definitions = new Map<JobName, QueueDefinition>();
  const workers: { name: JobName; handler: JobHandler<JobName>; options: WorkOptions }[] = [];
  let boss: PgBoss | undefined;
  let starting: Promise<void> | undefined;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();

  function makeBoss(): PgBoss {
    const common = {
      // Supervision (expiry, retention) and cron belong to the processes that run jobs.
      supervise: consumes,
      schedule: consumes,
      useListenNotify: true,
      // Keep pg-boss's housekeeping light: it shares the database with the API.
      monitorIntervalSeconds: 60,
      maintenanceIntervalSeconds: 120,
    } as const;
    if (database.kind === "pglite") {
      if (!database.pglite) throw new Error("the embedded database handle is missing");
      return new PgBoss({ ...common, db: fromPglite(database.pglite), backend: "pglite" });
    }
    const connectionString = database.pool?.options.connectionString;
    if (!connectionString) throw new Error("the PostgreSQL pool has no connection string for the job queue");
    return new PgBoss({ ...common, connectionString, max: 4, application_name: "allot-jobs" });
  }

  async function startWorker(b: PgBoss, w: (typeof workers)[number]) {
    await b.work<JobMap[JobName]>(
      w.name,
      {
        localConcurrency: w.options.concurrency ?? 1,
        pollingIntervalSeconds: w.options.pollingIntervalSeconds ?? 2,
        notifyPollingIntervalSeconds: w.options.notifyPollingIntervalSeconds ?? 30,
        batchSize: 1,
        ...(w.options.groupConcurrency !== undefined ? { groupConcurrency: w.options.groupConcurrency } : {}),
      },
      async (jobs: Job<JobMap[JobName]>[]) => {
        for (const job of jobs) {
          const run = w.handler(job.data, { id: job.id, signal: job.signal, retryCount: job.retryCount });
          inFlight.add(run);
          try {
            await run;
          } finally {
            inFlight.delete(run);
          }
        }
      },
    );
  }

  // A process killed mid-job leaves its jobs `active`. With a stately/singleton policy such a job
  // blocks every later job of its key until it expires (an hour for the outbox), so a restarted
  // process would sit idle. Such jobs are failed, which gives them their retry:
  // - PGlite: this process is the only one (the data directory's lock), so whatever is active at
  //   start was orphaned;
  // - PostgreSQL (several processes may share the queue): every process running jobs holds the
  //   WORKERS_LOCK advisory lock (shared); one that gets it exclusively at start is the only one, so
  //   whatever is active was orphaned (a restarted process resumes at once, as on PGlite). While others
  //   run, workers send heartbeats, and a 10 s check fails jobs that missed three (a busy event loop is
  //   not a dead process) — pg-boss's own monitor would do it only on its minute-long cadence. One
  //   indexed query over the few active jobs.
  const heartbeatSeconds = database.kind === "postgres" ? HEARTBEAT_SECONDS : undefined;
  let staleTimer: NodeJS.Timeout | undefined;
  let workersLock: pg.Client | undefined;
  async function failOrphans(b: PgBoss, which: "all active" | "stale heartbeat") {
    const names = [...definitions.keys()];
    const stale =
      which === "stale heartbeat"
        ? sql`and heartbeat_seconds is not null
            and coalesce(heartbeat_on, started_on) < now() - make_interval(secs => heartbeat_seconds * 3)`
        : sql``;
    const rows = await sql<{ id: string; name: string }>`
      select id, name from pgboss.job where state = 'active' and name = any(${names}::text[]) ${stale}`.execute(
      database.db,
    );
    const byQueue = new Map<string, string[]>();
    for (const r of rows.rows) byQueue.set(r.name, [...(byQueue.get(r.name) ?? []), r.id]);
    for (const [name, ids] of byQueue) {
      // Failing gives the job its retry (a sync asked for is not lost); cancel if the retry slot is taken.
      await b.fail(name, ids, { message: "the process running it stopped" }).catch(() => b.cancel(name, ids));
      logger.warn(
        { queue: name, jobs: ids.length },
        "jobs left running by a stopped process were failed for retry",
      );
    }
  }

  /**
   * PostgreSQL: takes WORKERS_LOCK (shared) on a connection of its own, held until stop. `atStart` it
   * first tries the lock exclusively: when no other process holds it, every active job belongs to a
   * stopped process and is failed for retry at once. A lost lock connection is replaced.
   */
  async function holdWorkersLock(b: PgBoss, atStart: boolean): Promise<void> {
    const client = new pg.Client({
      connectionString: database.pool?.options.connectionString,
      application_name: "allot-jobs-lock",
    });
    client.on("error", () => undefined); // until the lock is held, errors reject the calls below
    const key = WORKERS_LOCK.toString();
    try {
      await client.connect();
      if (atStart) {
        const { rows } = await client.query<{ alone: boolean }>("select pg_try_advisory_lock($1) as alone", [
          key,
        ]);
        if (rows[0]?.alone) {
          try {
            await failOrphans(b, "all active");
          } finally {
            await client.query("select pg_advisory_unlock($1)", [key]);
          }
        }
      }
      await client.query("select pg_advisory_lock_shared($1)", [key]);
    } catch (err) {
      client.end().catch(() => undefined);
      throw err;
    }
    workersLock = client;
    const onLost = (err?: unknown) => {
      if (workersLock !== client) return;
      workersLock = undefined;
      client.end().catch(() => undefined);
      if (stopped) return;
      logger.warn({ err }, "the job workers' lock connection was lost; taking the lock again");
      retakeWorkersLock(b);
    };
    client.on("error", onLost);
    client.on("end", () => onLost());
  }

  function retakeWorkersLock(b: PgBoss): void {
    setTimeout(() => {
      if (stopped) return;
      holdWorkersLock(b, false).catch((err) => {
        logger.warn({ err }, "taking the job workers' lock again failed; retrying");
        retakeWorkersLock(b);
      });
    }, 5000).unref();
  }

  function requireBoss(): PgBoss {
    if (!boss || stopped) throw new Error("the job queue is not running");
    return boss;
  }

  return {
    runMode,
    consumes,
    define(name, definition = {}) {
      if (boss) throw new Error(`queue ${name} must be defined before the job queue starts`);
      definitions.set(name, definition);
    },
    work(name, handler, workOptions = {}) {
      if (!consumes) return;
      const w = { name, handler: handler as JobHandler<JobName>, options: workOptions };
      workers.push(w);
      if (boss && !stopped)
        void startWorker(boss, w).catch((err) =>
          logger.error({ err, queue: name }, "starting a job worker failed"),
        );
    },
    async send(name, data, sendOptions = {}) {
      const b = requireBoss();
      const opts: Record<string, unknown> = {};
      if (sendOptions.singletonKey !== undefined) opts.singletonKey = sendOptions.singletonKey;
      if (sendOptions.retryLimit !== undefined) opts.retryLimit = sendOptions.retryLimit;
      if (sendOptions.startAfter !== undefined) opts.startAfter = sendOptions.startAfter;
      if (sendOptions.group !== undefined) opts.group = { id: sendOptions.group };
      return b.send(name, data as object, opts);
    },
    async schedule(name, cron, data, scheduleOptions = {}) {
      await requireBoss().schedule(name, cron, data as object, {
        tz: "UTC",
        ...(scheduleOptions.key ? { key: scheduleOptions.key } : {}),
      });
    },
    async unschedule(name, key) {
      await requireBoss().unschedule(name, key);
    },
    start() {
      starting ??= (async () => {
        const b = makeBoss();
        b.on("error", (err) => logger.error({ err }, "job queue error"));
        b.on("warning", (warning) => logger.warn({ warning }, "job queue warning"));
        await b.start();
        for (const [name, d] of definitions) {
          const queue = {
            policy: d.policy ?? "standard",
            notify: true,
            retryLimit: d.retryLimit ?? 2,
            retryDelay: d.retryDelay ?? 5,
            retryBackoff: d.retryBackoff ?? true,
            expireInSeconds: d.expireInSeconds ?? 900,
            deleteAfterSeconds: d.deleteAfterSeconds ?? 3 * 86400,
          };
          const existing = await b.getQueue(name);
          if (existing)
            await b.updateQueue(name, {
              retryLimit: queue.retryLimit,
              retryDelay: queue.retryDelay,
              retryBackoff: queue.retryBackoff,
              expireInSeconds: queue.expireInSeconds,
              deleteAfterSeconds: queue.deleteAfterSeconds,
              heartbeatSeconds: heartbeatSeconds ?? null,
            });
          else await b.createQueue(name, { ...queue, ...(heartbeatSeconds ? { heartbeatSeconds } : {}) });
        }
        if (consumes && database.kind === "pglite") await failOrphans(b, "all active");
        if (consumes && database.kind === "postgres") {
          await holdWorkersLock(b, true);
          staleTimer = setInterval(
            () =>
              void failOrphans(b, "stale heartbeat").catch((err) =>
                logger.warn({ err }, "checking for stalled jobs failed"),
              ),
            STALE_CHECK_MS,
          );
          staleTimer.unref();
        }
        boss = b;
        for (const w of workers) await startWorker(b, w);
        logger.info({ runMode, consumers: consumes ? workers.map((w) => w.name) : [] }, "job queue started");
      })();
      return starting;
    },
    async stop(timeoutMs = 10_000) {
      if (stopped) return;
      stopped = true;
      clearInterval(staleTimer);
      await starting?.catch(() => undefined);
      // Released once this process runs no job any more (or never ran one).
      const releaseWorkersLock = async () => {
        const client = workersLock;
        workersLock = undefined;
        await client?.end().catch(() => undefined);
      };
      if (!boss) return releaseWorkersLock();
      await boss
        .stop({ graceful: true, timeout: timeoutMs, close: true })
        .catch((err) => logger.warn({ err }, "stopping the job queue failed"));
      // pg-boss aborted the signals of jobs still running after the timeout; give them a moment to
      // unwind before the caller closes the database under them.
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...inFlight]),
          new Promise((resolve) => (timer = setTimeout(resolve, 5000))),
        ]);
        clearTimeout(timer);
      }
      await releaseWorkersLock();
    },
  };
}

// The sync module's background jobs: queues, consumers (only in RUN_MODE all|worker, the queue
// decides) and cron schedules.
import type { Queue } from "../../jobs/queue.ts";
import type { SyncService, SyncTokensPort } from "./sync.service.ts";

const SYNC_RETRIES = 3;
const SYNC_POLL_SECONDS = 1;
/** Syncs (of different tokens) one process runs at once. */
export const DEFAULT_SYNC_CONCURRENCY = 8;

export function defineSyncJobs(
  queue: Queue,
  deps: { syncService: SyncService; tokens: SyncTokensPort; eventPollSeconds: number; concurrency?: number },
) {
  const { syncService, tokens } = deps;
  // One queued and one running sync per token at most: "short" keeps one queued job per singletonKey
  // (= token id), and the worker's groupConcurrency 1 (group = token id) lets one run at a time.
  // Not "stately": its one-running rule is applied by workers from pg-boss's cached queue statistics
  // (refreshed about once a minute), so a sync asked for right after a long one of the same token
  // waited up to two minutes although nothing was running any more.
  queue.define("apple-sync", {
    policy: "short",
    retryLimit: SYNC_RETRIES,
    retryDelay: 30,
    retryBackoff: true,
    expireInSeconds: 4 * 3600,
  });
  queue.define("apple-sync-due", { policy: "stately", retryLimit: 0, expireInSeconds: 300 });
  queue.define("apple-event-poll", { retryLimit: 3, retryDelay: 30, expireInSeconds: 300 });
  queue.define("token-expiry-check", { policy: "stately", retryLimit: 2, expireInSeconds: 900 });
  queue.define("sync-housekeeping", { policy: "stately", retryLimit: 1, expireInSeconds: 900 });

  queue.work(
    "apple-sync",
    async (data, job) => {
      await syncService.runSync(data, {
        signal: job.signal,
        jobId: job.id,
        lastAttempt: job.retryCount >= SYNC_RETRIES,
      });
    },
    {
      concurrency: deps.concurrency ?? DEFAULT_SYNC_CONCURRENCY,
      groupConcurrency: 1,
      // pg-boss does not fetch again as soon as a job ends (no burst at batch size 1): a worker
      // waits out the polling interval first, so with the 30 s default a backlog of syncs (many
      // tokens at once) drained at 8 tokens per 30 s. Syncs are mostly waiting on Apple's rate
      // limit; a short interval keeps every worker busy for one cheap indexed query per tick.
      pollingIntervalSeconds: SYNC_POLL_SECONDS,
      notifyPollingIntervalSeconds: SYNC_POLL_SECONDS,
    },
  );
  queue.work("apple-sync-due", async () => {
    await syncService.scheduleDue();
  });
  // Polls are deferred jobs: look for due ones about as often as they fall due.
  const pollEvery = Math.max(0.5, Math.min(5, deps.eventPollSeconds / 2));
  queue.work(
    "apple-event-poll",
    async (data) => {
      await syncService.pollEvent(data);
    },
    { concurrency: 4, pollingIntervalSeconds: pollEvery, notifyPollingIntervalSeconds: pollEvery },
  );
  queue.work("token-expiry-check", async () => {
    await tokens.checkExpiries();
  });
  queue.work("sync-housekeeping", async () => {
    await syncService.housekeeping();
  });
}

/** Cron schedules (UTC), set by the processes that run jobs; pg-boss keeps one per name across processes. */
export async function scheduleSyncJobs(queue: Queue): Promise<void> {
  if (!queue.consumes) return;
  await queue.schedule("apple-sync-due", "* * * * *", {});
  await queue.schedule("token-expiry-check", "17 6 * * *", {});
  await queue.schedule("sync-housekeeping", "43 3 * * *", {});
}

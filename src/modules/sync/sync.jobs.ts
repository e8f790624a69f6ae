// The sync module's background jobs: queues, consumers (only in RUN_MODE all|worker, the queue
// decides) and cron schedules.
import type { Queue } from "../../jobs/queue.ts";
import type { SyncService, SyncTokensPort } from "./sync.service.ts";

const SYNC_RETRIES = 3;

export function defineSyncJobs(
  queue: Queue,
  deps: { syncService: SyncService; tokens: SyncTokensPort; eventPollSeconds: number; concurrency?: number },
) {
  const { syncService, tokens } = deps;
  // One queued and one running sync per token at most (stately + singletonKey = token id).
  queue.define("apple-sync", {
    policy: "stately",
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
    { concurrency: deps.concurrency ?? 8 },
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

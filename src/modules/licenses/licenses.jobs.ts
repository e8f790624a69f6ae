// The license ledger's background jobs: reconcile (one app or all), directory changes, the outbox
// worker, and a sweep that resumes whatever a stopped process left (outbox batches marked sending,
// unread directory changes). Consumers run only in RUN_MODE all|worker (the queue decides).
import { watchTenantsWithWork } from "../../jobs/watch.ts";
import type { Queue } from "../../jobs/queue.ts";
import type { LicensesService } from "./licenses.service.ts";

export function defineLicenseJobs(queue: Queue, deps: { licensesService: LicensesService; pollSeconds: number }) {
  const { licensesService: svc } = deps;
  const poll = { pollingIntervalSeconds: deps.pollSeconds, notifyPollingIntervalSeconds: deps.pollSeconds };
  queue.define("licenses-reconcile", { retryLimit: 3, retryDelay: 10, retryBackoff: true, expireInSeconds: 3600 });
  queue.define("licenses-directory", { policy: "stately", retryLimit: 3, retryDelay: 5, expireInSeconds: 3600 });
  queue.define("licenses-outbox", { policy: "stately", retryLimit: 5, retryDelay: 10, retryBackoff: true, expireInSeconds: 3600 });
  queue.define("licenses-sweep", { policy: "stately", retryLimit: 0, expireInSeconds: 300 });

  const kickOutbox = (tenantId: string) => queue.send("licenses-outbox", { tenantId }, { singletonKey: tenantId });
  queue.work(
    "licenses-reconcile",
    async (data) => {
      if (data.appId) await svc.reconcileApp(data.tenantId, data.appId);
      else await svc.reconcileAll(data.tenantId);
      await kickOutbox(data.tenantId);
    },
    poll,
  );
  queue.work(
    "licenses-directory",
    async (data) => {
      const r = await svc.processDirectoryChanges(data.tenantId);
      if (r.apps > 0) await kickOutbox(data.tenantId);
    },
    poll,
  );
  queue.work(
    "licenses-outbox",
    async (data) => {
      await svc.drainOutbox(data.tenantId);
    },
    poll,
  );
  queue.work("licenses-sweep", async () => {
    for (const t of await svc.tenantsWithOpenOperations()) await kickOutbox(t);
    for (const t of await svc.tenantsWithDirectoryChanges()) await queue.send("licenses-directory", { tenantId: t }, { singletonKey: t });
  });
}

export async function scheduleLicenseJobs(queue: Queue): Promise<void> {
  if (!queue.consumes) return;
  // Resume at once after a restart (a batch left `sending` is checked at Apple before anything is re-sent);
  // watchDirectoryChanges repeats the sweep every minute.
  await queue.send("licenses-sweep", {}, { singletonKey: "start" });
}

/**
 * Directory changes are frequent and small: a light in-process check (one indexed query) turns new
 * ones into a licenses-directory job within `everyMs`; once a minute it also queues the sweep that
 * resumes open outboxes. Returns a stop function.
 */
export function watchDirectoryChanges(queue: Queue, svc: LicensesService, everyMs: number, onError: (err: unknown) => void): () => void {
  const sweepEvery = Math.max(1, Math.round(60_000 / everyMs));
  return watchTenantsWithWork(
    queue,
    everyMs,
    () => svc.tenantsWithDirectoryChanges(),
    (t) => queue.send("licenses-directory", { tenantId: t }, { singletonKey: t }),
    onError,
    (tick) => {
      if (tick % sweepEvery === 0) queue.send("licenses-sweep", {}, { singletonKey: "sweep" }).catch(onError);
    },
  );
}

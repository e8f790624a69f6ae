// Delivery of notifications as a pg-boss job per tenant. A light in-process check (one indexed
// query) turns due deliveries — new ones committed by any transaction, and retries whose backoff
// has passed — into jobs; consumers run only in RUN_MODE all|worker.
import { watchTenantsWithWork } from "../../jobs/watch.ts";
import type { Queue } from "../../jobs/queue.ts";
import type { NotificationsService } from "./notifications.service.ts";

export function defineNotificationJobs(
  queue: Queue,
  deps: { notificationsService: NotificationsService; pollSeconds: number },
) {
  const poll = { pollingIntervalSeconds: deps.pollSeconds, notifyPollingIntervalSeconds: deps.pollSeconds };
  queue.define("notifications-deliver", {
    policy: "stately",
    retryLimit: 3,
    retryDelay: 5,
    expireInSeconds: 900,
  });
  queue.work(
    "notifications-deliver",
    async (data) => {
      await deps.notificationsService.deliverDue(data.tenantId);
    },
    poll,
  );
}

/** Checks every `everyMs` for due deliveries and queues a delivery job per tenant. Returns a stop function. */
export function watchDueNotifications(
  queue: Queue,
  svc: NotificationsService,
  everyMs: number,
  onError: (err: unknown) => void,
): () => void {
  return watchTenantsWithWork(
    queue,
    everyMs,
    () => svc.tenantsWithDueDeliveries(),
    (t) => queue.send("notifications-deliver", { tenantId: t }, { singletonKey: t }),
    onError,
  );
}

// The MDM bridge job: plan commands from new ledger events and deliver due commands, per tenant.
// A light in-process check turns pending work into jobs; consumers run only in RUN_MODE all|worker.
import { watchTenantsWithWork } from "../../jobs/watch.ts";
import type { Queue } from "../../jobs/queue.ts";
import type { MdmBridgeService } from "./mdm-bridge.service.ts";

export function defineMdmBridgeJobs(
  queue: Queue,
  deps: { mdmBridgeService: MdmBridgeService; pollSeconds: number },
) {
  const poll = { pollingIntervalSeconds: deps.pollSeconds, notifyPollingIntervalSeconds: deps.pollSeconds };
  queue.define("mdm-commands", { policy: "stately", retryLimit: 3, retryDelay: 5, expireInSeconds: 900 });
  queue.work(
    "mdm-commands",
    async (data) => {
      if (data.appId) await deps.mdmBridgeService.planCommands(data.tenantId, [data.appId]);
      await deps.mdmBridgeService.processLedgerEvents(data.tenantId);
      await deps.mdmBridgeService.deliverDue(data.tenantId);
    },
    poll,
  );
}

export function watchMdmBridge(
  queue: Queue,
  svc: MdmBridgeService,
  everyMs: number,
  onError: (err: unknown) => void,
): () => void {
  return watchTenantsWithWork(
    queue,
    everyMs,
    () => svc.tenantsWithWork(),
    (t) => queue.send("mdm-commands", { tenantId: t, appId: null }, { singletonKey: t }),
    onError,
  );
}

// A light in-process check that turns "some tenant has work" (one indexed query) into queued jobs,
// for work that is written inside other transactions (where a PGlite process cannot send a job).
// Runs only where jobs are consumed; never overlaps itself. Returns a stop function.
import type { Queue } from "./queue.ts";

export function watchTenantsWithWork(
  queue: Queue,
  everyMs: number,
  findTenants: () => Promise<string[]>,
  enqueue: (tenantId: string) => Promise<unknown>,
  onError: (err: unknown) => void,
  onTick?: (tick: number) => void,
): () => void {
  if (!queue.consumes) return () => {};
  let busy = false;
  let ticks = 0;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    onTick?.(++ticks);
    findTenants()
      .then(async (tenants) => {
        for (const t of tenants) await enqueue(t);
      })
      .catch(onError)
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

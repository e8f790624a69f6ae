// A bounded set of background tasks: submit() starts a task once fewer than `limit` run (so the
// caller, which prepares the next task meanwhile, is held back instead of piling up work), and
// drain() waits for all of them. The first failure is kept and thrown by submit() and drain().

export interface Bounded {
  submit(task: () => Promise<unknown>): Promise<void>;
  drain(): Promise<void>;
  /** Milliseconds during which at least one task was running (the union of their run times). */
  busyMs(): number;
}

export function createBounded(limit: number): Bounded {
  if (!(limit >= 1)) throw new Error(`limit must be at least 1, got ${limit}`);
  const running = new Set<Promise<unknown>>();
  let failure: { err: unknown } | undefined;
  let busy = 0;
  let busySince = 0;
  const check = () => {
    if (failure) throw failure.err;
  };
  return {
    async submit(task) {
      check();
      while (running.size >= limit) {
        await Promise.race(running);
        check();
      }
      if (running.size === 0) busySince = performance.now();
      const p: Promise<unknown> = task()
        .catch((err: unknown) => {
          failure ??= { err };
        })
        .finally(() => {
          running.delete(p);
          if (running.size === 0) busy += performance.now() - busySince;
        });
      running.add(p);
    },
    async drain() {
      while (running.size > 0) await Promise.race(running);
      check();
    },
    busyMs: () => busy + (running.size > 0 ? performance.now() - busySince : 0),
  };
}

// The shared whole-directory index (MDM-1): reused while the directory is unchanged, read again after
// a recorded change, an invalidation, or a while unused.
import { describe, expect, it, vi } from "vitest";
import { createDirectoryIndexes } from "./licenses.directory.ts";

function fakeRepo() {
  const state = { version: 1, loads: 0 };
  const repo = {
    directoryVersion: async () => state.version,
    loadDirectory: async () => {
      state.loads++;
      return { users: [], devices: [], memberships: [], appleUsers: [] } as never;
    },
  };
  return { state, repo };
}

describe("directory indexes", () => {
  it("reuses the index while no change is recorded, however long it is asked for", async () => {
    vi.useFakeTimers();
    try {
      const { state, repo } = fakeRepo();
      const ixs = createDirectoryIndexes(repo as never, 60_000);
      const first = (await ixs.fresh("t")).ix;
      for (let i = 0; i < 5; i++) {
        await vi.advanceTimersByTimeAsync(50_000); // asked for within the idle time, five times
        expect(await ixs.recent("t")).toBe(first);
      }
      expect(state.loads).toBe(1);
      state.version = 2; // a directory change was recorded
      const second = await ixs.recent("t");
      expect(second).not.toBe(first);
      expect(state.loads).toBe(2);
      await vi.advanceTimersByTimeAsync(61_000); // not asked for: dropped
      expect(await ixs.recent("t")).not.toBe(second);
      expect(state.loads).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it("reads again after an invalidation, also one made while a read was under way", async () => {
    const { state, repo } = fakeRepo();
    const ixs = createDirectoryIndexes(repo as never);
    const first = (await ixs.fresh("t")).ix;
    ixs.invalidate("t");
    const second = await ixs.recent("t");
    expect(second).not.toBe(first);
    expect(state.loads).toBe(2);
    // invalidated while a read is in flight: that read is not kept, nor handed to `recent`
    const inFlight = ixs.fresh("t");
    ixs.invalidate("t");
    const third = await ixs.recent("t");
    expect(third).not.toBe((await inFlight).ix);
    expect(state.loads).toBe(4);
    expect(await ixs.recent("t")).toBe(third);
    expect(state.loads).toBe(4);
  });

  it("keeps one tenant's index at a time", async () => {
    const { state, repo } = fakeRepo();
    const ixs = createDirectoryIndexes(repo as never);
    const a = (await ixs.fresh("a")).ix;
    await ixs.fresh("b");
    expect(await ixs.recent("a")).not.toBe(a);
    expect(state.loads).toBe(3);
  });
});

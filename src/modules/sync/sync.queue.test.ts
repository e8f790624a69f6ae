// The sync queue through the real path (syncLicenses → pg-boss → runSync → Apple emulator): two
// syncs of one token never overlap, and one asked for while another runs starts as soon as the first
// ends — not when pg-boss next refreshes its queue statistics (about once a minute), which is what a
// "stately" queue waited for.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine } from "../../../test/helpers/allot.ts";
import {
  mirrorAssignments,
  type SyncSetup,
  seedLocation,
  startSyncSetup,
  truthAssignments,
  uploadToken,
  waitFor,
  waitForSync,
} from "../../../test/integration/sync-helpers.ts";

describe(`sync queue (${engine})`, () => {
  let s: SyncSetup;
  let tokenId: string;
  let uId: string;

  beforeAll(async () => {
    s = await startSyncSetup({ emulator: { pageSize: 20 } });
    const loc = await seedLocation(s);
    uId = loc.uId;
    await s.emu.control.seedAssignments(uId, {
      assets: [{ adamId: loc.ids.ios }],
      serialNumbers: Array.from({ length: 45 }, (_, i) => `QUEUE${String(i).padStart(3, "0")}`),
    });
    tokenId = (await uploadToken(s, loc.sToken)).id;
  });
  afterAll(async () => s?.close());

  it("a second syncLicenses waits for the running sync of the same token, then starts at once", async () => {
    // Hold the first sync in its assignments walk; record when each sync starts (client config).
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const starts: number[] = [];
    let holding = true;
    let heldOnce = false;
    s.appleProxy.state.hook = async (req, send) => {
      if (req.url.startsWith("/mdm/v2/client/config")) starts.push(Date.now());
      if (holding && req.url.startsWith("/mdm/v2/assignments")) {
        heldOnce = true;
        await held;
      }
      return send();
    };
    try {
      const url = `/beta/deviceAppManagement/vppTokens/${tokenId}/syncLicenses`;
      const before = new Date().toISOString();
      expect((await s.t.request("POST", url, { token: s.t.adminToken })).status).toBe(200);
      await waitFor("the first sync to reach its assignments", async () => heldOnce);
      expect((await s.t.request("POST", url, { token: s.t.adminToken })).status).toBe(200);
      // Several polling rounds of the workers: the second sync must not start while the first runs.
      await new Promise((r) => setTimeout(r, 3000));
      expect(starts).toHaveLength(1);
      // The exclusion is the queue's (it holds across processes): one job of the token active, one queued.
      const jobs = await sql<{ state: string }>`
        select state::text as state from pgboss.job where name = 'apple-sync' and singleton_key = ${tokenId} and state in ('created', 'active')
      `.execute(s.t.allot.database.db);
      expect(jobs.rows.map((r) => r.state).sort()).toEqual(["active", "created"]);

      holding = false;
      const releasedAt = Date.now();
      release();
      await waitFor("the second sync to start", async () => starts.length === 2, 20_000);
      // Started by the worker that ran the first one (1 s polling), not after a statistics refresh.
      expect(starts[1] - releasedAt).toBeLessThan(8000);
      const after = await waitForSync(s, tokenId, before, 20_000);
      expect(after.lastSyncStatus).toBe("completed");
      await waitFor("the second sync to complete", async () => {
        const t = await s.t.request("GET", `/beta/deviceAppManagement/vppTokens/${tokenId}`, {
          token: s.t.adminToken,
        });
        return t.body.lastSyncStatus === "completed" && Date.parse(t.body.lastSyncDateTime) > starts[1];
      });
      expect(starts).toHaveLength(2);
    } finally {
      release();
      s.appleProxy.state.hook = undefined;
    }
    expect(await mirrorAssignments(s, tokenId)).toEqual(await truthAssignments(s, uId));
  }, 60_000);
});

// MDM-1 without an MDM webhook: device commands wait in the outbox untouched (no per-minute rewrite of
// every pending command) and go out once the tenant configures its webhook.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken, waitFor } from "./sync-helpers.ts";

const SECRET = "tenant-mdm-secret-0123456789";

describe("MDM bridge without a webhook", () => {
  let s: SyncSetup;
  let mdm: http.Server;
  const received: { body: any; signature: string | undefined }[] = [];

  beforeAll(async () => {
    mdm = http.createServer(async (rq, res) => {
      const chunks: Buffer[] = [];
      for await (const c of rq) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString("utf8");
      received.push({ body: JSON.parse(raw), signature: rq.headers["x-allot-signature"] as string | undefined });
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => mdm.listen(0, "127.0.0.1", resolve));
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1", ALLOT_NOTIFY_RETRY_BASE_MS: "300" } });
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    mdm?.closeAllConnections();
    await new Promise<void>((resolve) => mdm?.close(() => resolve()));
  });

  it("keeps the InstallApplication pending and untouched, then delivers it to the tenant's new webhook", async () => {
    const req = (method: string, path: string, body?: unknown) => s.t.request(method, path, { token: s.t.adminToken, body });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "No webhook",
      countryISO2ACode: "US",
      assets: [
        {
          adamId: "720000001",
          name: "Keynote",
          bundleId: "com.apple.Keynote",
          totalCount: 2,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
      ],
    });
    await uploadToken(s, loc.sToken);
    const db = s.t.allot.database.db;
    const appId = (await db.selectFrom("apps").select("id").where("adam_id", "=", "720000001").executeTakeFirstOrThrow()).id;
    const device = (
      await req("POST", "/v1.0/deviceManagement/managedDevices", { deviceName: "Kiosk", operatingSystem: "iOS", serialNumber: "NOHOOK0001" })
    ).body.id as string;
    const group = (
      await req("POST", "/v1.0/groups", { displayName: "Kiosks", mailEnabled: false, securityEnabled: true, mailNickname: "kiosks" })
    ).body.id as string;
    expect(
      (
        await req("POST", `/v1.0/groups/${group}/members/$ref`, {
          "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${device}`,
        })
      ).status,
    ).toBe(204);
    const assigned = await req("POST", `/beta/deviceAppManagement/mobileApps/${appId}/assign`, {
      mobileAppAssignments: [
        {
          "@odata.type": "#microsoft.graph.mobileAppAssignment",
          intent: "required",
          target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId: group },
          settings: { "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings", useDeviceLicensing: true },
        },
      ],
    });
    expect(assigned.status).toBe(204);
    const command = () =>
      db
        .selectFrom("device_commands")
        .select(["state", "attempts", "next_attempt_at", "updated_at"])
        .where("device_id", "=", device)
        .executeTakeFirst();
    const first = await waitFor("the InstallApplication in the outbox", async () => (await command()) ?? undefined, 30_000);
    expect(first).toMatchObject({ state: "pending", attempts: 0 });
    // Several of the bridge's looks later (300 ms apart) the command is exactly as it was written.
    await new Promise((r) => setTimeout(r, 2000));
    const later = await command();
    expect(later).toEqual(first);
    expect(received).toHaveLength(0);

    const url = `http://127.0.0.1:${(mdm.address() as AddressInfo).port}/commands`;
    const patched = await req("PATCH", "/beta/admin/notificationSettings", { mdmWebhookUrl: url, mdmWebhookSecret: SECRET });
    expect(patched.status).toBe(200);
    const delivered = await waitFor("the command at the new webhook", async () => received[0], 20_000);
    expect(delivered.body).toMatchObject({ type: "installApplication", deviceId: device, serialNumber: "NOHOOK0001" });
    const raw = JSON.stringify(delivered.body);
    expect(delivered.signature).toBe(`sha256=${createHmac("sha256", SECRET).update(raw).digest("hex")}`);
    await waitFor("the command marked sent", async () => ((await command())?.state === "sent" ? true : undefined));
  }, 90_000);
});

// Helpers of the sync and catalog tests: an Allot wired to a real Apple emulator over HTTP, with a
// public URL in front of Allot (Apple posts notifications to ALLOT_PUBLIC_URL, which must be known
// before Allot listens on its ephemeral port), and ways to compare Allot's mirror with the
// emulator's truth.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "kysely";
import type { LocationInput } from "../../src/emulators/apple/control-client.ts";
import type { AppleEmulatorOptions } from "../../src/emulators/apple/index.ts";
import { type AppleEmulator, startAppleEmulator } from "../../src/emulators/apple/index.ts";
import { startTestAllot, type TestAllot } from "../helpers/allot.ts";

/** A reverse proxy whose target is set later; `hook` may hold a request (and see the answer) before it goes on. */
export async function startForwarder() {
  const state: {
    target?: string;
    hook?: (
      req: { method: string; url: string },
      send: () => Promise<{ status: number; body: Buffer; headers: Record<string, string> }>,
    ) => Promise<{ status: number; body: Buffer; headers: Record<string, string> }>;
  } = {};
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (!state.target) {
      res.writeHead(503).end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const k of ["content-type", "authorization", "cookie", "accept", "accept-language"])
      if (typeof req.headers[k] === "string") headers[k] = req.headers[k] as string;
    const send = async () => {
      const r = await fetch(state.target + (req.url ?? "/"), {
        method: req.method,
        headers,
        body: body.length > 0 ? body : undefined,
      });
      const out: Record<string, string> = {};
      for (const [k, v] of r.headers)
        if (
          !["content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive"].includes(k)
        )
          out[k] = v;
      return { status: r.status, body: Buffer.from(await r.arrayBuffer()), headers: out };
    };
    try {
      const answer = state.hook
        ? await state.hook({ method: req.method ?? "GET", url: req.url ?? "/" }, send)
        : await send();
      res.writeHead(answer.status, answer.headers).end(answer.body);
    } catch (err) {
      res.writeHead(502).end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface SyncSetup {
  emu: AppleEmulator;
  t: TestAllot;
  tenantId: string;
  /** Between Allot and the emulator (tests hold or observe Apple calls with its hook). */
  appleProxy: Awaited<ReturnType<typeof startForwarder>>;
  /** ALLOT_PUBLIC_URL: forwards Apple's notifications to Allot. */
  publicProxy: Awaited<ReturnType<typeof startForwarder>> | undefined;
  close(): Promise<void>;
}

export async function startSyncSetup(
  options: { emulator?: AppleEmulatorOptions; notifications?: boolean; env?: Record<string, string> } = {},
): Promise<SyncSetup> {
  const emu = await startAppleEmulator({ settleMs: 20, eventSteps: 1, ...options.emulator });
  const appleProxy = await startForwarder();
  appleProxy.state.target = emu.url;
  const publicProxy = options.notifications === false ? undefined : await startForwarder();
  const t = await startTestAllot({
    ALLOT_APPLE_BASE_URL: `${appleProxy.url}/mdm/v2`,
    ...(publicProxy ? { ALLOT_PUBLIC_URL: publicProxy.url } : {}),
    ...options.env,
  });
  if (publicProxy) publicProxy.state.target = t.url;
  return {
    emu,
    t,
    tenantId: t.allot.bootstrapResult.tenantId,
    appleProxy,
    publicProxy,
    close: async () => {
      await t.close();
      await publicProxy?.close();
      await appleProxy.close();
      await emu.close();
    },
  };
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Uploads the location's token (beta) and waits for its first sync to finish. */
export async function uploadToken(
  s: SyncSetup,
  sToken: string,
  body: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const res = await s.t.request("POST", "/beta/deviceAppManagement/vppTokens", {
    token: s.t.adminToken,
    body: { token: sToken, appleId: "vpp@contoso.example", vppTokenAccountType: "business", ...body },
  });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${res.text}`);
  await waitForSync(s, res.body.id);
  return res.body;
}

/** Waits until the token's lastSyncStatus is completed (or failed, which throws) after `since`. */
export async function waitForSync(
  s: SyncSetup,
  tokenId: string,
  since?: string,
  timeoutMs = 15_000,
): Promise<Record<string, any>> {
  return waitFor(
    `sync of ${tokenId}`,
    async () => {
      const r = await s.t.request("GET", `/beta/deviceAppManagement/vppTokens/${tokenId}`, {
        token: s.t.adminToken,
      });
      if (r.body.lastSyncStatus === "failed") throw new Error(`sync failed: ${JSON.stringify(r.body)}`);
      if (r.body.lastSyncStatus !== "completed") return undefined;
      if (since && !(r.body.lastSyncDateTime > since)) return undefined;
      return r.body;
    },
    timeoutMs,
  );
}

export const assignmentKeyOf = (a: {
  adamId: string;
  pricingParam: string;
  serialNumber?: string;
  clientUserId?: string;
}) => `${a.adamId}|${a.pricingParam}|${a.serialNumber ?? ""}|${a.clientUserId ?? ""}`;

/** The emulator's assignments of a location, as sorted keys. */
export async function truthAssignments(s: SyncSetup, uId: string): Promise<string[]> {
  return (await s.emu.control.assignments(uId)).assignments.map(assignmentKeyOf).sort();
}

/** Allot's store_assignments mirror of a token, as sorted keys. */
export async function mirrorAssignments(s: SyncSetup, tokenId: string): Promise<string[]> {
  const rows = await s.t.allot.database.db
    .selectFrom("store_assignments")
    .select(["adam_id", "pricing_param", "serial_number", "client_user_id"])
    .where("tenant_id", "=", s.tenantId)
    .where("token_id", "=", tokenId)
    .execute();
  return rows
    .map((r) =>
      assignmentKeyOf({
        adamId: r.adam_id,
        pricingParam: r.pricing_param,
        serialNumber: r.serial_number,
        clientUserId: r.client_user_id,
      }),
    )
    .sort();
}

/** Apple's counts per asset (the truth) and Allot's per app of the token, both as "adamId|pricing → total/assigned/available/retired". */
export async function truthCounts(s: SyncSetup, uId: string): Promise<Record<string, string>> {
  const { assets } = await s.emu.control.assets(uId);
  return Object.fromEntries(
    assets.map((a) => [
      `${a.adamId}|${a.pricingParam}`,
      `${a.totalCount}/${a.assignedCount}/${a.availableCount}/${a.retiredCount}`,
    ]),
  );
}

export async function mirrorCounts(s: SyncSetup, tokenId: string): Promise<Record<string, string>> {
  const rows = await s.t.allot.database.db
    .selectFrom("apps")
    .select(["adam_id", "pricing_param", "total_count", "assigned_count", "available_count", "retired_count"])
    .where("tenant_id", "=", s.tenantId)
    .where("token_id", "=", tokenId)
    .execute();
  return Object.fromEntries(
    rows.map((r) => [
      `${r.adam_id}|${r.pricing_param}`,
      `${r.total_count}/${r.assigned_count}/${r.available_count}/${r.retired_count}`,
    ]),
  );
}

export async function countRows(
  s: SyncSetup,
  table: "store_notifications" | "store_assignments" | "apps",
  tokenId: string,
): Promise<number> {
  const r = await sql<{
    n: number;
  }>`select count(*)::int as n from ${sql.table(table)} where tenant_id = ${s.tenantId} and token_id = ${tokenId}`.execute(
    s.t.allot.database.db,
  );
  return Number(r.rows[0].n);
}

let seq = 0;
/** A location at the emulator with a realistic mix: a universal iOS app (also sold in Sweden), a macOS-only app and a book. */
export async function seedLocation(s: Pick<SyncSetup, "emu">, input: Partial<LocationInput> = {}) {
  seq++;
  const n = 500000000 + seq * 100;
  return {
    ids: { ios: String(n + 1), mac: String(n + 2), book: String(n + 3) },
    ...(await s.emu.control.createLocation({
      orgName: "Contoso Ltd",
      locationName: `HQ ${seq}`,
      countryISO2ACode: "US",
      assets: [
        {
          adamId: String(n + 1),
          name: "Keynote",
          bundleId: "com.apple.Keynote",
          totalCount: 50,
          supportedPlatforms: ["iOS", "macOS"],
          artistName: "Apple",
          storefronts: ["SE"],
          localizedNames: { es: "Keynote (es)", sv: "Keynote (sv)" },
        },
        {
          adamId: String(n + 2),
          name: "Final Cut Pro",
          bundleId: "com.apple.FinalCut",
          totalCount: 5,
          supportedPlatforms: ["macOS"],
          artistName: "Apple",
        },
        {
          adamId: String(n + 3),
          productType: "Book",
          name: "The Swift Programming Language",
          totalCount: 20,
          artistName: "Apple Inc.",
        },
      ],
      ...input,
    })),
  };
}

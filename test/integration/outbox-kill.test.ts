// Issue 4: "A worker (on PGlite: the whole process) killed at any point and restarted converges with no
// duplicate association and no lost release" — with a real SIGKILL. `allot serve` runs as a child
// process against the Apple emulator (in this process, slowed down and with small write limits so a
// push takes several requests and a few seconds); it is killed while the emulator is part-way through
// the associations, restarted on the same data, and again while releases are in flight. The emulator's
// truth (assignments and its event log with task counts) and Allot's ledger must then agree: exactly
// the earliest members hold the licenses, no serial was ever sent twice, every release happened, and
// nothing is left in the outbox. Runs on the suite's engine (DATABASE_URL or PGlite).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { createDatabase } from "../../src/db/database.ts";
import type { TruthEvent } from "../../src/emulators/apple/control-client.ts";
import { type AppleEmulator, startAppleEmulator } from "../../src/emulators/apple/index.ts";
import { emptyPostgresDatabase, killServes, type Served, startServe } from "../helpers/cli.ts";
import { waitFor } from "./sync-helpers.ts";

const engine = process.env.DATABASE_URL ? "postgres" : "pglite";
const ADAM_ID = "710000001";
const LICENSES = 120;
const FIRST_MEMBERS = 120; // imported first: the earliest members, who get the licenses
const LATER_MEMBERS = 30; // imported afterwards: they wait with insufficientLicenses
const DEVICES = FIRST_MEMBERS + LATER_MEMBERS;
const LEAVERS = 40; // licensed devices removed from the group in the release phase
const CLIENT_ID = "outbox-kill-client";
const CLIENT_SECRET = "outbox-kill-secret-0123456789abcdef";
// Apple side: every request waits LATENCY_MS, a write carries at most MAX_SERIALS serials, and an event's
// tasks are applied in EVENT_STEPS increments over SETTLE_MS — so 120 associations are 24 requests and
// the emulator's assignments grow over a couple of seconds.
const LATENCY_MS = 250;
const MAX_SERIALS = 5;
const SETTLE_MS = Number(process.env.OUTBOX_KILL_SETTLE_MS ?? 1200); // diagnostic override: a slower Apple
const EVENT_STEPS = 4;

const serialOf = (i: number) => `KILL${String(i).padStart(4, "0")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

let work: string;
let dataDir: string;
let env: Record<string, string>;
let dropDatabase: (() => Promise<void>) | undefined;
let emu: AppleEmulator;
let server: Served | undefined;
let url: string;
let bearer: string;
const timings: string[] = [];
const outputs: string[] = []; // every allot serve's output, for the failure log
const logFile = () => join(tmpdir(), `outbox-kill-${engine}-allot.log`);
function dumpLogs(): string {
  writeFileSync(logFile(), [...outputs, server ? server.output() : ""].map((o, i) => `===== allot serve #${i + 1}\n${o}`).join("\n"));
  return `(full output of every allot serve in ${logFile()})`;
}

async function api(method: string, path: string, body?: unknown, contentType = "application/json") {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { "content-type": contentType }),
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

async function signIn() {
  const res = await fetch(`${url}/default/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_type: "client_credentials",
      scope: "https://graph.microsoft.com/.default",
    }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  bearer = body.access_token;
}

/** Starts `allot serve` on the data; on PGlite a killed process's lock goes stale only after ~15 s, so retry until then. */
async function start(): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      server = await startServe(env, 40_000);
      break;
    } catch (err) {
      const locked = /in use by another Allot process/.test(String(err));
      if (!(engine === "pglite" && locked && Date.now() - t0 < 30_000)) throw err;
      await sleep(1000);
    }
  }
  url = server.url;
  await signIn();
  return Date.now() - t0;
}

/** SIGKILL: no shutdown hook, no graceful stop, the job in flight dies with the process. */
async function kill(): Promise<void> {
  const child = server!.child;
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`allot serve had already exited (${child.exitCode ?? child.signalCode}):\n${server!.output().slice(-3000)}`);
  const exited = new Promise<string | null>((r) => child.once("exit", (_code, signal) => r(signal)));
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  outputs.push(server!.output());
  server = undefined;
}

describe(`a SIGKILLed allot serve converges without duplicate associations or lost releases (${engine})`, { timeout: 90_000 }, () => {
  let uId: string;
  let appId: string;
  let groupId: string;
  const deviceIdOf = new Map<string, string>(); // serial → managed device id
  let associationConverged = false;
  const leavers = Array.from({ length: LEAVERS }, (_, k) => serialOf(k * 3)); // spread over the first 120

  const events = async (type: string): Promise<TruthEvent[]> =>
    (await emu.control.events(uId)).events.filter((e) => e.eventType === type);
  const appleSerials = async (): Promise<string[]> =>
    (await emu.control.assignments(uId)).assignments
      .filter((a) => a.adamId === ADAM_ID)
      .map((a) => a.serialNumber as string)
      .sort();
  const holdings = async (): Promise<{ serialNumber: string; state: string; reason: string | null }[]> => {
    // Every state, released included (the per-app list takes no $filter).
    const all = await api("GET", `/beta/deviceAppManagement/mobileApps/${appId}/licenseHoldings`);
    if (all.status !== 200) throw new Error(`licenseHoldings answered ${all.status}: ${JSON.stringify(all.body)}`);
    return all.body.value;
  };
  const summary = async () => {
    const [apple, assoc, disassoc] = await Promise.all([appleSerials(), events("ASSOCIATE"), events("DISASSOCIATE")]);
    const tasks = (es: TruthEvent[]) =>
      `${es.length} events, ${es.reduce((n, e) => n + e.numRequested, 0)} tasks requested, ${es.reduce((n, e) => n + e.numCompleted, 0)} completed, ${es.reduce((n, e) => n + e.numFailed, 0)} failed, ${es.filter((e) => e.eventStatus === "PENDING").length} pending`;
    return `emulator holds ${apple.length} serials; ASSOCIATE: ${tasks(assoc)}; DISASSOCIATE: ${tasks(disassoc)}`;
  };
  /** A failed wait, with what the emulator and Allot were doing then. */
  const withContext = async (err: unknown, last?: string): Promise<never> => {
    throw new Error(
      `${(err as Error).message}\n${last === undefined ? "" : `last seen: ${last}\n`}${await summary()}\nallot output (tail):\n${server?.output().slice(-4000)}\n${dumpLogs()}`,
    );
  };
  /** Waits until Allot's ledger has nothing pending and the emulator holds exactly `want`. */
  const converged = async (want: string[], what: string) => {
    const t0 = Date.now();
    const wanted = JSON.stringify([...want].sort());
    let last = "";
    try {
      await waitFor(
        what,
        async () => {
          const [apple, h] = await Promise.all([appleSerials(), holdings()]);
          const busy = h.filter((x) => x.state === "pendingAssign" || x.state === "pendingRelease");
          last = `emulator holds ${apple.length} serials (want ${want.length}; equal: ${JSON.stringify(apple) === wanted}); ledger: ${busy.length} pendingAssign/pendingRelease`;
          return busy.length === 0 && JSON.stringify(apple) === wanted;
        },
        60_000,
        250,
      );
    } catch (err) {
      await withContext(err, last);
    }
    return Date.now() - t0;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "allot-outbox-kill-"));
    dataDir = join(work, "data");
    emu = await startAppleEmulator({ settleMs: SETTLE_MS, eventSteps: EVENT_STEPS });
    await emu.control.setLimits({ maxSerialNumbers: MAX_SERIALS });
    const port = await freePort();
    env = {
      ALLOT_DATA_DIR: dataDir,
      PORT: String(port),
      // Apple posts notifications here; the port stays the same across restarts.
      ALLOT_PUBLIC_URL: `http://127.0.0.1:${port}`,
      ALLOT_SECRET_KEY: "outbox-kill-secret-key-0123456789-abcdefgh",
      ALLOT_BOOTSTRAP_CLIENT_ID: CLIENT_ID,
      ALLOT_BOOTSTRAP_CLIENT_SECRET: CLIENT_SECRET,
      ALLOT_APPLE_BASE_URL: emu.baseUrl,
      ALLOT_APPLE_EVENT_POLL_SECONDS: "1",
      LOG_LEVEL: "info",
    };
    if (engine === "postgres") {
      const db = await emptyPostgresDatabase(process.env.DATABASE_URL!);
      env.DATABASE_URL = db.url;
      dropDatabase = db.drop;
    }
    timings.push(`first start ${await start()} ms`);
  }, 60_000);

  afterAll(async () => {
    killServes();
    await emu?.close();
    await dropDatabase?.();
    rmSync(work, { recursive: true, force: true });
    console.log(`[outbox-kill ${engine}] ${timings.join("; ")}`);
  });

  it(`sets up a token with ${LICENSES} device licenses and a group of ${DEVICES} devices`, async () => {
    const loc = await emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Kill test",
      countryISO2ACode: "US",
      assets: [{ adamId: ADAM_ID, name: "Pages", totalCount: LICENSES, deviceAssignable: true, revocable: true, supportedPlatforms: ["iOS"] }],
    });
    uId = loc.uId;
    const up = await api("POST", "/beta/deviceAppManagement/vppTokens", {
      token: loc.sToken,
      appleId: "vpp@contoso.example",
      vppTokenAccountType: "business",
    });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const tokenId = up.body.id;
    await waitFor(
      "the token's first sync",
      async () => {
        const r = await api("GET", `/beta/deviceAppManagement/vppTokens/${tokenId}`);
        if (r.body?.lastSyncStatus === "failed") throw new Error(`sync failed: ${JSON.stringify(r.body)}`);
        return r.body?.lastSyncStatus === "completed";
      },
      20_000,
      200,
    );
    const apps = await api("GET", "/beta/deviceAppManagement/mobileApps");
    appId = apps.body.value.find((a: { adamId: string }) => a.adamId === ADAM_ID)?.id;
    expect(appId, `app ${ADAM_ID} in ${JSON.stringify(apps.body.value)}`).toBeTruthy();

    const importCsv = async (kind: string, csv: string) => {
      const r = await api("POST", `/beta/imports?kind=${kind}`, csv, "text/csv");
      expect(r.status, `import ${kind}: ${JSON.stringify(r.body)}`).toBe(202);
      const done = await waitFor(
        `import of ${kind}`,
        async () => {
          const s = await api("GET", `/beta/imports/${r.body.id}`);
          return s.body?.status !== "running" ? s.body : undefined;
        },
        20_000,
        100,
      );
      expect(done.status, `import ${kind}: ${JSON.stringify(done)}`).toBe("completed");
    };
    const serials = Array.from({ length: DEVICES }, (_, i) => serialOf(i));
    await importCsv("devices", `serialNumber,deviceName,operatingSystem\n${serials.map((s) => `${s},iPad ${s},iPadOS`).join("\n")}\n`);
    await importCsv("groups", "mailNickname,displayName,memberKind\nkill-ipads,Kill iPads,device\n");
    const members = (list: string[]) => `groupMailNickname,memberType,member\n${list.map((s) => `kill-ipads,device,${s}`).join("\n")}\n`;
    await importCsv("members", members(serials.slice(0, FIRST_MEMBERS)));
    await sleep(50); // the later members join strictly later
    await importCsv("members", members(serials.slice(FIRST_MEMBERS)));

    const groups = await api("GET", "/v1.0/groups?$filter=mailNickname eq 'kill-ipads'");
    groupId = groups.body.value[0].id;
    const devices = await api("GET", "/v1.0/deviceManagement/managedDevices?$top=999");
    for (const d of devices.body.value) deviceIdOf.set(d.serialNumber, d.id);
    expect(deviceIdOf.size).toBe(DEVICES);
  });

  it("killed mid-association and restarted: exactly the earliest members hold the asset at Apple, each sent once", async () => {
    await emu.control.setFaults({ latencyMs: LATENCY_MS });
    const t0 = Date.now();
    const r = await api("POST", `/v1.0/deviceAppManagement/mobileApps/${appId}/assign`, {
      mobileAppAssignments: [
        {
          "@odata.type": "#microsoft.graph.mobileAppAssignment",
          intent: "required",
          target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId },
          settings: { "@odata.type": "#microsoft.graph.iosVppAppAssignmentSettings", useDeviceLicensing: true },
        },
      ],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(204);
    // Kill once Apple has accepted at least one association request but before all licenses are associated.
    const atKill = await waitFor(
      "the emulator to hold a first license, not all (then SIGKILL)",
      async () => {
        const [assoc, apple] = await Promise.all([events("ASSOCIATE"), appleSerials()]);
        return assoc.length >= 1 && apple.length >= 1 && apple.length < LICENSES ? { events: assoc.length, held: apple.length } : undefined;
      },
      30_000,
      20,
    ).catch((err) => withContext(err));
    await kill();
    const killedAfter = Date.now() - t0;
    const seenAtKill = await summary();
    timings.push(`association: SIGKILL ${killedAfter} ms after assign (${atKill.events} ASSOCIATE events, ${atKill.held}/${LICENSES} held; after the kill: ${seenAtKill})`);

    const restartMs = await start();
    const expected = Array.from({ length: FIRST_MEMBERS }, (_, i) => serialOf(i));
    const convergeMs = await converged(expected, `convergence to the ${FIRST_MEMBERS} earliest members after the restart`);
    timings.push(`association: restart ${restartMs} ms, converged ${convergeMs} ms later`);
    associationConverged = true;

    // Apple's event log: every serial associated once — tasks requested = distinct serials, none refused
    // (a second association of a held serial fails with 9616 at this emulator).
    const assoc = await events("ASSOCIATE");
    const requested = assoc.reduce((n, e) => n + e.numRequested, 0);
    const completed = assoc.reduce((n, e) => n + e.numCompleted, 0);
    const failed = assoc.reduce((n, e) => n + e.numFailed, 0);
    const report = await summary();
    expect({ requested, completed, failed }, `ASSOCIATE tasks (each serial once): ${report}`).toEqual({
      requested: LICENSES,
      completed: LICENSES,
      failed: 0,
    });
    expect(assoc.filter((e) => e.eventStatus !== "COMPLETE"), report).toEqual([]);

    // The ledger agrees: the earliest members assigned, the later ones waiting for licenses.
    const h = await holdings();
    const assigned = h.filter((x) => x.state === "assigned").map((x) => x.serialNumber).sort();
    expect(assigned, "the ledger's assigned holdings").toEqual(expected);
    const waiting = h.filter((x) => x.state === "waiting");
    expect(waiting.map((x) => x.serialNumber).sort(), "the ledger's waiting holdings").toEqual(
      Array.from({ length: LATER_MEMBERS }, (_, i) => serialOf(FIRST_MEMBERS + i)),
    );
    expect(new Set(waiting.map((x) => x.reason))).toEqual(new Set(["insufficientLicenses"]));
    expect(h.length, `holdings: ${JSON.stringify(h.filter((x) => !["assigned", "waiting"].includes(x.state)))}`).toBe(DEVICES);
  });

  it("killed mid-release and restarted: every leaver released at Apple, the waiting members served, nothing sent twice", async () => {
    if (!associationConverged) throw new Error("not run: the association phase did not converge after the restart (see above)");
    const t0 = Date.now();
    const removed = await Promise.all(
      leavers.map((s) => api("DELETE", `/v1.0/groups/${groupId}/members/${deviceIdOf.get(s)}/$ref`)),
    );
    expect(removed.map((x) => x.status)).toEqual(leavers.map(() => 204));
    const atKill = await waitFor(
      "the emulator to accept a first release (then SIGKILL)",
      async () => {
        const [dis, apple] = await Promise.all([events("DISASSOCIATE"), appleSerials()]);
        const stillHeld = leavers.filter((s) => apple.includes(s)).length;
        return dis.length >= 1 && stillHeld > 0 ? { events: dis.length, stillHeld } : undefined;
      },
      30_000,
      20,
    ).catch((err) => withContext(err));
    await kill();
    const killedAfter = Date.now() - t0;
    timings.push(`release: SIGKILL ${killedAfter} ms after the removals (${atKill.events} DISASSOCIATE events, ${atKill.stillHeld}/${LEAVERS} leavers still held; after the kill: ${await summary()})`);

    const restartMs = await start();
    const leaving = new Set(leavers);
    const expected = Array.from({ length: DEVICES }, (_, i) => serialOf(i)).filter((s) => !leaving.has(s));
    expect(expected).toHaveLength(FIRST_MEMBERS - LEAVERS + LATER_MEMBERS);
    const convergeMs = await converged(expected, "convergence after the restart: leavers released, the waiting members served");
    timings.push(`release: restart ${restartMs} ms, converged ${convergeMs} ms later`);

    const report = await summary();
    const dis = await events("DISASSOCIATE");
    const sum = (es: TruthEvent[], k: "numRequested" | "numCompleted" | "numFailed") => es.reduce((n, e) => n + e[k], 0);
    // No lost release (the emulator no longer holds any leaver: checked by `converged`) and none sent twice.
    expect({ requested: sum(dis, "numRequested"), completed: sum(dis, "numCompleted"), failed: sum(dis, "numFailed") }, `DISASSOCIATE tasks (each leaver once): ${report}`).toEqual({
      requested: LEAVERS,
      completed: LEAVERS,
      failed: 0,
    });
    // Over both phases every serial was associated exactly once: the first 120, then the 30 who waited.
    const assoc = await events("ASSOCIATE");
    expect({ requested: sum(assoc, "numRequested"), completed: sum(assoc, "numCompleted"), failed: sum(assoc, "numFailed") }, `ASSOCIATE tasks over both phases: ${report}`).toEqual({
      requested: FIRST_MEMBERS + LATER_MEMBERS,
      completed: FIRST_MEMBERS + LATER_MEMBERS,
      failed: 0,
    });
    expect([...assoc, ...dis].filter((e) => e.eventStatus !== "COMPLETE"), report).toEqual([]);

    const h = await holdings();
    const byState = (state: string) => h.filter((x) => x.state === state).map((x) => x.serialNumber).sort();
    expect(byState("assigned"), "the ledger's assigned holdings").toEqual(expected);
    expect(byState("released"), "the ledger's released holdings").toEqual([...leavers].sort());
    expect(new Set(h.filter((x) => x.state === "released").map((x) => x.reason))).toEqual(new Set(["notTargeted"]));
    expect(h.filter((x) => !["assigned", "released"].includes(x.state)), "holdings neither assigned nor released").toEqual([]);
  });

  it("after a clean stop the outbox is empty and the history shows each license assigned once", async () => {
    expect(await server!.stop()).toBe(0);
    server = undefined;
    const database = await createDatabase(
      env.DATABASE_URL ? { kind: "postgres", url: env.DATABASE_URL } : { kind: "pglite", dataDir: join(dataDir, "pgdata") },
      { migrate: false, poolSize: 1 },
    );
    try {
      const open = await database.db
        .selectFrom("store_operations")
        .select(["kind", "state", "store_key", "error"])
        .where("state", "in", ["pending", "sending", "sent", "failed"])
        .execute();
      // On failure, show what the job queue holds for the outbox (a job left `active` by the killed process).
      const jobs = await sql<Record<string, unknown>>`select name, state, singleton_key, retry_count, retry_limit, heartbeat_seconds, heartbeat_on, created_on, started_on, completed_on, output from pgboss.job where name in ('licenses-outbox', 'licenses-sweep') order by created_on`.execute(database.db);
      const byState = new Map<string, number>();
      for (const o of open) byState.set(`${o.kind}/${o.state}`, (byState.get(`${o.kind}/${o.state}`) ?? 0) + 1);
      expect(open, `store_operations left open: ${JSON.stringify(Object.fromEntries(byState))}; pg-boss outbox/sweep jobs: ${JSON.stringify(jobs.rows)}`).toEqual([]);
      const assignedEvents = await database.db
        .selectFrom("license_events")
        .select("holder_id")
        .where("app_id", "=", appId)
        .where("to_state", "=", "assigned")
        .execute();
      const perHolder = new Map<string, number>();
      for (const e of assignedEvents) perHolder.set(e.holder_id, (perHolder.get(e.holder_id) ?? 0) + 1);
      expect([...perHolder.entries()].filter(([, n]) => n > 1), "holders assigned more than once in the history").toEqual([]);
      expect(perHolder.size).toBe(FIRST_MEMBERS + LATER_MEMBERS);
    } finally {
      await database.close();
    }
  });
});

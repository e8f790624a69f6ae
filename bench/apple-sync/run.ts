// Apple sync benchmark (`npm run bench:apple-sync -- [flags]`): the Apple emulator in its own process
// (`allot emulator apple`, 20 ms latency, 15 requests/s per token, pages of 1,000), Allot in its own
// process (`allot serve`) on a fresh PostgreSQL database, everything on 127.0.0.1 with fixed seeds.
//
//   1. one token with 2,000 assets: uploaded (first sync: assets and metadata), then 1,000,000 device
//      assignments seeded through the emulator's control API;
//   2. full sync through POST …/vppTokens/{id}/syncLicenses, twice (empty mirror, then up to date),
//      each timed until lastSyncStatus says completed, against the floor the rate limit and latency
//      set for the requests it needs; Allot's peak RSS from /proc/<pid>/status;
//   3. 1,000 assignment changes through the control API, then an incremental sync (started by
//      Apple's ASSET_COUNT notification of a newly bought app: syncLicenses always syncs in full);
//   4. 256 tokens × 200 assets: all synced at once through syncLicenses, against their floor.
//
// Allot runs with LOG_LEVEL=debug so that its log names every request it sent to Apple ("apple
// request"): the floors are computed from those counts (and checked against the expected count).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import pg from "pg";
import { createAppleControlClient } from "../../src/emulators/apple/control-client.ts";
import { DEFAULT_SYNC_CONCURRENCY } from "../../src/modules/sync/sync.jobs.ts";
import { storefrontLanguages } from "../../src/modules/sync/sync.storefronts.ts";
import { clientCredentialsToken, createScratchDatabase, databaseUrlOption, freePort, graphApi } from "../harness.ts";

const root = resolve(import.meta.dirname, "../..");
const { values: args } = parseArgs({
  options: {
    "database-url": databaseUrlOption,
    seed: { type: "string", default: "7" },
    assets: { type: "string", default: "2000" },
    assignments: { type: "string", default: "1000000" },
    "page-size": { type: "string", default: "1000" },
    "latency-ms": { type: "string", default: "20" },
    rps: { type: "string", default: "15" },
    changes: { type: "string", default: "1000" },
    tokens: { type: "string", default: "256" },
    "token-assets": { type: "string", default: "200" },
    "full-syncs": { type: "string", default: "2" },
    "skip-many": { type: "boolean", default: false },
    /** Copy Allot's whole log (JSON lines) to this file. */
    log: { type: "string" },
    /** Extra node flags for the Allot process (diagnostics, e.g. --max-old-space-size=256); none by default. */
    "allot-node-options": { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const n = (k: keyof typeof args) => {
  const v = Number(args[k]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a non-negative number`);
  return v;
};
const cfg = {
  seed: n("seed"),
  assets: n("assets"),
  assignments: n("assignments"),
  pageSize: n("page-size"),
  latencyMs: n("latency-ms"),
  rps: n("rps"),
  changes: n("changes"),
  tokens: n("tokens"),
  tokenAssets: n("token-assets"),
  fullSyncs: Math.max(1, n("full-syncs")),
};
const COUNTRY = "US";
const LANGUAGES = storefrontLanguages(COUNTRY).length;
/** adamIds per metadata lookup (the client's default, src/stores/apple/client.ts). */
const METADATA_BATCH = 25;
const targets = { fullRatio: 1.25, rssMb: 512, incrementalSeconds: 2 };

// ---------------------------------------------------------------- output

const rows: string[] = [];
function line(name: string, value: string, note = "") {
  const s = `${name.padEnd(58)} ${value.padStart(14)}${note ? `  ${note}` : ""}`;
  rows.push(s);
  console.log(s);
}
const ratioNote = (ratio: number, target?: number) =>
  target === undefined
    ? `(ratio ${ratio.toFixed(2)})`
    : `(ratio ${ratio.toFixed(2)}; target ≤ ${target}${ratio <= target ? " ✓" : " ✗"})`;

// ---------------------------------------------------------------- helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i], i);
    }),
  );
  return out;
}

/** The floor of R requests to one token: they leave at most `rps` per second, the last one takes the latency. */
const floorSeconds = (requests: number) => Math.max(0, requests - 1) / cfg.rps + cfg.latencyMs / 1000;

/** Requests a full sync of a token needs (client config, asset pages, metadata lookups, assignment pages; no users: Allot created none). */
function expectedFullRequests(assets: number, assignments: number) {
  const parts = {
    clientConfig: 1,
    assetPages: Math.max(1, Math.ceil(assets / cfg.pageSize)),
    metadataLookups: Math.ceil(assets / METADATA_BATCH) * LANGUAGES,
    assignmentPages: Math.max(1, Math.ceil(assignments / cfg.pageSize)),
  };
  return { ...parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
}

// ---------------------------------------------------------------- the Allot process and its log

interface LogLine {
  at: number;
  msg: string;
  [k: string]: unknown;
}

class AllotProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  exited = false;
  #rssMaxKb = 0;
  #sampler: NodeJS.Timeout;
  #heap = { usedMax: 0, totalMax: 0, externalMax: 0 };
  #heapSampler: NodeJS.Timeout | undefined;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [join(root, "src/cli/main.ts"), "serve"], {
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.child.once("exit", () => {
      this.exited = true;
    });
    const rl = createInterface({ input: this.child.stdout! });
    const copy = args.log ? createWriteStream(args.log) : undefined;
    rl.on("line", (l) => {
      copy?.write(`${l}\n`);
      if (!l.startsWith("{")) return;
      try {
        const j = JSON.parse(l) as Record<string, unknown>;
        // Keep only what the benchmark reads (the log of every HTTP request is not needed).
        if (
          j.msg === "apple request" ||
          j.msg === "vpp token synced" ||
          j.msg === "apple request failed; retrying" ||
          j.msg === "vpp token sync failed" ||
          (typeof j.level === "number" && j.level >= 40)
        )
          this.lines.push({ ...(j as object), at: performance.now(), msg: String(j.msg) });
      } catch {
        // not JSON
      }
    });
    this.#sampler = setInterval(() => {
      const kb = this.status("VmRSS");
      if (kb > this.#rssMaxKb) this.#rssMaxKb = kb;
    }, 100);
    this.#sampler.unref();
  }

  /** A value of /proc/<pid>/status in kB (VmRSS, VmHWM), 0 once the process is gone. */
  status(field: "VmRSS" | "VmHWM"): number {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
        readFileSync(`/proc/${this.child.pid}/status`, "utf8"),
      );
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Samples the V8 heap through /metrics (Prometheus default metrics) once a second. */
  sampleHeap(metricsUrl: string) {
    this.#heapSampler = setInterval(async () => {
      const text = await fetch(metricsUrl)
        .then((r) => r.text())
        .catch(() => "");
      const v = (name: string) =>
        Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? 0);
      this.#heap.usedMax = Math.max(this.#heap.usedMax, v("allot_nodejs_heap_size_used_bytes"));
      this.#heap.totalMax = Math.max(this.#heap.totalMax, v("allot_nodejs_heap_size_total_bytes"));
      this.#heap.externalMax = Math.max(this.#heap.externalMax, v("allot_nodejs_external_memory_bytes"));
    }, 1000);
    this.#heapSampler.unref();
  }

  /** Highest sampled V8 heap (used, total) and external memory since the last call, as text. */
  takeHeapMax() {
    const mb = (b: number) => Math.round(b / 1048576);
    const h = this.#heap;
    this.#heap = { usedMax: 0, totalMax: 0, externalMax: 0 };
    if (h.totalMax === 0) return "V8 heap not sampled (under a second)";
    return `V8 heap ≤ ${mb(h.usedMax)} MB used of ${mb(h.totalMax)} MB, external ≤ ${mb(h.externalMax)} MB`;
  }

  /** Highest sampled RSS since the last call (kB). */
  takeRssMax(): number {
    const v = Math.max(this.#rssMaxKb, this.status("VmRSS"));
    this.#rssMaxKb = 0;
    return v;
  }

  since(t: number, msg: string) {
    return this.lines.filter((l) => l.at >= t && l.msg === msg);
  }

  async stop() {
    clearInterval(this.#sampler);
    clearInterval(this.#heapSampler);
    if (this.exited) return;
    this.child.kill("SIGTERM");
    await new Promise((r) => this.child.once("exit", r));
  }
}

async function startEmulator(port: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      join(root, "src/cli/main.ts"),
      "emulator",
      "apple",
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--seed",
      String(cfg.seed),
      "--page-size",
      String(cfg.pageSize),
      "--latency-ms",
      String(cfg.latencyMs),
      "--rate-limit-rps",
      String(cfg.rps),
      "--limit",
      `maxRequestPerSecond=${cfg.rps}`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise<string>((res, rej) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on("line", (l) => {
      const m = /listening at (http:\/\/\S+)/.exec(l);
      if (m) res(m[1]);
    });
    child.once("exit", (code) => rej(new Error(`the emulator exited (${code})`)));
  });
  return { child, url };
}

// ---------------------------------------------------------------- main

async function main() {
  const work = mkdtempSync(join(tmpdir(), "allot-bench-apple-"));
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  console.log(
    `Allot Apple sync benchmark — node ${process.version}, ${cpus().length} CPUs, load average ${load()}\n` +
      `  emulator: seed ${cfg.seed}, page size ${cfg.pageSize}, ${cfg.latencyMs} ms latency per request, ${cfg.rps} requests/s per token\n` +
      `  big token: ${cfg.assets} assets, ${cfg.assignments} device assignments; ${cfg.changes} changes; ${cfg.tokens} tokens × ${cfg.tokenAssets} assets\n` +
      `  metadata: storefront ${COUNTRY} (${LANGUAGES} languages), ${METADATA_BATCH} ids per lookup`,
  );

  // PostgreSQL: a fresh database, dropped at the end.
  const scratch = await createScratchDatabase(args["database-url"]!, "allot_bench_apple");
  const databaseUrl = scratch.url;
  const sqlClient = new pg.Client({ connectionString: databaseUrl });

  const emuPort = await freePort();
  const emulator = await startEmulator(emuPort);
  const control = createAppleControlClient(emulator.url);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const clientId = "bench-client";
  const clientSecret = randomBytes(24).toString("hex");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: "127.0.0.1",
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    RUN_MODE: "all",
    ALLOT_DATA_DIR: join(work, "data"),
    ALLOT_SECRET_KEY: randomBytes(32).toString("hex"),
    ALLOT_BOOTSTRAP_CLIENT_ID: clientId,
    ALLOT_BOOTSTRAP_CLIENT_SECRET: clientSecret,
    ALLOT_APPLE_BASE_URL: `${emulator.url}/mdm/v2`,
    ALLOT_PUBLIC_URL: base,
    ALLOT_MAX_TOKENS_PER_TENANT: String(Math.max(256, cfg.tokens + 1)),
    LOG_LEVEL: "debug",
  };
  if (args["allot-node-options"]) env.NODE_OPTIONS = args["allot-node-options"];
  const allot = new AllotProcess(env);

  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= cleanupOnce());
  const cleanupOnce = async () => {
    await allot.stop();
    emulator.child.kill("SIGTERM");
    await sqlClient.end().catch(() => undefined);
    if (!args.keep) {
      await scratch.drop();
      rmSync(work, { recursive: true, force: true });
    }
  };

  // Ctrl-C: stop both processes and drop the database before leaving.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });

  try {
    for (let i = 0; ; i++) {
      if (allot.exited) throw new Error("Allot exited during start-up");
      if (
        await fetch(`${base}/readyz`)
          .then((r) => r.ok)
          .catch(() => false)
      )
        break;
      if (i > 600) throw new Error("Allot did not become ready in 60 s");
      await sleep(100);
    }
    await sqlClient.connect();
    allot.sampleHeap(`${base}/metrics`);
    const api = graphApi(base, await clientCredentialsToken(base, clientId, clientSecret));
    const upload = async (sToken: string) =>
      (
        await api("POST", "/beta/deviceAppManagement/vppTokens", {
          token: sToken,
          appleId: "vpp@bench.example",
          countryOrRegion: COUNTRY,
          vppTokenAccountType: "business",
        })
      ).id as string;
    /** Waits until every token's lastSyncStatus is completed after `since` (wall clock); returns when the last one was seen. */
    const waitSynced = async (ids: string[], since: number, timeoutMs: number) => {
      const pending = new Set(ids);
      const until = performance.now() + timeoutMs;
      while (pending.size > 0) {
        await mapLimit([...pending], 16, async (id) => {
          const t = await api(
            "GET",
            `/beta/deviceAppManagement/vppTokens/${id}?$select=lastSyncStatus,lastSyncDateTime`,
          );
          if (t.lastSyncStatus === "failed") throw new Error(`sync of ${id} failed`);
          if (t.lastSyncStatus === "completed" && Date.parse(t.lastSyncDateTime) >= since) pending.delete(id);
        });
        if (pending.size === 0) break;
        if (performance.now() > until)
          throw new Error(`${pending.size} syncs did not complete in ${timeoutMs / 1000} s`);
        await sleep(ids.length > 1 ? 250 : 50);
      }
      return performance.now();
    };
    const mirrorCount = async (tokenId: string) =>
      Number(
        (
          await sqlClient.query("select count(*)::int as n from store_assignments where token_id = $1", [
            tokenId,
          ])
        ).rows[0].n,
      );
    const appleRequests = (t0: number, t1: number) => {
      // The service config is read without a token (not counted against any token's rate).
      const reqs = allot.lines.filter(
        (l) => l.at >= t0 && l.at <= t1 && l.msg === "apple request" && l.endpoint !== "GET /service/config",
      );
      const byEndpoint: Record<string, number> = {};
      for (const r of reqs) byEndpoint[String(r.endpoint)] = (byEndpoint[String(r.endpoint)] ?? 0) + 1;
      const retries = allot.lines.filter(
        (l) => l.at >= t0 && l.at <= t1 && l.msg === "apple request failed; retrying",
      ).length;
      return { total: reqs.length, byEndpoint, retries };
    };
    /** Allot's "vpp token synced" lines since t0 (it logs them just after lastSyncStatus turns completed). */
    const syncLog = async (t0: number, count = 1) => {
      const pick = () => allot.lines.filter((l) => l.at >= t0 && l.msg === "vpp token synced");
      for (let i = 0; i < 40 && pick().length < count; i++) await sleep(50);
      return pick();
    };

    // ---------------- 1. the big token
    console.log("\n== seeding (not timed)");
    let t = performance.now();
    const assets = Array.from({ length: cfg.assets }, (_, i) => ({
      adamId: String(700_000_000 + i),
      name: `Bench App ${i}`,
      bundleId: `com.example.bench.app${i}`,
      version: `1.${i % 10}.0`,
      totalCount:
        Math.ceil(cfg.assignments / Math.max(1, cfg.assets)) +
        Math.ceil(cfg.changes / Math.max(1, cfg.assets)) +
        50,
    }));
    const big = await control.createLocation({
      orgName: "Bench Org",
      locationName: "Big location",
      countryISO2ACode: COUNTRY,
      assets,
    });
    const since0 = Date.now();
    const bigId = await upload(big.sToken);
    await waitSynced([bigId], since0, 600_000);
    console.log(
      `uploaded the token (${cfg.assets} assets) and ran its first sync in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    t = performance.now();
    const seeded = await control.seedAssignments(big.uId, {
      generate: { count: cfg.assignments, serialPrefix: "BENCH" },
    });
    console.log(
      `seeded ${seeded.added} device assignments through the control API in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    allot.takeRssMax();
    allot.takeHeapMax();

    // ---------------- 2. full syncs through syncLicenses
    const expected = expectedFullRequests(cfg.assets, cfg.assignments);
    for (let run = 1; run <= cfg.fullSyncs; run++) {
      const label = run === 1 ? "empty mirror" : "mirror up to date";
      console.log(`\n== full sync ${run} (${label}): POST …/syncLicenses until lastSyncStatus = completed`);
      const wall = Date.now();
      const t0 = performance.now();
      await api("POST", `/beta/deviceAppManagement/vppTokens/${bigId}/syncLicenses`);
      const t1 = await waitSynced([bigId], wall, 900_000);
      const secs = (t1 - t0) / 1000;
      const reqs = appleRequests(t0, t1);
      const logged = (await syncLog(t0)).at(-1);
      const floor = floorSeconds(reqs.total);
      const rssMb = allot.takeRssMax() / 1024;
      const mirror = await mirrorCount(bigId);
      if (mirror !== cfg.assignments)
        throw new Error(`the mirror holds ${mirror} assignments, Apple ${cfg.assignments}`);
      line(
        "requests to Apple",
        String(reqs.total),
        `(expected ${expected.total}: ${expected.clientConfig} client config + ${expected.assetPages} asset pages + ${expected.metadataLookups} metadata lookups + ${expected.assignmentPages} assignment pages; ${reqs.retries} retried)`,
      );
      line(`floor: (${reqs.total} − 1) / ${cfg.rps} rps + ${cfg.latencyMs} ms`, `${floor.toFixed(2)} s`);
      line(
        `full sync, ${label}, syncLicenses → completed`,
        `${secs.toFixed(2)} s`,
        ratioNote(secs / floor, targets.fullRatio),
      );
      if (logged)
        line(
          "  of which the sync job itself (Allot's log)",
          `${(Number(logged.ms) / 1000).toFixed(2)} s`,
          `(full: ${logged.full}, ${logged.assignmentsAdded} added, ${logged.assignmentsRemoved} removed)`,
        );
      const heap = allot.takeHeapMax();
      line(
        `Allot peak RSS during the sync (sampled VmRSS)`,
        `${rssMb.toFixed(0)} MB`,
        `${ratioNote(rssMb / targets.rssMb, 1)} ${heap}`,
      );
      line("mirror rows after the sync", String(mirror));
    }

    // ---------------- 3. incremental sync after 1,000 changes
    console.log(`\n== incremental sync after ${cfg.changes} changes through the control API`);
    {
      const added = await control.seedAssignments(big.uId, {
        generate: { count: cfg.changes, devices: cfg.changes, serialPrefix: "CHANGE" },
      });
      // The trigger: Apple's ASSET_COUNT notification for an app bought just now makes Allot read what changed.
      const wall = Date.now();
      const t0 = performance.now();
      await control.purchase(big.uId, {
        adamId: "799999999",
        pricingParam: "STDQ",
        count: 10,
        name: "Bench New App",
        bundleId: "com.example.bench.new",
        version: "1.0",
      });
      const t1 = await waitSynced([bigId], wall, 60_000);
      const secs = (t1 - t0) / 1000;
      const logged = (await syncLog(t0)).at(-1);
      const reqs = appleRequests(t0, t1);
      const mirror = await mirrorCount(bigId);
      if (mirror !== cfg.assignments + added.added)
        throw new Error(`the mirror holds ${mirror} assignments, Apple ${cfg.assignments + added.added}`);
      if (logged?.full !== false) throw new Error("the sync after the notification was not incremental");
      line(
        "requests to Apple",
        String(reqs.total),
        `(${Object.entries(reqs.byEndpoint)
          .map(([k, v]) => `${v} ${k}`)
          .join(", ")})`,
      );
      line(
        `incremental sync, purchase → completed (${added.added} changes)`,
        `${secs.toFixed(2)} s`,
        ratioNote(secs / targets.incrementalSeconds, 1),
      );
      if (logged)
        line(
          "  of which the sync job itself (Allot's log)",
          `${(Number(logged.ms) / 1000).toFixed(2)} s`,
          ratioNote(Number(logged.ms) / 1000 / targets.incrementalSeconds, 1),
        );
      line("mirror rows after the sync", String(mirror));
    }

    // ---------------- 4. many tokens
    if (!args["skip-many"] && cfg.tokens > 0) {
      console.log(`\n== ${cfg.tokens} tokens × ${cfg.tokenAssets} assets`);
      t = performance.now();
      const locations = await mapLimit(
        Array.from({ length: cfg.tokens }, (_, i) => i),
        8,
        (i) =>
          control.createLocation({
            orgName: "Bench Org",
            locationName: `Location ${String(i).padStart(3, "0")}`,
            countryISO2ACode: COUNTRY,
            assets: Array.from({ length: cfg.tokenAssets }, (_, j) => ({
              adamId: String(800_000_000 + i * 1000 + j),
              name: `Location ${i} App ${j}`,
              bundleId: `com.example.loc${i}.app${j}`,
              version: "2.0",
              totalCount: 100,
            })),
          }),
      );
      const wall0 = Date.now();
      const ids = await mapLimit(locations, 8, (l) => upload(l.sToken));
      await waitSynced(ids, wall0, 900_000);
      console.log(
        `created ${cfg.tokens} locations, uploaded their tokens and ran their first syncs in ${((performance.now() - t) / 1000).toFixed(1)} s (not timed)`,
      );
      allot.takeRssMax();
      allot.takeHeapMax();

      const wall = Date.now();
      const t0 = performance.now();
      await mapLimit(ids, 16, (id) => api("POST", `/beta/deviceAppManagement/vppTokens/${id}/syncLicenses`));
      const t1 = await waitSynced(ids, wall, 900_000);
      const secs = (t1 - t0) / 1000;
      const reqs = appleRequests(t0, t1);
      const per = expectedFullRequests(cfg.tokenAssets, 0);
      const perToken = reqs.total / cfg.tokens;
      const floor = floorSeconds(Math.round(perToken));
      const jobs = (await syncLog(t0, cfg.tokens)).map((l) => Number(l.ms) / 1000);
      line(
        "requests to Apple",
        String(reqs.total),
        `(${perToken.toFixed(1)} per token; expected ${per.total}; ${reqs.retries} retried)`,
      );
      // Allot runs DEFAULT_SYNC_CONCURRENCY syncs at once per process: the tokens go through in waves.
      const waves = Math.ceil(cfg.tokens / DEFAULT_SYNC_CONCURRENCY);
      const floorWaves = waves * floor;
      line(`floor: every token at its own ${cfg.rps} rps, all at once`, `${floor.toFixed(2)} s`);
      line(
        `floor: ${waves} waves of ${DEFAULT_SYNC_CONCURRENCY} (Allot's syncs at once)`,
        `${floorWaves.toFixed(2)} s`,
      );
      line(
        `${cfg.tokens} syncLicenses → all completed`,
        `${secs.toFixed(2)} s`,
        `${ratioNote(secs / floor)} (${(secs / floorWaves).toFixed(2)} of the ${DEFAULT_SYNC_CONCURRENCY}-at-once floor)`,
      );
      if (jobs.length > 0)
        line(
          "  one token's sync job (Allot's log), median",
          `${jobs.sort((a, b) => a - b)[Math.floor(jobs.length / 2)].toFixed(2)} s`,
        );
      const rssMb = allot.takeRssMax() / 1024;
      const heap = allot.takeHeapMax();
      line(
        "Allot peak RSS during these syncs (sampled VmRSS)",
        `${rssMb.toFixed(0)} MB`,
        `${ratioNote(rssMb / targets.rssMb, 1)} ${heap}`,
      );
    }

    const hwmMb = allot.status("VmHWM") / 1024;
    line(
      "Allot peak RSS over the whole run (VmHWM)",
      `${hwmMb.toFixed(0)} MB`,
      ratioNote(hwmMb / targets.rssMb, 1),
    );
    const errors = allot.lines.filter((l) => typeof l.level === "number" && (l.level as number) >= 50);
    const warnings = allot.lines.filter((l) => l.level === 40);
    if (warnings.length > 0)
      console.log(
        `\nAllot logged ${warnings.length} warnings: ${[...new Set(warnings.map((w) => w.msg))].join("; ")}`,
      );
    if (errors.length > 0)
      console.log(`\nAllot logged ${errors.length} errors, e.g. ${JSON.stringify(errors[0]).slice(0, 500)}`);
    console.log(`\nload average at the end: ${load()}`);
  } catch (err) {
    const recent = allot.lines.filter((l) => l.msg !== "apple request").slice(-15);
    console.error(`Allot's last warnings:\n${recent.map((l) => JSON.stringify(l).slice(0, 400)).join("\n")}`);
    // What the database was doing (jobs and sessions) when the benchmark gave up.
    const jobs = await sqlClient
      .query(
        "select name, state, singleton_key, created_on, started_on, completed_on, start_after, blocked, policy, pgboss.job_now() as now from pgboss.job where name not like '%due%' order by created_on desc limit 12",
      )
      .catch((e: Error) => ({ rows: [{ error: e.message }] }));
    const sessions = await sqlClient
      .query(
        "select application_name, state, wait_event_type, wait_event, now() - query_start as running, left(query, 160) as query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
      )
      .catch((e: Error) => ({ rows: [{ error: e.message }] }));
    console.error("jobs:", JSON.stringify(jobs.rows, null, 1));
    console.error("sessions:", JSON.stringify(sessions.rows, null, 1));
    throw err;
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

// Directory benchmark (`npm run bench:directory -- [--engine pglite|postgres] [--scale 1]`):
// generates fixed-seed CSVs, starts a real Allot server in a separate process on 127.0.0.1,
// imports users, devices, groups and memberships end to end through POST /beta/imports, then
// measures transitiveMembers of the big nested group and, with a load generator in a separate
// process (autocannon), a filtered users list. Every figure is printed with its ratio to target.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import pg from "pg";
import { clientCredentialsToken, createScratchDatabase, databaseUrlOption, freePort } from "../harness.ts";
import { generate } from "./generate.ts";

const root = resolve(import.meta.dirname, "../..");
const { values: args } = parseArgs({
  options: {
    engine: { type: "string", default: "pglite" },
    scale: { type: "string", default: "1" },
    "database-url": databaseUrlOption,
    runs: { type: "string", default: "20" },
    "load-seconds": { type: "string", default: "30" },
    "warmup-seconds": { type: "string", default: "10" },
    load: { type: "string", default: "auto" },
    keep: { type: "boolean", default: false },
  },
});
const engine = args.engine as "pglite" | "postgres";
if (engine !== "pglite" && engine !== "postgres") throw new Error("--engine must be pglite or postgres");
const scale = Number(args.scale);
const targets = { importSeconds: engine === "postgres" ? 20 : 60, transitiveMs: 200, p99Ms: 20 };
const runLoad = args.load === "auto" ? engine === "postgres" : args.load === "yes";

const results: { name: string; value: string; target?: string; ratio?: number }[] = [];
function report(name: string, value: number, unit: string, target?: number) {
  const ratio = target !== undefined ? value / target : undefined;
  results.push({
    name,
    value: `${value.toFixed(unit === "s" ? 2 : 1)} ${unit}`,
    target: target !== undefined ? `${target} ${unit}` : undefined,
    ratio,
  });
  const r =
    ratio !== undefined
      ? `  (target ${target} ${unit}; ratio ${ratio.toFixed(2)}${ratio <= 1 ? " ✓" : " ✗"})`
      : "";
  console.log(`${name.padEnd(52)} ${`${value.toFixed(unit === "s" ? 2 : 1)} ${unit}`.padStart(12)}${r}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function main() {
  const work = mkdtempSync(join(tmpdir(), "allot-bench-"));
  const dataDir = join(work, "data");
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  console.log(
    `Allot directory benchmark — engine ${engine}, scale ${scale}, node ${process.version}, ${cpus().length} CPUs, load average ${load()}, work dir ${work}`,
  );

  let t = performance.now();
  const data = await generate(work, scale);
  console.log(
    `generated ${data.counts.users} users, ${data.counts.devices} devices, ${data.counts.groups} groups, ${data.counts.members} memberships in ${((performance.now() - t) / 1000).toFixed(1)} s (not timed)`,
  );

  const scratch =
    engine === "postgres" ? await createScratchDatabase(args["database-url"]!, "allot_bench") : undefined;
  const databaseUrl = scratch?.url;

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const clientId = "bench-client";
  const clientSecret = randomBytes(24).toString("hex");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: "127.0.0.1",
    PORT: String(port),
    ALLOT_DATA_DIR: dataDir,
    ALLOT_SECRET_KEY: randomBytes(32).toString("hex"),
    ALLOT_BOOTSTRAP_CLIENT_ID: clientId,
    ALLOT_BOOTSTRAP_CLIENT_SECRET: clientSecret,
    LOG_LEVEL: "warn",
  };
  delete env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const server: ChildProcess = spawn(process.execPath, [join(root, "src/cli/main.ts"), "serve"], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  let serverExited = false;
  server.once("exit", () => {
    serverExited = true;
  });
  const cleanup = async () => {
    if (!serverExited) {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
    if (scratch && !args.keep) await scratch.drop();
    if (!args.keep) rmSync(work, { recursive: true, force: true });
  };

  try {
    for (let i = 0; ; i++) {
      if (serverExited) throw new Error("the server process exited during start-up");
      const ok = await fetch(`${base}/readyz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (i > 600) throw new Error("the server did not become ready in 60 s");
      await sleep(100);
    }
    const token = await clientCredentialsToken(base, clientId, clientSecret);
    const auth = { authorization: `Bearer ${token}` };

    // ---- import, end to end over HTTP
    console.log(
      "\n== import through POST /beta/imports (upload + validation + chunked writes, until completed)",
    );
    let total = 0;
    for (const kind of ["users", "devices", "groups", "members"] as const) {
      t = performance.now();
      const res = await fetch(`${base}/beta/imports?kind=${kind}&fileName=${kind}.csv`, {
        method: "POST",
        headers: { ...auth, "content-type": "text/csv" },
        body: Readable.toWeb(createReadStream(data.files[kind])) as ReadableStream,
        duplex: "half",
      } as RequestInit);
      const accepted = (await res.json()) as { id: string; error?: { message: string } };
      if (res.status !== 202)
        throw new Error(`${kind} import answered ${res.status}: ${JSON.stringify(accepted).slice(0, 2000)}`);
      const validated = performance.now() - t;
      let status: { status: string; processedRows: number; totalRows: number; errors: unknown[] };
      for (;;) {
        status = (await (
          await fetch(`${base}/beta/imports/${accepted.id}`, { headers: auth })
        ).json()) as typeof status;
        if (status.status !== "running") break;
        await sleep(50);
      }
      const secs = (performance.now() - t) / 1000;
      if (status.status !== "completed")
        throw new Error(`${kind} import ${status.status}: ${JSON.stringify(status.errors)}`);
      total += secs;
      report(
        `import ${kind} (${status.totalRows} rows; validated in ${(validated / 1000).toFixed(1)} s)`,
        secs,
        "s",
      );
    }
    report("import total", total, "s", targets.importSeconds);

    // ---- steady state for the read measurements: PostgreSQL's autovacuum and checkpointer work off
    // the million rows just written (PGlite has neither).
    if (databaseUrl) {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      const s = performance.now();
      await c.query("checkpoint").catch(() => undefined); // needs superuser or pg_checkpoint
      for (let quiet = 0, i = 0; quiet < 3 && i < 240; i++) {
        const r = await c.query(
          "select count(*)::int as n from pg_stat_activity where backend_type = 'autovacuum worker'",
        );
        quiet = r.rows[0].n === 0 ? quiet + 1 : 0;
        await sleep(500);
      }
      await c.end();
      console.log(
        `\n(waited ${((performance.now() - s) / 1000).toFixed(1)} s for checkpoint and autovacuum to finish before measuring reads)`,
      );
    }

    // ---- transitiveMembers of the 100k-member nested group
    const rootRes = (await (
      await fetch(`${base}/v1.0/groups?$filter=mailNickname eq '${data.rootGroup}'`, { headers: auth })
    ).json()) as { value: { id: string }[] };
    const rootId = rootRes.value[0].id;
    const tmUrl = `${base}/v1.0/groups/${rootId}/transitiveMembers?$count=true&$top=1`;
    const times: number[] = [];
    const runs = Number(args.runs);
    for (let i = 0; i < runs + 3; i++) {
      const s = performance.now();
      const r = await fetch(tmUrl, { headers: auth });
      const body = (await r.json()) as { "@odata.count": number };
      const ms = performance.now() - s;
      if (body["@odata.count"] !== data.rootTransitiveCount)
        throw new Error(
          `transitiveMembers count ${body["@odata.count"]}, expected ${data.rootTransitiveCount}`,
        );
      if (i >= 3) times.push(ms);
    }
    console.log(
      `\n== GET /v1.0/groups/{id}/transitiveMembers?$count=true&$top=1 (${data.rootTransitiveCount} transitive members; ${runs} runs after 3 warm-up)`,
    );
    report("transitiveMembers median", percentile(times, 50), "ms", targets.transitiveMs);
    report("transitiveMembers p95", percentile(times, 95), "ms", targets.transitiveMs);

    // ---- filtered users list under load (autocannon in its own process)
    if (runLoad) {
      const url = `${base}/v1.0/users?$top=100&$filter=startswith(displayName,'a')`;
      const check = (await (await fetch(url, { headers: auth })).json()) as { value: unknown[] };
      if (check.value.length !== Math.min(100, data.usersStartingWithA))
        throw new Error(`users filter returned ${check.value.length} rows`);
      const autocannon = async (extra: string[], seconds: number) => {
        const child = spawn(
          process.execPath,
          [
            join(root, "node_modules/autocannon/autocannon.js"),
            "-c",
            "16",
            "-d",
            String(seconds),
            "-j",
            "-H",
            `authorization=Bearer ${token}`,
            ...extra,
            url,
          ],
          {
            stdio: ["ignore", "pipe", "ignore"],
          },
        );
        let out = "";
        child.stdout!.on("data", (d) => {
          out += d;
        });
        await new Promise((r) => child.once("exit", r));
        return JSON.parse(out) as {
          latency: { p50: number; p99: number; p97_5: number; max: number };
          requests: { average: number; total: number };
          non2xx: number;
          errors: number;
        };
      };
      console.log(
        `\n== GET /v1.0/users?$top=100&$filter=startswith(displayName,'a') — autocannon, 16 connections`,
      );
      await autocannon(["-R", "200"], Number(args["warmup-seconds"]));
      const fixed = await autocannon(["-R", "200"], Number(args["load-seconds"]));
      if (fixed.non2xx > 0 || fixed.errors > 0)
        throw new Error(`load run had ${fixed.non2xx} non-2xx answers and ${fixed.errors} errors`);
      report(`autocannon -R 200 for ${args["load-seconds"]} s: p50`, fixed.latency.p50, "ms");
      report(`autocannon -R 200 for ${args["load-seconds"]} s: p99`, fixed.latency.p99, "ms", targets.p99Ms);
      report(
        `autocannon -R 200 for ${args["load-seconds"]} s: achieved rate`,
        fixed.requests.average,
        "req/s",
      );
      // The same rate evenly paced (request i due at i/200 s), also from its own process.
      const pacedChild = spawn(
        process.execPath,
        [
          join(root, "bench/directory/paced.ts"),
          "--url",
          url,
          "--token",
          token,
          "--rate",
          "200",
          "--connections",
          "16",
          "--warmup",
          args["warmup-seconds"]!,
          "--duration",
          args["load-seconds"]!,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      let pacedOut = "";
      pacedChild.stdout!.on("data", (d) => {
        pacedOut += d;
      });
      await new Promise((r) => pacedChild.once("exit", r));
      const paced = JSON.parse(pacedOut) as { p50: number; p99: number; rate: number; errors: number };
      if (paced.errors > 0) throw new Error(`paced run had ${paced.errors} errors`);
      report(`evenly paced 200 req/s for ${args["load-seconds"]} s: p50`, paced.p50, "ms");
      report(`evenly paced 200 req/s for ${args["load-seconds"]} s: p99`, paced.p99, "ms", targets.p99Ms);
      const max = await autocannon([], 10);
      if (max.non2xx > 0 || max.errors > 0)
        throw new Error(`unthrottled run had ${max.non2xx} non-2xx answers and ${max.errors} errors`);
      report("autocannon unthrottled 10 s: maximum throughput", max.requests.average, "req/s");
      report("autocannon unthrottled 10 s: p99", max.latency.p99, "ms");
    }

    console.log(`\nload average at the end: ${load()}`);
    console.log("\n| figure | value | target | ratio |\n|---|---|---|---|");
    for (const r of results)
      console.log(
        `| ${r.name} | ${r.value} | ${r.target ?? ""} | ${r.ratio !== undefined ? r.ratio.toFixed(2) : ""} |`,
      );
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});

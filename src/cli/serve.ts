// `allot serve`: lock the embedded data directory, build Allot, listen, and shut down gracefully.
import { mkdirSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { type AppConfig, loadConfig } from "../config/env.ts";
import { type DataDirLock, lockDataDir, updateLockInfo } from "../db/data-dir-lock.ts";
import { randomSecret } from "../lib/crypto.ts";
import { createAllot } from "../main.ts";

export async function serve(config: AppConfig = loadConfig()): Promise<void> {
  // A full reconcile or directory read makes hundreds of MB of short-lived rows; left to itself V8
  // lets the heap grow to ~4× its live data before collecting, and keeps those pages (a 1.9 GB
  // process holding ~0.3 GB of live data, bench/reconcile). The factor is read at every collection.
  if (config.ALLOT_HEAP_GROWTH_PERCENT > 0)
    setFlagsFromString(`--heap-growing-percent=${config.ALLOT_HEAP_GROWTH_PERCENT}`);
  mkdirSync(config.dataDir, { recursive: true });
  // PGlite: one process per data directory. PostgreSQL: many processes may share the server.
  const lock: DataDirLock | undefined = config.database.kind === "pglite" ? lockDataDir(config.dataDir) : undefined;
  let allot: Awaited<ReturnType<typeof createAllot>>;
  try {
    allot = await createAllot(config);
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const { server } = allot;
  const cliToken = `allot-cli.${randomSecret(32)}`;
  allot.services.accessService.setCliToken(cliToken);
  try {
    await server.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    await allot.close().catch(() => undefined);
    await lock?.release();
    throw err;
  }
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const url = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${port}`;
  if (lock) updateLockInfo(config.dataDir, { url, cliToken });
  server.log.info({ url, database: config.database.kind, runMode: config.RUN_MODE }, "Allot is listening");
  let setupUrl = allot.bootstrapResult.setupUrl;
  if (setupUrl && !config.ALLOT_PUBLIC_URL) {
    // Without a public URL the link names the address actually listened on (PORT=0 picks one).
    const link = new URL(setupUrl);
    setupUrl = `${url}${link.pathname}${link.search}`;
  }
  // A worker serves no console: the setup link belongs to the API processes.
  if (setupUrl && config.RUN_MODE !== "worker") {
    const line = `No administrator exists yet. Open this one-time setup link to create the first Global administrator:\n  ${setupUrl}\n(or set ALLOT_BOOTSTRAP_ADMIN_EMAIL and ALLOT_BOOTSTRAP_ADMIN_PASSWORD)`;
    process.stdout.write(`${line}\n`);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    try {
      await allot.close();
    } finally {
      await lock?.release();
      process.exit(0);
    }
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

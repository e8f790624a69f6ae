// `allot migrate`, `allot backup`, `allot restore`: the database itself. On the embedded database
// they respect the data-directory lock: a running server does the work through its API (backup) or
// the command refuses (migrate, restore); offline they take the lock themselves.
import { spawn } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { type AppConfig, loadConfig } from "../config/env.ts";
import { lockDataDir, readLockInfo } from "../db/data-dir-lock.ts";
import { dumpEmbeddedDatabase } from "../modules/backup/backup.service.ts";
import {
  addApiOptions,
  apiOptionsOf,
  CliError,
  connectToServer,
  localServer,
  output,
  readJson,
} from "./client.ts";

const hasDatabase = (pgdata: string) => existsSync(join(pgdata, "PG_VERSION"));

/** Runs fn with the embedded data directory locked by this process (refusing when a server holds it). */
async function offline<T>(config: AppConfig, purpose: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(config.dataDir, { recursive: true });
  const running = await localServer(config);
  if (running) {
    const info = readLockInfo(config.dataDir);
    throw new CliError(
      `An Allot server${info ? ` (pid ${info.pid}, ${running.baseUrl})` : ""} holds the data directory ${config.dataDir}. ${purpose}`,
    );
  }
  const lock = lockDataDir(config.dataDir);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

export async function migrate(config: AppConfig): Promise<{ database: string; applied: string[] }> {
  const run = async () => {
    const { createDatabase } = await import("../db/database.ts");
    const { migrateToLatest } = await import("../db/migrate.ts");
    const database = await createDatabase(
      config.database.kind === "postgres"
        ? { kind: "postgres", url: config.database.url }
        : { kind: "pglite", dataDir: config.database.dataDir },
      { migrate: false, poolSize: 2 },
    );
    try {
      return { database: config.database.kind, applied: await migrateToLatest(database.db) };
    } finally {
      await database.close();
    }
  };
  if (config.database.kind === "postgres") return run();
  return offline(
    config,
    "It ran the migrations when it started, so there is nothing to do; stop it first to run 'allot migrate' yourself.",
    run,
  );
}

const stamp = () =>
  new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");

/** Writes to FILE.partial and renames it into place, so a failed backup never leaves a truncated file. */
async function writeAtomically(file: string, write: (tmp: string) => Promise<void>): Promise<number> {
  const tmp = `${file}.partial`;
  mkdirSync(dirname(file), { recursive: true });
  try {
    await write(tmp);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return statSync(file).size;
}

function runPgDump(url: string, file: string): Promise<void> {
  // The password goes through the environment, not the command line (visible to other users in ps).
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = "";
  return new Promise((done, fail) => {
    const child = spawn(
      "pg_dump",
      ["--format=custom", "--no-owner", "--file", file, "--dbname", parsed.toString()],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) },
      },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", (err: NodeJS.ErrnoException) =>
      fail(
        err.code === "ENOENT"
          ? new CliError(
              "This Allot runs on PostgreSQL (DATABASE_URL), which 'allot backup' copies with pg_dump, but pg_dump is not on PATH. Install the PostgreSQL client tools of the server's version (Debian: apt-get install postgresql-client), or use your provider's backups.",
            )
          : err,
      ),
    );
    child.on("close", (code) =>
      code === 0 ? done() : fail(new CliError(`pg_dump failed (exit ${code}): ${stderr.trim()}`)),
    );
  });
}

export async function backup(
  config: AppConfig,
  out: string | undefined,
  options: Parameters<typeof connectToServer>[1],
) {
  const running = await connectToServer(config, options);
  if (running) {
    const file = resolve(out ?? `allot-backup-${stamp()}.tar.gz`);
    const bytes = await writeAtomically(file, async (tmp) => {
      const res = await running.fetch("/beta/admin/backup", { method: "POST" });
      if (!res.ok || !res.body) await readJson(res, "POST", "/beta/admin/backup");
      await pipeline(
        Readable.fromWeb(res.body as import("node:stream/web").ReadableStream),
        createWriteStream(tmp, { mode: 0o600 }),
      );
    });
    return { file, bytes, database: "pglite", via: running.baseUrl };
  }
  if (config.database.kind === "postgres") {
    const url = config.database.url;
    const file = resolve(out ?? `allot-backup-${stamp()}.dump`);
    const bytes = await writeAtomically(file, (tmp) => runPgDump(url, tmp));
    return { file, bytes, database: "postgres", via: "pg_dump" };
  }
  const pgdata = config.database.dataDir;
  const file = resolve(out ?? `allot-backup-${stamp()}.tar.gz`);
  return offline(config, "Run 'allot backup' again to take the copy through it.", async () => {
    if (!hasDatabase(pgdata))
      throw new CliError(
        `There is no database in ${config.dataDir} to back up (set ALLOT_DATA_DIR to the data directory).`,
      );
    // Opened without migrating: the copy is the database exactly as it is.
    const { createDatabase } = await import("../db/database.ts");
    const database = await createDatabase({ kind: "pglite", dataDir: pgdata }, { migrate: false });
    try {
      const data = await dumpEmbeddedDatabase(database);
      const bytes = await writeAtomically(file, async (tmp) => writeFileSync(tmp, data, { mode: 0o600 }));
      return { file, bytes, database: "pglite", via: "offline" };
    } finally {
      await database.close();
    }
  });
}

export async function restore(config: AppConfig, file: string, force: boolean) {
  if (config.database.kind === "postgres")
    throw new CliError(
      "'allot restore' loads backups of the embedded database (PGlite). This Allot runs on PostgreSQL (DATABASE_URL): restore a pg_dump backup with pg_restore.",
    );
  const source = resolve(file);
  const pgdata = config.database.dataDir;
  return offline(
    config,
    "Stop it first: a database is restored only into a stopped data directory.",
    async () => {
      let data: Buffer;
      try {
        data = readFileSync(source);
      } catch (err) {
        throw new CliError(`Cannot read ${source}: ${(err as Error).message}`);
      }
      if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b)
        throw new CliError(
          `${source} is not an Allot backup of the embedded database (a .tar.gz from 'allot backup').`,
        );
      const occupied = existsSync(pgdata) && readdirSync(pgdata).length > 0;
      if (occupied && !force)
        throw new CliError(
          `The data directory ${config.dataDir} already holds a database. Pass --force to replace it (the current database is deleted), or restore into an empty ALLOT_DATA_DIR.`,
        );
      // Load beside the current database and swap only once the copy opens and reads.
      const staging = `${pgdata}.restoring`;
      rmSync(staging, { recursive: true, force: true });
      let counts: { tenants: number; users: number };
      try {
        const { PGlite } = await import("@electric-sql/pglite");
        const pglite = await PGlite.create(staging, {
          loadDataDir: new File([new Uint8Array(data)], "backup.tar.gz", { type: "application/gzip" }),
        });
        try {
          const r = await pglite.query<{ tenants: number; users: number }>(
            "select (select count(*) from tenants)::int as tenants, (select count(*) from users)::int as users",
          );
          counts = r.rows[0];
        } finally {
          await pglite.close();
        }
      } catch (err) {
        rmSync(staging, { recursive: true, force: true });
        throw new CliError(`${source} could not be restored: ${(err as Error).message}`);
      }
      rmSync(pgdata, { recursive: true, force: true });
      renameSync(staging, pgdata);
      return { file: source, dataDir: config.dataDir, replaced: occupied, ...counts };
    },
  );
}

export function registerDatabaseCommands(program: Command): void {
  program
    .command("migrate")
    .description("run the database migrations and exit (a running server has run them already)")
    .option("--json", "print the result as JSON")
    .action(async (_opts: unknown, cmd: Command) => {
      const r = await migrate(loadConfig());
      output(
        cmd,
        r,
        r.applied.length
          ? `Applied ${r.applied.length} migration(s) on ${r.database}: ${r.applied.join(", ")}`
          : `The ${r.database} database is up to date.`,
      );
    });

  addApiOptions(
    program
      .command("backup")
      .description(
        "write a consistent copy of the database: the embedded one as .tar.gz (through the running server when there is one), PostgreSQL with pg_dump",
      )
      .option(
        "--out <file>",
        "where to write the backup (default: ./allot-backup-<time>.tar.gz, or .dump on PostgreSQL)",
      ),
  ).action(async (opts: { out?: string }, cmd: Command) => {
    const r = await backup(loadConfig(), opts.out, apiOptionsOf(cmd));
    const restoreHint =
      r.database === "pglite"
        ? "Restore it with: allot restore FILE (into a stopped, empty data directory)."
        : "Restore it with pg_restore.";
    output(
      cmd,
      r,
      `Backup written to ${r.file} (${r.bytes} bytes).\n${restoreHint} Keep ALLOT_SECRET_KEY (or the data directory's secret.key) with it.`,
    );
  });

  program
    .command("restore")
    .description(
      "load a backup of the embedded database into a stopped data directory (empty, or --force to replace it)",
    )
    .argument("<file>", "a .tar.gz written by 'allot backup'")
    .option("--force", "replace the database already in the data directory")
    .option("--json", "print the result as JSON")
    .action(async (file: string, opts: { force?: boolean }, cmd: Command) => {
      const r = await restore(loadConfig(), file, Boolean(opts.force));
      output(
        cmd,
        r,
        `Restored ${r.file} into ${r.dataDir} (${r.tenants} tenant(s), ${r.users} user(s)). Start it with: allot serve`,
      );
    });
}

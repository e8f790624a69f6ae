// `allot import users|devices|groups|members FILE.csv`: streams the file to POST /beta/imports
// (of the running server, --url, or an in-process one; see client.ts) with a progress bar for the
// upload and then for the chunked writes, until the import completes. A file with bad rows is
// refused as a whole: the command lists the line numbers and reasons and exits 1.
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import { Readable, Transform } from "node:stream";
import { Argument, type Command } from "commander";
import cliProgress from "cli-progress";
import { loadConfig } from "../config/env.ts";
import { importKinds } from "../modules/imports/imports.columns.ts";
import { type Api, addApiOptions, apiOptionsOf, CliError, errorMessageOf, output, readJson, withApi } from "./client.ts";

interface ImportResource {
  id: string;
  kind: string;
  status: "running" | "completed" | "failed";
  totalRows: number;
  processedRows: number;
  createdRows: number;
  updatedRows: number;
  unchangedRows: number;
  errors: { line: number; column?: string; message: string }[];
}

const nouns: Record<string, string> = { users: "users", devices: "managed devices", groups: "groups", members: "memberships" };

export function registerImportCommand(program: Command): void {
  const cmd = program
    .command("import")
    .description("import users, managed devices, groups or group members from a CSV file (columns: README, CSV formats)")
    .addArgument(new Argument("<kind>", "what the file holds").choices(importKinds))
    .argument("<file>", "the CSV file (UTF-8, header row)")
    .option("--no-progress", "do not draw progress bars")
    .option("--poll <ms>", "how often to ask for progress while rows are written", "250");
  addApiOptions(cmd);
  cmd.action(async (kind: string, file: string, _opts: unknown, command: Command) => {
    await runImport(command, kind, file);
  });
}

async function runImport(cmd: Command, kind: string, file: string): Promise<void> {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error("not a file");
    size = st.size;
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`);
  }
  const opts = cmd.optsWithGlobals() as { progress?: boolean; poll?: string; json?: boolean };
  const pollMs = Math.max(50, Number(opts.poll) || 250);
  const showProgress = opts.progress !== false && !opts.json && Boolean(process.stderr.isTTY);

  const result = await withApi(loadConfig(), (api) => upload(api, kind, file, size, pollMs, showProgress), apiOptionsOf(cmd));
  const unchanged = result.unchangedRows ? `, ${result.unchangedRows} unchanged` : "";
  output(cmd, result, `Imported ${result.totalRows} ${nouns[kind]} from ${file}: ${result.createdRows} created, ${result.updatedRows} updated${unchanged} (import ${result.id}).`);
}

async function upload(api: Api, kind: string, file: string, size: number, pollMs: number, showProgress: boolean): Promise<ImportResource> {
  const bar = showProgress
    ? new cliProgress.SingleBar(
        { format: " {phase} [{bar}] {percentage}% | {value}/{total} {unit}", hideCursor: true, clearOnComplete: false, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let sent = 0;
  bar?.start(size, 0, { phase: "upload + validate", unit: "bytes" });
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      bar?.update(sent);
      cb(null, chunk);
    },
  });
  const body = Readable.toWeb(createReadStream(file).pipe(counter)) as ReadableStream<Uint8Array>;
  let res: Response;
  try {
    res = await api.fetch(`/beta/imports?kind=${encodeURIComponent(kind)}&fileName=${encodeURIComponent(basename(file))}`, {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body,
      duplex: "half",
    } as RequestInit);
  } finally {
    bar?.stop();
  }
  if (res.status === 400) {
    const text = await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const details: { line: number; column?: string; message: string }[] = parsed?.error?.details ?? [];
    for (const d of details) process.stderr.write(`  line ${d.line}${d.column ? ` (${d.column})` : ""}: ${d.message}\n`);
    const count = Number(parsed?.error?.errorCount ?? details.length);
    if (count > details.length) process.stderr.write(`  … and ${count - details.length} more\n`);
    throw new CliError(`${file} was not imported: ${errorMessageOf(parsed, text)}`);
  }
  let current = (await readJson(res, "POST", "/beta/imports")) as ImportResource;

  const writing = showProgress
    ? new cliProgress.SingleBar(
        { format: " {phase} [{bar}] {percentage}% | {value}/{total} {unit}", hideCursor: true, clearOnComplete: false, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  writing?.start(current.totalRows, current.processedRows, { phase: "write          ", unit: "rows" });
  try {
    while (current.status === "running") {
      await new Promise((r) => setTimeout(r, pollMs));
      current = await api.json<ImportResource>("GET", `/beta/imports/${current.id}`);
      writing?.update(current.processedRows);
    }
  } finally {
    writing?.stop();
  }
  if (current.status !== "completed") {
    for (const e of current.errors ?? []) process.stderr.write(`  ${e.line ? `line ${e.line}: ` : ""}${e.message}\n`);
    throw new CliError(`Import ${current.id} ${current.status} after ${current.processedRows} of ${current.totalRows} rows.`);
  }
  return current;
}

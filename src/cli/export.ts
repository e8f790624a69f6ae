// `allot export users|devices|groups|members|audit [--out FILE]`: the directory as CSV in exactly
// the format `allot import` / POST /beta/imports reads (README "CSV formats"), paged through the
// Graph API; the audit log through its CSV export.

import { once } from "node:events";
import { createWriteStream, rmSync, type WriteStream } from "node:fs";
import { Argument, type Command } from "commander";
import { stringify } from "csv-stringify/sync";
import { loadConfig } from "../config/env.ts";
import { type Api, addApiOptions, apiOptionsOf, CliError, readJson, withApi } from "./client.ts";

export const exportKinds = ["users", "devices", "groups", "members", "audit"] as const;
type Kind = (typeof exportKinds)[number];
type Row = Record<string, any>;

export const csvColumns = {
  users: [
    "userPrincipalName",
    "displayName",
    "accountEnabled",
    "mail",
    "appleIdEmail",
    "usageLocation",
    "givenName",
    "surname",
    "jobTitle",
    "department",
  ],
  devices: [
    "serialNumber",
    "deviceName",
    "operatingSystem",
    "osVersion",
    "managedDeviceOwnerType",
    "isSupervised",
    "userPrincipalName",
    "joinType",
    "kioskMode",
    "iTunesStoreBlocked",
    "storeAppBlocked",
  ],
  groups: ["mailNickname", "displayName", "description", "memberKind"],
  members: ["groupMailNickname", "memberType", "member"],
} as const;

const collections = {
  users: "/v1.0/users",
  devices: "/v1.0/deviceManagement/managedDevices",
  groups: "/v1.0/groups",
} as const;

const toCsv = (rows: unknown[][]) => stringify(rows, { cast: { boolean: (v) => (v ? "true" : "false") } });

interface Sink {
  write(chunk: string | Uint8Array): Promise<void>;
  close(): Promise<void>;
  discard(): void;
}

function openSink(out: string | undefined): Sink {
  if (!out) {
    return {
      write: async (chunk) => {
        if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
      },
      close: async () => undefined,
      discard: () => undefined,
    };
  }
  const stream: WriteStream = createWriteStream(out, { mode: 0o600 });
  let failed: Error | undefined;
  stream.on("error", (err) => {
    failed = err;
  });
  return {
    write: async (chunk) => {
      if (failed) throw new CliError(`Cannot write ${out}: ${failed.message}`);
      if (!stream.write(chunk)) await Promise.race([once(stream, "drain"), once(stream, "error")]);
    },
    close: async () => {
      await new Promise<void>((resolve, reject) =>
        stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      if (failed) throw new CliError(`Cannot write ${out}: ${failed.message}`);
    },
    discard: () => {
      stream.destroy();
      rmSync(out, { force: true });
    },
  };
}

/** Writes the CSV of one kind to the sink; returns the number of data rows (or bytes for audit). */
async function exportKind(
  api: Api,
  kind: Kind,
  sink: Sink,
  warn: (msg: string) => void,
): Promise<{ rows?: number; bytes?: number }> {
  if (kind === "audit") {
    const res = await api.fetch("/v1.0/deviceManagement/auditEvents/export");
    if (!res.ok) await readJson(res, "GET", "/v1.0/deviceManagement/auditEvents/export");
    let bytes = 0;
    for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      await sink.write(chunk);
    }
    return { bytes };
  }
  const columns = csvColumns[kind];
  // The header goes out with the first page, so a failure before any data leaves no partial output.
  let header: string | undefined = toCsv([[...columns]]);
  const write = async (rows: unknown[][]) => {
    await sink.write((header ?? "") + toCsv(rows));
    header = undefined;
  };
  let rows = 0;
  if (kind !== "members") {
    let missingKey = 0;
    for await (const page of api.pages<Row>(`${collections[kind]}?$top=999`)) {
      for (const item of page) if (!item[columns[0]]) missingKey++;
      await write(page.map((item) => columns.map((c) => item[c] ?? null)));
      rows += page.length;
    }
    if (missingKey)
      warn(
        `${missingKey} ${kind} have no ${columns[0]}; their rows have an empty key column and cannot be imported as they are.`,
      );
    if (header) await write([]);
    return { rows };
  }
  // members: every group's direct members, keyed the way the import reads them.
  const groups: { id: string; mailNickname: string | null; displayName: string }[] = [];
  for await (const page of api.pages<Row>("/v1.0/groups?$top=999"))
    groups.push(...page.map((g) => ({ id: g.id, mailNickname: g.mailNickname, displayName: g.displayName })));
  let skipped = 0;
  for (const group of groups) {
    for await (const page of api.pages<Row>(`/v1.0/groups/${group.id}/members?$top=999`)) {
      const out: unknown[][] = [];
      for (const m of page) {
        const type = String(m["@odata.type"] ?? "");
        const [memberType, key] = type.endsWith(".user")
          ? ["user", m.userPrincipalName]
          : type.endsWith(".group")
            ? ["group", m.mailNickname]
            : ["device", m.serialNumber];
        if (!group.mailNickname || !key) {
          skipped++;
          continue;
        }
        out.push([group.mailNickname, memberType, key]);
      }
      await write(out);
      rows += out.length;
    }
  }
  if (skipped)
    warn(
      `${skipped} memberships were left out: their group has no mailNickname or the member has no key (userPrincipalName, serialNumber, mailNickname).`,
    );
  if (header) await write([]);
  return { rows };
}

export function registerExportCommand(program: Command): void {
  addApiOptions(
    program
      .command("export")
      .description("export users, devices, groups or members as CSV in the import format, or the audit log")
      .addArgument(new Argument("<kind>", "what to export").choices(exportKinds))
      .option("--out <file>", "write to this file instead of standard output"),
  ).action(async (kind: Kind, opts: { out?: string }, cmd: Command) => {
    const sink = openSink(opts.out);
    const warnings: string[] = [];
    let result: { rows?: number; bytes?: number };
    try {
      result = await withApi(
        loadConfig(),
        (api) => exportKind(api, kind, sink, (w) => warnings.push(w)),
        apiOptionsOf(cmd),
      );
      await sink.close();
    } catch (err) {
      sink.discard();
      throw err;
    }
    for (const w of warnings) process.stderr.write(`Warning: ${w}\n`);
    const what =
      result.rows !== undefined
        ? `${result.rows} ${kind === "members" ? "memberships" : kind}`
        : `the audit log (${result.bytes} bytes)`;
    const summary = { kind, file: opts.out ?? null, ...result, warnings };
    if (cmd.optsWithGlobals().json && opts.out) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else if (opts.out) process.stdout.write(`Exported ${what} to ${opts.out}.\n`);
    else process.stderr.write(`Exported ${what}.\n`);
  });
}

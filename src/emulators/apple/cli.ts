// `allot emulator apple --port N [--seed S] [--strict-https] …`: the emulator in its own process.
import { parseArgs } from "node:util";
import { type AppleEmulator, startAppleEmulator } from "./index.ts";
import type { AppleEmulatorOptions } from "./options.ts";

export const appleEmulatorUsage = `Usage: allot emulator apple [options]

Runs the Apple Apps and Books (VPP v2) emulator: Apple's API under /mdm/v2, the metadata lookup,
and the control API under /_emulator, all on one port.

Options:
  --port N                      TCP port (default 0: pick a free one; the URL is printed)
  --host H                      listen address (default 127.0.0.1)
  --seed S                      seed of every generated id (default 1)
  --public-url URL              base URL written into service config urls (default: listen address)
  --strict-https                refuse http notification URLs even on loopback
  --page-size N                 records per page (default 500)
  --latency-ms N                latency added to every Apple request (default 0)
  --rate-limit-rps N            enforced requests/second per location (default 15; 0 = off)
  --settle-ms N                 time for an event to settle (default 100)
  --event-steps N               increments an event is processed in (default 2)
  --invalid-token-status N      HTTP status of 9622 answers (default 200)
  --lenient-reassociation       re-associating / disassociating a missing assignment is a no-op success
  --since-version-removals M    omit (default) | flag: removed assignments in sinceVersionId answers
  --unknown-user-sync           unknown clientUserIds fail associate synchronously (9609)
  --token-expiration-date M     always (default) | within15Days
  --notification-attempts N     delivery attempts per notification (default 3)
  --notification-retry-ms N     first retry delay, tripling (default 100)
  --limit key=value             override a service config limit (repeatable), e.g. --limit maxAssets=10
  -h, --help                    show this help
`;

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
  return n;
}

export function parseAppleEmulatorArgs(argv: string[]): AppleEmulatorOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      seed: { type: "string" },
      "public-url": { type: "string" },
      "strict-https": { type: "boolean" },
      "page-size": { type: "string" },
      "latency-ms": { type: "string" },
      "rate-limit-rps": { type: "string" },
      "settle-ms": { type: "string" },
      "event-steps": { type: "string" },
      "invalid-token-status": { type: "string" },
      "lenient-reassociation": { type: "boolean" },
      "since-version-removals": { type: "string" },
      "unknown-user-sync": { type: "boolean" },
      "token-expiration-date": { type: "string" },
      "notification-attempts": { type: "string" },
      "notification-retry-ms": { type: "string" },
      limit: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const removals = values["since-version-removals"];
  if (removals !== undefined && removals !== "omit" && removals !== "flag")
    throw new Error("--since-version-removals must be omit or flag");
  const expiry = values["token-expiration-date"];
  if (expiry !== undefined && expiry !== "always" && expiry !== "within15Days")
    throw new Error("--token-expiration-date must be always or within15Days");
  const limits: Record<string, number> = {};
  for (const l of values.limit ?? []) {
    const m = /^(\w+)=(\d+)$/.exec(l);
    if (!m) throw new Error(`--limit ${l}: expected key=value`);
    limits[m[1]] = Number(m[2]);
  }
  return {
    port: num(values.port, "port"),
    host: values.host,
    seed: num(values.seed, "seed"),
    publicUrl: values["public-url"],
    strictHttps: values["strict-https"],
    pageSize: num(values["page-size"], "page-size"),
    latencyMs: num(values["latency-ms"], "latency-ms"),
    rateLimitRps: num(values["rate-limit-rps"], "rate-limit-rps"),
    settleMs: num(values["settle-ms"], "settle-ms"),
    eventSteps: num(values["event-steps"], "event-steps"),
    invalidTokenStatus: num(values["invalid-token-status"], "invalid-token-status"),
    lenientReassociation: values["lenient-reassociation"],
    sinceVersionRemovals: removals,
    unknownUserSync: values["unknown-user-sync"],
    tokenExpirationDate: expiry,
    notificationAttempts: num(values["notification-attempts"], "notification-attempts"),
    notificationRetryMs: num(values["notification-retry-ms"], "notification-retry-ms"),
    limits,
  };
}

/** Starts the emulator from command-line arguments and keeps it running until SIGINT/SIGTERM. */
export async function runAppleEmulatorCli(argv: string[]): Promise<AppleEmulator | undefined> {
  const parsed = parseAppleEmulatorArgs(argv);
  if (parsed === "help") {
    process.stdout.write(appleEmulatorUsage);
    return undefined;
  }
  const emulator = await startAppleEmulator(parsed);
  process.stdout.write(
    `Apple Apps and Books emulator listening at ${emulator.url}\n` +
      `  Apple API:    ${emulator.baseUrl}   (ALLOT_APPLE_BASE_URL)\n` +
      `  metadata:     ${emulator.metadataUrl}\n` +
      `  control API:  ${emulator.url}/_emulator\n`,
  );
  const stop = () => {
    void emulator.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return emulator;
}

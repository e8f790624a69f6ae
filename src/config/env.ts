// Every setting Allot reads from the environment, in one schema, parsed once at start.
// A bad value stops the process with a message that names the variable.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Static, Type } from "typebox";
import { Value } from "typebox/value";

const Env = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  ALLOT_DATA_DIR: Type.String({ minLength: 1, default: "./data" }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: "^postgres(ql)?://" })),
  ALLOT_PUBLIC_URL: Type.Optional(Type.String({ pattern: "^https?://[^\\s]+$" })),
  ALLOT_SECRET_KEY: Type.Optional(Type.String({ minLength: 32 })),
  RUN_MODE: Type.Union([Type.Literal("all"), Type.Literal("api"), Type.Literal("worker")], { default: "all" }),
  LOG_LEVEL: Type.Union(
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l)),
    { default: "info" },
  ),
  ALLOT_BOOTSTRAP_ADMIN_EMAIL: Type.Optional(Type.String({ pattern: "^[^@\\s]+@[^@\\s]+$" })),
  ALLOT_BOOTSTRAP_ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 12 })),
  ALLOT_BOOTSTRAP_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  ALLOT_BOOTSTRAP_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  ALLOT_ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 86400, default: 3600 }),
  ALLOT_SESSION_TTL_HOURS: Type.Integer({ minimum: 1, maximum: 720, default: 12 }),
  ALLOT_LOGIN_RATE_LIMIT: Type.Integer({ minimum: 1, default: 10, description: "failed-or-not login attempts per minute per address" }),
  ALLOT_APPLE_BASE_URL: Type.String({ pattern: "^https?://[^\\s]+$", default: "https://vpp.itunes.apple.com/mdm/v2" }),
  ALLOT_APPLE_METADATA_URL: Type.Optional(Type.String({ pattern: "^https?://[^\\s]+$" })),
  ALLOT_TRUST_PROXY: Type.String({ minLength: 1, default: "loopback", description: "proxies whose X-Forwarded-* headers are believed: 'loopback', 'none', or addresses/CIDRs separated by commas" }),
  ALLOT_IMPORT_CHUNK_ROWS: Type.Integer({ minimum: 100, maximum: 100000, default: 5000 }),
  ALLOT_MAX_TOKENS_PER_TENANT: Type.Integer({ minimum: 1, maximum: 100000, default: 256, description: "store tokens (Apple VPP) per tenant (TOK-2)" }),
  ALLOT_TOKEN_EXPIRY_WARNING_DAYS: Type.String({ pattern: "^\\s*[1-9]\\d{0,2}(\\s*,\\s*[1-9]\\d{0,2})*\\s*$", default: "30,14,7,1", description: "days before a token expires at which administrators are warned, comma-separated (TOK-4)" }),
  ALLOT_SYNC_INTERVAL_HOURS: Type.Integer({ minimum: 1, maximum: 168, default: 12, description: "hours between scheduled syncs of each store token, jittered per token (SYNC-1)" }),
  ALLOT_APPLE_EVENT_POLL_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: "seconds between Apple event-status checks while an event is pending (SYNC-3 fallback)" }),
  ALLOT_SMTP_URL: Type.Optional(Type.String({ pattern: "^smtps?://[^\\s]+$", description: "SMTP server for notification e-mails, e.g. smtp://user:pass@mail.example.com:587 (a tenant may set its own) (EUX-3)" })),
  ALLOT_MAIL_FROM: Type.String({ minLength: 3, default: "Allot <allot@localhost>", description: "sender of notification e-mails" }),
  ALLOT_MDM_WEBHOOK_URL: Type.Optional(Type.String({ pattern: "^https?://[^\\s]+$", description: "where device commands (InstallApplication/RemoveApplication) are POSTed (a tenant may set its own) (MDM-1)" })),
  ALLOT_MDM_WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 16, description: "HMAC-SHA256 key signing device-command POSTs (X-Allot-Signature)" })),
  ALLOT_NOTIFY_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 3600000, default: 30000, description: "first retry delay of a failed e-mail, webhook or MDM delivery; doubled per attempt" }),
  ALLOT_MDM_SLICE_MAX_HOLDERS: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: "settled holders of an app up to which the MDM bridge plans device commands from those holders' part of the directory; an app with more is planned against the whole directory (MDM-1). Default 2000 on PostgreSQL, 200 on the embedded database" })),
  ALLOT_HEAP_GROWTH_PERCENT: Type.Integer({ minimum: 0, maximum: 400, default: 50, description: "allot serve: how far the JavaScript heap may grow past its live data before a full garbage collection (V8's --heap-growing-percent); 0 leaves it to V8 (up to 300)" }),
  ALLOT_UNINSTALL_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 31536000, default: 604800, description: "how long an Uninstall assignment waits for the MDM to report the app removed before the license is released anyway (ENG-6)" }),
  ALLOT_NOTIFY_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 50, default: 10, description: "attempts before a delivery is marked failed" }),
});

type RawEnv = Static<typeof Env>;

export interface AppConfig extends Omit<RawEnv, "ALLOT_SECRET_KEY"> {
  dataDir: string;
  secretKey: Buffer;
  database: { kind: "pglite"; dataDir: string } | { kind: "postgres"; url: string };
  secureCookies: boolean;
  isBootstrapAdminConfigured: boolean;
  isBootstrapClientConfigured: boolean;
}

export class ConfigError extends Error {}

const integerKeys = new Set(
  Object.entries(Env.properties)
    .filter(([, s]) => (s as { type?: string }).type === "integer")
    .map(([k]) => k),
);

/** Parses the environment once. `overrides` lets tests and the CLI supply values without touching process.env. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof RawEnv, string>> = {}): AppConfig {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(Env.properties)) {
    const value = (overrides as Record<string, string | undefined>)[key] ?? source[key];
    if (value === undefined || value === "") continue;
    if (integerKeys.has(key)) {
      if (!/^-?\d+$/.test(value.trim())) throw new ConfigError(`${key}: expected an integer, got '${value}'`);
      raw[key] = Number(value.trim());
    } else raw[key] = value;
  }
  const withDefaults = Value.Default(Env, raw) as Record<string, unknown>;
  const errors = [...Value.Errors(Env, withDefaults)];
  if (errors.length > 0) {
    const first = errors[0] as { instancePath?: string; message: string; params?: unknown };
    const name = (first.instancePath ?? "").replace(/^\//, "") || JSON.stringify(first.params);
    const shown = name in withDefaults && !name.includes("SECRET") && !name.includes("PASSWORD") ? ` (got '${withDefaults[name]}')` : "";
    // A union of literals reports "must be equal to constant": name the allowed values instead.
    const choices = ((Env.properties as Record<string, { anyOf?: { const?: unknown }[] }>)[name]?.anyOf ?? []).map((s) => s.const).filter((c) => c !== undefined);
    const message = choices.length > 0 ? `expected one of ${choices.join(", ")}` : first.message;
    throw new ConfigError(`${name}: ${message}${shown}`);
  }
  const env = withDefaults as RawEnv;
  if (env.RUN_MODE !== "all" && !env.DATABASE_URL)
    throw new ConfigError(`RUN_MODE: '${env.RUN_MODE}' needs DATABASE_URL (PostgreSQL); the embedded database serves one process, use 'all'`);
  if (Boolean(env.ALLOT_BOOTSTRAP_ADMIN_EMAIL) !== Boolean(env.ALLOT_BOOTSTRAP_ADMIN_PASSWORD))
    throw new ConfigError("ALLOT_BOOTSTRAP_ADMIN_EMAIL and ALLOT_BOOTSTRAP_ADMIN_PASSWORD must be set together");
  if (Boolean(env.ALLOT_BOOTSTRAP_CLIENT_ID) !== Boolean(env.ALLOT_BOOTSTRAP_CLIENT_SECRET))
    throw new ConfigError("ALLOT_BOOTSTRAP_CLIENT_ID and ALLOT_BOOTSTRAP_CLIENT_SECRET must be set together");

  const dataDir = resolve(env.ALLOT_DATA_DIR);
  const { ALLOT_SECRET_KEY, ...rest } = env;
  return {
    ...rest,
    dataDir,
    secretKey: ALLOT_SECRET_KEY ? Buffer.from(ALLOT_SECRET_KEY, "utf8") : loadOrCreateKeyFile(dataDir),
    database: env.DATABASE_URL ? { kind: "postgres", url: env.DATABASE_URL } : { kind: "pglite", dataDir: join(dataDir, "pgdata") },
    secureCookies: (env.ALLOT_PUBLIC_URL ?? "").startsWith("https://"),
    isBootstrapAdminConfigured: Boolean(env.ALLOT_BOOTSTRAP_ADMIN_EMAIL),
    isBootstrapClientConfigured: Boolean(env.ALLOT_BOOTSTRAP_CLIENT_ID),
  };
}

function loadOrCreateKeyFile(dataDir: string): Buffer {
  const file = join(dataDir, "secret.key");
  if (existsSync(file)) return Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return key;
}

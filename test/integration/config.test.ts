// Configuration (issue item 2): a bad value stops `allot serve` with a non-zero exit and a message
// naming the variable; the secret key file is generated once (mode 0600) and reused.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/env.ts";
import { runAllot } from "../helpers/cli.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "allot-config-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("allot serve with bad configuration", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["PORT=abc", { PORT: "abc" }, /PORT: expected an integer, got 'abc'/],
    ["PORT out of range", { PORT: "70000" }, /PORT:/],
    ["RUN_MODE=worker without DATABASE_URL", { RUN_MODE: "worker" }, /RUN_MODE: 'worker' needs DATABASE_URL/],
    [
      "DATABASE_URL=mysql://x",
      { DATABASE_URL: "mysql://x" },
      /DATABASE_URL: .*postgres.*\(got 'mysql:\/\/x'\)/,
    ],
    [
      "LOG_LEVEL=loud",
      { LOG_LEVEL: "loud" },
      /LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent/,
    ],
    [
      "a short ALLOT_SECRET_KEY (its value is not echoed)",
      { ALLOT_SECRET_KEY: "too-short-secret" },
      /ALLOT_SECRET_KEY:/,
    ],
  ];
  for (const [name, env, message] of cases) {
    it(`${name}: exits non-zero naming the variable`, async () => {
      const dataDir = tempDir();
      const r = await runAllot(["serve"], { ALLOT_DATA_DIR: dataDir, ...env }, 20_000);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^Configuration error: /);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain("too-short-secret");
      expect(r.stdout).not.toContain("listening");
    });
  }
});

describe("loadConfig", () => {
  it("generates the secret key file in the data directory with mode 0600 and reuses it", () => {
    const dataDir = tempDir();
    const first = loadConfig({ ALLOT_DATA_DIR: dataDir });
    const file = join(dataDir, "secret.key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.secretKey.length).toBe(32);
    const saved = readFileSync(file, "utf8");
    const second = loadConfig({ ALLOT_DATA_DIR: dataDir });
    expect(second.secretKey.equals(first.secretKey)).toBe(true);
    expect(readFileSync(file, "utf8")).toBe(saved);
  });

  it("uses ALLOT_SECRET_KEY when set and writes no key file", () => {
    const dataDir = tempDir();
    const config = loadConfig({ ALLOT_DATA_DIR: dataDir, ALLOT_SECRET_KEY: "k".repeat(40) });
    expect(config.secretKey.toString()).toBe("k".repeat(40));
    expect(() => statSync(join(dataDir, "secret.key"))).toThrow();
  });

  it("selects PostgreSQL with DATABASE_URL and PGlite in the data directory without it", () => {
    const dataDir = tempDir();
    expect(loadConfig({ ALLOT_DATA_DIR: dataDir }).database).toEqual({
      kind: "pglite",
      dataDir: join(dataDir, "pgdata"),
    });
    expect(
      loadConfig({ ALLOT_DATA_DIR: dataDir, DATABASE_URL: "postgresql://u@h/db", RUN_MODE: "worker" })
        .database,
    ).toEqual({ kind: "postgres", url: "postgresql://u@h/db" });
  });

  it("requires the bootstrap variables in pairs", () => {
    const dataDir = tempDir();
    expect(() =>
      loadConfig({ ALLOT_DATA_DIR: dataDir, ALLOT_BOOTSTRAP_ADMIN_EMAIL: "a@example.com" }),
    ).toThrow(ConfigError);
    expect(() => loadConfig({ ALLOT_DATA_DIR: dataDir, ALLOT_BOOTSTRAP_CLIENT_ID: "x" })).toThrow(
      /ALLOT_BOOTSTRAP_CLIENT_ID and ALLOT_BOOTSTRAP_CLIENT_SECRET/,
    );
  });
});

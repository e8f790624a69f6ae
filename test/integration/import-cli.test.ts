// `allot import` (DIR-2): the CLI streams a CSV to a running server — named by --url/--token, or
// found through the data directory's lock file — and reports the result or the file's errors.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLockInfo } from "../../src/db/data-dir-lock.ts";
import { engine, startTestAllot, type TestAllot } from "../helpers/allot.ts";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const cli = join(root, "src/cli/main.ts");

async function allot(args: string[], env: Record<string, string>) {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.ALLOT_URL;
  delete base.ALLOT_TOKEN;
  try {
    const r = await run(process.execPath, [cli, ...args], { env: { ...base, LOG_LEVEL: "silent", ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe(`allot import (${engine})`, () => {
  let t: TestAllot;
  let dir: string;
  beforeAll(async () => {
    t = await startTestAllot();
    dir = mkdtempSync(join(tmpdir(), "allot-cli-import-"));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("imports a file into the server named by --url/--token and prints the counts", async () => {
    const file = join(dir, "users.csv");
    writeFileSync(file, "userPrincipalName,displayName,accountEnabled\ncli1@contoso.com,CLI One,true\ncli2@contoso.com,CLI Two,false\ncli3@contoso.com,CLI Three,true\n");
    const r = await allot(["import", "users", file, "--url", t.url, "--token", t.adminToken], { ALLOT_DATA_DIR: join(dir, "unused") });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Imported 3 users from .*users\.csv: 3 created, 0 updated \(import [0-9a-f-]{36}\)/);
    const u = await t.request("GET", "/v1.0/users/cli2@contoso.com", { token: t.adminToken });
    expect(u.body).toMatchObject({ displayName: "CLI Two", accountEnabled: false });

    const again = await allot(["import", "users", file, "--json"], { ALLOT_DATA_DIR: join(dir, "unused"), ALLOT_URL: t.url, ALLOT_TOKEN: t.adminToken });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ kind: "users", status: "completed", totalRows: 3, unchangedRows: 3, fileName: "users.csv" });
  });

  it("lists the line numbers of a bad file, writes nothing and exits 1", async () => {
    const file = join(dir, "devices.csv");
    writeFileSync(file, "serialNumber,deviceName,operatingSystem\nGOOD1,Good,iOS\nBAD1,Bad,BeOS\n");
    const r = await allot(["import", "devices", file, "--url", t.url, "--token", t.adminToken], { ALLOT_DATA_DIR: join(dir, "unused") });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 3 \(operatingSystem\): 'BeOS' is not a valid value/);
    expect(r.stderr).toMatch(/was not imported: The file has 1 error; nothing was imported/);
    const devices = await t.request("GET", "/v1.0/deviceManagement/managedDevices", { token: t.adminToken });
    expect(devices.body.value).toEqual([]);
    const missing = await allot(["import", "devices", join(dir, "nope.csv"), "--url", t.url, "--token", t.adminToken], { ALLOT_DATA_DIR: join(dir, "unused") });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Cannot read .*nope\.csv/);
  });

  it("finds the server that holds the embedded data directory and uses its CLI token", async () => {
    const dataDir = join(dir, "served");
    const base = { ...process.env };
    delete base.DATABASE_URL;
    const server: ChildProcess = spawn(process.execPath, [cli, "serve"], {
      env: { ...base, ALLOT_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent", ALLOT_SECRET_KEY: "cli-import-test-secret-key-0123456789" },
      stdio: "ignore",
    });
    try {
      let info = readLockInfo(dataDir);
      for (let i = 0; i < 300 && !info?.url; i++) {
        await new Promise((r) => setTimeout(r, 100));
        info = readLockInfo(dataDir);
      }
      expect(info?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const file = join(dir, "groups.csv");
      writeFileSync(file, "mailNickname,displayName,memberKind\nsales,Sales,user\nkiosks,Kiosks,device\n");
      const r = await allot(["import", "groups", file], { ALLOT_DATA_DIR: dataDir });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Imported 2 groups .*: 2 created/);
      const groups = await fetch(`${info!.url}/v1.0/groups?$orderby=displayName`, { headers: { authorization: `Bearer ${info!.cliToken}` } });
      expect(((await groups.json()) as { value: { mailNickname: string }[] }).value.map((g) => g.mailNickname)).toEqual(["kiosks", "sales"]);
    } finally {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
  });
});

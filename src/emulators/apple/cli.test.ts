// The standalone emulator: `allot emulator apple --port N --seed S …` in its own process.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parseAppleEmulatorArgs } from "./cli.ts";
import { createAppleControlClient } from "./control-client.ts";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

function startCli(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(
    `${root}node_modules/.bin/node`,
    [`${root}bin/allot.mjs`, "emulator", "apple", ...args],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
    const check = () => {
      const m = /listening at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: () => out });
      }
    };
    child.stdout!.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${out}`));
    });
  });
}

describe("allot emulator apple", () => {
  it("starts on the given options, serves Apple's API and the control API, and stops on SIGTERM", async () => {
    const { child, url } = await startCli([
      "--port",
      "0",
      "--seed",
      "9",
      "--page-size",
      "2",
      "--limit",
      "maxAssets=7",
      "--strict-https",
    ]);
    const config = (await (await fetch(`${url}/mdm/v2/service/config`)).json()) as any;
    expect(config.limits.maxAssets).toBe(7);
    expect(config.urls.getAssets).toBe(`${url}/mdm/v2/assets`);
    const control = createAppleControlClient(url);
    const { sToken } = await control.createLocation({
      orgName: "ORG",
      locationName: "Unit",
      countryISO2ACode: "US",
      assets: ["1", "2", "3"].map((adamId) => ({ adamId, totalCount: 1 })),
    });
    const assets = (await (
      await fetch(`${url}/mdm/v2/assets`, { headers: { Authorization: `Bearer ${sToken}` } })
    ).json()) as any;
    expect(assets).toMatchObject({ size: 2, totalPages: 2, nextPageIndex: 1 });
    const cfg = await fetch(`${url}/mdm/v2/client/config`, {
      method: "POST",
      headers: { Authorization: `Bearer ${sToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ notificationUrl: "http://127.0.0.1:9/n", notificationAuthToken: "t" }),
    });
    expect(((await cfg.json()) as any).errorNumber).toBe(9712);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("parses every option and refuses unknown ones", () => {
    expect(
      parseAppleEmulatorArgs([
        "--port",
        "4010",
        "--seed",
        "3",
        "--latency-ms",
        "20",
        "--rate-limit-rps",
        "15",
        "--settle-ms",
        "500",
        "--invalid-token-status",
        "401",
        "--lenient-reassociation",
        "--since-version-removals",
        "flag",
        "--limit",
        "maxUsers=10",
        "--limit",
        "maxAssets=5",
      ]),
    ).toMatchObject({
      port: 4010,
      seed: 3,
      latencyMs: 20,
      rateLimitRps: 15,
      settleMs: 500,
      invalidTokenStatus: 401,
      lenientReassociation: true,
      sinceVersionRemovals: "flag",
      limits: { maxUsers: 10, maxAssets: 5 },
    });
    expect(parseAppleEmulatorArgs(["--help"])).toBe("help");
    expect(() => parseAppleEmulatorArgs(["--bogus"])).toThrow();
    expect(() => parseAppleEmulatorArgs(["--since-version-removals", "maybe"])).toThrow();
  });
});

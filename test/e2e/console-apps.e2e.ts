// The console's VPP tokens and Apps and books pages in a real browser against a real server and the
// Apple emulator: upload a token through the wizard and see its apps after the sync; assign the app to
// a group with the dry run showing licensed and waiting members, save and see the counts change; buy
// licenses at the emulator and see the waitlist shrink; revoke a license; delete the token with the
// TOK-7 warning. axe on tokens, apps, app detail and the editor; screenshots in test-results/.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup } from "../integration/sync-helpers.ts";
import { checkAccessibility, launchBrowser, RESULTS_DIR, signInThroughUi } from "./browser.ts";

const ADMIN = "apps.admin@contoso.com";
const PASSWORD = "correct horse battery staple";
const ADAM = "700000021";

describe("console: VPP tokens and apps", () => {
  let s: SyncSetup;
  let browser: Browser;
  let page: Page;
  let uId: string;
  let tokenFile: string;
  let tmp: string;
  const req = (method: string, path: string, body?: unknown) =>
    s.t.request(method, path, { token: s.t.adminToken, body });
  const devices: string[] = [];

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Headquarters",
      countryISO2ACode: "US",
      assets: [
        {
          adamId: ADAM,
          name: "Keynote",
          totalCount: 2,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
      ],
    });
    uId = loc.uId;
    tmp = mkdtempSync(join(tmpdir(), "allot-e2e-"));
    tokenFile = join(tmp, "headquarters.vpptoken");
    writeFileSync(tokenFile, loc.sToken);
    expect(
      (
        await req("POST", "/beta/admin/administrators", {
          userPrincipalName: ADMIN,
          password: PASSWORD,
          displayName: "Apps Admin",
          roles: ["globalAdministrator"],
        })
      ).status,
    ).toBe(201);
    const group = (
      await req("POST", "/v1.0/groups", {
        displayName: "Sales iPads",
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: "salesipads",
      })
    ).body;
    for (let i = 0; i < 4; i++) {
      const d = (
        await req("POST", "/v1.0/deviceManagement/managedDevices", {
          deviceName: `Sales iPad ${i + 1}`,
          operatingSystem: "iPadOS",
          serialNumber: `SALES${i}`,
        })
      ).body;
      devices.push(d.id);
      expect(
        (
          await req("POST", `/v1.0/groups/${group.id}/members/$ref`, {
            "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${d.id}`,
          })
        ).status,
      ).toBe(204);
    }
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signInThroughUi(page, s.t.url, ADMIN, PASSWORD, "/tokens");
  }, 500_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const usage = () => page.getByRole("meter", { name: "Licenses of Keynote" }).getAttribute("aria-valuetext");
  const badges = (text: string) =>
    page.getByRole("table", { name: "License states of Keynote" }).getByText(text, { exact: true }).count();

  it("uploads a token through the wizard, syncs it and lists its apps", async () => {
    await page.getByRole("heading", { name: "VPP tokens", level: 1 }).waitFor();
    await page.getByText("No VPP token yet").waitFor();
    await page.getByRole("button", { name: "Upload a VPP token" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("valid for one year").waitFor();
    await dialog.getByLabel("Token file (.vpptoken)").setInputFiles(tokenFile);
    await dialog.getByLabel("Apple ID of the Apple Business Manager account").fill("vpp@contoso.com");
    await checkAccessibility(page, "upload wizard");
    await page.screenshot({ path: join(RESULTS_DIR, "token-upload.png") });
    await dialog.getByRole("button", { name: "Upload", exact: true }).click();
    await dialog.getByText("Token uploaded and valid").waitFor({ timeout: 20_000 });
    await dialog.getByRole("button", { name: "Done" }).click();
    const table = page.getByRole("table", { name: "VPP tokens" });
    await table.getByText("Headquarters").waitFor();
    await table.getByText("Valid", { exact: true }).waitFor();
    await expect.poll(() => table.getByText(/days left/).count()).toBe(1);
    // the first sync runs and finishes while the page polls
    await table.getByText("Completed", { exact: true }).waitFor({ timeout: 30_000 });
    await checkAccessibility(page, "tokens");
    await page.screenshot({ path: join(RESULTS_DIR, "tokens.png") });

    await page
      .getByRole("navigation", { name: "Console" })
      .getByRole("link", { name: "Apps and books" })
      .click();
    await page.getByRole("heading", { name: "Apps and books", level: 1 }).waitFor();
    const apps = page.getByRole("table", { name: "Apps and books" });
    await apps.getByRole("link", { name: "Keynote" }).waitFor({ timeout: 20_000 });
    expect(await apps.getByRole("meter").first().getAttribute("aria-valuetext")).toBe("0 of 2 used");
    // search and filters narrow the list
    await page.getByLabel("Search").fill("no such app");
    await page.getByText("Nothing matches these filters").waitFor();
    await page.getByLabel("Search").fill("key");
    await apps.getByRole("link", { name: "Keynote" }).waitFor();
    await checkAccessibility(page, "apps");
    await page.screenshot({ path: join(RESULTS_DIR, "apps.png") });
  }, 240_000);

  it("assigns the app to a group with a dry run (licensed and waiting members), saves, and the counts change", async () => {
    await page.getByRole("table", { name: "Apps and books" }).getByRole("link", { name: "Keynote" }).click();
    await page.getByRole("heading", { name: "Keynote", level: 1 }).waitFor();
    await expect.poll(usage).toBe("0 of 2 used");
    await page.getByText("Nobody holds or waits for this app").waitFor();
    await checkAccessibility(page, "app detail");
    await page.screenshot({ path: join(RESULTS_DIR, "app-detail.png"), fullPage: true });

    await page.getByRole("button", { name: "Edit assignments" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Include group" }).click();
    await dialog.getByRole("combobox", { name: /Include group/ }).click();
    await page.getByRole("option", { name: "Sales iPads" }).click();
    await dialog.getByRole("combobox", { name: /Licensing/ }).click();
    await page.getByRole("option", { name: "Device licensing" }).click();
    expect(await dialog.getByRole("button", { name: "Save" }).isDisabled()).toBe(true);
    await dialog.getByRole("button", { name: "Preview (dry run)" }).click();
    const licensed = dialog.getByRole("region", { name: "Get a license (2)" });
    const waiting = dialog.getByRole("region", { name: "Wait (2)" });
    await licensed.waitFor({ timeout: 20_000 });
    await waiting.waitFor();
    expect((await licensed.getByRole("listitem").allTextContents()).join("|")).toMatch(
      /^Sales iPad 1\b.*\|Sales iPad 2\b/,
    );
    expect((await waiting.getByRole("listitem").allTextContents()).join("|")).toMatch(
      /Sales iPad 3.*No license left.*\|Sales iPad 4.*No license left/,
    );
    await dialog.getByText("2 more needed").waitFor();
    // the dry run changed nothing
    expect(
      (await req("GET", `/beta/deviceAppManagement/mobileApps/${await appId()}/assignments`)).body.value,
    ).toHaveLength(0);
    await checkAccessibility(page, "assignment editor");
    await page.screenshot({ path: join(RESULTS_DIR, "assignment-editor.png") });
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });

    await page
      .getByRole("list", { name: "Assignments" })
      .getByText("Sales iPads · required · device licensing")
      .waitFor();
    await expect.poll(usage, { timeout: 30_000 }).toBe("2 of 2 used");
    await expect.poll(() => badges("Licensed"), { timeout: 30_000 }).toBe(2);
    await expect.poll(() => badges("Waiting")).toBe(2);
    expect(
      await page
        .getByRole("table", { name: "License states of Keynote" })
        .getByText("No license left: buy more or free some")
        .count(),
    ).toBe(2);
  }, 240_000);

  it("the dashboard, the reports and a device's page show the ledger: waitlist, history, licenses held", async () => {
    const nav = page.getByRole("navigation", { name: "Console" });
    await nav.getByRole("link", { name: "Dashboard" }).click();
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
    const figures = page.getByRole("region", { name: "Key figures" });
    await expect.poll(() => figures.textContent(), { timeout: 30_000 }).toMatch(/Waitlist\s*2(?!\d)/);
    await expect.poll(() => figures.textContent()).toMatch(/Running out or oversubscribed\s*1(?!\d)/);
    await checkAccessibility(page, "dashboard with data");
    await page.screenshot({ path: join(RESULTS_DIR, "dashboard-data.png"), fullPage: true });

    await nav.getByRole("link", { name: "Licenses and reports" }).click();
    await page.getByRole("tab", { name: "Waitlist (2)" }).click();
    await page.getByRole("table", { name: "Waitlist by app" }).getByText("Keynote").waitFor();
    await checkAccessibility(page, "waitlist");
    await page.getByRole("tab", { name: "License history" }).click();
    const history = page.getByRole("table", { name: "License history" });
    await history.getByText("Sales iPad 1").first().waitFor({ timeout: 30_000 });
    await checkAccessibility(page, "license history");
    await page.screenshot({ path: join(RESULTS_DIR, "license-history.png"), fullPage: true });

    await nav.getByRole("link", { name: "Devices" }).click();
    await page.getByRole("link", { name: "Sales iPad 3" }).click();
    const held = page.getByRole("table", { name: /^Licenses held by / });
    await held.getByText("Keynote").waitFor({ timeout: 30_000 });
    await held.getByText("Waiting", { exact: true }).waitFor();
    await checkAccessibility(page, "device detail");
    await page.screenshot({ path: join(RESULTS_DIR, "device-detail.png"), fullPage: true });
  }, 240_000);

  it("buying licenses at Apple shrinks the waitlist without a sync (ASSET_COUNT)", async () => {
    await s.emu.control.purchase(uId, { adamId: ADAM, count: 1 });
    await page
      .getByRole("navigation", { name: "Console" })
      .getByRole("link", { name: "Apps and books" })
      .click();
    await page.getByRole("table", { name: "Apps and books" }).getByRole("link", { name: "Keynote" }).click();
    await expect.poll(usage, { timeout: 30_000 }).toBe("3 of 3 used");
    await expect.poll(() => badges("Waiting"), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => badges("Licensed"), { timeout: 30_000 }).toBe(3);
  }, 240_000);

  it("buying licenses at Apple and syncing shrinks the waitlist", async () => {
    await s.emu.control.purchase(uId, { adamId: ADAM, count: 1 });
    // Sync now (the token page's progress), then the app: the last waiting device is served.
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "VPP tokens" }).click();
    const table = page.getByRole("table", { name: "VPP tokens" });
    await table.getByRole("button", { name: "Sync now" }).click();
    await table.getByText("Completed", { exact: true }).waitFor({ timeout: 30_000 });
    await page
      .getByRole("navigation", { name: "Console" })
      .getByRole("link", { name: "Apps and books" })
      .click();
    await page.getByRole("table", { name: "Apps and books" }).getByRole("link", { name: "Keynote" }).click();
    await expect.poll(usage, { timeout: 30_000 }).toBe("4 of 4 used");
    await expect.poll(() => badges("Waiting"), { timeout: 30_000 }).toBe(0);
    await expect.poll(() => badges("Licensed"), { timeout: 30_000 }).toBe(4);
  }, 240_000);

  it("revokes one device's license", async () => {
    const table = page.getByRole("table", { name: "License states of Keynote" });
    await table.getByRole("button", { name: "Revoke the license of Sales iPad 1" }).click();
    const dialog = page.getByRole("alertdialog");
    await dialog.getByLabel("Notify the managed device").check();
    await dialog.getByRole("button", { name: "Revoke license" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByText("Revoking the license of Sales iPad 1").waitFor();
    // the holding leaves the licensed set at Apple
    await expect
      .poll(
        async () => (await s.emu.control.assignments(uId)).assignments.map((a) => a.serialNumber).sort(),
        { timeout: 30_000 },
      )
      .not.toContain("SALES0");
    await expect.poll(() => badges("Licensed"), { timeout: 30_000 }).toBeLessThan(4);
  }, 240_000);

  it("deletes the token after the TOK-7 warning", async () => {
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "VPP tokens" }).click();
    await page.getByRole("button", { name: "More actions for Headquarters" }).click();
    await page.getByRole("menuitem", { name: "Delete" }).click();
    const dialog = page.getByRole("alertdialog");
    await dialog.getByText("Licenses assigned at Apple stay assigned").waitFor();
    await dialog.getByRole("button", { name: "Revoke all licenses first" }).waitFor();
    await page.screenshot({ path: join(RESULTS_DIR, "token-delete.png") });
    await dialog.getByRole("button", { name: "Delete token" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByText("Headquarters was deleted. Licenses assigned at Apple stay assigned.").waitFor();
    await page.getByText("No VPP token yet").waitFor();
    expect((await req("GET", "/beta/deviceAppManagement/vppTokens")).body.value).toHaveLength(0);
  }, 200_000);

  async function appId(): Promise<string> {
    const r = await req("GET", "/beta/deviceAppManagement/mobileApps");
    return r.body.value.find((a: { adamId: string }) => a.adamId === ADAM).id;
  }
});

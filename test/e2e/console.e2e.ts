// The web console in a real browser against a real server: first run (setup link → first Global
// administrator), first sign-in through the UI → dashboard; axe on sign-in and dashboard; how the
// server serves the console (deep links, caching, API 404s stay JSON). Screenshots in test-results/.
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAllot, type TestAllot } from "../helpers/allot.ts";
import { checkAccessibility, launchBrowser, RESULTS_DIR, signInThroughUi } from "./browser.ts";

const ADMIN = "first.admin@contoso.com";
const PASSWORD = "correct horse battery staple";
/** expect.poll with room for a busy machine (its default is 1 s). */
const poll = <T>(fn: () => Promise<T>, message?: string) => expect.poll(fn, { timeout: 60_000, message });

describe("web console", () => {
  let t: TestAllot;
  let browser: Browser;
  beforeAll(async () => {
    t = await startTestAllot();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it("serves the console: deep links get index.html (no-cache), hashed assets are immutable, unknown API paths stay JSON 404s", async () => {
    const deep = await fetch(`${t.url}/apps/123`);
    expect(deep.status).toBe(200);
    expect(deep.headers.get("content-type")).toMatch(/^text\/html/);
    expect(deep.headers.get("cache-control")).toBe("no-cache");
    const html = await deep.text();
    const script = /<script[^>]*src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeTruthy();
    const asset = await fetch(`${t.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/javascript/);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await asset.text()).length).toBeGreaterThan(1000);
    expect((await fetch(`${t.url}/assets/missing-abc123.js`)).status).toBe(404);
    for (const path of ["/v1.0/noSuchThing", "/beta/noSuchThing", "/auth/nothing", "/scim/v2/Nothing"]) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as any).error.code, path).toBeTruthy();
    }
    // the API stays protected behind the console's public files
    expect((await fetch(`${t.url}/v1.0/users`)).status).toBe(401);
  });

  it("first run: the setup link creates the administrator, who signs in through the console and sees the dashboard", async () => {
    const setupUrl = new URL(t.allot.bootstrapResult.setupUrl!);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Generous: on a busy 2-core machine the first navigations of a fresh chromium are slow.
    page.setDefaultTimeout(120_000);
    await page.goto(`${t.url}${setupUrl.pathname}${setupUrl.search}`);
    await page.getByLabel("E-mail (sign-in name)").fill(ADMIN);
    await page.getByLabel("Display name").fill("First Admin");
    await page.getByLabel("Password (at least 12 characters)").fill(PASSWORD);
    await page.getByRole("button", { name: "Create administrator" }).click();
    await poll(() => page.getByRole("alert").textContent()).toContain("Administrator created");

    // sign-in page: a wrong password shows the API's message
    await page.goto(`${t.url}/`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await checkAccessibility(page, "sign-in");
    await page.screenshot({ path: join(RESULTS_DIR, "sign-in.png") });
    await page.getByLabel("E-mail (sign-in name)").fill(ADMIN);
    await page.getByLabel("Password").fill("wrong password entirely");
    await page.getByRole("button", { name: "Sign in" }).click();
    await poll(() => page.getByRole("alert").textContent()).toMatch(/password|sign-in|credentials/i);

    await signInThroughUi(page, t.url, ADMIN, PASSWORD);
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
    // header: the administrator and roles; navigation: every page
    await poll(() => page.getByRole("banner").textContent()).toContain(ADMIN);
    await poll(() => page.getByRole("banner").textContent()).toContain("Global administrator");
    const nav = page.getByRole("navigation", { name: "Console" });
    for (const label of [
      "Dashboard",
      "VPP tokens",
      "Apps and books",
      "Users",
      "Devices",
      "Groups",
      "Licenses and reports",
      "Audit log",
      "Settings",
    ])
      await poll(() => nav.getByRole("link", { name: label }).count(), label).toBe(1);
    // no token yet: the empty state guides the first step
    await page.getByRole("button", { name: "Upload a VPP token" }).waitFor();
    await checkAccessibility(page, "dashboard");
    await page.screenshot({ path: join(RESULTS_DIR, "dashboard.png") });

    // a deep link opens its page (lazily loaded), and navigation marks it current
    await page.goto(`${t.url}/tokens`);
    await page.getByRole("heading", { name: "VPP tokens", level: 1 }).waitFor();
    expect(await nav.getByRole("link", { name: "VPP tokens" }).getAttribute("aria-current")).toBe("page");

    // sign-out returns to the sign-in form, and the session is gone at the API
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    const status = await page.evaluate(async () => (await fetch("/auth/session")).status);
    expect(status).toBe(401);
    await page.close();
  });
});

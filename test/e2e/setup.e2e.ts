// TEN-3 first run, in a real browser: the one-time setup link creates the first Global
// administrator, who can then sign in; the link does not work twice.
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAllot, type TestAllot } from "../helpers/allot.ts";
import { launchBrowser, RESULTS_DIR } from "./browser.ts";

describe("first-run setup page", () => {
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

  it("creates the first Global administrator from the setup link, once", async () => {
    const setupUrl = t.allot.bootstrapResult.setupUrl;
    expect(setupUrl).toMatch(/\/setup\?token=/);
    const path = new URL(setupUrl!).pathname + new URL(setupUrl!).search;
    const page = await browser.newPage();
    await page.goto(`${t.url}${path}`);
    await page.getByLabel("E-mail (sign-in name)").fill("first.admin@contoso.com");
    await page.getByLabel("Display name").fill("First Admin");
    await page.getByLabel("Password (at least 12 characters)").fill("correct horse battery staple");
    await page.getByRole("button", { name: "Create administrator" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Administrator created");
    await page.screenshot({ path: join(RESULTS_DIR, "setup.png") });

    const login = await t.request("POST", "/auth/login", { body: { userPrincipalName: "first.admin@contoso.com", password: "correct horse battery staple" } });
    expect(login.status).toBe(200);
    expect(login.body.administrator.roles).toEqual(["globalAdministrator"]);

    // The same link a second time is refused, and the page says so.
    const again = await browser.newPage();
    await again.goto(`${t.url}${path}`);
    await again.getByLabel("E-mail (sign-in name)").fill("second@contoso.com");
    await again.getByLabel("Password (at least 12 characters)").fill("another long password");
    await again.getByRole("button", { name: "Create administrator" }).click();
    await expect.poll(() => again.getByRole("alert").textContent()).toContain("not valid");
  });
});

// The console for a Reader (what the role cannot do is disabled or hidden, the server refuses it
// anyway), by keyboard only (skip link, navigation, visible focus), and at 1024 px wide (no page
// pages scroll sideways). Real server + Apple emulator + chromium; screenshots in test-results/.
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncSetup, startSyncSetup, uploadToken } from "../integration/sync-helpers.ts";
import { checkAccessibility, launchBrowser, RESULTS_DIR, signInThroughUi } from "./browser.ts";

const READER = "reader@contoso.com";
const ADMIN = "keyboard.admin@contoso.com";
const PASSWORD = "correct horse battery staple";
const PAGES = [
  ["/", "Dashboard"],
  ["/tokens", "VPP tokens"],
  ["/apps", "Apps and books"],
  ["/users", "Users"],
  ["/devices", "Devices"],
  ["/groups", "Groups"],
  ["/licenses", "Licenses and reports"],
  ["/audit", "Audit log"],
  ["/settings", "Settings"],
] as const;

describe("console: roles, keyboard, 1024 px", () => {
  let s: SyncSetup;
  let browser: Browser;
  let appId: string;
  const req = (method: string, path: string, body?: unknown) =>
    s.t.request(method, path, { token: s.t.adminToken, body });

  beforeAll(async () => {
    s = await startSyncSetup({ env: { ALLOT_APPLE_EVENT_POLL_SECONDS: "1" } });
    const loc = await s.emu.control.createLocation({
      orgName: "Contoso",
      locationName: "Branch office",
      countryISO2ACode: "US",
      assets: [
        {
          adamId: "700000777",
          name: "Numbers",
          totalCount: 5,
          deviceAssignable: true,
          revocable: true,
          supportedPlatforms: ["iOS"],
        },
      ],
    });
    await uploadToken(s, loc.sToken);
    appId = (
      await s.t.allot.database.db
        .selectFrom("apps")
        .select("id")
        .where("adam_id", "=", "700000777")
        .executeTakeFirstOrThrow()
    ).id;
    for (const [upn, roles] of [
      [READER, ["reader"]],
      [ADMIN, ["globalAdministrator"]],
    ] as const)
      expect(
        (await req("POST", "/beta/admin/administrators", { userPrincipalName: upn, password: PASSWORD, roles }))
          .status,
      ).toBe(201);
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  async function newPage(width = 1280): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 800 } });
    page.setDefaultTimeout(30_000);
    return page;
  }

  it("a Reader sees every page but cannot change anything; the server refuses it too", async () => {
    const page = await newPage();
    await signInThroughUi(page, s.t.url, READER, PASSWORD, "/tokens");
    await expect.poll(() => page.getByRole("banner").textContent()).toContain("Reader");
    const tokens = page.getByRole("table", { name: "VPP tokens" });
    await tokens.getByText("Branch office").waitFor();
    expect(await page.getByRole("button", { name: "Upload token" }).isDisabled()).toBe(true);
    expect(await tokens.getByRole("button", { name: "Sync now" }).isDisabled()).toBe(true);

    await page.goto(`${s.t.url}/apps/${appId}`);
    await page.getByRole("heading", { name: "Numbers", level: 1 }).waitFor();
    expect(await page.getByRole("button", { name: "Edit assignments" }).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: "Revoke all licenses" }).isDisabled()).toBe(true);

    await page.goto(`${s.t.url}/settings`);
    await page.getByRole("heading", { name: "Settings", level: 1 }).waitFor();
    const sections = page.getByRole("tablist", { name: "Settings sections" });
    await sections.getByRole("tab", { name: "Sync schedule" }).waitFor();
    expect(await sections.getByRole("tab").count()).toBe(1);
    await page.getByText("Your role can view the sync schedule only").waitFor();
    await checkAccessibility(page, "settings (reader)");
    await page.screenshot({ path: join(RESULTS_DIR, "settings-reader.png") });

    // The session is a Reader's at the API as well: a write from this browser is refused.
    const status = await page.evaluate(async () => {
      const session = (await (await fetch("/auth/session")).json()) as { csrfToken: string };
      const r = await fetch("/beta/admin/appRegistrations", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": session.csrfToken },
        body: JSON.stringify({ displayName: "sneaky", roles: ["reader"] }),
      });
      return r.status;
    });
    expect(status).toBe(403);
    await page.close();
  }, 180_000);

  it("keyboard only: the skip link, the navigation and a page's actions, with visible focus", async () => {
    const page = await newPage();
    await signInThroughUi(page, s.t.url, ADMIN, PASSWORD);
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
    // The first Tab lands on the skip link, which becomes visible, and Enter moves focus to the page.
    await page.keyboard.press("Tab");
    const skip = await page.evaluate(() => {
      const el = (globalThis as any).document.activeElement;
      const r = el.getBoundingClientRect();
      return { text: el.textContent, visible: r.width > 0 && r.height > 0 && r.top >= 0 };
    });
    expect(skip).toEqual({ text: "Skip to content", visible: true });
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("main");

    // Tab from the top to the "Apps and books" link; every stop shows a focus indicator.
    await page.evaluate(() => (globalThis as any).document.activeElement.blur());
    const stops: { text: string; indicator: boolean }[] = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press("Tab");
      const stop = await page.evaluate(() => {
        const g = globalThis as any;
        const el = g.document.activeElement;
        // Between stops Fluent's focus sentinels may hand focus on; the body is not a stop.
        if (!el || el === g.document.body) return null;
        const cs = g.getComputedStyle(el);
        const after = g.getComputedStyle(el, "::after");
        const indicator =
          (cs.outlineStyle !== "none" && cs.outlineWidth !== "0px") ||
          cs.boxShadow !== "none" ||
          (after.content !== "none" && after.borderStyle !== "none" && after.borderWidth !== "0px");
        return { text: (el.getAttribute("aria-label") ?? el.textContent ?? "").trim(), indicator };
      });
      if (!stop) continue;
      stops.push(stop);
      if (stop.text === "Apps and books") break;
    }
    expect(stops.at(-1)?.text, JSON.stringify(stops)).toBe("Apps and books");
    expect(
      stops.filter((x) => !x.indicator),
      "focus stops without a visible indicator",
    ).toEqual([]);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Apps and books", level: 1 }).waitFor();
    // Into the app by keyboard: focus its link, Enter, then open the assignment editor with Enter.
    await page.getByRole("table", { name: "Apps and books" }).getByRole("link", { name: "Numbers" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Numbers", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Edit assignments" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    // Focus is inside the dialog, and Escape closes it.
    expect(await dialog.evaluate((d) => d.contains((globalThis as any).document.activeElement))).toBe(true);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await page.close();
  }, 180_000);

  it("every main page is usable 1024 px wide: no sideways scrolling of the page", async () => {
    const page = await newPage(1024);
    await signInThroughUi(page, s.t.url, ADMIN, PASSWORD);
    const wide: string[] = [];
    for (const [path, title] of PAGES) {
      await page.goto(`${s.t.url}${path}`);
      await page.getByRole("heading", { name: title, level: 1 }).waitFor();
      await page.waitForLoadState("networkidle");
      const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth);
      if (width > 1024) wide.push(`${path}: ${width}px`);
      if (path === "/apps" || path === "/tokens")
        await page.screenshot({ path: join(RESULTS_DIR, `${path.slice(1)}-1024.png`) });
    }
    expect(wide).toEqual([]);
    await page.close();
  }, 180_000);
});

// Launches Debian's chromium through playwright-core (which gives it a fresh, empty profile).
// Browser tests fail (never skip) without it.
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.ALLOT_CHROMIUM ?? "/usr/bin/chromium";
export const RESULTS_DIR = join(import.meta.dirname, "..", "..", "test-results");

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set ALLOT_CHROMIUM`,
    );
  mkdirSync(RESULTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Signs in through the console's sign-in form at `baseUrl` and waits for the app shell. */
export async function signInThroughUi(
  page: Page,
  baseUrl: string,
  userPrincipalName: string,
  password: string,
  path = "/",
): Promise<void> {
  await page.goto(`${baseUrl}${path}`);
  await page.getByLabel("E-mail (sign-in name)").fill(userPrincipalName);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Console" }).waitFor();
}

const axeSource = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** Runs axe-core (WCAG 2.x A/AA rules) on the page as it is; throws listing every serious or critical violation. */
export async function checkAccessibility(page: Page, name: string): Promise<void> {
  // axe reads colours as painted: a control caught mid-transition (a button just enabled fades from
  // its disabled grey) fails colour contrast at random. Let finite transitions and animations end.
  await page.waitForFunction(() =>
    (globalThis as any).document
      .getAnimations()
      .every(
        (a: any) => a.playState !== "running" || a.effect?.getComputedTiming().endTime === Number.POSITIVE_INFINITY,
      ),
  );
  await page.addScriptTag({ path: axeSource });
  const violations = await page.evaluate(async () => {
    const g = globalThis as any;
    const axe = g.axe;
    // Fluent UI's focus manager (tabster) puts aria-hidden, focusable <i data-tabster-dummy> sentinels
    // around focus scopes; they hand focus on at once and are never read out, so axe's
    // aria-hidden-focus on them is a known false positive. Everything else is checked.
    const r = await axe.run({ exclude: [["[data-tabster-dummy]"]] }, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    });
    return r.violations.map(
      (v: { id: string; impact: string; help: string; nodes: { target: string[] }[] }) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
      }),
    );
  });
  const bad = violations.filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical");
  if (bad.length)
    throw new Error(
      `accessibility (${name}): ${bad.length} serious/critical violation(s):\n${JSON.stringify(bad, null, 2)}`,
    );
}

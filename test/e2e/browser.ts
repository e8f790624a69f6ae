// Launches Debian's chromium through playwright-core (which gives it a fresh, empty profile).
// Browser tests fail (never skip) without it.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.ALLOT_CHROMIUM ?? "/usr/bin/chromium";
export const RESULTS_DIR = join(import.meta.dirname, "..", "..", "test-results");

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set ALLOT_CHROMIUM`);
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

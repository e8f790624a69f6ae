// Builds the web console (web/ → web/dist) when web/dist is missing or older than any source under
// web/ (or package-lock.json). Run by `prepare` (npm install / npm ci) and `prestart` (npm start);
// `--force` always builds. Plain .mjs so it runs on any Node that npm runs lifecycle scripts with.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(root, "web");
const index = join(web, "dist", "index.html");

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) if (name !== "dist" && name !== "node_modules" && name !== ".build-lock" && !name.endsWith(".md")) max = Math.max(max, newest(join(path, name)));
  return max;
}

const force = process.argv.includes("--force");
const lockFile = join(root, "package-lock.json");
const isFresh = () => {
  const built = existsSync(index) ? statSync(index).mtimeMs : 0;
  // web/ and the one server module the console bundles (src/modules/access/roles.ts: role names).
  const shared = join(root, "src", "modules", "access", "roles.ts");
  return built >= Math.max(newest(web), statSync(shared).mtimeMs, existsSync(lockFile) ? statSync(lockFile).mtimeMs : 0);
};
if (!force && isFresh()) process.exit(0);

// One build at a time (parallel test runs share web/dist): a lock directory, taken over after 5 minutes.
const buildLock = join(web, ".build-lock");
const started = Date.now();
for (;;) {
  try {
    mkdirSync(buildLock);
    break;
  } catch {
    if (Date.now() - statSync(buildLock, { throwIfNoEntry: false })?.mtimeMs > 300_000) rmSync(buildLock, { recursive: true, force: true });
    else if (Date.now() - started > 600_000) throw new Error(`build-console: ${buildLock} is held; remove it if no build runs`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
}
process.on("exit", () => rmSync(buildLock, { recursive: true, force: true }));
// Another build may have finished while this one waited.
if (!force && isFresh()) process.exit(0);

const vite = join(root, "node_modules", "vite", "bin", "vite.js");
if (!existsSync(vite)) {
  console.error("build-console: vite is not installed; run `npm install` first.");
  process.exit(1);
}
console.log("Building the web console (web/dist)…");
// NODE_ENV=production whoever calls (vitest sets "test", which would give React's development build).
execFileSync(process.execPath, [vite, "build", "--config", join(web, "vite.config.ts"), "--logLevel", "warn"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, NODE_ENV: "production" },
});

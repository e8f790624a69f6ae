// Initial JavaScript of the console, gzipped (level 9): every <script src> and
// <link rel="modulepreload"> of web/dist/index.html, plus the lazily loaded chunks of the first page a
// signed-in administrator sees (the dashboard) with their static imports, from Vite's manifest.
// Budget: 350 kB (issue 5); exits 1 over it.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "web", "dist");
const html = readFileSync(join(dist, "index.html"), "utf8");
const files = new Set();
for (const m of html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)) files.add(m[1].replace(/^\//, ""));
for (const m of html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g)) files.add(m[1].replace(/^\//, ""));
for (const m of html.matchAll(/<link\b[^>]*\bhref="([^"]+)"[^>]*\brel="modulepreload"/g)) files.add(m[1].replace(/^\//, ""));
const fromIndex = files.size;

const manifestPath = join(dist, ".vite", "manifest.json");
if (existsSync(manifestPath)) {
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const add = (key) => {
    const e = manifest[key];
    if (!e || files.has(e.file) && key !== "src/pages/dashboard/Dashboard.tsx") return;
    files.add(e.file);
    for (const i of e.imports ?? []) add(i);
  };
  add("src/pages/dashboard/Dashboard.tsx");
}

const budget = 350 * 1024;
let total = 0;
for (const file of files) {
  const bytes = readFileSync(join(dist, file));
  const gz = gzipSync(bytes, { level: 9 }).length;
  total += gz;
  console.log(`/${file}  ${(bytes.length / 1024).toFixed(1)} kB raw, ${(gz / 1024).toFixed(1)} kB gzip`);
}
console.log(`initial JS: ${files.size} file(s) (${fromIndex} from index.html, the rest the dashboard's lazy chunks), ${(total / 1024).toFixed(1)} kB gzipped (budget ${budget / 1024} kB)`);
if (total > budget) process.exit(1);

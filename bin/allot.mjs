#!/usr/bin/env node
// The `allot` command. Allot's sources are TypeScript run by Node 24's type stripping; when the
// command is started by an older system Node, re-run it under the pinned node@24 from node_modules.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, "..", "src", "cli", "main.ts");
const major = Number(process.versions.node.split(".")[0]);

if (major >= 24) {
  await import(entry);
} else {
  const require = createRequire(import.meta.url);
  let nodeBin;
  try {
    nodeBin = join(dirname(require.resolve("node/package.json")), "bin", "node");
  } catch {
    console.error(`allot needs Node.js 24 or newer (this is ${process.version}); run 'npm install' to fetch the pinned node@24.`);
    process.exit(1);
  }
  const child = spawn(nodeBin, [entry, ...process.argv.slice(2)], { stdio: "inherit" });
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

// Browser tests need the built console: build web/dist when it is missing or older than web/.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup() {
  execFileSync(process.execPath, [join(import.meta.dirname, "..", "..", "scripts", "build-console.mjs")], {
    stdio: "inherit",
  });
}

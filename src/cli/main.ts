// The `allot` command (package bin).
import { Command } from "commander";
import { ConfigError } from "../config/env.ts";
import { DataDirLockedError } from "../db/data-dir-lock.ts";
import { version } from "../main.ts";
import { serve } from "./serve.ts";

const program = new Command();
program.name("allot").description("Allot — one exact ledger of volume-purchased app licenses").version(version);

program
  .command("serve", { isDefault: true })
  .description("start the API server (embedded database in ALLOT_DATA_DIR unless DATABASE_URL is set)")
  .action(async () => serve());

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`Configuration error: ${err.message}`);
  else if (err instanceof DataDirLockedError) console.error(err.message);
  else console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});

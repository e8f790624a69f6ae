// The `allot` command (package bin).
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { ConfigError } from "../config/env.ts";
import { DataDirLockedError } from "../db/data-dir-lock.ts";
import { registerAdminCommands } from "./admin.ts";
import { registerDatabaseCommands } from "./database.ts";
import { registerExportCommand } from "./export.ts";
import { registerImportCommand } from "./import.ts";

// Every command but `serve` ends when its action resolves (idle HTTP keep-alive sockets and timers
// must not hold the process open).
let keepRunning = false;
// The server's modules load only for `serve` and offline commands, so commands that talk to a
// running server start quickly.
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};
const program = new Command();
program
  .name("allot")
  .description("Allot — one exact ledger of volume-purchased app licenses")
  .version(version);

program
  .command("serve", { isDefault: true })
  .description("start the API server (embedded database in ALLOT_DATA_DIR unless DATABASE_URL is set)")
  .action(async () => {
    keepRunning = true;
    const { serve } = await import("./serve.ts");
    await serve();
  });
program
  .command("demo")
  .description(
    "start a demo: the embedded database in ./data-demo (or ALLOT_DATA_DIR), an in-process Apple emulator and sample data",
  )
  .action(async () => {
    keepRunning = true;
    const { runDemo } = await import("../demo/demo.ts");
    await runDemo();
  });
registerDatabaseCommands(program);
registerAdminCommands(program);
registerImportCommand(program);
registerExportCommand(program);
program
  .command("emulator")
  .description("run a store emulator (tests, demo, benchmarks): allot emulator apple --port N [--seed S]")
  .argument("<store>", "apple")
  .argument("[options...]", "emulator options (allot emulator apple --help)")
  .allowUnknownOption()
  .helpOption(false)
  .action(async (store: string, options: string[]) => {
    if (store !== "apple") throw new Error(`unknown emulator '${store}' (available: apple)`);
    const { runAppleEmulatorCli } = await import("../emulators/apple/cli.ts");
    keepRunning = (await runAppleEmulatorCli(options)) !== undefined;
  });

program.parseAsync(process.argv).then(
  () => {
    if (!keepRunning) process.exit(process.exitCode ?? 0);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(`Configuration error: ${err.message}`);
    else if (err instanceof DataDirLockedError) console.error(err.message);
    else console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);

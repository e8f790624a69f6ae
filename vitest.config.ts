import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/integration/**/*.test.ts"],
    testTimeout: 30_000,
    // A fresh embedded database (PGlite initdb in WebAssembly) can take ~25 s on a small busy VM.
    hookTimeout: 120_000,
    pool: "forks",
    // PGlite instances are memory-hungry (WASM); two workers fit the 2-core machine.
    maxWorkers: 2,
  },
});

// The admin console's build. Output web/dist, which src/http/console.ts serves (hashed assets under
// /assets are cached forever, index.html never). `npm run dev:web` proxies the API to a running Allot.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const api = process.env.ALLOT_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", manifest: true, chunkSizeWarningLimit: 900 },
  server: { proxy: Object.fromEntries(["/v1.0", "/beta", "/auth", "/openapi.json", "/setup"].map((p) => [p, api])) },
});

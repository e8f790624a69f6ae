// A faithful emulator of Apple's Apps and Books for Organizations service (VPP v2): Apple's API
// under /mdm/v2, the content-metadata lookup at the URL Service Config lists, the catalogue
// under /v1/catalog, and the control API under /_emulator — all on one port. Standalone (it uses
// nothing of Allot's own modules). See README.md.
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { handleApple } from "./api.ts";
import { handleControl } from "./control.ts";
import { type AppleEmulatorControl, createAppleControlClient } from "./control-client.ts";
import { EmulatorCore } from "./core.ts";
import { sendJson } from "./http.ts";
import { handleCatalog, handleInvitation, handleLookup, INVITATION_PATH, LOOKUP_PATH } from "./lookup.ts";
import type { AppleEmulatorOptions } from "./options.ts";

export { type AppleEmulatorControl, createAppleControlClient } from "./control-client.ts";
export type { AppleEmulatorOptions } from "./options.ts";

export interface AppleEmulator {
  /** http://127.0.0.1:PORT */
  url: string;
  /** url + "/mdm/v2" (what a client uses as Apple's base URL) */
  baseUrl: string;
  /** The legacy content-metadata lookup (= service config urls.contentMetadataLookup). */
  metadataUrl: string;
  port: number;
  /** Typed client of the control API over HTTP. */
  control: AppleEmulatorControl;
  /** Settles every pending event now. */
  flush(): void;
  /** Resolves when no notification is queued, in flight or waiting for a retry. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startAppleEmulator(options: AppleEmulatorOptions = {}): Promise<AppleEmulator> {
  const core = new EmulatorCore(options);
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    const path = url.pathname;
    let work: Promise<void>;
    if (path === "/mdm" || path.startsWith("/mdm/")) work = handleApple(core, req, res, url);
    else if (path === "/_emulator" || path.startsWith("/_emulator/"))
      work = handleControl(core, req, res, url);
    else if (path === LOOKUP_PATH) work = handleLookup(core, req, res, url);
    else if (path.startsWith("/v1/catalog/")) work = handleCatalog(core, req, res, url);
    else if (path === INVITATION_PATH) work = handleInvitation(core, req, res, url);
    else {
      sendJson(res, 404, { error: { code: "notFound", message: `${path} is not served here` } });
      return;
    }
    work.catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { errorNumber: 9603, errorMessage: "Internal error." });
      else res.destroy();
      process.emitWarning(
        `apple emulator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(core.options.port, core.options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = core.options.host.includes(":") ? `[${core.options.host}]` : core.options.host;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host === "[::]" ? "[::1]" : host}:${port}`;
  core.publicUrl = core.options.publicUrl ?? url;
  let closed = false;
  return {
    url,
    baseUrl: `${url}/mdm/v2`,
    metadataUrl: `${core.publicUrl}${LOOKUP_PATH}`,
    port,
    control: createAppleControlClient(url),
    flush: () => core.events.flush(),
    idle: () => core.notifier.idle(),
    close: async () => {
      if (closed) return;
      closed = true;
      core.close();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await done;
    },
  };
}

// Helpers of the token tests: the Apple emulator, a recording proxy in front of it (to see exactly
// which Apple calls Allot made), and a stand-in notification receiver that checks Apple's bearer
// secret with tokensService.verifyNotificationSecret (the contract the sync's route relies on).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { LocationInput } from "../../src/emulators/apple/control-client.ts";
import type { AppleEmulator } from "../../src/emulators/apple/index.ts";
import type { NotificationTarget } from "../../src/modules/tokens/tokens.service.ts";

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface RecordedCall {
  method: string;
  path: string;
  /** The sToken the call was made with (Authorization: Bearer …). */
  bearer: string | undefined;
}

/** Forwards everything to the emulator and records each Apple call (method, path, token). */
export async function startRecordingProxy(target: string) {
  const calls: RecordedCall[] = [];
  const server = http.createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const auth = req.headers.authorization;
      calls.push({
        method: req.method ?? "GET",
        path: (req.url ?? "/").split("?")[0],
        bearer: auth?.replace(/^Bearer\s+/i, ""),
      });
      const headers: Record<string, string> = {};
      for (const k of ["content-type", "authorization", "cookie", "accept"])
        if (typeof req.headers[k] === "string") headers[k] = req.headers[k] as string;
      const r = await fetch(target + (req.url ?? "/"), {
        method: req.method,
        headers,
        body: body.length > 0 ? body : undefined,
      });
      const out: Record<string, string> = {};
      for (const [k, v] of r.headers)
        if (
          !["content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive"].includes(k)
        )
          out[k] = v;
      res.writeHead(r.status, out);
      res.end(Buffer.from(await r.arrayBuffer()));
    } catch (err) {
      res.writeHead(502).end(String(err));
    }
  });
  const url = await listen(server);
  return { url, baseUrl: `${url}/mdm/v2`, calls, close: () => close(server) };
}

export interface ReceivedNotification {
  tokenId: string;
  type: string;
  bearer: string | undefined;
  verdict: NotificationTarget | undefined;
}

/**
 * Answers POST /notifications/apple/{tokenId} like the sync's endpoint: 200 when
 * verifyNotificationSecret accepts the bearer, 401 otherwise (or always 503 when `refuse` is set).
 */
export async function startNotificationReceiver() {
  const received: ReceivedNotification[] = [];
  const state: {
    verify?: (tokenId: string, bearer: string | undefined) => Promise<NotificationTarget | undefined>;
    refuse: boolean;
  } = { refuse: false };
  const server = http.createServer(async (req, res) => {
    const body = JSON.parse((await readBody(req)).toString("utf8") || "{}");
    const m = /^\/notifications\/apple\/([^/?]+)$/.exec(req.url ?? "");
    if (!m || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    if (state.refuse) {
      res.writeHead(503).end();
      return;
    }
    const bearer = req.headers.authorization;
    const verdict = state.verify ? await state.verify(m[1], bearer) : undefined;
    received.push({
      tokenId: m[1],
      type: body.notificationType,
      bearer: bearer?.replace(/^Bearer\s+/i, ""),
      verdict,
    });
    res.writeHead(verdict ? 200 : 401).end();
  });
  const url = await listen(server);
  return { url, received, state, close: () => close(server) };
}

let counter = 0;
/** A new location at the emulator (its own uId and sToken). */
export async function newLocation(emu: AppleEmulator, input: Partial<LocationInput> = {}) {
  counter++;
  return emu.control.createLocation({
    orgName: "Contoso Ltd",
    locationName: `Site ${counter}`,
    countryISO2ACode: "SE",
    assets: [
      { adamId: String(361309700 + counter), name: "Pages", bundleId: "com.apple.Pages", totalCount: 10 },
    ],
    ...input,
  });
}

/** Graph vppToken members by version (graph-subset.json), plus the OData annotation. */
export const v1Members = [
  "id",
  "organizationName",
  "vppTokenAccountType",
  "appleId",
  "expirationDateTime",
  "lastSyncDateTime",
  "token",
  "lastModifiedDateTime",
  "state",
  "lastSyncStatus",
  "automaticallyUpdateApps",
  "countryOrRegion",
].sort();
export const betaOnlyMembers = [
  "displayName",
  "locationName",
  "claimTokenManagementFromExternalMdm",
  "dataSharingConsentGranted",
  "roleScopeTagIds",
  "tokenActionResults",
  "appleDeviceAppDeliveryProtocolType",
];

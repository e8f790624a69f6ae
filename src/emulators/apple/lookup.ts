// HTTP side of the store catalogue (metadata.ts): the legacy contentMetadataLookup, the
// stoken-authenticated catalogue, app icons, and the invitation page behind
// `urls.invitationEmail`.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorCore } from "./core.ts";
import { AppleApiError } from "./errors.ts";
import { responseUser } from "./events.ts";
import { readBody, sendJson, sendText, sleep } from "./http.ts";
import {
  type CatalogEntry,
  catalogItem,
  iconPng,
  languageTagOf,
  lookupEntryV1,
  lookupEntryV2,
  storefrontId,
} from "./metadata.ts";
import type { Location, TokenRec } from "./state.ts";

export const LOOKUP_PATH = "/WebObjects/MZStorePlatform.woa/wa/lookup";
export const INVITATION_PATH = "/WebObjects/MZFinance.woa/wa/associateVPPUserWithITSAccount";

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

function tokenFromCookie(core: EmulatorCore, req: IncomingMessage): TokenRec | undefined | "invalid" {
  const itvt = cookie(req, "itvt");
  if (itvt === undefined) return undefined;
  try {
    return core.resolveSToken(itvt);
  } catch (err) {
    if (err instanceof AppleApiError) return "invalid";
    throw err;
  }
}

/** Sold in this storefront (custom apps: only to the organization that owns them). */
function visible(e: CatalogEntry, cc: string, owner: Location | undefined): boolean {
  if (!e.storefronts.has(cc)) return false;
  if (e.isB2BCustomApp) return owner !== undefined && e.owners.has(owner.uId);
  return true;
}

export async function handleLookup(
  core: EmulatorCore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const latency = core.effectiveLatency();
  if (latency > 0) await sleep(latency);
  const q = url.searchParams;
  const cc = (q.get("cc") ?? "us").toUpperCase();
  const version = q.get("version") === "1" ? 1 : 2;
  const platform = q.get("platform") ?? "enterprisestore";
  const tok = tokenFromCookie(core, req);
  const owner = tok && tok !== "invalid" ? tok.location : undefined;
  const ids = (q.get("id") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const ctx = { baseUrl: core.publicUrl, cc, language: languageTagOf(q.get("l"), cc), platform };
  const results: Record<string, unknown> = {};
  for (const id of ids) {
    const e = core.catalog.get(id);
    if (!e || !visible(e, cc, owner)) continue;
    if (e.productType === "App") {
      const mac = e.supportedPlatforms.includes("macOS");
      const other = e.supportedPlatforms.some((p) => p !== "macOS");
      if (platform === "macappstore" ? !mac : !other) continue;
    }
    results[id] = version === 1 ? lookupEntryV1(e, ctx) : lookupEntryV2(e, ctx);
  }
  const meta = { language: { tag: ctx.language }, storefront: { cc, id: storefrontId(cc) } };
  const body =
    version === 1
      ? { results, version, isAuthenticated: false, meta }
      : { isAuthenticated: false, meta, results, version };
  sendJson(res, 200, body);
}

const forbidden = {
  errors: [{ status: "403", code: "40300", detail: "Invalid Stoken or Empty/Null ids Request Parameter" }],
};

/** GET /v1/catalog/{storefront}/stoken-authenticated-apps|books */
export async function handleCatalog(
  core: EmulatorCore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const latency = core.effectiveLatency();
  if (latency > 0) await sleep(latency);
  const m = /^\/v1\/catalog\/([a-z]{2})\/stoken-authenticated-(apps|books)$/.exec(url.pathname);
  if (!m) {
    sendJson(res, 404, {
      errors: [{ status: "404", code: "40400", title: "Resource Not Found", detail: "Resource not found." }],
    });
    return;
  }
  if (req.method !== "GET") {
    sendJson(res, 405, { errors: [{ status: "405", code: "40500", title: "Method Not Allowed" }] });
    return;
  }
  const auth = req.headers.authorization;
  if (typeof auth !== "string" || !/^Bearer \S+/.test(auth)) {
    sendJson(res, 401, {
      errors: [
        {
          status: "401",
          code: "40100",
          title: "Unauthorized",
          detail: "Developer token missing or invalid.",
        },
      ],
    });
    return;
  }
  const q = url.searchParams;
  const tok = tokenFromCookie(core, req);
  const ids = (q.get("ids") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (tok === undefined || tok === "invalid" || ids.length === 0) {
    sendJson(res, 403, forbidden);
    return;
  }
  const platform = q.get("platform");
  if (!platform) {
    sendJson(res, 400, {
      errors: [
        {
          status: "400",
          code: "40005",
          title: "Invalid Parameter Value",
          detail: "platform is required",
          source: { parameter: "platform" },
        },
      ],
    });
    return;
  }
  const sf = m[1];
  const wantType = m[2] === "apps" ? "App" : "Book";
  const platforms = [
    platform,
    ...(q.get("additionalPlatforms") ?? "").split(",").filter((p) => p.length > 0),
  ];
  const extend = [...q.entries()].some(
    ([k, v]) => k.startsWith("extend") && v.split(",").includes("latestVersionInfo"),
  );
  const data: unknown[] = [];
  for (const id of ids) {
    const e = core.catalog.get(id);
    if (!e || e.productType !== wantType || !visible(e, sf.toUpperCase(), tok.location)) continue;
    const item = catalogItem(e, sf, platforms, extend, core.publicUrl);
    if (item) data.push(item);
  }
  sendJson(res, 200, { data });
}

/** GET /_emulator/artwork/{adamId}/{w}x{h}bb.{png|jpg|webp} */
export function handleArtwork(res: ServerResponse, url: URL): void {
  const m = /^\/_emulator\/artwork\/(\d+)\/(\d+)x(\d+)bb\.(png|jpg|jpeg|webp)$/.exec(url.pathname);
  if (!m) {
    sendJson(res, 404, { error: { code: "notFound", message: "no such artwork" } });
    return;
  }
  sendText(res, 200, iconPng(m[1], Number(m[2]), Number(m[3])), "image/png", {
    "Cache-Control": "public, max-age=86400",
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function findInvitation(
  core: EmulatorCore,
  code: string,
): { loc: Location; clientUserId: string } | undefined {
  for (const loc of core.locations.values())
    for (const u of loc.activeUsers.values())
      if (u.inviteCode === code && u.status === "Registered") return { loc, clientUserId: u.clientUserId };
  return undefined;
}

/** The page an invitation email links to: GET shows it, POST accepts (like a user signing in). */
export async function handleInvitation(
  core: EmulatorCore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const code = url.searchParams.get("inviteCode") ?? "";
  const found = code ? findInvitation(core, code) : undefined;
  if (req.method === "POST") {
    await readBody(req, 64 * 1024);
    if (!found) {
      sendText(
        res,
        404,
        "<!doctype html><title>Invitation</title><p>This invitation is not valid any more.</p>",
        "text/html;charset=UTF-8",
      );
      return;
    }
    acceptInvitation(core, found.loc, found.clientUserId);
    sendText(
      res,
      200,
      "<!doctype html><title>Invitation accepted</title><p>Your Apple Account is now associated.</p>",
      "text/html;charset=UTF-8",
    );
    return;
  }
  if (!found) {
    sendText(
      res,
      404,
      "<!doctype html><title>Invitation</title><p>This invitation is not valid any more.</p>",
      "text/html;charset=UTF-8",
    );
    return;
  }
  const action = `${INVITATION_PATH}?inviteCode=${encodeURIComponent(code)}&mt=8`;
  sendText(
    res,
    200,
    `<!doctype html><title>Invitation</title><h1>${escapeHtml(found.loc.orgName)}</h1>` +
      `<p>${escapeHtml(found.loc.locationName)} invites you to receive apps and books.</p>` +
      `<form method="post" action="${escapeHtml(action)}"><button type="submit">Accept</button></form>`,
    "text/html;charset=UTF-8",
  );
}

/** Registered → Associated with an idHash, and a USER_ASSOCIATED notification. */
export function acceptInvitation(
  core: EmulatorCore,
  loc: Location,
  clientUserId: string,
): Record<string, string> {
  const user = loc.activeUsers.get(clientUserId);
  if (!user) throw new Error(`no active user ${clientUserId}`);
  loc.write(() => {
    user.status = "Associated";
    user.idHash = core.events.idHash();
    loc.logUser(user);
  });
  const shown = responseUser(user, true);
  core.notifier.notify(loc, "USER_ASSOCIATED", { associatedUsers: [shown] });
  return shown;
}

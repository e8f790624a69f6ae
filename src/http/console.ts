// The console's public routes: the built web console (web/dist) at `/`, its hashed assets, and the
// SPA fallback that answers deep links (/tokens, /apps/123) with index.html; `/setup` is the first-run
// page that the one-time setup link opens. Without web/dist, `/` explains where the API lives.
// Only static files are public here: the API under /v1.0, /beta, /auth, /scim keeps its own access.
import { existsSync, statSync } from "node:fs";
import { join, normalize } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "./types.ts";

const webDist = join(import.meta.dirname, "..", "..", "web", "dist");
/** Paths that belong to the API or the server itself: unknown ones stay JSON 404s, never index.html. */
const notConsole =
  /^\/(v\d+(\.\d+)?|beta|auth|scim|notifications|oauth2|documentation|openapi\.json|healthz|readyz|metrics|_emulator)(\/|$)|^\/[^/]+\/oauth2\//;

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Allot</title>
<style>
 body{font-family:"Segoe UI",system-ui,sans-serif;margin:0;background:#f5f5f5;color:#242424}
 main{max-width:34rem;margin:4rem auto;background:#fff;padding:2rem 2.5rem;border-radius:8px;box-shadow:0 2px 8px rgba(0,0,0,.12)}
 h1{font-size:1.5rem;margin-top:0} label{display:block;margin:1rem 0 .25rem;font-weight:600}
 input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #8a8886;border-radius:4px;font-size:1rem}
 input:focus,button:focus{outline:3px solid #0f6cbd;outline-offset:2px}
 button{margin-top:1.5rem;background:#0f6cbd;color:#fff;border:0;border-radius:4px;padding:.6rem 1.2rem;font-size:1rem;cursor:pointer}
 [role=alert]{margin-top:1rem;color:#b10e1c} .ok{color:#0e700e} code{background:#f0f0f0;padding:0 .25rem}
</style></head><body><main>${body}</main></body></html>`;

const setupPage = page(
  "First-run setup",
  `<h1>Set up Allot</h1>
<p>Create the first Global administrator. This link works once.</p>
<form id="f">
 <label for="upn">E-mail (sign-in name)</label><input id="upn" name="upn" type="email" autocomplete="username" required>
 <label for="name">Display name</label><input id="name" name="name" autocomplete="name">
 <label for="pw">Password (at least 12 characters)</label><input id="pw" name="pw" type="password" minlength="12" autocomplete="new-password" required>
 <button type="submit">Create administrator</button>
 <div id="msg" role="alert" aria-live="polite"></div>
</form>
<script>
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const msg = document.getElementById("msg");
  const token = new URLSearchParams(location.search).get("token") || "";
  const res = await fetch("/auth/setup", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, userPrincipalName: upn.value, password: pw.value, displayName: name.value || undefined }) });
  if (res.ok) { msg.className = "ok"; msg.textContent = "Administrator created. You can now sign in."; e.target.querySelector("button").disabled = true; }
  else { const b = await res.json().catch(() => ({})); msg.className = ""; msg.textContent = (b.error && b.error.message) || ("Setup failed (" + res.status + ")"); }
});
</script>`,
);

const landingPage = page(
  "Allot",
  `<h1>Allot is running</h1>
<p>The Graph-shaped API is at <code>/v1.0</code> and <code>/beta</code>; its OpenAPI document is <a href="/openapi.json">/openapi.json</a>.</p>
<p>Programs get a token from <code>POST /{tenant}/oauth2/v2.0/token</code> with an app registration's client id and secret.</p>
<p>Health: <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a></p>`,
);

export async function registerConsoleRoutes(app: App) {
  const html =
    (content: string) => async (_req: unknown, reply: { type(t: string): { send(b: string): unknown } }) =>
      reply.type("text/html; charset=utf-8").send(content);
  const hasConsole = () => existsSync(join(webDist, "index.html"));
  app.get("/setup", { config: { access: "public" }, schema: { hide: true } }, html(setupPage));

  // serve: false: only reply.sendFile; the routes below decide what is public and how it is cached.
  await app.register(fastifyStatic, { root: webDist, serve: false, suppressWarning: true });
  const sendIndex = (reply: FastifyReply) =>
    reply
      .header("cache-control", "no-cache")
      .type("text/html; charset=utf-8")
      .sendFile("index.html", webDist, { cacheControl: false });

  app.get("/", { config: { access: "public" }, schema: { hide: true } }, async (_req, reply) =>
    hasConsole() ? sendIndex(reply) : reply.type("text/html; charset=utf-8").send(landingPage),
  );
  // Vite names every asset by its content hash, so a URL's content never changes: cache it for good.
  app.get(
    "/assets/*",
    { config: { access: "public" }, schema: { hide: true } },
    async (req: FastifyRequest<{ Params: { "*": string } }>, reply) => {
      const file = normalize(req.params["*"]);
      if (file.startsWith("..") || !existsSync(join(webDist, "assets", file))) return reply.callNotFound();
      return reply
        .header("cache-control", "public, max-age=31536000, immutable")
        .sendFile(join("assets", file), webDist, { cacheControl: false });
    },
  );
  // SPA fallback: a file at the root of web/dist (favicon, …) or index.html for a console deep link.
  app.get(
    "/*",
    { config: { access: "public" }, schema: { hide: true } },
    async (req: FastifyRequest<{ Params: { "*": string } }>, reply) => {
      const path = req.url.split("?")[0];
      if (notConsole.test(path) || !hasConsole()) return reply.callNotFound();
      const file = normalize(req.params["*"]);
      if (
        !file.startsWith("..") &&
        !file.includes("/") &&
        existsSync(join(webDist, file)) &&
        statSync(join(webDist, file)).isFile()
      )
        return reply
          .header("cache-control", "public, max-age=3600")
          .sendFile(file, webDist, { cacheControl: false });
      // A missing file (a name with an extension) is a 404, not the page: a script tag must not get HTML.
      if (/\.[a-z0-9]+$/i.test(file)) return reply.callNotFound();
      return sendIndex(reply);
    },
  );
}

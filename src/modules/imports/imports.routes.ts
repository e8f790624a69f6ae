// Bulk import routes (beta): POST /imports streams a CSV (no 10 MB limit here: the body is
// spooled and parsed as it arrives), GET /imports and /imports/{id} show progress.
import type { Readable } from "node:stream";
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import { graphErrorBody } from "../../http/error-handler.ts";
import { collectionBody, contextUrl, parseListOptions } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { AppError } from "../../lib/errors.ts";
import { importKinds } from "./imports.columns.ts";
import { importEntity } from "./imports.entities.ts";
import type { ImportsService } from "./imports.service.ts";

const tags = ["imports"];
const csvTypes = ["text/csv", "application/csv", "application/octet-stream"];

export function registerImportRoutes(app: App, deps: { importsService: ImportsService }) {
  const svc = deps.importsService;

  // Encapsulated so the raw-stream body parsers apply to this route only.
  app.register(async (scope: App) => {
    scope.addContentTypeParser(csvTypes, (_req, payload, done) => done(null, payload));
    scope.post(
      "/imports",
      {
        config: { access: "imports.write" },
        schema: {
          tags,
          summary: "Import users, managed devices, groups or group members from a CSV body (Content-Type: text/csv)",
          description:
            "The whole file is validated first: a file with bad rows writes nothing and answers 400 with line numbers and reasons in error.details. " +
            "A valid file answers 202 with the import; its rows are then written in chunks (GET /beta/imports/{id} shows progress).",
          querystring: Type.Object(
            {
              kind: Type.Union(importKinds.map((k) => Type.Literal(k)), { description: "What the file holds" }),
              fileName: Type.Optional(Type.String({ maxLength: 255, description: "Name shown on the import" })),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (req, reply) => {
        const body = req.body as Readable | undefined;
        if (!body || typeof (body as Partial<Readable>)[Symbol.asyncIterator] !== "function")
          throw new AppError("unsupportedMediaType", `Send the CSV file as the request body with Content-Type: text/csv (got '${req.headers["content-type"] ?? ""}').`);
        const ctx = ctxOf(req);
        const { kind, fileName } = req.query;
        const result = await svc.start(ctx, kind, body, fileName);
        if (!result.ok) {
          const err = graphErrorBody(req, "Request_BadRequest", result.message);
          return reply.status(400).send({
            error: {
              code: err.error.code,
              message: err.error.message,
              errorCount: result.errorCount,
              details: result.errors.map((e) => ({ code: "invalidRow", message: e.message, target: e.column ?? null, line: e.line, ...(e.column ? { column: e.column } : {}) })),
              innerError: err.error.innerError,
            },
          });
        }
        const id = String(result.import.id);
        return reply
          .status(202)
          .header("Location", `/beta/imports/${id}`)
          .send({ "@odata.context": contextUrl(req, "imports/$entity"), ...result.import });
      },
    );
  });

  app.get("/imports", { config: { access: "directory.read" }, schema: { tags, summary: "List imports (newest last)" } }, async (req) => {
    const options = parseListOptions(req.query as Record<string, unknown>, importEntity);
    return collectionBody(req, "imports", options, await svc.list(ctxOf(req), options));
  });
  app.get(
    "/imports/:id",
    { config: { access: "directory.read" }, schema: { tags, summary: "An import and its progress", params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }) } },
    async (req) => ({ "@odata.context": contextUrl(req, "imports/$entity"), ...(await svc.get(ctxOf(req), req.params.id)) }),
  );
}

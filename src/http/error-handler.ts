// The one place errors become HTTP: AppError codes map to status + Graph error body; validation
// and parser errors name the offending property; anything unexpected is a 500 that leaks nothing.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../lib/errors.ts";

export function graphErrorBody(req: FastifyRequest, code: string, message: string) {
  return { error: { code, message, innerError: { "request-id": String(req.id), date: new Date().toISOString().replace(/\.\d{3}Z$/, "") } } };
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function describeValidation(errors: AjvError[], context: string | undefined): string {
  const e = errors.find((x) => x.keyword === "additionalProperties") ?? errors.find((x) => x.keyword === "required") ?? errors[0];
  const path = e.instancePath.replace(/^\//, "").replace(/\//g, ".");
  const where = context === "body" ? "" : ` in the ${context}`;
  switch (e.keyword) {
    case "additionalProperties":
      return `Property '${path ? `${path}.` : ""}${e.params.additionalProperty}' does not exist as a declared property or extension property${where}.`;
    case "required":
      return `The property '${path ? `${path}.` : ""}${e.params.missingProperty}' is required${where}.`;
    case "type":
      return `Invalid value for property '${path || "(body)"}'${where}: expected ${e.params.type}.`;
    case "anyOf":
    case "const": {
      const literals = errors.filter((x) => x.keyword === "const" && x.instancePath === e.instancePath).map((x) => String(x.params.allowedValue));
      return literals.length
        ? `Invalid value for property '${path}'${where}: expected one of ${literals.join(", ")}.`
        : `Invalid value for property '${path}'${where}.`;
    }
    default:
      return `Invalid value for property '${path || "(body)"}'${where}: ${e.message ?? e.keyword}.`;
  }
}

export function sendAppError(req: FastifyRequest, reply: FastifyReply, err: AppError) {
  if (err.headers) for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  if (err.status === 401) reply.header("WWW-Authenticate", 'Bearer realm="allot", error="invalid_token"');
  return reply.status(err.status).send(graphErrorBody(req, err.graphCode, err.message));
}

export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError & { validationContext?: string }, req, reply) => {
    if (error instanceof AppError) {
      if (error.status >= 500) req.log.error({ err: error }, "request failed");
      return sendAppError(req, reply, error);
    }
    if (error.validation) {
      return reply.status(400).send(graphErrorBody(req, "Request_BadRequest", describeValidation(error.validation as AjvError[], error.validationContext)));
    }
    // PostgreSQL "data exception" (class 22): a value that passed validation but cannot be stored,
    // such as a NUL character in text. The client's input, so a 400 (the SQL detail stays in the log).
    const sqlState = (error as { code?: unknown; severity?: unknown }).code;
    if (typeof sqlState === "string" && /^22[0-9A-Z]{3}$/.test(sqlState) && "severity" in error) {
      req.log.info({ err: error }, "database rejected a value");
      return reply.status(400).send(graphErrorBody(req, "Request_BadRequest", "A value in the request cannot be stored (for example it contains a NUL character or is out of range)."));
    }
    const status = error.statusCode ?? 500;
    if (status === 413) return reply.status(413).send(graphErrorBody(req, "requestEntityTooLarge", "The request body is larger than the 10 MB limit."));
    if (status === 415) return reply.status(415).send(graphErrorBody(req, "unsupportedMediaType", `Content-Type '${req.headers["content-type"] ?? ""}' is not supported here; send application/json.`));
    if (status === 429) return reply.status(429).send(graphErrorBody(req, "activityLimitReached", error.message));
    if (status >= 400 && status < 500) {
      const message = error.code === "FST_ERR_CTP_INVALID_JSON_BODY" || error.name === "SyntaxError" ? `The request body is not valid JSON: ${error.message}` : error.message;
      return reply.status(status).send(graphErrorBody(req, "invalidRequest", message));
    }
    req.log.error({ err: error }, "unexpected error");
    return reply.status(500).send(graphErrorBody(req, "generalException", "An internal error occurred; the request id identifies it in the server log."));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(graphErrorBody(req, "Request_ResourceNotFound", `No resource matches ${req.method} ${req.url.split("?")[0]}.`));
  });
}
